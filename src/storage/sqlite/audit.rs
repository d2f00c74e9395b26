//! The audit log in SQLite: rows sealed and appended on the writer
//! thread, in the transaction of the batch that carries them (see
//! [`super::writer`]), read back, and a read-only opening for checking the
//! log while the server is stopped.

use std::path::Path;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use super::reader::Readers;
use super::writer::{Access, Writer};
use super::{SqliteStorage, corrupt, unavailable};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry};
use crate::storage::{Result, StorageError};

/// Seals and inserts `records` onto `chain`, the log's tail in the
/// writer's open transaction (read on first use). That transaction took
/// the write lock (`BEGIN IMMEDIATE`) before the tail is read, and every
/// append of the transaction goes through `chain`, so no append can slip
/// in between and fork the chain.
pub(super) fn append_audit(
    db: &Connection,
    chain: &mut Option<Chain>,
    records: &[AuditRecord],
) -> Result<Chain> {
    let chain = match chain {
        Some(chain) => chain,
        None => chain.insert(audit_tail(db)?),
    };
    let mut insert = db
        .prepare_cached("INSERT INTO audit_log (sequence, entry, hash) VALUES (?, ?, ?)")
        .map_err(|e| unavailable(&e))?;
    for record in records {
        let sealed = chain.seal(record).map_err(|e| corrupt(&e))?;
        insert
            .execute(params![
                i64::try_from(sealed.sequence).unwrap_or(i64::MAX),
                sealed.entry,
                sealed.hash.as_slice(),
            ])
            .map_err(|e| unavailable(&e))?;
    }
    Ok(*chain)
}

/// The end of the audit log, as the open transaction sees it.
fn audit_tail(db: &Connection) -> Result<Chain> {
    // A damaged hash reads as zeros, as the readers do, so that the chain
    // check (not the write) reports the row.
    let last = db
        .prepare_cached("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        .and_then(|mut select| {
            select
                .query_row([], |row| {
                    let hash = row
                        .get_ref(1)?
                        .as_bytes()
                        .ok()
                        .and_then(|h| h.try_into().ok());
                    Ok((row.get_ref(0)?.as_i64(), hash.unwrap_or([0; 32])))
                })
                .optional()
        })
        .map_err(|e| unavailable(&e))?;
    match last {
        Some((sequence, hash)) => {
            let sequence = sequence
                .map_err(|e| corrupt(&e))
                .and_then(|sequence| u64::try_from(sequence).map_err(|e| corrupt(&e)))?;
            Ok(Chain::resume(sequence, hash))
        }
        None => Ok(Chain::new()),
    }
}

pub(super) async fn entries(
    readers: &SqlitePool,
    after: u64,
    limit: u32,
) -> Result<Vec<SealedEntry>> {
    let rows = sqlx::query(
        "SELECT sequence, entry, hash FROM audit_log WHERE sequence > ? ORDER BY sequence LIMIT ?",
    )
    .bind(to_i64(after))
    .bind(i64::from(limit))
    .fetch_all(readers)
    .await
    .map_err(|e| unavailable(&e))?;
    rows.iter()
        .map(|row| {
            let (sequence, hash) = sequence_and_hash(row)?;
            Ok(SealedEntry {
                sequence,
                // A row whose text is not UTF-8 was tampered with; let the
                // chain check say where rather than failing the read.
                entry: String::from_utf8_lossy(
                    row.try_get::<&[u8], _>("entry").unwrap_or_default(),
                )
                .into_owned(),
                hash,
            })
        })
        .collect()
}

/// A damaged hash column reads as zeros, so that the chain check (not the
/// read) reports the row.
fn sequence_and_hash(row: &sqlx::sqlite::SqliteRow) -> Result<(u64, [u8; 32])> {
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

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SqliteStorage {
    /// Opens an existing database without writing to it: no migrations,
    /// every connection read-only (SQLite may still make its `-wal` and
    /// `-shm` companions). For checking the audit log offline; the server
    /// may be running or stopped.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the file is missing or cannot be
    /// opened.
    pub async fn open_read_only(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(StorageError::Unavailable(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| unavailable(&e))?
            .filename(path)
            .read_only(true);
        let readers = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| unavailable(&e))?;
        // Writes reach a read-only connection and are refused there.
        Ok(Self {
            writes: Writer::start(path, Access::ReadOnly).await?,
            writer: readers.clone(),
            // Only `audit verify` and `audit show` open it this way.
            reads: Readers::start(path, 1)?,
            readers,
            sealer: None,
        })
    }
}
