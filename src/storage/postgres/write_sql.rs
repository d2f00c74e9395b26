//! The one statement of a batch of case writes: `write_batch()`
//! (`migrations/postgres/0005`), whose arguments are the batch's rows as
//! columns, one array per column (`UNNEST`). [`super::write`] forms the
//! batch and reads its answers.

use std::collections::HashSet;

use sqlx::{PgConnection, Row};

use super::write::{Failure, Prepared, failure};
use super::{corrupt, millis};
use crate::domain::audit::record_fields;
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::Result;

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

/// What `write_batch()` wrote: the ids of the cases written, and the
/// inbox position of each of their notices, in the order of the batch.
pub(super) struct Written {
    pub(super) cases: HashSet<String>,
    pub(super) positions: Vec<i64>,
}

/// Writes `batch` in one statement, which commits it (`connection` is
/// outside a transaction block): see `write_batch()` in
/// `migrations/postgres/0005` for what is left out and why. Notices (so
/// positions), answers and audit entries go in the order of `batch`.
pub(super) async fn write_batch(
    connection: &mut PgConnection,
    batch: &[&Prepared],
    now: i64,
) -> Result<Written, Failure> {
    // The keys two replicas' batches may share are taken in one order in
    // every batch, so that the batches wait for each other rather than
    // deadlock: new cases' decision numbers (the same discharge sent to
    // two replicas at once) in their order, moved cases' rows in id order.
    let mut opened: Vec<&Prepared> = batch
        .iter()
        .copied()
        .filter(|p| p.write.expected_version == 0)
        .collect();
    opened.sort_by_key(|p| p.write.case.decision_number.as_str());
    let mut moved: Vec<&Prepared> = batch
        .iter()
        .copied()
        .filter(|p| p.write.expected_version > 0)
        .collect();
    moved.sort_by(|a, b| a.write.case.id.as_str().cmp(b.write.case.id.as_str()));
    let opened = &opened[..];
    let moved = &moved[..];
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
    let events = EventColumns::of(batch);
    let deadlines = DeadlineColumns::of(batch);
    let notices = NoticeColumns::of(batch);
    let answers = AnswerColumns::of(batch)?;
    let row = sqlx::query(
        "SELECT written, positions FROM write_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
             $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
             $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42,
             $43, $44, $45)",
    )
    .bind(now)
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
    .bind(&events.cases)
    .bind(&events.sequences)
    .bind(&events.times)
    .bind(&events.agencies)
    .bind(&events.bodies)
    .bind(&deadlines.cases)
    .bind(&deadlines.kinds)
    .bind(&deadlines.anchors)
    .bind(&deadlines.starts)
    .bind(&deadlines.escalated)
    .bind(&notices.agencies)
    .bind(&notices.cases)
    .bind(&notices.times)
    .bind(&notices.sequences)
    .bind(&notices.roles)
    .bind(super::notify::CHANNEL)
    .bind(&answers.cases)
    .bind(&answers.agencies)
    .bind(&answers.request_ids)
    .bind(&answers.digests)
    .bind(&answers.outcomes)
    .bind(&answers.times)
    .bind(&answers.audit)
    .fetch_one(connection)
    .await
    .map_err(failure)?;
    let cases: Vec<String> = row
        .try_get("written")
        .map_err(|e| Failure::Failed(corrupt(&e)))?;
    let positions = row
        .try_get("positions")
        .map_err(|e| Failure::Failed(corrupt(&e)))?;
    Ok(Written {
        cases: cases.into_iter().collect(),
        positions,
    })
}

/// The new events of a batch.
#[derive(Default)]
struct EventColumns<'a> {
    cases: Vec<&'a str>,
    sequences: Vec<i64>,
    times: Vec<i64>,
    agencies: Vec<&'a str>,
    bodies: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    fn of(batch: &[&'a Prepared]) -> Self {
        let mut columns = Self::default();
        for p in batch {
            for (sequence, at, by, body) in &p.events {
                columns.cases.push(p.write.case.id.as_str());
                columns.sequences.push(*sequence);
                columns.times.push(*at);
                columns.agencies.push(by.as_str());
                columns.bodies.push(body.as_slice());
            }
        }
        columns
    }
}

