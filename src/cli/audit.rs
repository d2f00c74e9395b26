//! `handover-gateway audit verify | show`: the audit log, read from the
//! database (a SQLite file or a `postgres://` URL) without the master key.
//! A SQLite file is opened read-only, so both work beside a running
//! gateway and cannot change what they check.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::domain::audit::{Head, hex};
use crate::gateway::verify_audit_keeping;
use crate::storage::{Backend, Database};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; name the first entry changed, removed or
    /// inserted (exit status 1), or print the head to keep for comparison.
    Verify {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, env = "HANDOVER_DATABASE", default_value = "data/gateway.db")]
        database: PathBuf,
        /// A head printed by an earlier run (`ENTRIES:HASH`) and kept
        /// elsewhere: the log must still reach it, with the same hash.
        #[arg(long, value_name = "ENTRIES:HASH")]
        expect_head: Option<Head>,
    },
    /// Print entries as stored, one JSON object per line.
    Show {
        /// SQLite database file, or a postgres:// URL.
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
        AuditCommand::Verify {
            database,
            expect_head,
        } => {
            let backend = open(&database).await?;
            let storage = backend.storage();
            let checked = verify_audit_keeping(storage, expect_head).await;
            storage.close().await;
            let head = checked?.map_err(|found| anyhow::anyhow!("audit log broken: {found}"))?;
            println!(
                "audit log intact: {} entries, head {}",
                head.entries,
                hex(&head.hash)
            );
            if let Some(kept) = expect_head {
                println!("it still reaches the head kept: {kept}");
            }
            println!(
                "keep this head elsewhere; check against it later with --expect-head {}",
                head.token()
            );
            Ok(())
        }
        AuditCommand::Show {
            database,
            after,
            limit,
        } => {
            let backend = open(&database).await?;
            let storage = backend.storage();
            let rows = storage.audit_entries(after, limit).await;
            storage.close().await;
            for row in rows? {
                println!("{}", row.entry);
            }
            Ok(())
        }
    }
}

async fn open(setting: &std::path::Path) -> anyhow::Result<Backend> {
    let database = Database::from_setting(setting);
    Backend::open_read_only(&database)
        .await
        .with_context(|| format!("opening database {database}"))
}
