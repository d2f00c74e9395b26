//! Choosing the backend from the one `database` setting: a file path means
//! SQLite (the embedded default), a `postgres://` or `postgresql://` URL
//! means PostgreSQL.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::seal::event_address;
use super::{PostgresStorage, Result, Sealer, SqliteStorage, Storage, StorageError};
use crate::domain::case::CaseId;

/// Where the gateway keeps its data, as the `database` setting names it.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// The URL may carry a password, so it is never displayed whole.
    Postgres(String),
}

impl Database {
    /// Reads the setting: a URL with a PostgreSQL scheme, or else a path.
    pub fn from_setting(setting: &Path) -> Self {
        match setting.to_str() {
            Some(url) if is_postgres_url(url) => Database::Postgres(url.to_owned()),
            _ => Database::Sqlite(setting.to_owned()),
        }
    }

    /// Whether the setting names a file on this machine, which opening
    /// would create.
    pub fn is_file(&self) -> bool {
        matches!(self, Database::Sqlite(_))
    }
}

fn is_postgres_url(text: &str) -> bool {
    ["postgres://", "postgresql://"].iter().any(|scheme| {
        text.len() > scheme.len()
            && text
                .get(..scheme.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    })
}

/// A path as it is; a URL without its password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; a
/// `password=` query parameter is cut off with the rest of the query.
fn redact(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(base, _)| base);
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres://***".into();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}/{path}")
}

/// An opened database, before it has the master key: enough for the
/// registry, the audit log and [`Storage::holds_cases`], which the server
/// checks before it creates a key.
#[derive(Debug)]
pub enum Backend {
    Sqlite(SqliteStorage),
    Postgres(PostgresStorage),
}

impl Backend {
    /// Opens (creating a missing SQLite file) and migrates the database.
    ///
    /// # Errors
    /// [`super::StorageError::Unavailable`] when it cannot be reached or
    /// migrated.
    pub async fn open(database: &Database) -> Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Backend::Sqlite(SqliteStorage::open(path).await?),
            Database::Postgres(url) => Backend::Postgres(PostgresStorage::open(url).await?),
        })
    }

    /// Opens the database for reading what is stored, without migrating
    /// or creating anything: a SQLite file read-only (so it works beside a
    /// running gateway and cannot change what it checks); PostgreSQL
    /// through an ordinary connection, whose role may be read-only.
    ///
    /// # Errors
    /// [`super::StorageError::Unavailable`] when it cannot be reached.
    pub async fn open_read_only(database: &Database) -> Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Backend::Sqlite(SqliteStorage::open_read_only(path).await?),
            Database::Postgres(url) => Backend::Postgres(PostgresStorage::connect(url).await?),
        })
    }

    /// Whether the database holds a master key check: it was opened with
    /// a key, which a start without the key file must not replace.
    ///
    /// # Errors
    /// `Unavailable` when it cannot be read.
    pub async fn holds_key_check(&self) -> Result<bool> {
        Ok(self.storage().key_check().await?.is_some())
    }

    /// The storage without the master key: case data is refused.
    pub fn storage(&self) -> &dyn Storage {
        match self {
            Backend::Sqlite(storage) => storage,
            Backend::Postgres(storage) => storage,
        }
    }

    /// The storage that seals and opens personal data with `sealer`, once
    /// the database's key check opens with it (stored now if the
    /// database has none yet).
    ///
    /// # Errors
    /// `Corrupt` when the key is not the one the database's data was
    /// sealed with; when an older SQLite database's plain bodies cannot be
    /// sealed.
    pub async fn sealed(self, sealer: Sealer) -> Result<Arc<dyn Storage>> {
        let wrong_key = || {
            StorageError::Corrupt(
                "the master key is not the one this database's data was sealed with: \
                 restore the key file it was made with (every replica needs the same one)"
                    .into(),
            )
        };
        let storage = self.storage();
        let stored = match storage.key_check().await? {
            Some(stored) => stored,
            None => {
                // A database sealed before the check: its data must open
                // with this key before the check locks the key in.
                if let Some((case, sequence, body)) = storage.a_sealed_event().await? {
                    let case =
                        CaseId::parse(&case).map_err(|e| StorageError::Corrupt(e.to_string()))?;
                    let address = event_address(&case, sequence);
                    sealer.open(&address, &body).map_err(|_| wrong_key())?;
                }
                let check = sealer
                    .seal(KEY_CHECK_ADDRESS, KEY_CHECK)
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?;
                storage.store_key_check(&check).await?
            }
        };
        if sealer.open(KEY_CHECK_ADDRESS, &stored).as_deref() != Ok(KEY_CHECK) {
            return Err(wrong_key());
        }
        Ok(match self {
            Backend::Sqlite(storage) => Arc::new(storage.sealed(sealer).await?),
            Backend::Postgres(storage) => Arc::new(storage.sealed(sealer)),
        })
    }
}

/// Where the key check is sealed, and what it holds.
const KEY_CHECK_ADDRESS: &str = "master_key_check/1";
const KEY_CHECK: &[u8] = b"handover-gateway master key check";

/// Opens the database the setting names, sealing with `sealer`.
///
/// # Errors
/// As [`Backend::open`] and [`Backend::sealed`].
pub async fn open(database: &Database, sealer: Sealer) -> Result<Arc<dyn Storage>> {
    Backend::open(database).await?.sealed(sealer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_a_postgres_scheme_is_postgres_and_anything_else_a_file() {
        for url in [
            "postgres://gateway@db/handover",
            "postgresql://gateway:pw@db:5432/handover?sslmode=disable",
            "POSTGRES://db/x",
        ] {
            assert!(!Database::from_setting(Path::new(url)).is_file(), "{url}");
        }
        for path in [
            "data/gateway.db",
            "postgres",
            "postgres:/x",
            "./postgres://x",
            "数据库/x.db",
            "",
        ] {
            assert!(Database::from_setting(Path::new(path)).is_file(), "{path}");
        }
    }

    #[test]
    fn a_displayed_url_hides_its_password() {
        let shown = |url: &str| Database::from_setting(Path::new(url)).to_string();
        assert_eq!(
            shown("postgres://gateway:s3cret@db:5432/handover"),
            "postgres://gateway:***@db:5432/handover"
        );
        assert_eq!(
            shown("postgres://db/handover?password=s3cret"),
            "postgres://db/handover"
        );
        assert_eq!(shown("postgresql://u@db/h"), "postgresql://u@db/h");
        assert!(!shown("postgres://a:b:c@d@host/x").contains("b:c"));
        assert_eq!(shown("data/gateway.db"), "data/gateway.db");
    }
}
