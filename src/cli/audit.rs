//! `handover-gateway audit verify | show`: the audit log, read offline
//! from the database file. Both open it read-only, so they work with the
//! server stopped (or running) and cannot change what they check.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::domain::audit::hex;
use crate::gateway::verify_audit;
use crate::storage::{SqliteStorage, Storage};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; name the first entry changed, removed or
    /// inserted (exit status 1), or print the head to keep for comparison.
    Verify {
        #[arg(long, env = "HANDOVER_DATABASE", default_value = "data/gateway.db")]
        database: PathBuf,
    },
    /// Print entries as stored, one JSON object per line.
    Show {
        #[arg(long, env = "HANDOVER_DATABASE", default_value = "data/gateway.db")]
        database: PathBuf,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// # Errors
/// When the database cannot be read, or the log is broken.
pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { database } => {
            let storage = open(&database).await?;
            let checked = verify_audit(&storage).await;
            storage.close().await;
            let head = checked?.map_err(|found| anyhow::anyhow!("audit log broken: {found}"))?;
            println!(
                "audit log intact: {} entries, head {}",
                head.entries,
                hex(&head.hash)
            );
            Ok(())
        }
        AuditCommand::Show {
            database,
            after,
            limit,
        } => {
            let storage = open(&database).await?;
            let rows = storage.audit_entries(after, limit).await;
            storage.close().await;
            for row in rows? {
                println!("{}", row.entry);
            }
            Ok(())
        }
    }
}

async fn open(database: &std::path::Path) -> anyhow::Result<SqliteStorage> {
    SqliteStorage::open_read_only(database)
        .await
        .with_context(|| format!("opening database {}", database.display()))
}
