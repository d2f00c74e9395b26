//! The statements of a case write, each taking every write of a batch at
//! once (`UNNEST`); [`super::write`] runs them in one transaction.

use std::collections::{BTreeMap, HashSet};

use sqlx::{Postgres, Row, Transaction};

use super::write::{Failure, Prepared, failure};
use super::{corrupt, millis};
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::Result;

pub(super) type Tx<'c> = Transaction<'c, Postgres>;

/// Inserts the new cases; returns the ids of those whose decision number
/// had no case yet.
pub(super) async fn open_cases(
    tx: &mut Tx<'_>,
    opened: &[&Prepared],
    now: i64,
) -> Result<HashSet<String>, Failure> {
    if opened.is_empty() {
        return Ok(HashSet::new());
    }
    let cases = opened.iter().map(|p| &p.write.case);
    let ids: Vec<_> = cases.clone().map(|c| c.id.as_str()).collect();
    let decisions: Vec<_> = cases.clone().map(|c| c.decision_number.as_str()).collect();
    let person_keys: Vec<_> = opened
        .iter()
        .map(|p| p.write.person_key.as_slice())
        .collect();
    let versions: Vec<_> = cases.clone().map(|c| i64::from(c.version())).collect();
    let states: Vec<_> = cases.clone().map(|c| c.state.as_str()).collect();
    let executing: Vec<_> = cases
        .clone()
        .map(|c| c.executing_region.to_string())
        .collect();
    let household: Vec<_> = cases
        .clone()
        .map(|c| c.person.household_region.to_string())
        .collect();
    let responsible: Vec<_> = cases
        .clone()
        .map(|c| c.responsible.as_ref().map(|a| a.as_str()))
        .collect();
    let centers: Vec<_> = cases.clone().map(|c| c.detox_center.as_str()).collect();
    let oversight: Vec<_> = cases
        .clone()
        .map(|c| c.oversight.as_ref().map(|a| a.as_str()))
        .collect();
    let unroutable: Vec<_> = cases.map(|c| c.is_unroutable()).collect();
    let rows = sqlx::query(
        "INSERT INTO cases (id, decision_number, person_key, version, state, executing_region,
             household_region, responsible, detox_center, opened_at, updated_at, oversight,
             unroutable)
         SELECT id, decision_number, person_key, version, state, executing_region,
             household_region, responsible, detox_center, $12, $12, oversight, unroutable
         FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[])
             AS c (id, decision_number, person_key, version, state, executing_region,
                 household_region, responsible, detox_center, oversight, unroutable)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(&decisions)
    .bind(&person_keys)
    .bind(&versions)
    .bind(&states)
    .bind(&executing)
    .bind(&household)
    .bind(&responsible)
    .bind(&centers)
    .bind(&oversight)
    .bind(&unroutable)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
    .map_err(failure)?;
    ids_of(&rows)
}

/// Moves each case from the version its write read to its new one; returns
/// the ids of those still at the version read. A concurrent writer holds
/// the row until it commits; at READ COMMITTED the update then sees the new
/// version and leaves the case out.
pub(super) async fn move_cases(
    tx: &mut Tx<'_>,
    moved: &[&Prepared],
    now: i64,
) -> Result<HashSet<String>, Failure> {
    if moved.is_empty() {
        return Ok(HashSet::new());
    }
    let cases = moved.iter().map(|p| &p.write.case);
    let ids: Vec<_> = cases.clone().map(|c| c.id.as_str()).collect();
    let expected: Vec<_> = moved
        .iter()
        .map(|p| i64::from(p.write.expected_version))
        .collect();
    let versions: Vec<_> = cases.clone().map(|c| i64::from(c.version())).collect();
    let states: Vec<_> = cases.clone().map(|c| c.state.as_str()).collect();
    let executing: Vec<_> = cases
        .clone()
        .map(|c| c.executing_region.to_string())
        .collect();
    let household: Vec<_> = cases
        .clone()
        .map(|c| c.person.household_region.to_string())
        .collect();
    let responsible: Vec<_> = cases
        .clone()
        .map(|c| c.responsible.as_ref().map(|a| a.as_str()))
        .collect();
    let person_keys: Vec<_> = moved
        .iter()
        .map(|p| p.write.person_key.as_slice())
        .collect();
    let oversight: Vec<_> = cases
        .clone()
        .map(|c| c.oversight.as_ref().map(|a| a.as_str()))
        .collect();
    let unroutable: Vec<_> = cases.map(|c| c.is_unroutable()).collect();
    let rows = sqlx::query(
        "UPDATE cases SET version = u.version, state = u.state,
             executing_region = u.executing_region, household_region = u.household_region,
             responsible = u.responsible, person_key = u.person_key, updated_at = $11,
             oversight = u.oversight, unroutable = u.unroutable
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::bytea[], $9::text[], $10::bool[])
             AS u (id, expected, version, state, executing_region, household_region,
                 responsible, person_key, oversight, unroutable)
         WHERE cases.id = u.id AND cases.version = u.expected
         RETURNING cases.id",
    )
    .bind(&ids)
    .bind(&expected)
    .bind(&versions)
    .bind(&states)
    .bind(&executing)
    .bind(&household)
    .bind(&responsible)
    .bind(&person_keys)
    .bind(&oversight)
    .bind(&unroutable)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
    .map_err(failure)?;
    ids_of(&rows)
}

