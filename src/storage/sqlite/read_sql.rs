//! The reads the reader threads run ([`super::reader`]), in SQL on their
//! own `rusqlite` connections. They read exactly what the sqlx versions
//! did; each statement is prepared once per connection.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{corrupt, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId, EarlierCase};
use crate::domain::intake::DecisionNumber;
use crate::domain::notice::InboxEntry;
use crate::domain::submission::SubmissionOutcome;
use crate::storage::CrlFloor;
use crate::storage::messages::{Histories, StoredMessage, open_messages};
use crate::storage::seal::{Sealer, open_case, open_event};
use crate::storage::{
    CaseKey, InboxState, Looked, Lookup, PersonKey, Result, Seen, StoredAnswer, earlier_case,
};

fn failed(error: rusqlite::Error) -> crate::storage::StorageError {
    unavailable(&error)
}

fn position(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn registry_version(db: &Connection) -> Result<i64> {
    db.prepare_cached("SELECT version FROM registry_version WHERE id = 1")
        .and_then(|mut select| select.query_row([], |row| row.get(0)))
        .map_err(failed)
}

/// The recorded revocation list of the CA `issuer`, number 0 before any.
pub(in crate::storage::sqlite) fn crl_floor(db: &Connection, issuer: &str) -> Result<CrlFloor> {
    let floor: Option<(i64, String)> = db
        .prepare_cached("SELECT number, revoked FROM crl_floor WHERE issuer = ?")
        .and_then(|mut select| {
            select
                .query_row([issuer], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(failed)?;
    floor.map_or(Ok(CrlFloor::default()), |(number, revoked)| {
        CrlFloor::from_stored(number, &revoked)
    })
}

pub(super) fn answer(
    db: &Connection,
    agency: &AgencyId,
    request_id: &str,
) -> Result<Option<StoredAnswer>> {
    let row = db
        .prepare_cached(
            "SELECT digest, outcome FROM requests WHERE agency_id = ? AND request_id = ?",
        )
        .and_then(|mut select| {
            select
                .query_row(params![agency.as_str(), request_id], |row| {
                    Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?))
                })
                .optional()
        })
        .map_err(failed)?;
    let Some((digest, outcome)) = row else {
        return Ok(None);
    };
    Ok(Some(StoredAnswer {
        digest: digest
            .try_into()
            .map_err(|_| corrupt(&"request digest is not 32 bytes"))?,
        outcome: serde_json::from_str::<SubmissionOutcome>(&outcome).map_err(|e| corrupt(&e))?,
    }))
}

/// The stored answer to `request_id`, or else the case `key` finds, and
/// the registry's version, in one read transaction: one hop to a reader
/// thread instead of three.
pub(super) fn answer_or_case(
    db: &Connection,
    sealer: &Sealer,
    agency: &AgencyId,
    request_id: &str,
    key: &CaseKey,
) -> Result<Looked> {
    seen(db, |read| {
        if let Some(answer) = answer(read, agency, request_id)? {
            return Ok(Lookup::Answered(answer));
        }
        let (case, open) = match key {
            CaseKey::Id(id) => (case(read, sealer, id)?, Vec::new()),
            CaseKey::Decision(decision, person) => (
                case_by_decision(read, sealer, decision.as_str())?,
                open_cases_of_person(read, person, decision)?,
            ),
        };
        Ok(Lookup::Unanswered(case.map(Box::new), open))
    })
}

/// What `read` finds and the registry's version, in one read transaction.
fn seen<T>(db: &Connection, read: impl FnOnce(&Connection) -> Result<T>) -> Result<Seen<T>> {
    let transaction = db.unchecked_transaction().map_err(failed)?;
    Ok(Seen {
        registry_version: registry_version(&transaction)?,
        found: read(&transaction)?,
    })
}

/// The sealed events `(sequence, body)` of case `id`, in order.
fn case_events(db: &Connection, id: &CaseId) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut select = db
        .prepare_cached(
            "SELECT sequence, body FROM case_events WHERE case_id = ? ORDER BY sequence",
        )
        .map_err(failed)?;
    select
        .query_map([id.as_str()], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(failed)
}

pub(super) fn case(db: &Connection, sealer: &Sealer, id: &CaseId) -> Result<Option<Case>> {
    let events = case_events(db, id)?;
    open_case(
        sealer,
        id,
        events
            .iter()
            .map(|(sequence, body)| (*sequence, body.as_slice())),
    )
}

/// The cases whose ids `sql` selects with `key`, in the order it selects
/// them.
fn cases_where(
    db: &Connection,
    sealer: &Sealer,
    sql: &str,
    key: impl rusqlite::ToSql,
) -> Result<Vec<Case>> {
    let mut select = db.prepare_cached(sql).map_err(failed)?;
    let ids = select
        .query_map([key], |row| row.get::<_, String>(0))
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(failed)?
        .iter()
        .map(|id| CaseId::parse(id).map_err(|e| corrupt(&e)))
        .collect::<Result<Vec<_>>>()?;
    cases(db, sealer, &ids)
}

fn case_by_decision(db: &Connection, sealer: &Sealer, decision: &str) -> Result<Option<Case>> {
    // The decision number is unique: one case at most.
    let sql = "SELECT id FROM cases WHERE decision_number = ?";
    Ok(cases_where(db, sealer, sql, decision)?.into_iter().next())
}

/// The cases with `ids` that have events, in the order of `ids`.
fn cases(db: &Connection, sealer: &Sealer, ids: &[CaseId]) -> Result<Vec<Case>> {
    let mut cases = Vec::with_capacity(ids.len());
    for id in ids {
        cases.extend(case(db, sealer, id)?);
    }
    Ok(cases)
}

/// The cases with `ids` (a case that vanished is skipped) and the
/// registry's version, in one read transaction. The ids were read before
/// it, so the version is at least as recent as that read.
pub(super) fn cases_seen(
    db: &Connection,
    sealer: &Sealer,
    ids: &[CaseId],
) -> Result<Seen<Vec<Case>>> {
    seen(db, |read| cases(read, sealer, ids))
}

/// The case with `id` and the registry's version, in one read transaction.
pub(super) fn case_seen(
    db: &Connection,
    sealer: &Sealer,
    id: &CaseId,
) -> Result<Seen<Option<Case>>> {
    seen(db, |read| case(read, sealer, id))
}

/// The person's cases and the registry's version, in one read transaction.
pub(super) fn cases_of_person(
    db: &Connection,
    sealer: &Sealer,
    key: &PersonKey,
) -> Result<Seen<Vec<Case>>> {
    let sql = "SELECT id FROM cases WHERE person_key = ? ORDER BY opened_at DESC, id DESC";
    seen(db, |read| cases_where(read, sealer, sql, key.as_slice()))
}

/// The person's cases that are discharged and not closed, other than
/// `decision`'s, oldest first.
fn open_cases_of_person(
    db: &Connection,
    key: &PersonKey,
    decision: &DecisionNumber,
) -> Result<Vec<EarlierCase>> {
    let mut select = db
        .prepare_cached(
            "SELECT id, executing_region, responsible, CASE WHEN unroutable THEN oversight END
             FROM cases
             WHERE person_key = ? AND decision_number <> ? AND state NOT IN ('announced', 'closed')
             ORDER BY opened_at, id",
        )
        .map_err(failed)?;
    let rows = select
        .query_map(params![key.as_slice(), decision.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(failed)?;
    rows.map(|row| {
        let (id, region, project, oversight) = row.map_err(failed)?;
        earlier_case(&id, &region, project.as_deref(), oversight.as_deref())
    })
    .collect()
}

/// A page of `agency`'s inbox, opened.
pub(super) fn inbox_after(
    db: &Connection,
    sealer: &Sealer,
    agency: &AgencyId,
    after: u64,
    limit: u32,
) -> Result<Vec<InboxEntry>> {
    let (messages, events) = inbox_page(db, agency, after, limit)?;
    // Opened once the read transaction has ended: while one is open the
    // writer's checkpoint can neither copy the WAL past it nor start the
    // WAL over, and opening and folding a page takes longer than reading
    // it, so a replay read back to back would keep the WAL growing under
    // writes (the PostgreSQL reads likewise give their connection back
    // first).
    let mut histories: Histories = HashMap::new();
    for SealedEvent {
        case,
        sequence,
        body,
    } in events
    {
        let event = open_event(sealer, &case, sequence, &body);
        let history = histories.entry(case).or_insert_with(|| Ok(Vec::new()));
        match (history.as_mut(), event) {
            (Ok(events), Ok(event)) => events.push(event),
            (Ok(_), Err(error)) => *history = Err(error),
            (Err(_), _) => {}
        }
    }
    Ok(open_messages(sealer, agency, messages, &histories))
}

/// A stored event as read, before it is opened.
struct SealedEvent {
    case: CaseId,
    sequence: i64,
    body: Vec<u8>,
}

/// The rows of a page of `agency`'s inbox, then the events of every case
/// they refer to in one statement (in sequence order per case), both in
/// one read transaction, so that the two see the same messages. (A
/// statement per case, each its own read transaction with its WAL locks,
/// was most of a replay's time.)
fn inbox_page(
    db: &Connection,
    agency: &AgencyId,
    after: u64,
    limit: u32,
) -> Result<(Vec<StoredMessage>, Vec<SealedEvent>)> {
    let page = params![agency.as_str(), position(after), i64::from(limit)];
    let read = db.unchecked_transaction().map_err(failed)?;
    let mut select = read
        .prepare_cached(
            "SELECT position, created_at, case_id, sequence, role, body FROM inbox_messages
             WHERE agency_id = ?1 AND position > ?2 ORDER BY position LIMIT ?3",
        )
        .map_err(failed)?;
    let mut rows = select.query(page).map_err(failed)?;
    let mut messages = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        messages.push(StoredMessage::from_columns(
            row.get(0).map_err(failed)?,
            row.get(1).map_err(failed)?,
            row.get_ref(2)
                .map_err(failed)?
                .as_str()
                .map_err(|e| corrupt(&e))?,
            row.get(3).map_err(failed)?,
            row.get_ref(4)
                .map_err(failed)?
                .as_str_or_null()
                .map_err(|e| corrupt(&e))?,
            row.get(5).map_err(failed)?,
        )?);
    }
    let mut events = Vec::new();
    // A copy (written by an older version) needs no events to be read, but
    // its case's tell whether the case has closed since.
    if !messages.is_empty() {
        let mut select = read
            .prepare_cached(
                "SELECT case_id, sequence, body FROM case_events
                 WHERE case_id IN (
                     SELECT case_id FROM inbox_messages
                     WHERE agency_id = ?1 AND position > ?2 ORDER BY position LIMIT ?3
                 )
                 ORDER BY case_id, sequence",
            )
            .map_err(failed)?;
        let mut rows = select.query(page).map_err(failed)?;
        while let Some(row) = rows.next().map_err(failed)? {
            let case = row
                .get_ref(0)
                .map_err(failed)?
                .as_str()
                .map_err(|e| corrupt(&e))?;
            events.push(SealedEvent {
                case: CaseId::parse(case).map_err(|e| corrupt(&e))?,
                sequence: row.get(1).map_err(failed)?,
                body: row
                    .get_ref(2)
                    .map_err(failed)?
                    .as_blob()
                    .map_err(|e| corrupt(&e))?
                    .to_vec(),
            });
        }
    }
    Ok((messages, events))
}

pub(super) fn inbox_state(db: &Connection, agency: &AgencyId) -> Result<InboxState> {
    let row = db
        .prepare_cached("SELECT head, acknowledged FROM inboxes WHERE agency_id = ?")
        .and_then(|mut select| {
            select
                .query_row([agency.as_str()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
                })
                .optional()
        })
        .map_err(failed)?;
    Ok(
        row.map_or(InboxState::default(), |(head, acknowledged)| InboxState {
            head: u64::try_from(head).unwrap_or(0),
            acknowledged: u64::try_from(acknowledged).unwrap_or(0),
        }),
    )
}
