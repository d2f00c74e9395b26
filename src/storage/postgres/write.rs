//! Case writes in one statement, one write or a whole batch of them:
//! `write_batch()` ([`super::write_sql`]) takes every row of the batch at
//! once (`UNNEST`) and runs as its own transaction, so a batch costs one
//! round trip and one flush of the WAL, whatever its size.
//! [`super::group`] forms the batches.
//!
//! A batch holds writes with distinct request ids, cases and decision
//! numbers ([`Prepared::keys`]): a statement that updates one row from two
//! of its inputs uses only one of them, so two writes of one case in one
//! batch would leave the case row behind its events. The conflicts a
//! writer meets in normal use are answered per write without disturbing
//! the others: a decision number that already has
//! a case (`ON CONFLICT DO NOTHING`) and a case that moved on since it was
//! read (the version in the `UPDATE`'s `WHERE`). Anything else the database
//! refuses, such as a request id another replica stored a moment ago or a
//! deadlock between replicas, rolls the whole batch back and is reported as
//! [`Failure::Refused`], so that the writes can be tried one by one.

use super::write_sql;
use super::writer::Writer;
use super::{corrupt, millis, unavailable};
use crate::domain::submission::SubmissionOutcome;
use crate::storage::messages::reference;
use crate::storage::seal::{Sealer, event_address, seal_json};
use crate::storage::{CaseWrite, Conflict, Result, StorageError};

/// A write with what can be computed before it takes any lock: its events
/// sealed, its notices turned into references.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) write: CaseWrite,
    /// The new events: sequence, time recorded, recording agency, body.
    pub(super) events: Vec<(i64, i64, String, Vec<u8>)>,
    /// Per notice of `write`: the event it announces and the role.
    pub(super) references: Vec<(i64, String)>,
}

/// Seals the new events of `write` and checks each notice against them.
///
/// # Errors
/// `Corrupt` when an event cannot be sealed or a notice names an event the
/// case does not hold.
pub(super) fn prepare(sealer: &Sealer, write: CaseWrite) -> Result<Prepared> {
    let case = &write.case;
    let events = case
        .history
        .iter()
        .filter(|event| event.sequence > write.expected_version)
        .map(|event| {
            let sequence = i64::from(event.sequence);
            let body = seal_json(sealer, &event_address(&case.id, sequence), event)?;
            Ok((
                sequence,
                millis(event.at),
                event.by.as_str().to_owned(),
                body,
            ))
        })
        .collect::<Result<_>>()?;
    let references = write
        .notices
        .iter()
        .map(|(_, notice)| reference(case, notice))
        .collect::<Result<_>>()?;
    Ok(Prepared {
        write,
        events,
        references,
    })
}

impl Prepared {
    /// What must differ between two writes of one batch.
    pub(super) fn keys(&self) -> (String, &str, Option<&str>) {
        let write = &self.write;
        let request = format!("{}\n{}", write.request.agency, write.request.request_id);
        let opened = (write.expected_version == 0).then(|| write.case.decision_number.as_str());
        (request, write.case.id.as_str(), opened)
    }
}

/// Why a transaction wrote nothing.
#[derive(Debug)]
pub(super) enum Failure {
    /// The database refused a statement and the transaction rolled back.
    Refused(sqlx::Error),
    /// The connection failed, the commit's fate is unknown, or what the
    /// database answered cannot be read.
    Failed(StorageError),
    /// The database did not answer in time ([`super::ANSWER_TIMEOUT`]),
    /// still runs a write it did not answer, or did not say in time
    /// whether it does (see [`super::writer`]): the writes queued behind
    /// are answered without being tried, since each would wait for the
    /// writer's connection (seconds) only to meet the same.
    Stalled(StorageError),
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        Failure::Failed(error)
    }
}

impl From<Failure> for StorageError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused(error) => unavailable(&error),
            Failure::Failed(error) | Failure::Stalled(error) => error,
        }
    }
}

/// A key taken (SQLSTATE class 23) or a lost deadlock or serialization
/// race (class 40) is a refusal the writes may meet one by one; anything
/// else (a server shutting down, a standby that cannot write) would fail
/// them one by one as well, so it fails the batch.
pub(super) fn failure(error: sqlx::Error) -> Failure {
    match &error {
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|code| code.starts_with("23") || code.starts_with("40")) =>
        {
            Failure::Refused(error)
        }
        _ => Failure::Failed(unavailable(&error)),
    }
}

