//! The statements of a case write, each taking every write of a batch at
//! once (`UNNEST`); [`super::write`] runs them in one transaction.

use std::collections::{BTreeMap, HashSet};

use sqlx::{Postgres, Row, Transaction};

use super::audit::Sealed;
use super::write::{Failure, Prepared, failure};
use super::{corrupt, millis};
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::Result;

pub(super) type Tx<'c> = Transaction<'c, Postgres>;

/// The columns of the case rows of `writes`, as `UNNEST` takes them.
struct CaseColumns<'a> {
    ids: Vec<&'a str>,
    person_keys: Vec<&'a [u8]>,
    versions: Vec<i64>,
    states: Vec<&'a str>,
    executing: Vec<String>,
    household: Vec<String>,
    responsible: Vec<Option<&'a str>>,
    oversight: Vec<Option<&'a str>>,
    unroutable: Vec<bool>,
}

impl<'a> CaseColumns<'a> {
    fn of(writes: &[&'a Prepared]) -> Self {
        let cases = || writes.iter().map(|p| &p.write.case);
        Self {
            ids: cases().map(|c| c.id.as_str()).collect(),
            person_keys: writes
                .iter()
                .map(|p| p.write.person_key.as_slice())
                .collect(),
            versions: cases().map(|c| i64::from(c.version())).collect(),
            states: cases().map(|c| c.state.as_str()).collect(),
            executing: cases().map(|c| c.executing_region.to_string()).collect(),
            household: cases()
                .map(|c| c.person.household_region.to_string())
                .collect(),
            responsible: cases()
                .map(|c| c.responsible.as_ref().map(|a| a.as_str()))
                .collect(),
            oversight: cases()
                .map(|c| c.oversight.as_ref().map(|a| a.as_str()))
                .collect(),
            unroutable: cases().map(|c| c.is_unroutable()).collect(),
        }
    }
}

/// Writes the case rows and new events of `opened` (new cases) and `moved`
/// (cases read at `expected_version`), and clears the deadlines of the
/// moved ones for [`deliver`] to replace, in one statement; returns the ids
/// of the cases written.
///
/// A new case whose decision number already has one is left out
/// (`ON CONFLICT DO NOTHING`), and so is a moved case no longer at the
/// version its write read: a concurrent writer holds the row until it
/// commits, and at READ COMMITTED the update then sees the new version.
/// The events of a case left out are not inserted. Case rows are taken in
/// the order of `moved`, which the caller sorts by id, the same in every
/// replica's batch.
pub(super) async fn write_cases(
    tx: &mut Tx<'_>,
    opened: &[&Prepared],
    moved: &[&Prepared],
    now: i64,
) -> Result<HashSet<String>, Failure> {
    let new = CaseColumns::of(opened);
    let decisions: Vec<_> = opened
        .iter()
        .map(|p| p.write.case.decision_number.as_str())
        .collect();
    let centers: Vec<_> = opened
        .iter()
        .map(|p| p.write.case.detox_center.as_str())
        .collect();
    let old = CaseColumns::of(moved);
    let expected: Vec<_> = moved
        .iter()
        .map(|p| i64::from(p.write.expected_version))
        .collect();
    let (mut cases, mut sequences, mut times, mut agencies, mut bodies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in opened.iter().chain(moved) {
        for (sequence, at, by, body) in &p.events {
            cases.push(p.write.case.id.as_str());
            sequences.push(*sequence);
            times.push(*at);
            agencies.push(by.as_str());
            bodies.push(body.as_slice());
        }
    }
    let rows = sqlx::query(
        "WITH opened AS (
             INSERT INTO cases (id, decision_number, person_key, version, state,
                 executing_region, household_region, responsible, detox_center, opened_at,
                 updated_at, oversight, unroutable)
             SELECT id, decision_number, person_key, version, state, executing_region,
                 household_region, responsible, detox_center, $12, $12, oversight, unroutable
             FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::text[],
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[])
                 AS c (id, decision_number, person_key, version, state, executing_region,
                     household_region, responsible, detox_center, oversight, unroutable)
             ON CONFLICT DO NOTHING
             RETURNING id
         ), moved AS (
             UPDATE cases SET version = u.version, state = u.state,
                 executing_region = u.executing_region, household_region = u.household_region,
                 responsible = u.responsible, person_key = u.person_key, updated_at = $12,
                 oversight = u.oversight, unroutable = u.unroutable
             FROM UNNEST($13::text[], $14::bigint[], $15::bigint[], $16::text[], $17::text[],
                 $18::text[], $19::text[], $20::bytea[], $21::text[], $22::bool[])
                 AS u (id, expected, version, state, executing_region, household_region,
                     responsible, person_key, oversight, unroutable)
             WHERE cases.id = u.id AND cases.version = u.expected
             RETURNING cases.id
         ), written AS (
             SELECT id FROM opened UNION ALL SELECT id FROM moved
         ), events AS (
             INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body)
             SELECT e.* FROM UNNEST($23::text[], $24::bigint[], $25::bigint[], $26::text[],
                 $27::bytea[]) AS e (case_id, sequence, recorded_at, agency_id, body)
             WHERE e.case_id IN (SELECT id FROM written)
         ), cleared AS (
             DELETE FROM deadlines WHERE case_id IN (SELECT id FROM moved)
         )
         SELECT id FROM written",
    )
    .bind(&new.ids)
    .bind(&decisions)
    .bind(&new.person_keys)
    .bind(&new.versions)
    .bind(&new.states)
    .bind(&new.executing)
    .bind(&new.household)
    .bind(&new.responsible)
    .bind(&centers)
    .bind(&new.oversight)
    .bind(&new.unroutable)
    .bind(now)
    .bind(&old.ids)
    .bind(&expected)
    .bind(&old.versions)
    .bind(&old.states)
    .bind(&old.executing)
    .bind(&old.household)
    .bind(&old.responsible)
    .bind(&old.person_keys)
    .bind(&old.oversight)
    .bind(&old.unroutable)
    .bind(&cases)
    .bind(&sequences)
    .bind(&times)
    .bind(&agencies)
    .bind(&bodies)
    .fetch_all(&mut **tx)
    .await
    .map_err(failure)?;
    rows.iter()
        .map(|row| row.try_get("id").map_err(|e| Failure::Failed(corrupt(&e))))
        .collect()
}

