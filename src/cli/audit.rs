//! `handover-gateway audit verify | show`: the audit log, read from the
//! database (a SQLite file or a `postgres://` URL) without the master key.
//! A SQLite file is opened read-only, so both work beside a running
//! gateway and cannot change what they check. `audit head` asks a running
//! gateway for its signed head, to keep for `verify --signed-head`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Connection;
use super::output::{self, print_json};
use super::receipt::{Signed, read_saved, same_fields};
use crate::api::pb::audit_service_client::AuditServiceClient;
use crate::api::{open_signed_head, pb, shown_head};
use crate::domain::audit::{Head, hex};
use crate::gateway::{ReceiptError, to_hex, verify_audit_keeping};
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
        #[arg(long, value_name = "ENTRIES:HASH", conflicts_with = "signed_head")]
        expect_head: Option<Head>,
        /// A head the gateway signed (`audit head --json`) and kept
        /// elsewhere: its signature is checked, then the log must still
        /// reach it, with the same hash.
        #[arg(long, value_name = "FILE")]
        signed_head: Option<PathBuf>,
        /// The gateway's receipt public key, which also signs heads.
        #[arg(
            long,
            env = "HANDOVER_RECEIPT_KEY",
            default_value = "certs/receipt-signing.pub"
        )]
        public_key: PathBuf,
    },
    /// Ask a running gateway for the log's head, signed; keep it with
    /// --json > FILE and check against it later with verify --signed-head.
    Head {
        #[command(flatten)]
        connection: Connection,
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
            signed_head,
            public_key,
        } => {
            let signed = match &signed_head {
                Some(file) => Some(open_saved_head(file, &public_key)?),
                None => None,
            };
            let expect_head = expect_head.or(signed.as_ref().map(|(head, _)| *head));
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
            match (&signed, expect_head) {
                (Some((kept, saved)), _) => println!(
                    "it still reaches the head the gateway signed at {} for {}: {kept}",
                    saved["signed_at"].as_str().unwrap_or_default(),
                    saved["requested_by"].as_str().unwrap_or_default(),
                ),
                (None, Some(kept)) => println!("it still reaches the head kept: {kept}"),
                (None, None) => {}
            }
            println!(
                "keep this head elsewhere; check against it later with --expect-head {}",
                head.token()
            );
            Ok(())
        }
        AuditCommand::Head { connection } => {
            let mut client = AuditServiceClient::new(connection.channel().await?);
            let response = client
                .get_audit_head(pb::GetAuditHeadRequest {})
                .await
                .map_err(output::status)?
                .into_inner();
            let signed = response
                .head
                .ok_or_else(|| anyhow::anyhow!("the gateway answered without a head"))?;
            if connection.json {
                return print_json(&head_json(&signed));
            }
            println!(
                "audit log head signed by the gateway's key {} at {}: {} entries, head {}",
                signed.signing_key_id,
                output::at(signed.signed_at.as_ref()),
                signed.entries,
                hex(&signed.hash)
            );
            println!(
                "keep it where the gateway's operators cannot write: run again with --json > FILE, \
                 and check later with audit verify --signed-head FILE"
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

/// A signed head as `audit head --json` prints it, and as `verify
/// --signed-head` reads it back.
fn head_json(head: &pb::SignedAuditHead) -> Value {
    json!({
        "entries": head.entries,
        "hash": hex(&head.hash),
        "signed_at": output::at(head.signed_at.as_ref()),
        "requested_by": head.requested_by,
        "signed_content": to_hex(&head.signed_content),
        "signature": to_hex(&head.signature),
        "signing_key_id": head.signing_key_id,
    })
}

/// The head a saved file names, once its signature is checked and every
/// field of the file matches the signed content.
fn open_saved_head(file: &Path, public_key: &Path) -> anyhow::Result<(Head, Value)> {
    let refused = |error: ReceiptError| {
        anyhow::anyhow!(
            "the signed head {} does NOT verify: {error}",
            file.display()
        )
    };
    let what = "a head saved from audit head --json";
    let (key, saved, signed) = read_saved(file, public_key, what, refused)?;
    let Signed {
        key_id,
        signed_content,
        signature,
    } = signed;
    let (content, head) =
        open_signed_head(&key, &key_id, &signed_content, &signature).map_err(refused)?;
    let expected = head_json(&pb::SignedAuditHead {
        signed_content,
        signature,
        signing_key_id: key_id,
        ..shown_head(content)
    });
    same_fields(&saved, &expected).map_err(refused)?;
    Ok((head, expected))
}
