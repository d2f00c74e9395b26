//! Group commit: one task owns the writer connection and commits, in one
//! `BEGIN IMMEDIATE` transaction, every write that queued up while the
//! previous commit was being made durable.
//!
//! SQLite makes a commit durable with one fsync of the WAL whatever the
//! transaction holds, so a commit per submission caps throughput at the
//! disk's fsync rate. Sharing commits lifts that cap without a timer: a
//! lone writer still commits at once, and under load a batch is simply
//! what arrived during the last fsync.
//!
//! Each case write runs inside its own savepoint, so one that conflicts (a
//! request id or decision number taken, a stale case version) is rolled
//! back alone and answered with its conflict while the others commit. Jobs
//! run in queue order in one transaction, so later jobs see earlier ones:
//! a case's version check, a recipient's next inbox position and the audit
//! chain's last hash all stay correct, and inbox order is commit order.
//! Nobody is answered before `COMMIT` returns: a failed commit answers
//! every job of the batch `Unavailable`.

use std::sync::Arc;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{audit, cases, corrupt, inbox, now_millis, unavailable};
use crate::domain::agency::{Agency, AgencyId};
use crate::domain::audit::{AuditRecord, Chain};
use crate::domain::submission::SubmissionOutcome;
use crate::storage::seal::Sealer;
use crate::storage::{CaseWrite, InboxState, Result, StorageError};

/// Jobs in one transaction at most: bounds how long a batch holds the
/// write lock and how much one failed commit takes down.
const BATCH: usize = 256;

/// Jobs waiting for the writer at most; senders wait beyond that, which
/// pushes back on callers instead of growing memory.
const QUEUE: usize = 4 * BATCH;

/// A write the task applies.
pub(super) enum Work {
    Case {
        write: Box<CaseWrite>,
        sealer: Arc<Sealer>,
    },
    Audit(Vec<AuditRecord>),
    Acknowledge {
        agency: AgencyId,
        position: u64,
    },
    RegisterAgency(Agency),
}

/// What a job did, once its batch committed.
pub(super) enum Done {
    Case(SubmissionOutcome),
    Audit(Chain),
    Acknowledged(Option<InboxState>),
    Registered,
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done>>,
}

/// The way to the writer task; cheap to clone. The task ends when the
/// last handle is dropped.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `pool` (one connection), in the current
    /// runtime.
    pub(super) fn spawn(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, queue));
        Self { jobs }
    }

    /// Queues `work` and waits until it is durable or refused.
    ///
    /// Once queued, the job is applied even if the caller stops waiting:
    /// a caller that hangs up does not undo a write it started.
    ///
    /// # Errors
    /// The job's own error (a conflict), or `Unavailable` when the batch
    /// could not be committed or the writer has stopped.
    pub(super) async fn submit(&self, work: Work) -> Result<Done> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { work, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StorageError {
    StorageError::Unavailable("the database writer has stopped".into())
}

/// Takes everything queued (up to [`BATCH`]) and commits it together,
/// until every [`Writer`] is gone.
///
/// A panic in a job costs only its batch (whose callers then hear
/// `Unavailable`: their replies are dropped, and so is the transaction,
/// which rolls back), not every write after it.
async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let jobs = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        if CatchPanic(Box::pin(commit(&pool, jobs))).await.is_err() {
            tracing::error!("a write batch panicked and was rolled back");
        }
    }
}

/// Polls a future, turning a panic into `Err`: a task of its own per batch
/// would do the same at the cost of a hand-off per commit.
struct CatchPanic<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future<Output = ()>> std::future::Future for CatchPanic<F> {
    type Output = std::result::Result<(), ()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

/// One transaction for `batch`; every job is answered before it returns.
async fn commit(pool: &SqlitePool, batch: Vec<Job>) {
    if batch.len() == 1 {
        return commit_alone(pool, batch).await;
    }
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(error) => return refuse(batch, &unavailable(&error)),
    };
    // (reply, what the job did or why it was refused), in queue order.
    let mut applied = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some(Job { work, reply }) = jobs.next() {
        match apply_alone(&mut tx, work).await {
            Ok(result) => applied.push((reply, result)),
            Err(broken) => {
                // The transaction is lost (SQLite rolls it back itself on
                // some I/O errors): nothing of the batch is written.
                tracing::error!(error = %broken, "a write batch was rolled back");
                let _ = tx.rollback().await;
                let lost = unavailable(&"the write batch was rolled back");
                let _ = reply.send(Err(broken));
                refuse(jobs.collect(), &lost);
                return finish(applied, &Err(lost));
            }
        }
    }
    let committed = tx.commit().await.map_err(|error| {
        tracing::error!(%error, "a write batch could not be committed");
        unavailable(&error)
    });
    finish(applied, &committed);
}

