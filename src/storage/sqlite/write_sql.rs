//! The writes the writer thread applies, in SQL on its own `rusqlite`
//! connection (see [`super::writer`]). They store exactly what the sqlx
//! versions did: the same columns, the same sealed bodies at the same
//! addresses, the same audit chaining, so every reader and every existing
//! database stays as it was.
//!
//! Each statement is prepared once per connection (`prepare_cached`): the
//! write path runs the same dozen statements over and over.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::audit::append_audit;
use super::cases::millis;
use super::{corrupt, now_millis, unavailable};
use crate::domain::agency::{Agency, AgencyId};
use crate::domain::audit::Chain;
use crate::domain::case::{Case, CaseId, RecordedEvent};
use crate::domain::notice::Notice;
use crate::domain::submission::{Delivery, SubmissionOutcome};
use crate::storage::CrlFloor;
use crate::storage::messages::reference;
use crate::storage::seal::{Sealer, event_address, seal_json};
use crate::storage::{CaseWrite, Conflict, InboxState, Result, StorageError};

/// A unique key taken means someone else wrote first: the write is refused
/// with `conflict`. Any other error means the database cannot be trusted
/// right now, and SQLite may have rolled the transaction back itself.
fn refused_if_taken(error: rusqlite::Error, conflict: Conflict) -> NotWritten {
    match error.sqlite_error() {
        Some(failure)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            NotWritten::Refused(StorageError::Conflict(conflict))
        }
        _ => NotWritten::Broken(unavailable(&error)),
    }
}

fn failed(error: rusqlite::Error) -> StorageError {
    unavailable(&error)
}

/// A case write whose new events are already sealed, in sequence order
/// (made only by [`SealedWrite::seal`], so they always match). Sealing is
/// done by the caller, on its own thread: the writer thread is the one
/// every write waits for.
pub(super) struct SealedWrite {
    write: CaseWrite,
    events: Vec<Vec<u8>>,
}

impl SealedWrite {
    /// Seals the events `write` adds.
    ///
    /// # Errors
    /// `Corrupt` when an event cannot be sealed.
    pub(super) fn seal(sealer: &Sealer, write: CaseWrite) -> Result<Self> {
        let case = &write.case;
        let events = new_events(case, write.expected_version)
            .map(|event| {
                let address = event_address(&case.id, i64::from(event.sequence));
                seal_json(sealer, &address, event)
            })
            .collect::<Result<_>>()?;
        Ok(Self { write, events })
    }
}

fn new_events(case: &Case, expected_version: u32) -> impl Iterator<Item = &RecordedEvent> {
    case.history
        .iter()
        .filter(move |event| event.sequence > expected_version)
}

/// Why a case write is not in the transaction.
pub(super) enum NotWritten {
    /// It was refused before it changed anything (a conflict, or a write
    /// that does not add up): the transaction goes on without it.
    Refused(StorageError),
    /// The database failed: after the write changed part of what it writes,
    /// or in a way that may have rolled back the whole transaction (SQLite
    /// does on I/O errors, a full disk or no memory). The transaction must
    /// be given up.
    Broken(StorageError),
}

