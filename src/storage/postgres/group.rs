//! Group commit on PostgreSQL: one task takes every case write that queued
//! while the previous batch was committing and writes them in one
//! transaction ([`super::write`]), so concurrent submissions share one
//! commit and one flush of the WAL instead of each paying its own. As on
//! SQLite there is no timer: a lone write goes at once, and under load a
//! batch is what arrived during the last commit. Nobody is answered before
//! the commit returns.
//!
//! Replicas each group their own writes; the row locks on cases and inbox
//! heads and the audit log's advisory lock order them across replicas. A
//! batch takes its new cases' decision numbers in order (the same
//! discharge sent to two replicas at once), its case rows in case id order
//! and its inbox heads in agency order, so two replicas' batches wait for
//! each other rather than deadlock. Should the database still refuse a
//! batch for a deadlock (PostgreSQL detects one after `deadlock_timeout`),
//! or for a request id another replica stored since its caller looked,
//! nothing of it was written, and its writes are tried again one by one,
//! each then answered with its own conflict.
//!
//! Once the database leaves a write unanswered, or still runs one it did
//! not answer ([`Failure::Stalled`]), the rest of the writes taken with it
//! are answered `Unavailable` without being tried: each would wait for the
//! writer's connection (seconds) only to meet the same.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::write::{Failure, Prepared, write_batch, write_one};
use super::writer::{Writer, untried};
use crate::domain::submission::SubmissionOutcome;
use crate::storage::{Result, StorageError};

/// Writes in one transaction at most: bounds how long a batch holds the
/// shared inbox heads and how much one failed commit takes down. (The
/// queue is read this many calls at a time, most of them of one write.)
const BATCH: usize = 256;

/// Calls waiting for the task at most; callers wait beyond that.
const QUEUE: usize = 1024;

struct Job {
    write: Prepared,
    reply: oneshot::Sender<Result<SubmissionOutcome>>,
}

/// The way to the committing task; started on the first write, so that a
/// process that only reads never starts it. It ends with the last handle.
#[derive(Debug, Default)]
pub(super) struct Group {
    jobs: OnceLock<mpsc::Sender<Vec<Job>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

impl Group {
    /// Writes `writes` (with whatever else is queued) and answers each, in
    /// order, as if each were written alone (see [`commit`]).
    ///
    /// Once queued, the writes are made even if the caller stops waiting.
    pub(super) async fn write(
        &self,
        writer: &Arc<Writer>,
        writes: Vec<Prepared>,
    ) -> Vec<Result<SubmissionOutcome>> {
        let sender = self.jobs.get_or_init(|| {
            let (sender, queue) = mpsc::channel(QUEUE);
            tokio::spawn(run(Arc::clone(writer), queue));
            sender
        });
        if writes.is_empty() {
            return Vec::new();
        }
        let (jobs, answers): (Vec<_>, Vec<_>) = writes
            .into_iter()
            .map(|write| {
                let (reply, answer) = oneshot::channel();
                (Job { write, reply }, answer)
            })
            .unzip();
        if sender.send(jobs).await.is_err() {
            return answers.iter().map(|_| Err(stopped())).collect();
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(answer.await.unwrap_or_else(|_| Err(stopped())));
        }
        results
    }
}

fn stopped() -> StorageError {
    StorageError::Unavailable("the write batch was lost".into())
}

/// Commits batches until every [`Group`] handle is gone. Each batch runs in
/// a task of its own, so that a panic costs only that batch (its callers
/// hear `Unavailable` from their dropped replies).
async fn run(writer: Arc<Writer>, mut queue: mpsc::Receiver<Vec<Job>>) {
    let mut groups = Vec::new();
    while queue.recv_many(&mut groups, BATCH).await > 0 {
        let batch: Vec<Job> = groups.drain(..).flatten().collect();
        if let Err(panic) = tokio::spawn(commit(Arc::clone(&writer), batch)).await {
            tracing::error!(%panic, "a write batch failed");
        }
    }
}

/// Commits `jobs` in order, a run at a time (see [`runs`]); once the
/// database stalls, answers the rest without trying them.
async fn commit(writer: Arc<Writer>, jobs: Vec<Job>) {
    let mut runs = runs(jobs).into_iter();
    while let Some(run) = runs.next() {
        if commit_run(&writer, run).await.is_err() {
            answer_all(runs.flatten(), &untried());
            return;
        }
    }
}

/// `jobs` in runs of writes with distinct keys, at most [`BATCH`] each, in
/// order: a write that shares a key with an earlier one of its run starts
/// the next run, so that it sees the earlier write as it would alone.
fn runs(jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let mut runs: Vec<Vec<Job>> = Vec::new();
    let mut keys = Keys::default();
    for job in jobs {
        match runs.last_mut() {
            Some(run) if run.len() < BATCH && keys.insert(&job.write) => run.push(job),
            _ => {
                keys = Keys::default();
                keys.insert(&job.write);
                runs.push(vec![job]);
            }
        }
    }
    runs
}

/// Writes with distinct keys: one transaction for all of them, or one each
/// when the database refuses them together. Every write is answered.
///
/// # Errors
/// When the database stalled ([`Failure::Stalled`]).
async fn commit_run(writer: &Writer, run: Vec<Job>) -> Result<(), StorageError> {
    if run.len() > 1 {
        let writes: Vec<&Prepared> = run.iter().map(|job| &job.write).collect();
        match write_batch(writer, &writes).await {
            Ok(answers) => {
                for (job, answer) in run.into_iter().zip(answers) {
                    // A caller that stopped waiting gets nothing; its write
                    // stands.
                    let _ = job.reply.send(answer);
                }
                return Ok(());
            }
            Err(Failure::Failed(error)) => {
                tracing::error!(%error, size = run.len(), "a write batch failed");
                answer_all(run, &error);
                return Ok(());
            }
            Err(Failure::Stalled(error)) => {
                tracing::debug!(%error, size = run.len(), "a write batch stalled");
                answer_all(run, &error);
                return Err(error);
            }
            Err(Failure::Refused(error)) => {
                tracing::debug!(%error, size = run.len(), "a write batch was refused; writing it one by one");
            }
        }
    }
    let mut jobs = run.into_iter();
    while let Some(job) = jobs.next() {
        match write_one(writer, &job.write).await {
            Ok(answer) => {
                let _ = job.reply.send(answer);
            }
            Err(error) => {
                tracing::debug!(%error, "a write was not answered or not sent");
                let _ = job.reply.send(Err(error.clone()));
                answer_all(jobs, &untried());
                return Err(error);
            }
        }
    }
    Ok(())
}

fn answer_all(jobs: impl IntoIterator<Item = Job>, error: &StorageError) {
    for job in jobs {
        let _ = job.reply.send(Err(error.clone()));
    }
}

/// The keys of a run so far: no two writes of one transaction may share a
/// request id, a case or, for new cases, a decision number (see
/// [`super::write`]).
#[derive(Default)]
struct Keys {
    requests: HashSet<String>,
    cases: HashSet<String>,
    decisions: HashSet<String>,
}

impl Keys {
    /// Adds the keys of `write`; false (and nothing added) when one is taken.
    fn insert(&mut self, write: &Prepared) -> bool {
        let (request, case, opened) = write.keys();
        if self.requests.contains(&request)
            || self.cases.contains(case)
            || opened.is_some_and(|decision| self.decisions.contains(decision))
        {
            return false;
        }
        self.requests.insert(request);
        self.cases.insert(case.to_owned());
        if let Some(decision) = opened {
            self.decisions.insert(decision.to_owned());
        }
        true
    }
}