fn ids_of(rows: &[sqlx::postgres::PgRow]) -> Result<HashSet<String>, Failure> {
    rows.iter()
        .map(|row| row.try_get("id").map_err(|e| Failure::Failed(corrupt(&e))))
        .collect()
}

pub(super) async fn insert_events(tx: &mut Tx<'_>, writes: &[&Prepared]) -> Result<(), Failure> {
    let (mut cases, mut sequences, mut times, mut agencies, mut bodies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in writes {
        for (sequence, at, by, body) in &p.events {
            cases.push(p.write.case.id.as_str());
            sequences.push(*sequence);
            times.push(*at);
            agencies.push(by.as_str());
            bodies.push(body.as_slice());
        }
    }
    if cases.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bytea[])",
    )
    .bind(&cases)
    .bind(&sequences)
    .bind(&times)
    .bind(&agencies)
    .bind(&bodies)
    .execute(&mut **tx)
    .await
    .map_err(failure)?;
    Ok(())
}

/// The deadlines pending after each write replace its case's earlier ones
/// (a new case has none to replace).
pub(super) async fn replace_deadlines(
    tx: &mut Tx<'_>,
    writes: &[&Prepared],
) -> Result<(), Failure> {
    let moved: Vec<_> = writes
        .iter()
        .filter(|p| p.write.expected_version > 0)
        .map(|p| p.write.case.id.as_str())
        .collect();
    if !moved.is_empty() {
        sqlx::query("DELETE FROM deadlines WHERE case_id = ANY($1::text[])")
            .bind(&moved)
            .execute(&mut **tx)
            .await
            .map_err(failure)?;
    }
    let (mut cases, mut kinds, mut anchors, mut starts, mut escalated) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in writes {
        for deadline in &p.write.deadlines {
            cases.push(p.write.case.id.as_str());
            kinds.push(deadline.kind.as_str());
            anchors.push(i64::from(deadline.anchor));
            starts.push(millis(deadline.starts_at));
            escalated.push(deadline.escalated);
        }
    }
    if cases.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bool[])",
    )
    .bind(&cases)
    .bind(&kinds)
    .bind(&anchors)
    .bind(&starts)
    .bind(&escalated)
    .execute(&mut **tx)
    .await
    .map_err(failure)?;
    Ok(())
}

