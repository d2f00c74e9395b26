//! Cases, their events and submissions' answers, written in one transaction.

use std::collections::BTreeMap;

use sqlx::{PgPool, Postgres, Row, Transaction};

use super::{corrupt, failed, millis, translate, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId};
use crate::domain::notice::Notice;
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::messages::reference;
use crate::storage::seal::{Sealer, event_address, open_case, seal_json};
use crate::storage::{CaseWrite, Conflict, Result, StorageError, StoredAnswer};

pub(super) async fn answer(
    pool: &PgPool,
    agency: &AgencyId,
    request_id: &str,
) -> Result<Option<StoredAnswer>> {
    let row = sqlx::query(
        "SELECT digest, outcome FROM requests WHERE agency_id = $1 AND request_id = $2",
    )
    .bind(agency.as_str())
    .bind(request_id)
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    let Some(row) = row else { return Ok(None) };
    let digest: Vec<u8> = row.try_get("digest").map_err(|e| corrupt(&e))?;
    let outcome: String = row.try_get("outcome").map_err(|e| corrupt(&e))?;
    Ok(Some(StoredAnswer {
        digest: digest
            .try_into()
            .map_err(|_| corrupt(&"request digest is not 32 bytes"))?,
        outcome: serde_json::from_str(&outcome).map_err(|e| corrupt(&e))?,
    }))
}

