//! SQLite: the embedded default. WAL with `synchronous=FULL` (WAL with
//! NORMAL can lose the last commits on power loss), one writer connection
//! owned by a thread that commits concurrent writes together in one
//! `BEGIN IMMEDIATE` transaction ([`writer`], [`batch`], [`write_sql`]),
//! reader threads with connections of their own for the reads on every
//! call's path ([`reader`], [`read_sql`]), and a pool of sqlx connections
//! for migrations, lists, scans and the audit log.

mod audit;
mod batch;
mod cases;
mod checkpoint;
mod lists;
mod read_sql;
mod reader;
mod registry;
mod storage;
mod write_sql;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::seal::Sealer;
use super::{Result, StorageError};
use reader::Readers;
use writer::{Access, Writer};

/// Reads at once: SQLite readers in WAL mode do not block one another, and
/// a read of pages not yet cached waits on the disk.
const READ_THREADS: usize = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug)]
pub struct SqliteStorage {
    /// Every write after opening goes through here, to share commits.
    writes: Writer,
    /// A sqlx connection for what runs while opening: migrations, and
    /// sealing an older version's plain bodies (see [`Self::sealed`]).
    writer: SqlitePool,
    /// The reads on every call's path.
    reads: Readers,
    /// The other reads: lists, scans, the audit log.
    readers: SqlitePool,
    /// Seals what names a person; without it, case data cannot be read or
    /// written (the registry and the audit log can).
    sealer: Option<Arc<Sealer>>,
}

impl SqliteStorage {
    /// Opens (creating if missing) the database file and brings its schema
    /// up to date.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| unavailable(&e))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| unavailable(&e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // A local file needs no liveness test before each use: it would be
        // one more round trip to SQLite's thread on every commit.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        MIGRATOR.run(&writer).await.map_err(|e| unavailable(&e))?;
        restrict_to_owner(path);
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Self {
            writes: Writer::start(path, Access::ReadWrite).await?,
            writer,
            reads: Readers::start(path, READ_THREADS)?,
            readers,
            sealer: None,
        })
    }

    /// Runs SQLite's own integrity check; `Ok(())` when it says "ok".
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] with what the check found.
    pub async fn integrity_check(&self) -> Result<()> {
        let result: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.readers)
            .await
            .map_err(|e| unavailable(&e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StorageError::Corrupt(result))
        }
    }

    /// The same storage, sealing personal data with `sealer`. Bodies a
    /// version before sealing left in plain text are sealed now, in one
    /// transaction.
    ///
    /// # Errors
    /// When the plain bodies cannot be sealed.
    pub async fn sealed(mut self, sealer: Sealer) -> Result<Self> {
        cases::seal_plain_bodies(&self.writer, &sealer).await?;
        self.sealer = Some(Arc::new(sealer));
        Ok(self)
    }

    /// The sealer, for a job that the writer or a reader thread runs.
    fn shared_sealer(&self) -> Result<Arc<Sealer>> {
        self.sealer.clone().ok_or_else(no_key)
    }

    /// Closes the readers, then the writer once the writes queued before
    /// this call are committed; writes queued after that are refused as
    /// `Unavailable`.
    pub async fn close(&self) {
        self.reads.close();
        self.readers.close().await;
        self.writes.close().await;
        self.writer.close().await;
    }
}

fn no_key() -> StorageError {
    corrupt(&"case data needs the master key; the storage was opened without it")
}

/// The database holds personal data: only the gateway's user may read it.
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            if let Err(error) =
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            {
                tracing::debug!(%error, file = ?file, "cannot restrict database file permissions");
            }
        }
    }
}

pub(super) fn unavailable(error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Unavailable(error.to_string())
}

pub(super) fn corrupt(error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Corrupt(error.to_string())
}

pub(super) fn now_millis() -> i64 {
    crate::storage::millis(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod seal_tests;