/// Places every notice of `writes` in its recipient's inbox, as a
/// reference to its event (see [`crate::storage::messages`]), in one
/// statement; returns each write's outcome with its deliveries.
///
/// Each recipient's head moves once, by its number of notices in the
/// batch, and the row lock it takes keeps positions gapless and in commit
/// order until the commit; within the batch, positions follow the writes'
/// order. Every discharge goes to its city's oversight office, so a few
/// heads are shared by most writers: their locks are taken this late in
/// the transaction, in one round trip, and in agency order (`ORDER BY` in
/// the insert), so that two transactions sharing recipients wait for each
/// other instead of deadlocking. The wake-up hint of each head goes out on
/// commit (see [`super::notify`]).
pub(super) async fn deliver(
    tx: &mut Tx<'_>,
    writes: &[&Prepared],
) -> Result<Vec<SubmissionOutcome>, Failure> {
    // Per message: its recipient, its place among that recipient's
    // messages of this batch (from 1), its case, time and reference.
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    let (mut agencies, mut places, mut cases, mut times, mut sequences, mut roles) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for p in writes {
        for ((agency, _), (sequence, role)) in p.write.notices.iter().zip(&p.references) {
            let count = counts.entry(agency.as_str()).or_default();
            *count += 1;
            agencies.push(agency.as_str());
            places.push(*count);
            cases.push(p.write.case.id.as_str());
            times.push(millis(p.write.outcome.accepted_at));
            sequences.push(*sequence);
            roles.push(role.as_str());
        }
    }
    let mut heads = BTreeMap::new();
    if !agencies.is_empty() {
        let rows = sqlx::query(
            r#"WITH counts AS (
                   SELECT agency, count(*) AS n FROM UNNEST($1::text[]) AS m (agency)
                   GROUP BY agency
               ), heads AS (
                   INSERT INTO inboxes (agency_id, head)
                   SELECT agency, n FROM counts ORDER BY agency COLLATE "C"
                   ON CONFLICT (agency_id) DO UPDATE SET head = inboxes.head + excluded.head
                   RETURNING agency_id, head
               ), messages AS (
                   INSERT INTO inbox_messages
                       (agency_id, position, case_id, created_at, sequence, role)
                   SELECT m.agency, h.head - c.n + m.place, m.case_id, m.created_at,
                       m.sequence, m.role
                   FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                           $5::bigint[], $6::text[])
                       AS m (agency, place, case_id, created_at, sequence, role)
                   JOIN heads h ON h.agency_id = m.agency
                   JOIN counts c ON c.agency = m.agency
               )
               SELECT agency_id, head, pg_notify($7, head || ' ' || agency_id) FROM heads"#,
        )
        .bind(&agencies)
        .bind(&places)
        .bind(&cases)
        .bind(&times)
        .bind(&sequences)
        .bind(&roles)
        .bind(super::notify::CHANNEL)
        .fetch_all(&mut **tx)
        .await
        .map_err(failure)?;
        for row in &rows {
            let agency: String = row.try_get("agency_id").map_err(|e| corrupt(&e))?;
            let head: i64 = row.try_get("head").map_err(|e| corrupt(&e))?;
            heads.insert(agency, head);
        }
    }
    let mut places = places.into_iter();
    writes
        .iter()
        .map(|p| {
            let mut outcome = p.write.outcome.clone();
            outcome.deliveries = p
                .write
                .notices
                .iter()
                .map(|(agency, notice)| {
                    let head = heads
                        .get(agency.as_str())
                        .ok_or_else(|| corrupt(&"a recipient without an inbox head"))?;
                    let count = counts.get(agency.as_str()).copied().unwrap_or(0);
                    let place = places
                        .next()
                        .ok_or_else(|| corrupt(&"a notice without its place"))?;
                    Ok(Delivery {
                        agency: agency.clone(),
                        role: notice.role,
                        position: u64::try_from(head - count + place).map_err(|e| corrupt(&e))?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(outcome)
        })
        .collect::<Result<_>>()
        .map_err(Failure::Failed)
}

/// Stores each write's answer under its request id. A request id another
/// writer stored since the caller looked refuses the whole batch.
pub(super) async fn insert_requests(
    tx: &mut Tx<'_>,
    writes: &[&Prepared],
    outcomes: &[SubmissionOutcome],
) -> Result<(), Failure> {
    if writes.is_empty() {
        return Ok(());
    }
    let agencies: Vec<_> = writes
        .iter()
        .map(|p| p.write.request.agency.as_str())
        .collect();
    let ids: Vec<_> = writes
        .iter()
        .map(|p| p.write.request.request_id.as_str())
        .collect();
    let digests: Vec<_> = writes
        .iter()
        .map(|p| p.write.request.digest.as_slice())
        .collect();
    let answers = outcomes
        .iter()
        .map(|outcome| serde_json::to_string(outcome).map_err(|e| corrupt(&e)))
        .collect::<Result<Vec<_>>>()?;
    let times: Vec<_> = outcomes.iter().map(|o| millis(o.accepted_at)).collect();
    sqlx::query(
        "INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[], $5::bigint[])",
    )
    .bind(&agencies)
    .bind(&ids)
    .bind(&digests)
    .bind(&answers)
    .bind(&times)
    .execute(&mut **tx)
    .await
    .map_err(failure)?;
    Ok(())
}