/// Applies `write` inside the writer's open transaction (the caller
/// commits), appending its audit entry onto `chain` (the log's tail as of
/// this transaction, read on first use).
///
/// Everything that can refuse a write is checked before its first change:
/// a batch of writes then needs no savepoint per write to roll one back
/// alone, and a savepoint copied every page a write touched.
///
/// The write is borrowed: a batch that another write broke is run again
/// without that one (see [`super::batch`]).
pub(super) fn write_case(
    db: &Connection,
    write: &SealedWrite,
    chain: &mut Option<Chain>,
) -> std::result::Result<SubmissionOutcome, NotWritten> {
    let SealedWrite { write, events } = write;
    let CaseWrite {
        request,
        case,
        expected_version,
        person_key,
        notices,
        deadlines,
        outcome,
        audit,
    } = write;
    let expected_version = *expected_version;
    let refused = NotWritten::Refused;
    let references = notices
        .iter()
        .map(|(_, notice)| reference(case, notice))
        .collect::<Result<Vec<_>>>()
        .map_err(refused)?;
    let taken = db
        .prepare_cached("SELECT 1 FROM requests WHERE agency_id = ? AND request_id = ?")
        .and_then(|mut select| select.exists(params![request.agency.as_str(), request.request_id]))
        .map_err(|e| NotWritten::Broken(failed(e)))?;
    if taken {
        return Err(refused(StorageError::Conflict(Conflict::RequestId)));
    }
    let now = now_millis();
    let responsible = case.responsible.as_ref().map(|a| a.as_str().to_owned());
    let oversight = case.oversight.as_ref().map(|a| a.as_str().to_owned());
    // The one statement that can still refuse the write, and the first
    // that changes anything; a statement that fails changes nothing.
    if expected_version == 0 {
        db.prepare_cached(
            "INSERT INTO cases (id, decision_number, person_key, version, state, executing_region,
                 household_region, responsible, detox_center, opened_at, updated_at, oversight, unroutable)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                case.id.as_str(),
                case.decision_number.as_str(),
                person_key.as_slice(),
                i64::from(case.version()),
                case.state.as_str(),
                case.executing_region.to_string(),
                case.person.household_region.to_string(),
                responsible,
                case.detox_center.as_str(),
                now,
                now,
                oversight,
                case.is_unroutable(),
            ])
        })
        .map_err(|e| refused_if_taken(e, Conflict::DecisionNumber))?;
    } else {
        let updated = db
            .prepare_cached(
                "UPDATE cases SET version = ?, state = ?, executing_region = ?, household_region = ?,
                     responsible = ?, person_key = ?, updated_at = ?, oversight = ?, unroutable = ?
                 WHERE id = ? AND version = ?",
            )
            .and_then(|mut update| {
                update.execute(params![
                    i64::from(case.version()),
                    case.state.as_str(),
                    case.executing_region.to_string(),
                    case.person.household_region.to_string(),
                    responsible,
                    person_key.as_slice(),
                    now,
                    oversight,
                    case.is_unroutable(),
                    case.id.as_str(),
                    i64::from(expected_version),
                ])
            })
            .map_err(|e| NotWritten::Broken(failed(e)))?;
        if updated != 1 {
            return Err(refused(StorageError::Conflict(Conflict::Version)));
        }
    }
    let mut rest = || -> Result<SubmissionOutcome> {
        let mut insert = db
            .prepare_cached(
                "INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body) VALUES (?, ?, ?, ?, ?)",
            )
            .map_err(failed)?;
        for (event, body) in new_events(case, expected_version).zip(events) {
            insert
                .execute(params![
                    case.id.as_str(),
                    i64::from(event.sequence),
                    millis(event.at),
                    event.by.as_str(),
                    body
                ])
                .map_err(failed)?;
        }
        // A case just opened has none yet (its row was new).
        if expected_version > 0 {
            db.prepare_cached("DELETE FROM deadlines WHERE case_id = ?")
                .and_then(|mut delete| delete.execute([case.id.as_str()]))
                .map_err(failed)?;
        }
        if !deadlines.is_empty() {
            let mut insert = db
                .prepare_cached(
                    "INSERT INTO deadlines (case_id, kind, anchor, starts_at, escalated) VALUES (?, ?, ?, ?, ?)",
                )
                .map_err(failed)?;
            for deadline in deadlines {
                insert
                    .execute(params![
                        case.id.as_str(),
                        deadline.kind.as_str(),
                        i64::from(deadline.anchor),
                        millis(deadline.starts_at),
                        deadline.escalated,
                    ])
                    .map_err(failed)?;
            }
        }
        let mut outcome = outcome.clone();
        outcome.deliveries = deliver(db, case, notices, &references, outcome.accepted_at)?;
        let answer = serde_json::to_string(&outcome).map_err(|e| corrupt(&e))?;
        db.prepare_cached(
            "INSERT INTO requests (agency_id, request_id, digest, outcome, accepted_at) VALUES (?, ?, ?, ?, ?)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                request.agency.as_str(),
                request.request_id,
                request.digest.as_slice(),
                answer,
                millis(outcome.accepted_at),
            ])
        })
        .map_err(failed)?;
        if let Some(record) = audit {
            append_audit(db, chain, std::slice::from_ref(record))?;
        }
        Ok(outcome)
    };
    rest().map_err(NotWritten::Broken)
}