/// The deadlines pending after each write of a batch.
#[derive(Default)]
struct DeadlineColumns<'a> {
    cases: Vec<&'a str>,
    kinds: Vec<&'a str>,
    anchors: Vec<i64>,
    starts: Vec<i64>,
    escalated: Vec<bool>,
}

impl<'a> DeadlineColumns<'a> {
    fn of(batch: &[&'a Prepared]) -> Self {
        let mut columns = Self::default();
        for p in batch {
            for deadline in &p.write.deadlines {
                columns.cases.push(p.write.case.id.as_str());
                columns.kinds.push(deadline.kind.as_str());
                columns.anchors.push(i64::from(deadline.anchor));
                columns.starts.push(millis(deadline.starts_at));
                columns.escalated.push(deadline.escalated);
            }
        }
        columns
    }
}

/// Each notice of a batch as its recipient's inbox keeps it: a reference
/// to the event it announces (see [`crate::storage::messages`]).
#[derive(Default)]
struct NoticeColumns<'a> {
    agencies: Vec<&'a str>,
    cases: Vec<&'a str>,
    times: Vec<i64>,
    sequences: Vec<i64>,
    roles: Vec<&'a str>,
}

impl<'a> NoticeColumns<'a> {
    fn of(batch: &[&'a Prepared]) -> Self {
        let mut columns = Self::default();
        for p in batch {
            for ((agency, _), (sequence, role)) in p.write.notices.iter().zip(&p.references) {
                columns.agencies.push(agency.as_str());
                columns.cases.push(p.write.case.id.as_str());
                columns.times.push(millis(p.write.outcome.accepted_at));
                columns.sequences.push(*sequence);
                columns.roles.push(role.as_str());
            }
        }
        columns
    }
}

/// Each write's answer, stored under its request id, and the fields of its
/// audit entry (see [`record_fields`]), if it carries one.
#[derive(Default)]
struct AnswerColumns<'a> {
    cases: Vec<&'a str>,
    agencies: Vec<&'a str>,
    request_ids: Vec<&'a str>,
    digests: Vec<&'a [u8]>,
    outcomes: Vec<String>,
    times: Vec<i64>,
    audit: Vec<Option<String>>,
}

impl<'a> AnswerColumns<'a> {
    fn of(batch: &[&'a Prepared]) -> Result<Self, Failure> {
        let mut columns = Self::default();
        for p in batch {
            let write = &p.write;
            columns.cases.push(write.case.id.as_str());
            columns.agencies.push(write.request.agency.as_str());
            columns.request_ids.push(write.request.request_id.as_str());
            columns.digests.push(write.request.digest.as_slice());
            let outcome = serde_json::to_string(&placeholder(p)).map_err(|e| corrupt(&e))?;
            columns.outcomes.push(outcome);
            columns.times.push(millis(write.outcome.accepted_at));
            let fields = write.audit.as_ref().map(record_fields).transpose();
            columns.audit.push(fields.map_err(|e| corrupt(&e))?);
        }
        Ok(columns)
    }
}

/// The answer of `p` as stored: a delivery per notice, at a placeholder
/// position (the real ones are stored beside it and put back when it is
/// read, see `stored_answer` in [`super::cases`]).
fn placeholder(p: &Prepared) -> SubmissionOutcome {
    answer(p, &vec![0; p.write.notices.len()])
}

/// The answer of `p`, its deliveries at `positions` (one per notice).
pub(super) fn answer(p: &Prepared, positions: &[u64]) -> SubmissionOutcome {
    let mut outcome = p.write.outcome.clone();
    outcome.deliveries = p
        .write
        .notices
        .iter()
        .zip(positions)
        .map(|((agency, notice), position)| Delivery {
            agency: agency.clone(),
            role: notice.role,
            position: *position,
        })
        .collect();
    outcome
}
