//! The audit log in PostgreSQL. An append takes a lock that orders it
//! against other appenders (not readers, and not VACUUM) as it reads the
//! last hash, so the chain stays linear across connections and gateway
//! processes; PostgreSQL seals the entries itself, from the records'
//! fields, so an append is one round trip (`audit_append()`, last defined
//! in `migrations/postgres/0008`).

use sqlx::{PgPool, Row};

use super::write::unanswered;
use super::writer::Writer;
use super::{corrupt, to_i64, unavailable};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry, record_fields};
use crate::storage::Result;

/// Appends `records` in one statement (`audit_append()` in
/// `migrations/postgres/0008`, which locks the log against other appenders
/// and chains the entries onto its tail), on its own transaction, by
/// `auditor`, which waits a bounded time for the answer (see
/// [`super::writer`]).
pub(super) async fn append(auditor: &Writer, records: &[AuditRecord]) -> Result<Chain> {
    let fields = records
        .iter()
        .map(record_fields)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(&e))?;
    let mut taken = auditor.take().await?;
    let append = sqlx::query("SELECT sequence, hash FROM audit_append($1)")
        .bind(&fields)
        .fetch_one(taken.connection());
    let Ok(row) = tokio::time::timeout(auditor.answer_timeout, append).await else {
        auditor.abandon(taken);
        return Err(unanswered(auditor.answer_timeout));
    };
    let row = taken.settle(row)?;
    let (sequence, hash) = sequence_and_hash(&row)?;
    Ok(Chain::resume(sequence, hash))
}

pub(super) async fn entries(pool: &PgPool, after: u64, limit: u32) -> Result<Vec<SealedEntry>> {
    let rows = sqlx::query(
        "SELECT sequence, entry, hash FROM audit_log WHERE sequence > $1
         ORDER BY sequence LIMIT $2",
    )
    .bind(to_i64(after))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    rows.iter()
        .map(|row| {
            let (sequence, hash) = sequence_and_hash(row)?;
            Ok(SealedEntry {
                sequence,
                entry: row.try_get("entry").map_err(|e| corrupt(&e))?,
                hash,
            })
        })
        .collect()
}

/// A damaged hash column reads as zeros, so that the chain check (not the
/// read) reports the row.
fn sequence_and_hash(row: &sqlx::postgres::PgRow) -> Result<(u64, [u8; 32])> {
    let sequence = row
        .try_get::<i64, _>("sequence")
        .map_err(|e| corrupt(&e))
        .and_then(|sequence| u64::try_from(sequence).map_err(|e| corrupt(&e)))?;
    let hash = row
        .try_get::<&[u8], _>("hash")
        .ok()
        .and_then(|hash| hash.try_into().ok())
        .unwrap_or([0; 32]);
    Ok((sequence, hash))
}