/// Places the notices in their recipients' inboxes, each as a reference
/// to its event (see [`crate::storage::messages`]): each recipient's head
/// moves once, by its number of notices, and the positions it passed are
/// filled in notice order, so they stay gapless.
fn deliver(
    db: &Connection,
    case: &Case,
    notices: &[(AgencyId, Notice)],
    references: &[(i64, String)],
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
    {
        let mut advance = db
            .prepare_cached(
                "INSERT INTO inboxes (agency_id, head) VALUES (?, ?)
                 ON CONFLICT (agency_id) DO UPDATE SET head = head + excluded.head
                 RETURNING head",
            )
            .map_err(failed)?;
        for (agency, count) in counts {
            let head: i64 = advance
                .query_row(params![agency, count], |row| row.get(0))
                .map_err(failed)?;
            next.insert(agency, head - count + 1);
        }
    }
    let mut insert = db
        .prepare_cached(
            "INSERT INTO inbox_messages (agency_id, position, case_id, created_at, sequence, role)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .map_err(failed)?;
    let mut deliveries = Vec::with_capacity(notices.len());
    for ((agency, notice), (sequence, role)) in notices.iter().zip(references) {
        let slot = next
            .get_mut(agency.as_str())
            .ok_or_else(|| corrupt(&"a recipient without an inbox head"))?;
        let position = *slot;
        *slot += 1;
        insert
            .execute(params![
                agency.as_str(),
                position,
                case.id.as_str(),
                millis(accepted_at),
                sequence,
                role,
            ])
            .map_err(failed)?;
        deliveries.push(Delivery {
            agency: agency.clone(),
            role: notice.role,
            position: u64::try_from(position).map_err(|e| corrupt(&e))?,
        });
    }
    Ok(deliveries)
}

/// Inside the writer's open transaction.
pub(super) fn acknowledge(
    db: &Connection,
    agency: &AgencyId,
    to: u64,
) -> Result<Option<InboxState>> {
    let to_position = i64::try_from(to).unwrap_or(i64::MAX);
    let row = db
        .prepare_cached(
            "INSERT INTO inboxes (agency_id, head, acknowledged) VALUES (?, 0, 0)
             ON CONFLICT (agency_id) DO UPDATE SET acknowledged = MAX(acknowledged, ?) WHERE head >= ?
             RETURNING head, acknowledged",
        )
        .and_then(|mut upsert| {
            upsert
                .query_row(params![agency.as_str(), to_position, to_position], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
                })
                .optional()
        })
        .map_err(failed)?;
    let Some((head, acknowledged)) = row else {
        return Ok(None);
    };
    let state = InboxState {
        head: u64::try_from(head).map_err(|e| corrupt(&e))?,
        acknowledged: u64::try_from(acknowledged).map_err(|e| corrupt(&e))?,
    };
    Ok((to <= state.head).then_some(state))
}

/// Adds `agency` or updates its kind, region, name and whether it is
/// enabled.
pub(super) fn register_agency(db: &Connection, agency: &Agency) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO agencies (id, kind, region, name, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, region = excluded.region,
             name = excluded.name, enabled = excluded.enabled",
    )
    .and_then(|mut upsert| {
        upsert.execute(params![
            agency.agency.id.as_str(),
            agency.agency.kind.as_str(),
            agency.agency.region.to_string(),
            agency.name,
            i64::from(agency.enabled),
            now_millis(),
        ])
    })
    .map_err(failed)?;
    Ok(())
}

/// Takes `id` off the cases whose deadline rows an earlier version left
/// unwritten.
pub(super) fn deadline_backfilled(db: &Connection, id: &CaseId) -> Result<()> {
    db.prepare_cached("DELETE FROM deadline_backfill WHERE case_id = ?")
        .and_then(|mut delete| delete.execute(params![id.as_str()]))
        .map_err(failed)?;
    Ok(())
}

/// Raises the floor of `issuer` by `list` ([`CrlFloor::holds`]), in the
/// writer's transaction, and returns the floor.
pub(super) fn raise_crl_floor(db: &Connection, issuer: &str, list: &CrlFloor) -> Result<CrlFloor> {
    let floor = super::read_sql::crl_floor(db, issuer)?;
    if floor.holds(list) {
        return Ok(floor);
    }
    let raised = floor.raised_by(list);
    let number = i64::try_from(raised.number).map_err(|e| corrupt(&e))?;
    db.prepare_cached(
        "INSERT INTO crl_floor (issuer, number, revoked) VALUES (?, ?, ?)
         ON CONFLICT (issuer) DO UPDATE SET number = excluded.number, revoked = excluded.revoked",
    )
    .and_then(|mut upsert| upsert.execute(params![issuer, number, raised.revoked_text()]))
    .map_err(failed)?;
    Ok(raised)
}
