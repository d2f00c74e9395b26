//! The audit log in PostgreSQL. An append locks the table against other
//! appenders (not readers) as it reads the last hash ([`tail`]), so the
//! chain stays linear across connections and gateway processes.

use sqlx::{PgPool, Postgres, Row, Transaction};

use super::{corrupt, to_i64, unavailable};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry};
use crate::storage::Result;

pub(super) async fn append(pool: &PgPool, records: &[AuditRecord]) -> Result<Chain> {
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    let mut chain = tail(&mut tx).await?;
    let sealed = Sealed::of(&mut chain, records)?;
    sqlx::query(
        "INSERT INTO audit_log (sequence, entry, hash)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[])",
    )
    .bind(&sealed.sequences)
    .bind(&sealed.entries)
    .bind(&sealed.hashes)
    .execute(&mut *tx)
    .await
    .map_err(|e| unavailable(&e))?;
    tx.commit().await.map_err(|e| unavailable(&e))?;
    Ok(chain)
}

/// Locks the log against other appenders (not readers) until `tx` ends,
/// and returns the chain as the last appender left it (see
/// `audit_tail()` in `migrations/postgres/0004`).
pub(super) async fn tail(tx: &mut Transaction<'_, Postgres>) -> Result<Chain> {
    let last = sqlx::query("SELECT sequence, hash FROM audit_tail()")
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| unavailable(&e))?;
    match last {
        Some(row) => {
            let (sequence, hash) = sequence_and_hash(&row)?;
            Ok(Chain::resume(sequence, hash))
        }
        None => Ok(Chain::new()),
    }
}

/// Entries chained onto a tail, as the columns of `audit_log`.
#[derive(Debug, Default)]
pub(super) struct Sealed {
    pub(super) sequences: Vec<i64>,
    pub(super) entries: Vec<String>,
    pub(super) hashes: Vec<Vec<u8>>,
}

impl Sealed {
    /// Chains `records` onto `chain`, which moves past them.
    pub(super) fn of(chain: &mut Chain, records: &[AuditRecord]) -> Result<Self> {
        let mut sealed = Self::default();
        for record in records {
            let entry = chain.seal(record).map_err(|e| corrupt(&e))?;
            sealed.sequences.push(to_i64(entry.sequence));
            sealed.entries.push(entry.entry);
            sealed.hashes.push(entry.hash.to_vec());
        }
        Ok(sealed)
    }
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
