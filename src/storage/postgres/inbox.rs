//! Per-recipient inboxes: gapless positions, acknowledged in order.

use std::collections::{BTreeSet, HashMap};

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::Semaphore;

use super::connect::ACQUIRE_TIMEOUT;
use super::{corrupt, to_i64, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::CaseId;
use crate::domain::notice::InboxEntry;
use crate::storage::messages::{Histories, StoredMessage, open_messages, referenced_cases};
use crate::storage::seal::{Sealer, open_history};
use crate::storage::{InboxState, Result, StorageError};

/// A page of `agency`'s inbox after position `after`, opened. Both of its
/// statements run on one connection of `pool`, taken once one of
/// `readers` is free (waiting [`ACQUIRE_TIMEOUT`] at most for both); the
/// messages are opened after it went back.
///
/// The turns bound the reads, not quite the connections: a read whose
/// caller left frees its turn at once, while sqlx keeps its connection
/// until the statement has ended.
pub(super) async fn after(
    pool: &PgPool,
    readers: &Semaphore,
    sealer: &Sealer,
    agency: &AgencyId,
    after: u64,
    limit: u32,
) -> Result<Vec<InboxEntry>> {
    let (mut connection, reading) = tokio::time::timeout(ACQUIRE_TIMEOUT, async {
        let reading = readers
            .acquire()
            .await
            .map_err(|_| unavailable(&"the database connections are closed"))?;
        let connection = pool.acquire().await.map_err(|e| unavailable(&e))?;
        Ok::<_, StorageError>((connection, reading))
    })
    .await
    .map_err(|_| unavailable(&"no database connection came free in time"))??;
    let rows = sqlx::query(
        "SELECT position, created_at, case_id, sequence, role, body FROM inbox_messages
         WHERE agency_id = $1 AND position > $2 ORDER BY position LIMIT $3",
    )
    .bind(agency.as_str())
    .bind(to_i64(after))
    .bind(i64::from(limit))
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| unavailable(&e))?;
    let messages = rows
        .iter()
        .map(|row| {
            StoredMessage::from_columns(
                row.try_get("position").map_err(|e| corrupt(&e))?,
                row.try_get("created_at").map_err(|e| corrupt(&e))?,
                row.try_get("case_id").map_err(|e| corrupt(&e))?,
                row.try_get("sequence").map_err(|e| corrupt(&e))?,
                row.try_get("role").map_err(|e| corrupt(&e))?,
                row.try_get("body").map_err(|e| corrupt(&e))?,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let cases = referenced_cases(&messages);
    let events = event_rows(&mut connection, &cases).await?;
    drop((connection, reading));
    let histories = histories(sealer, cases, &events)?;
    Ok(open_messages(sealer, agency, messages, &histories))
}

/// The events of `cases`, in one query.
pub(super) async fn event_rows(
    connection: &mut PgConnection,
    cases: &BTreeSet<CaseId>,
) -> Result<Vec<PgRow>> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = cases.iter().map(CaseId::as_str).collect();
    sqlx::query(
        "SELECT case_id, sequence, body FROM case_events
         WHERE case_id = ANY($1) ORDER BY case_id, sequence",
    )
    .bind(&ids)
    .fetch_all(connection)
    .await
    .map_err(|e| unavailable(&e))
}

/// The events of `cases` in `rows` (of [`event_rows`]), opened: each
/// case's history, or why it does not open.
///
/// # Errors
/// `Corrupt` when a row's columns do not read.
pub(super) fn histories(
    sealer: &Sealer,
    cases: BTreeSet<CaseId>,
    rows: &[PgRow],
) -> Result<Histories> {
    let mut sealed: HashMap<&str, Vec<(i64, &[u8])>> = HashMap::new();
    for row in rows {
        let case: &str = row.try_get("case_id").map_err(|e| corrupt(&e))?;
        let sequence: i64 = row.try_get("sequence").map_err(|e| corrupt(&e))?;
        let body: &[u8] = row.try_get("body").map_err(|e| corrupt(&e))?;
        sealed.entry(case).or_default().push((sequence, body));
    }
    Ok(cases
        .into_iter()
        .map(|id| {
            let events = sealed.remove(id.as_str()).unwrap_or_default();
            let history = open_history(sealer, &id, events);
            (id, history)
        })
        .collect())
}

fn state_from_row(row: &sqlx::postgres::PgRow) -> Result<InboxState> {
    let head: i64 = row.try_get("head").map_err(|e| corrupt(&e))?;
    let acknowledged: i64 = row.try_get("acknowledged").map_err(|e| corrupt(&e))?;
    Ok(InboxState {
        head: u64::try_from(head).map_err(|e| corrupt(&e))?,
        acknowledged: u64::try_from(acknowledged).map_err(|e| corrupt(&e))?,
    })
}

pub(super) async fn state(pool: &PgPool, agency: &AgencyId) -> Result<InboxState> {
    let row = sqlx::query("SELECT head, acknowledged FROM inboxes WHERE agency_id = $1")
        .bind(agency.as_str())
        .fetch_optional(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    row.as_ref()
        .map_or(Ok(InboxState::default()), state_from_row)
}

/// `GREATEST` keeps an older acknowledgement arriving late from moving
/// the position back; the condition refuses a position past the head.
pub(super) async fn acknowledge(
    pool: &PgPool,
    agency: &AgencyId,
    to: u64,
) -> Result<Option<InboxState>> {
    let row = sqlx::query(
        "INSERT INTO inboxes (agency_id, head, acknowledged) VALUES ($1, 0, 0)
         ON CONFLICT (agency_id) DO UPDATE
             SET acknowledged = GREATEST(inboxes.acknowledged, $2)
             WHERE inboxes.head >= $2
         RETURNING head, acknowledged",
    )
    .bind(agency.as_str())
    .bind(to_i64(to))
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    let Some(row) = row else { return Ok(None) };
    let state = state_from_row(&row)?;
    Ok((to <= state.head).then_some(state))
}
