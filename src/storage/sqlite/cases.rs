//! Cases, their events and submissions' answers, written in one transaction.

use std::collections::BTreeMap;

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::{corrupt, now_millis, translate, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId};
use crate::domain::notice::Notice;
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::seal::{Sealer, event_address, message_address, open_case, seal_json};
use crate::storage::{CaseWrite, Conflict, Result, StorageError};

pub(super) fn millis(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Applies `write` inside the writer's open transaction (see
/// [`super::writer`]); the caller commits or rolls back.
pub(super) async fn write_case(
    tx: &mut SqliteConnection,
    sealer: &Sealer,
    write: CaseWrite,
) -> Result<SubmissionOutcome> {
    let CaseWrite {
        request,
        case,
        expected_version,
        person_key,
        notices,
        deadlines,
        mut outcome,
    } = write;
    let now = now_millis();
    let responsible = case.responsible.as_ref().map(|a| a.as_str().to_owned());
    if expected_version == 0 {
        sqlx::query(
            "INSERT INTO cases (id, decision_number, person_key, version, state, executing_region,
                 household_region, responsible, detox_center, opened_at, updated_at, oversight, unroutable)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(case.id.as_str())
        .bind(case.decision_number.as_str())
        .bind(person_key.as_slice())
        .bind(i64::from(case.version()))
        .bind(case.state.as_str())
        .bind(case.executing_region.to_string())
        .bind(case.person.household_region.to_string())
        .bind(&responsible)
        .bind(case.detox_center.as_str())
        .bind(now)
        .bind(now)
        .bind(case.oversight.as_ref().map(|a| a.as_str().to_owned()))
        .bind(case.is_unroutable())
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(e, Conflict::DecisionNumber))?;
    } else {
        let updated = sqlx::query(
            "UPDATE cases SET version = ?, state = ?, executing_region = ?, household_region = ?,
                 responsible = ?, person_key = ?, updated_at = ?, oversight = ?, unroutable = ?
             WHERE id = ? AND version = ?",
        )
        .bind(i64::from(case.version()))
        .bind(case.state.as_str())
        .bind(case.executing_region.to_string())
        .bind(case.person.household_region.to_string())
        .bind(&responsible)
        .bind(person_key.as_slice())
        .bind(now)
        .bind(case.oversight.as_ref().map(|a| a.as_str().to_owned()))
        .bind(case.is_unroutable())
        .bind(case.id.as_str())
        .bind(i64::from(expected_version))
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        if updated.rows_affected() != 1 {
            return Err(StorageError::Conflict(Conflict::Version));
        }
    }
    for event in case
        .history
        .iter()
        .filter(|e| e.sequence > expected_version)
    {
        sqlx::query(
            "INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(case.id.as_str())
        .bind(i64::from(event.sequence))
        .bind(millis(event.at))
        .bind(event.by.as_str())
        .bind(seal_json(
            sealer,
            &event_address(&case.id, i64::from(event.sequence)),
            event,
        )?)
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(e, Conflict::Version))?;
    }
    sqlx::query("DELETE FROM deadlines WHERE case_id = ?")
        .bind(case.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    // One statement for all the rows of a kind: the writer runs every
    // statement of a batch in turn, each a round trip to SQLite's thread.
    if !deadlines.is_empty() {
        QueryBuilder::<Sqlite>::new(
            "INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated) ",
        )
        .push_values(&deadlines, |mut row, deadline| {
            row.push_bind(case.id.as_str())
                .push_bind(deadline.kind.as_str())
                .push_bind(i64::from(deadline.anchor))
                .push_bind(millis(deadline.starts_at))
                .push_bind(deadline.escalated);
        })
        .build()
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    }
    outcome.deliveries = deliver(tx, sealer, &case.id, &notices, outcome.accepted_at).await?;
    sqlx::query("INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at) VALUES (?, ?, ?, ?, ?)")
        .bind(request.agency.as_str())
        .bind(&request.request_id)
        .bind(request.digest.as_slice())
        .bind(serde_json::to_string(&outcome).map_err(|e| corrupt(&e))?)
        .bind(millis(outcome.accepted_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(e, Conflict::RequestId))?;
    Ok(outcome)
}

/// Places the notices in their recipients' inboxes: each recipient's head
/// moves once, by its number of notices, and the positions it passed are
/// filled in notice order, so they stay gapless.
async fn deliver(
    tx: &mut SqliteConnection,
    sealer: &Sealer,
    case: &CaseId,
    notices: &[(AgencyId, Notice)],
    accepted_at: time::OffsetDateTime,
) -> Result<Vec<Delivery>> {
    if notices.is_empty() {
        return Ok(Vec::new());
    }
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for (agency, _) in notices {
        *counts.entry(agency.as_str()).or_default() += 1;
    }
    // The next free position of each recipient.
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    for (agency, count) in counts {
        let head: i64 = sqlx::query_scalar(
            "INSERT INTO inboxes (agency_id, head) VALUES (?, ?)
             ON CONFLICT (agency_id) DO UPDATE SET head = head + excluded.head
             RETURNING head",
        )
        .bind(agency)
        .bind(count)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        next.insert(agency, head - count + 1);
    }
    let mut rows = Vec::with_capacity(notices.len());
    let mut deliveries = Vec::with_capacity(notices.len());
    for (agency, notice) in notices {
        let slot = next
            .get_mut(agency.as_str())
            .ok_or_else(|| corrupt(&"a recipient without an inbox head"))?;
        let position = *slot;
        *slot += 1;
        let body = seal_json(sealer, &message_address(agency, position), notice)?;
        rows.push((agency.as_str(), position, body));
        deliveries.push(Delivery {
            agency: agency.clone(),
            role: notice.role,
            position: u64::try_from(position).map_err(|e| corrupt(&e))?,
        });
    }
    QueryBuilder::<Sqlite>::new(
        "INSERT INTO inbox_messages (agency_id, position, case_id, created_at, body) ",
    )
    .push_values(rows, |mut row, (agency, position, body)| {
        row.push_bind(agency)
            .push_bind(position)
            .push_bind(case.as_str())
            .push_bind(millis(accepted_at))
            .push_bind(body);
    })
    .build()
    .execute(&mut *tx)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(deliveries)
}

pub(super) async fn load_case(
    readers: &SqlitePool,
    sealer: &Sealer,
    id: &CaseId,
) -> Result<Option<Case>> {
    let rows =
        sqlx::query("SELECT sequence, body FROM case_events WHERE case_id = ? ORDER BY sequence")
            .bind(id.as_str())
            .fetch_all(readers)
            .await
            .map_err(|e| unavailable(&e))?;
    open_case(
        sealer,
        id,
        rows.iter()
            .map(|row| (row.get::<i64, _>("sequence"), row.get::<&[u8], _>("body"))),
    )
}

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
