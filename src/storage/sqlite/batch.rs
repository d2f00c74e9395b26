//! One batch of the writer's jobs in one transaction (see
//! [`super::writer`]): each job is applied in queue order, a refused one
//! leaves the rest to commit, and one that breaks the transaction is
//! answered with its error while the rest run again without it.

use rusqlite::{Connection, TransactionBehavior};

use super::audit::append_audit;
use super::unavailable;
use super::write_sql::{self, NotWritten};
use super::writer::{Done, Job, Work};
use crate::domain::audit::Chain;
use crate::storage::{Result, StorageError};

/// A batch whose jobs keep breaking its transaction is given up after
/// this many rounds: one damaged case fails alone, a database that fails
/// every round (a full disk) fails the batch without rerunning it job by
/// job.
pub(super) const ROUNDS: usize = 3;

/// One transaction for `batch`; every job is answered before it returns.
///
/// A job that breaks the transaction is answered with its error and the
/// batch runs again without it, so a damaged case fails alone and not
/// every batch it lands in.
pub(super) fn commit(db: &mut Connection, mut batch: Vec<Job>) {
    for _ in 0..ROUNDS {
        match round(db, &batch) {
            Round::Over(results, committed) => return finish(batch, results, &committed),
            Round::Failed(error) => return refuse(batch, &error),
            Round::Broken(at, error) => {
                let _ = batch.remove(at).reply.send(Err(error));
                if batch.is_empty() {
                    return;
                }
            }
        }
    }
    refuse(batch, &unavailable(&"the write batch was rolled back"));
}

/// How one transaction over a batch ended.
enum Round {
    /// Every job was applied or refused; whether the batch then committed.
    Over(Vec<Result<Done>>, Result<()>),
    /// The job at this index broke the transaction, which was rolled back.
    Broken(usize, StorageError),
    /// No transaction could be begun.
    Failed(StorageError),
}

fn round(db: &mut Connection, batch: &[Job]) -> Round {
    let tx = match db.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => return Round::Failed(unavailable(&error)),
    };
    let mut chain = None;
    let mut results = Vec::with_capacity(batch.len());
    for (at, job) in batch.iter().enumerate() {
        match apply(&tx, &job.work, &mut chain) {
            Ok(done) => results.push(Ok(done)),
            // A refusal changes nothing, so the transaction must still be
            // open; were it not, the jobs after it would each commit alone.
            Err(NotWritten::Refused(refusal)) if !tx.is_autocommit() => results.push(Err(refusal)),
            Err(NotWritten::Refused(broken) | NotWritten::Broken(broken)) => {
                // The transaction holds part of a job (or SQLite rolled it
                // back itself on an I/O error): nothing of the batch stays.
                tracing::error!(error = %broken, "a write broke its batch");
                let _ = tx.rollback();
                return Round::Broken(at, broken);
            }
        }
    }
    if results.iter().all(Result::is_err) {
        // Nothing to make durable.
        let _ = tx.rollback();
        return Round::Over(results, Ok(()));
    }
    let committed = tx.commit().map_err(|error| {
        tracing::error!(%error, "a write batch could not be committed");
        unavailable(&error)
    });
    Round::Over(results, committed)
}

/// Answers each job: its result if the batch committed, else the commit's
/// error (a job that was refused keeps its own refusal).
fn finish(batch: Vec<Job>, results: Vec<Result<Done>>, committed: &Result<()>) {
    for (job, result) in batch.into_iter().zip(results) {
        let answer = match (committed, result) {
            (Ok(()), result) | (Err(_), result @ Err(_)) => result,
            (Err(error), Ok(_)) => Err(error.clone()),
        };
        // A caller that stopped waiting gets nothing; its write stands.
        let _ = job.reply.send(answer);
    }
}

fn refuse(batch: Vec<Job>, error: &StorageError) {
    for job in batch {
        let _ = job.reply.send(Err(error.clone()));
    }
}

/// Applies `work` in the open transaction, whose audit log ends at
/// `chain` (read on first use). Only a case write can be refused on its
/// own (before it changes anything: see [`write_sql::write_case`]); the
/// other jobs cannot conflict and fail only when the database does, which
/// breaks the transaction as a case write that fails after a change does.
fn apply(
    db: &Connection,
    work: &Work,
    chain: &mut Option<Chain>,
) -> std::result::Result<Done, NotWritten> {
    let broken = NotWritten::Broken;
    match work {
        Work::Case(write) => write_sql::write_case(db, write, chain).map(Done::Case),
        Work::Audit(records) => append_audit(db, chain, records)
            .map(Done::Audit)
            .map_err(broken),
        Work::Acknowledge { agency, position } => write_sql::acknowledge(db, agency, *position)
            .map(Done::Acknowledged)
            .map_err(broken),
        Work::RegisterAgency(agency) => write_sql::register_agency(db, agency)
            .map(|()| Done::Registered)
            .map_err(broken),
        Work::RaiseCrlFloor { issuer, list } => write_sql::raise_crl_floor(db, issuer, list)
            .map(Done::CrlFloor)
            .map_err(broken),
        Work::DeadlineBackfilled(id) => write_sql::deadline_backfilled(db, id)
            .map(|()| Done::Backfilled)
            .map_err(broken),
    }
}