/// Writes `write` alone, answering a refusal with the conflict it names.
///
/// # Errors
/// The write's answer when the database stalled ([`Failure::Stalled`]).
pub(super) async fn write_one(
    writer: &Writer,
    write: &Prepared,
) -> Result<Result<SubmissionOutcome>, StorageError> {
    match write_batch(writer, &[write]).await {
        Ok(mut answers) => Ok(answers
            .pop()
            .unwrap_or_else(|| Err(corrupt(&"a write went unanswered")))),
        Err(Failure::Refused(error)) => Ok(Err(conflict_or_unavailable(error))),
        Err(Failure::Failed(error)) => Ok(Err(error)),
        Err(Failure::Stalled(error)) => Err(error),
    }
}

/// A key another writer stored first is that writer's conflict; a lost
/// deadlock or serialization race means the case should be read again.
fn conflict_or_unavailable(error: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &error {
        match (db.code().as_deref(), db.constraint()) {
            (Some("23505"), Some("requests_pkey")) => {
                return StorageError::Conflict(Conflict::RequestId);
            }
            (Some("23505"), Some("cases_decision_number_key")) => {
                return StorageError::Conflict(Conflict::DecisionNumber);
            }
            (Some("23505" | "40001" | "40P01"), _) => {
                return StorageError::Conflict(Conflict::Version);
            }
            _ => {}
        }
    }
    unavailable(&error)
}

/// Writes `batch` (writes with distinct keys, see [`Prepared::keys`]) in
/// one statement; per write, its answer or the conflict that refused it
/// alone.
///
/// # Errors
/// A [`Failure`] when nothing of the batch was written (or, after a failed
/// commit, when that is not known).
pub(super) async fn write_batch(
    writer: &Writer,
    batch: &[&Prepared],
) -> Result<Vec<Result<SubmissionOutcome>>, Failure> {
    let now = millis(time::OffsetDateTime::now_utc());
    let mut taken = writer.take().await?;
    let answered = tokio::time::timeout(
        writer.answer_timeout,
        write_sql::write_batch(taken.connection(), batch, now),
    )
    .await;
    let Ok(written) = answered else {
        writer.abandon(taken);
        return Err(Failure::Stalled(unanswered(writer.answer_timeout)));
    };
    // A refusal is the server's answer, which leaves the connection fit
    // for the next statement; after any other failure it is dropped.
    if matches!(written, Ok(_) | Err(Failure::Refused(_))) {
        taken.give_back();
    } else {
        taken.discard();
    }
    let written = written?;
    // Positions come in batch order, a run per written case's notices.
    let mut positions = written.positions.into_iter();
    let mut answers = Vec::with_capacity(batch.len());
    for p in batch {
        if !written.cases.contains(p.write.case.id.as_str()) {
            // Left out: it lost to a case with its decision number, or its
            // case moved on since it was read.
            let conflict = if p.write.expected_version == 0 {
                Conflict::DecisionNumber
            } else {
                Conflict::Version
            };
            answers.push(Err(StorageError::Conflict(conflict)));
            continue;
        }
        let taken = positions
            .by_ref()
            .take(p.write.notices.len())
            .map(u64::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(&e))?;
        if taken.len() < p.write.notices.len() {
            return Err(Failure::Failed(corrupt(&"a notice without its position")));
        }
        answers.push(Ok(write_sql::answer(p, &taken)));
    }
    if positions.next().is_some() {
        return Err(Failure::Failed(corrupt(&"a position without its notice")));
    }
    Ok(answers)
}

/// A write or an audit append the database did not answer in time
/// ([`super::ANSWER_TIMEOUT`]): it may yet commit, so the caller is told
/// its fate is not known. A write retried under the same request id
/// replays its answer if it did; an audited query retried is recorded
/// again.
pub(super) fn unanswered(waited: std::time::Duration) -> StorageError {
    StorageError::Unavailable(format!(
        "the database did not answer within {} s; whether the write committed is not known",
        waited.as_secs_f64()
    ))
}
