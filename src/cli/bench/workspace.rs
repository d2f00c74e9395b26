//! The run's own files: a temporary folder with a CA, a server certificate
//! and every agency's certificate, the master key, the gateway's config
//! with limits out of the way, and the database (a SQLite file there, or a
//! fresh `hg_bench_*` database on the PostgreSQL server given).

use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::Connection;

use super::database_server::DatabaseServer;
use super::province::Province;
use crate::bootstrap;
use crate::storage::{Backend, Database};

/// How the run reaches its PostgreSQL server.
pub struct Reach {
    /// "Unix socket", "TCP with TLS" or "TCP without TLS".
    pub how: String,
    /// The server's processes, when it runs on this machine.
    pub server: Option<DatabaseServer>,
}

pub struct Workspace {
    pub dir: PathBuf,
    pub certs: PathBuf,
    pub master_key: PathBuf,
    pub config: PathBuf,
    /// The `database` setting: a file path or a `postgres://` URL.
    pub database: PathBuf,
    /// The server and the database made for this run, to drop at the end.
    postgres: Option<(String, String)>,
    keep: bool,
}

impl Workspace {
    /// Makes the folder under `root` (default: the system temp folder) and,
    /// with `postgres` (a URL of any database on the server), a fresh
    /// database next to it.
    pub async fn create(
        root: Option<&Path>,
        postgres: Option<&str>,
        keep: bool,
    ) -> anyhow::Result<Self> {
        let root = root.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = root.join(format!("hg-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("data"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let (database, postgres) = match postgres {
            Some(admin) => {
                let name = format!("hg_bench_{}", uuid::Uuid::new_v4().simple());
                admin_query(admin, &format!("CREATE DATABASE {name}")).await?;
                // Named, so that a run killed before it drops it can be
                // cleaned up by hand.
                eprintln!("made the database {name} for this run");
                (
                    PathBuf::from(url_of(admin, &name)),
                    Some((admin.to_owned(), name)),
                )
            }
            None => (dir.join("data/gateway.db"), None),
        };
        Ok(Self {
            certs: dir.join("certs"),
            master_key: dir.join("data/master.key"),
            config: dir.join("gateway.toml"),
            dir,
            database,
            postgres,
            keep,
        })
    }

    pub fn backend(&self) -> Database {
        Database::from_setting(&self.database)
    }

    pub fn backend_name(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    /// How a connection to the run's PostgreSQL database, made the way the
    /// gateway makes its own, reaches the server, and the server's
    /// processes when it runs on this machine (found through that
    /// connection's backend): `None` on SQLite.
    pub async fn reach(&self) -> anyhow::Result<Option<Reach>> {
        let Some((_, name)) = &self.postgres else {
            return Ok(None);
        };
        let url = self.database.to_string_lossy();
        let mut connection = sqlx::PgConnection::connect(&url)
            .await
            .with_context(|| format!("connecting to {}", self.backend()))?;
        // Local: a socket, or TCP to this machine. A remote server's
        // backend id would name no process here, or an unrelated one.
        let (socket, tls, backend, local): (bool, bool, i32, bool) = sqlx::query_as(
            "SELECT inet_server_addr() IS NULL, \
                    COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), FALSE), \
                    pg_backend_pid(), \
                    COALESCE(inet_server_addr() = inet_client_addr() \
                             OR inet_server_addr() <<= '127.0.0.0/8' \
                             OR inet_server_addr() = '::1', TRUE)",
        )
        .fetch_one(&mut connection)
        .await?;
        // Looked for while the backend is still there.
        let server = u32::try_from(backend)
            .ok()
            .filter(|_| local)
            .and_then(|backend| DatabaseServer::of_backend(backend, name));
        let _ = connection.close().await;
        let how = match (socket, tls) {
            (true, _) => "Unix socket",
            (false, true) => "TCP with TLS",
            (false, false) => "TCP without TLS",
        };
        Ok(Some(Reach {
            how: how.to_owned(),
            server,
        }))
    }

    /// The CA, the server certificate, and a certificate and registry entry
    /// for every agency of `province`.
    pub async fn register(&self, province: &Province) -> anyhow::Result<usize> {
        let ca = bootstrap::init_ca(&self.certs, &["localhost", "127.0.0.1"])?;
        let backend = Backend::open(&self.backend()).await?;
        let agencies = province.agencies()?;
        for (agency, name) in &agencies {
            bootstrap::issue_agency(&ca, backend.storage(), &self.certs, agency.clone(), name)
                .await?;
        }
        backend.storage().close().await;
        Ok(agencies.len())
    }

    /// The gateway's config: this workspace's files, port 0, and limits
    /// high enough that the benchmark measures the gateway, not its quotas.
    pub fn write_config(&self) -> anyhow::Result<()> {
        let quote = |path: &Path| toml_string(&path.to_string_lossy());
        let text = format!(
            "listen = \"127.0.0.1:0\"\n\
             database = {}\n\
             certs_dir = {}\n\
             master_key = {}\n\
             [limits]\n\
             calls_per_second = 1e9\n\
             burst = 1000000000\n\
             police_queries_per_day = 0\n\
             pending_latency = \"0s\"\n",
            quote(&self.database),
            quote(&self.certs),
            quote(&self.master_key),
        );
        std::fs::write(&self.config, text)
            .with_context(|| format!("writing {}", self.config.display()))
    }

    /// On PostgreSQL, writes what the seeding left dirty in the server's
    /// buffers to disk (`CHECKPOINT`) before anything is measured: after a
    /// million cases that write-back ran for minutes beside the scenarios.
    /// A role that may not checkpoint gets a warning, and the run goes on.
    pub async fn checkpoint(&self) {
        if let Some((admin, _)) = &self.postgres
            && let Err(error) = admin_query(admin, "CHECKPOINT").await
        {
            eprintln!(
                "warning: could not checkpoint the server, so the figures may include \
                 the seeding's write-back: {error:#}"
            );
        }
    }

    /// Drops the PostgreSQL database and removes the folder, unless asked to
    /// keep them.
    pub async fn remove(self) {
        if self.keep {
            eprintln!("kept the workspace {}", self.dir.display());
            if let Some((_, name)) = &self.postgres {
                eprintln!("kept the database {name}");
            }
            return;
        }
        if let Some((admin, name)) = &self.postgres
            && let Err(error) = admin_query(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
        {
            eprintln!("warning: could not drop the database {name}: {error:#}");
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove {}: {error}", self.dir.display());
        }
    }
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn admin_query(url: &str, sql: &str) -> anyhow::Result<()> {
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {}", Database::from_setting(Path::new(url))))?;
    sqlx::query(sql).execute(&mut connection).await?;
    let _ = connection.close().await;
    Ok(())
}

/// The same server URL naming database `name` instead.
fn url_of(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_database_replaces_only_the_database_name() {
        assert_eq!(
            url_of("postgres://postgres@127.0.0.1:5432/test", "hg_bench_1"),
            "postgres://postgres@127.0.0.1:5432/hg_bench_1"
        );
        assert_eq!(
            url_of("postgresql://u:p@db/x?sslmode=disable", "b"),
            "postgresql://u:p@db/b?sslmode=disable"
        );
        assert_eq!(url_of("postgres://db", "b"), "postgres://db/b");
    }
}