/// A lone job needs no savepoint: its transaction is its own, so a
/// conflict rolls back only it. This keeps a lone writer's latency what it
/// was before commits were shared.
async fn commit_alone(pool: &SqlitePool, batch: Vec<Job>) {
    let Some(Job { work, reply }) = batch.into_iter().next() else {
        return;
    };
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(error) => return drop(reply.send(Err(unavailable(&error)))),
    };
    let answer = match apply(&mut tx, work).await {
        Ok(done) => tx.commit().await.map(|()| done).map_err(|error| {
            tracing::error!(%error, "a write could not be committed");
            unavailable(&error)
        }),
        Err(error) => {
            let _ = tx.rollback().await;
            Err(error)
        }
    };
    let _ = reply.send(answer);
}

/// Answers each applied job: its result if the batch committed, else the
/// commit's error (a job that was refused keeps its own refusal).
fn finish(applied: Vec<(oneshot::Sender<Result<Done>>, Result<Done>)>, committed: &Result<()>) {
    for (reply, result) in applied {
        let answer = match (committed, result) {
            (Ok(()), result) | (Err(_), result @ Err(_)) => result,
            (Err(error), Ok(_)) => Err(clone_error(error)),
        };
        // A caller that stopped waiting gets nothing; its write stands.
        let _ = reply.send(answer);
    }
}

fn refuse(batch: Vec<Job>, error: &StorageError) {
    for job in batch {
        let _ = job.reply.send(Err(clone_error(error)));
    }
}

fn clone_error(error: &StorageError) -> StorageError {
    match error {
        StorageError::Conflict(conflict) => StorageError::Conflict(*conflict),
        StorageError::Unavailable(text) => StorageError::Unavailable(text.clone()),
        StorageError::Corrupt(text) => StorageError::Corrupt(text.clone()),
    }
}

/// Runs `work` so that its failure costs only itself: a case write runs
/// inside its own savepoint, released into the batch on success and
/// rolled back alone on failure, and its error is its answer
/// (`Ok(Err(..))`). The other jobs cannot conflict and fail only when the
/// database does, so they spare the savepoint's two round trips and their
/// failure is the batch's.
///
/// # Errors
/// The outer error when the batch's transaction is lost: a savepoint
/// cannot be rolled back, or a job without one failed.
async fn apply_alone(tx: &mut SqliteConnection, work: Work) -> Result<Result<Done>> {
    if !matches!(work, Work::Case { .. }) {
        return apply(tx, work).await.map(Ok);
    }
    sqlx::query("SAVEPOINT job")
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    let result = apply(tx, work).await;
    if result.is_err() {
        sqlx::query("ROLLBACK TO job")
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    sqlx::query("RELEASE job")
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(result)
}

async fn apply(tx: &mut SqliteConnection, work: Work) -> Result<Done> {
    match work {
        Work::Case { write, sealer } => {
            cases::write_case(tx, &sealer, *write).await.map(Done::Case)
        }
        Work::Audit(records) => audit::append(tx, &records).await.map(Done::Audit),
        Work::Acknowledge { agency, position } => inbox::acknowledge(tx, &agency, position)
            .await
            .map(Done::Acknowledged),
        Work::RegisterAgency(agency) => register_agency(tx, &agency)
            .await
            .map(|()| Done::Registered),
    }
}

/// Adds `agency` or updates its kind, region, name and whether it is
/// enabled.
async fn register_agency(tx: &mut SqliteConnection, agency: &Agency) -> Result<()> {
    sqlx::query(
        "INSERT INTO agencies (id, kind, region, name, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, region = excluded.region,
             name = excluded.name, enabled = excluded.enabled",
    )
    .bind(agency.agency.id.as_str())
    .bind(agency.agency.kind.as_str())
    .bind(agency.agency.region.to_string())
    .bind(&agency.name)
    .bind(i64::from(agency.enabled))
    .bind(now_millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(())
}

/// The answer of a job that was not the kind it was sent as: a bug.
pub(super) fn mismatched() -> StorageError {
    corrupt(&"the database writer answered another kind of job")
}
