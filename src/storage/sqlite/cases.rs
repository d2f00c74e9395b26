//! Cases, their events and submissions' answers, written in one transaction.

use sqlx::{Row, SqlitePool};

use super::{corrupt, now_millis, translate, unavailable};
use crate::domain::case::{Case, CaseId};
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::seal::{Sealer, event_address, message_address, open_case, seal_json};
use crate::storage::{CaseWrite, Conflict, Result, StorageError};

pub(super) fn millis(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(super) async fn write_case(
    writer: &SqlitePool,
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
    let mut tx = writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| unavailable(&e))?;
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
    for deadline in &deadlines {
        sqlx::query(
            "INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(case.id.as_str())
        .bind(deadline.kind.as_str())
        .bind(i64::from(deadline.anchor))
        .bind(millis(deadline.starts_at))
        .bind(deadline.escalated)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    }
    outcome.deliveries.clear();
    for (agency, notice) in &notices {
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO inboxes (agency_id, head) VALUES (?, 1)
             ON CONFLICT (agency_id) DO UPDATE SET head = head + 1
             RETURNING head",
        )
        .bind(agency.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        sqlx::query(
            "INSERT INTO inbox_messages (agency_id, position, case_id, created_at, body) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(agency.as_str())
        .bind(position)
        .bind(case.id.as_str())
        .bind(millis(outcome.accepted_at))
        .bind(seal_json(sealer, &message_address(agency, position), notice)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        outcome.deliveries.push(Delivery {
            agency: agency.clone(),
            role: notice.role,
            position: u64::try_from(position).map_err(|e| corrupt(&e))?,
        });
    }
    sqlx::query("INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at) VALUES (?, ?, ?, ?, ?)")
        .bind(request.agency.as_str())
        .bind(&request.request_id)
        .bind(request.digest.as_slice())
        .bind(serde_json::to_string(&outcome).map_err(|e| corrupt(&e))?)
        .bind(millis(outcome.accepted_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(e, Conflict::RequestId))?;
    tx.commit().await.map_err(|e| unavailable(&e))?;
    Ok(outcome)
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
