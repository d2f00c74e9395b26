//! The audit log in PostgreSQL. An append locks the table against other
//! appenders (not readers) before it reads the last hash, so the chain
//! stays linear across connections and gateway processes.

use sqlx::{PgPool, Postgres, Row, Transaction};

use super::{corrupt, to_i64, unavailable};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry};
use crate::storage::Result;

pub(super) async fn append(pool: &PgPool, records: &[AuditRecord]) -> Result<Chain> {
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    let chain = append_in(&mut tx, records).await?;
    tx.commit().await.map_err(|e| unavailable(&e))?;
    Ok(chain)
}

/// Appends inside `tx`, which holds the log's lock until it ends.
pub(super) async fn append_in(
    tx: &mut Transaction<'_, Postgres>,
    records: &[AuditRecord],
) -> Result<Chain> {
    // EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE lock an
    // INSERT takes, but not with plain SELECTs. At READ COMMITTED the next
    // statement's snapshot is taken after the lock is granted, so it sees
    // the previous appender's committed rows.
    sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await
        .map_err(|e| unavailable(&e))?;
    let last = sqlx::query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| unavailable(&e))?;
    let mut chain = match last {
        Some(row) => {
            let (sequence, hash) = sequence_and_hash(&row)?;
            Chain::resume(sequence, hash)
        }
        None => Chain::new(),
    };
    let (mut sequences, mut entries, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        let sealed = chain.seal(record).map_err(|e| corrupt(&e))?;
        sequences.push(to_i64(sealed.sequence));
        entries.push(sealed.entry);
        hashes.push(sealed.hash.to_vec());
    }
    if !records.is_empty() {
        sqlx::query(
            "INSERT INTO audit_log (sequence, entry, hash)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[])",
        )
        .bind(&sequences)
        .bind(&entries)
        .bind(&hashes)
        .execute(&mut **tx)
        .await
        .map_err(|e| unavailable(&e))?;
    }
    Ok(chain)
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