pub(super) async fn write_case(
    pool: &PgPool,
    sealer: &Sealer,
    write: CaseWrite,
) -> Result<SubmissionOutcome> {
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    let CaseWrite {
        request,
        case,
        expected_version,
        person_key,
        notices,
        deadlines,
        mut outcome,
        audit,
    } = write;
    write_row(&mut tx, &case, expected_version, &person_key).await?;
    for event in case
        .history
        .iter()
        .filter(|e| e.sequence > expected_version)
    {
        let sequence = i64::from(event.sequence);
        sqlx::query(
            "INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case.id.as_str())
        .bind(sequence)
        .bind(millis(event.at))
        .bind(event.by.as_str())
        .bind(seal_json(
            sealer,
            &event_address(&case.id, sequence),
            event,
        )?)
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(e, Conflict::Version))?;
    }
    sqlx::query("DELETE FROM deadlines WHERE case_id = $1")
        .bind(case.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    for deadline in &deadlines {
        sqlx::query(
            "INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case.id.as_str())
        .bind(deadline.kind.as_str())
        .bind(i64::from(deadline.anchor))
        .bind(millis(deadline.starts_at))
        .bind(deadline.escalated)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    }
    outcome.deliveries = deliver(&mut tx, &case, &notices, outcome.accepted_at).await?;
    sqlx::query(
        "INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(request.agency.as_str())
    .bind(&request.request_id)
    .bind(request.digest.as_slice())
    .bind(serde_json::to_string(&outcome).map_err(|e| corrupt(&e))?)
    .bind(millis(outcome.accepted_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| translate(e, Conflict::RequestId))?;
    // Last, because it locks the log against every other appender until
    // the commit.
    if let Some(record) = audit {
        super::audit::append_in(&mut tx, std::slice::from_ref(&record)).await?;
    }
    tx.commit().await.map_err(failed)?;
    Ok(outcome)
}

/// Inserts the case row, or moves it from `expected_version` to its new
/// version. A concurrent writer holds the row until it commits; at READ
/// COMMITTED the update then sees the new version and matches nothing.
async fn write_row(
    tx: &mut Transaction<'_, Postgres>,
    case: &Case,
    expected_version: u32,
    person_key: &[u8; 32],
) -> Result<()> {
    let now = millis(time::OffsetDateTime::now_utc());
    let responsible = case.responsible.as_ref().map(|a| a.as_str().to_owned());
    let oversight = case.oversight.as_ref().map(|a| a.as_str().to_owned());
    if expected_version == 0 {
        sqlx::query(
            "INSERT INTO cases (id, decision_number, person_key, version, state, executing_region,
                 household_region, responsible, detox_center, opened_at, updated_at, oversight,
                 unroutable)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)",
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
        .bind(&oversight)
        .bind(case.is_unroutable())
        .execute(&mut **tx)
        .await
        .map_err(|e| translate(e, Conflict::DecisionNumber))?;
        return Ok(());
    }
    let updated = sqlx::query(
        "UPDATE cases SET version = $1, state = $2, executing_region = $3, household_region = $4,
             responsible = $5, person_key = $6, updated_at = $7, oversight = $8, unroutable = $9
         WHERE id = $10 AND version = $11",
    )
    .bind(i64::from(case.version()))
    .bind(case.state.as_str())
    .bind(case.executing_region.to_string())
    .bind(case.person.household_region.to_string())
    .bind(&responsible)
    .bind(person_key.as_slice())
    .bind(now)
    .bind(&oversight)
    .bind(case.is_unroutable())
    .bind(case.id.as_str())
    .bind(i64::from(expected_version))
    .execute(&mut **tx)
    .await
    .map_err(failed)?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StorageError::Conflict(Conflict::Version))
    }
}

/// Places the notices in their recipients' inboxes, each as a reference
/// to its event (see [`crate::storage::messages`]), in one statement.
///
/// Each recipient's head moves once, by its number of notices, and the
/// row lock it takes keeps positions gapless and in commit order until
/// the commit. Every discharge goes to its city's oversight office, so a
/// few heads are shared by most writers: their locks are taken this late
/// in the transaction, and in one round trip, so that writers queue on
/// them for as short a time as possible. The heads are locked in agency
/// order (`ORDER BY` in the insert), so two writers sharing recipients
/// wait for each other instead of deadlocking. The wake-up hint of each
/// head goes out on commit (see [`super::notify`]).
async fn deliver(
    tx: &mut Transaction<'_, Postgres>,
    case: &Case,
    notices: &[(AgencyId, Notice)],
    accepted_at: time::OffsetDateTime,
) -> Result<Vec<Delivery>> {
    if notices.is_empty() {
        return Ok(Vec::new());
    }
    // Per message: its recipient, its place among that recipient's
    // messages of this write (from 1), and its reference.
    let mut ordinals: BTreeMap<&str, i64> = BTreeMap::new();
    let (mut agencies, mut places, mut sequences, mut roles) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (agency, notice) in notices {
        let ordinal = ordinals.entry(agency.as_str()).or_default();
        *ordinal += 1;
        let (sequence, role) = reference(case, notice)?;
        agencies.push(agency.as_str());
        places.push(*ordinal);
        sequences.push(sequence);
        roles.push(role);
    }
    let rows = sqlx::query(
        r#"WITH counts AS (
               SELECT agency, count(*) AS n FROM UNNEST($1::text[]) AS m (agency) GROUP BY agency
           ), heads AS (
               INSERT INTO inboxes (agency_id, head)
               SELECT agency, n FROM counts ORDER BY agency COLLATE "C"
               ON CONFLICT (agency_id) DO UPDATE SET head = inboxes.head + excluded.head
               RETURNING agency_id, head
           ), messages AS (
               INSERT INTO inbox_messages (agency_id, position, case_id, created_at, sequence, role)
               SELECT m.agency, h.head - c.n + m.place, $5, $6, m.sequence, m.role
               FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[])
                   AS m (agency, place, sequence, role)
               JOIN heads h ON h.agency_id = m.agency
               JOIN counts c ON c.agency = m.agency
           )
           SELECT agency_id, head, pg_notify($7, head || ' ' || agency_id) FROM heads"#,
    )
    .bind(&agencies)
    .bind(&places)
    .bind(&sequences)
    .bind(&roles)
    .bind(case.id.as_str())
    .bind(millis(accepted_at))
    .bind(super::notify::CHANNEL)
    .fetch_all(&mut **tx)
    .await
    .map_err(failed)?;
    let heads = rows
        .iter()
        .map(|row| {
            let agency: &str = row.try_get("agency_id").map_err(|e| corrupt(&e))?;
            let head: i64 = row.try_get("head").map_err(|e| corrupt(&e))?;
            Ok((agency, head))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    notices
        .iter()
        .zip(&places)
        .map(|((agency, notice), place)| {
            let head = heads
                .get(agency.as_str())
                .ok_or_else(|| corrupt(&"a recipient without an inbox head"))?;
            let count = ordinals.get(agency.as_str()).copied().unwrap_or(0);
            Ok(Delivery {
                agency: agency.clone(),
                role: notice.role,
                position: u64::try_from(head - count + place).map_err(|e| corrupt(&e))?,
            })
        })
        .collect()
}

pub(super) async fn load_case(pool: &PgPool, sealer: &Sealer, id: &CaseId) -> Result<Option<Case>> {
    let rows =
        sqlx::query("SELECT sequence, body FROM case_events WHERE case_id = $1 ORDER BY sequence")
            .bind(id.as_str())
            .fetch_all(pool)
            .await
            .map_err(|e| unavailable(&e))?;
    let events = rows
        .iter()
        .map(|row| {
            let sequence: i64 = row.try_get("sequence").map_err(|e| corrupt(&e))?;
            let body: &[u8] = row.try_get("body").map_err(|e| corrupt(&e))?;
            Ok((sequence, body))
        })
        .collect::<Result<Vec<_>>>()?;
    open_case(sealer, id, events)
}
