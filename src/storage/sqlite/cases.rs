//! Cases and their events, read back; the writer thread writes them (see
//! [`super::write_sql`]).

use sqlx::{Row, SqlitePool};

use super::{corrupt, unavailable};
use crate::storage::Result;
use crate::storage::seal::Sealer;

pub(super) use crate::storage::millis;

/// Seals the bodies that a version before sealing stored as plain text.
pub(super) async fn seal_plain_bodies(writer: &SqlitePool, sealer: &Sealer) -> Result<()> {
    // (table, first key column, second key column): the address of a body
    // is `table/first/second`, as `event_address` and `message_address`.
    const TABLES: [(&str, &str, &str); 2] = [
        ("case_events", "case_id", "sequence"),
        ("inbox_messages", "agency_id", "position"),
    ];
    let mut tx = writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| unavailable(&e))?;
    let mut sealed_rows = 0;
    for (table, first, second) in TABLES {
        let rows = sqlx::query(&format!(
            "SELECT {first} AS first, {second} AS second, body FROM {table}
             WHERE typeof(body) = 'text'"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        for row in &rows {
            let (key, number): (&str, i64) = (row.get("first"), row.get("second"));
            let sealed = sealer
                .seal(
                    &format!("{table}/{key}/{number}"),
                    row.get::<&[u8], _>("body"),
                )
                .map_err(|e| corrupt(&e))?;
            sqlx::query(&format!(
                "UPDATE {table} SET body = ? WHERE {first} = ? AND {second} = ?"
            ))
            .bind(sealed)
            .bind(key)
            .bind(number)
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable(&e))?;
        }
        sealed_rows += rows.len();
    }
    tx.commit().await.map_err(|e| unavailable(&e))?;
    if sealed_rows > 0 {
        tracing::info!(
            rows = sealed_rows,
            "sealed plain bodies of an older version"
        );
    }
    Ok(())
}