/// Inserts the deadlines pending after each of `writes` (those of a moved
/// case were cleared by [`write_cases`]) and places every notice in its
/// recipient's inbox, as a reference to its event (see
/// [`crate::storage::messages`]), in one statement; returns each write's
/// outcome with its deliveries.
///
/// Each recipient's head moves once, by its number of notices in the
/// batch, and the row lock it takes keeps positions gapless and in commit
/// order until the commit; within the batch, positions follow the writes'
/// order. Every discharge goes to its city's oversight office, so a few
/// heads are shared by most writers: their locks are taken this late in
/// the transaction, and in agency order (`ORDER BY` in the insert), so that
/// two transactions sharing recipients wait for each other instead of
/// deadlocking. The wake-up hint of each head goes out on commit (see
/// [`super::notify`]).
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
    let (mut deadline_cases, mut kinds, mut anchors, mut starts, mut escalated) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in writes {
        for deadline in &p.write.deadlines {
            deadline_cases.push(p.write.case.id.as_str());
            kinds.push(deadline.kind.as_str());
            anchors.push(i64::from(deadline.anchor));
            starts.push(millis(deadline.starts_at));
            escalated.push(deadline.escalated);
        }
    }
    let mut heads = BTreeMap::new();
    if !agencies.is_empty() || !deadline_cases.is_empty() {
        let rows = sqlx::query(
            r#"WITH deadlines AS (
                   INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated)
                   SELECT * FROM UNNEST($8::text[], $9::text[], $10::bigint[], $11::bigint[],
                       $12::bool[])
               ), counts AS (
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
        .bind(&deadline_cases)
        .bind(&kinds)
        .bind(&anchors)
        .bind(&starts)
        .bind(&escalated)
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

/// Stores each write's answer under its request id, and appends `audit`
/// (chained onto the tail its caller locked), in one statement. A request
/// id another writer stored since the caller looked refuses the whole
/// batch.
pub(super) async fn store_answers(
    tx: &mut Tx<'_>,
    writes: &[&Prepared],
    outcomes: &[SubmissionOutcome],
    audit: &Sealed,
) -> Result<(), Failure> {
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
        "WITH answers AS (
             INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[],
                 $5::bigint[])
         )
         INSERT INTO audit_log (sequence, entry, hash)
         SELECT * FROM UNNEST($6::bigint[], $7::text[], $8::bytea[])",
    )
    .bind(&agencies)
    .bind(&ids)
    .bind(&digests)
    .bind(&answers)
    .bind(&times)
    .bind(&audit.sequences)
    .bind(&audit.entries)
    .bind(&audit.hashes)
    .execute(&mut **tx)
    .await
    .map_err(failure)?;
    Ok(())
}
