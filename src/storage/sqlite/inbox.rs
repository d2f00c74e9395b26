//! Per-recipient inboxes: gapless positions, acknowledged in order. The
//! writer thread fills and acknowledges them (see [`super::write_sql`]).

use sqlx::{Row, SqlitePool};

use super::{corrupt, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::notice::InboxMessage;
use crate::storage::seal::{Sealer, message_address, open_json};
use crate::storage::{InboxState, Result};

fn position(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) async fn after(
    readers: &SqlitePool,
    sealer: &Sealer,
    agency: &AgencyId,
    after: u64,
    limit: u32,
) -> Result<Vec<InboxMessage>> {
    let rows = sqlx::query(
        "SELECT position, created_at, body FROM inbox_messages
         WHERE agency_id = ? AND position > ? ORDER BY position LIMIT ?",
    )
    .bind(agency.as_str())
    .bind(position(after))
    .bind(i64::from(limit))
    .fetch_all(readers)
    .await
    .map_err(|e| unavailable(&e))?;
    rows.iter()
        .map(|row| {
            let created_at: i64 = row.get("created_at");
            Ok(InboxMessage {
                position: u64::try_from(row.get::<i64, _>("position")).map_err(|e| corrupt(&e))?,
                created_at: time::OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(created_at) * 1_000_000,
                )
                .map_err(|e| corrupt(&e))?,
                notice: open_json(
                    sealer,
                    &message_address(agency, row.get::<i64, _>("position")),
                    row.get::<&[u8], _>("body"),
                )?,
            })
        })
        .collect()
}

pub(super) async fn state(readers: &SqlitePool, agency: &AgencyId) -> Result<InboxState> {
    let row = sqlx::query("SELECT head, acknowledged FROM inboxes WHERE agency_id = ?")
        .bind(agency.as_str())
        .fetch_optional(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(row.map_or(InboxState::default(), |row| InboxState {
        head: u64::try_from(row.get::<i64, _>("head")).unwrap_or(0),
        acknowledged: u64::try_from(row.get::<i64, _>("acknowledged")).unwrap_or(0),
    }))
}
