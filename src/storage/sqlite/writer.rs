//! Group commit: one thread owns the writer connection and commits, in one
//! `BEGIN IMMEDIATE` transaction, every write that queued up while the
//! previous commit was being made durable.
//!
//! SQLite makes a commit durable with one fsync of the WAL whatever the
//! transaction holds, so a commit per submission caps throughput at the
//! disk's fsync rate. Sharing commits lifts that cap without a timer: a
//! lone writer still commits at once, and under load a batch is simply
//! what arrived during the last fsync.
//!
//! The writer is a plain OS thread with its own `rusqlite` connection, not
//! a task on sqlx's: sqlx runs each statement as a round trip to its
//! connection's worker thread, and a case write is about ten statements,
//! which capped one writer near a couple of thousand writes a second. Here
//! a batch runs straight through, each statement prepared once
//! ([`write_sql`](super::write_sql)). The reads on every call's path run
//! the same way on reader threads ([`reader`](super::reader)); schema
//! migrations, lists, scans and the audit log stay with sqlx.
//!
//! A case write checks everything that can refuse it (its request id or
//! decision number taken, a stale case version) before its first change,
//! so one that conflicts is answered with its conflict and leaves nothing
//! behind while the others commit, without a savepoint per write (which
//! copied every page a write touched; BENCHMARKS.md). A write that fails
//! after a change (a damaged case), or on an error after which SQLite may
//! have rolled back the transaction itself (I/O, a full disk), breaks the
//! transaction: it is answered with its error and the rest of its batch
//! runs again without it, a few rounds at most ([`batch`](super::batch)).
//! Jobs run in queue order in one transaction, so later jobs see earlier
//! ones: a case's version check, a recipient's next inbox position and the
//! audit chain's last hash all stay correct, and inbox order is commit
//! order. Nobody is answered OK before `COMMIT` returns: a failed commit
//! answers every job of the batch `Unavailable`.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, watch};

use super::batch::commit;
use super::checkpoint::{
    CHECKPOINT_PAGES, Copier, IDLE_CHECKPOINT_EVERY, checkpoint, checkpoint_pages,
};
use super::write_sql::SealedWrite;
use super::{corrupt, unavailable};
use crate::domain::agency::{Agency, AgencyId};
use crate::domain::audit::{AuditRecord, Chain};
use crate::domain::case::CaseId;
use crate::domain::submission::SubmissionOutcome;
use crate::storage::{CrlFloor, InboxState, Result, StorageError};

/// Jobs in one transaction at most: bounds how long a batch holds the
/// write lock and how much one failed commit takes down.
const BATCH: usize = 256;

/// Jobs waiting for the writer at most; senders wait beyond that, which
/// pushes back on callers instead of growing memory.
const QUEUE: usize = 4 * BATCH;

/// The size the WAL file is cut back to when it starts over.
const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). Each case
/// write lands on pages of a dozen B-trees, several at random keys; with
/// the default cache most of those pages were read back from the OS on
/// every write, a sixth of the writer's time. The cache fills only as the
/// database is written.
const CACHE_KIB: i64 = 32 * 1024;

/// A write the thread applies.
pub(super) enum Work {
    Case(Box<SealedWrite>),
    Audit(Vec<AuditRecord>),
    Acknowledge { agency: AgencyId, position: u64 },
    RegisterAgency(Agency),
    RaiseCrlFloor { issuer: String, list: CrlFloor },
    DeadlineBackfilled(CaseId),
}

/// What a job did, once its batch committed.
#[derive(Debug)]
pub(super) enum Done {
    Case(SubmissionOutcome),
    Audit(Chain),
    Acknowledged(Option<InboxState>),
    Registered,
    CrlFloor(CrlFloor),
    Backfilled,
}

pub(super) struct Job {
    pub(super) work: Work,
    pub(super) reply: oneshot::Sender<Result<Done>>,
}

/// What the queue carries: a job, or the request to stop after the jobs
/// queued before it.
enum Message {
    Job(Job),
    Close,
}

/// How the writer opens the file.
#[derive(Clone, Copy, Debug)]
pub(super) enum Access {
    ReadWrite,
    /// Every write is refused by SQLite itself (`Unavailable`).
    ReadOnly,
}

/// The way to the writer thread; cheap to clone. The thread ends when the
/// last handle is dropped, or at [`Writer::close`].
#[derive(Clone, Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Message>,
    /// Never written to: it changes (to closed) when the thread ends.
    ended: watch::Receiver<()>,
}

impl Writer {
    /// Opens `path` (already created and migrated) on a thread of its own,
    /// which then applies the writes.
    ///
    /// # Errors
    /// `Unavailable` when the thread cannot start or the file cannot be
    /// opened.
    pub(super) async fn start(path: &Path, access: Access) -> Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let (opened, answer) = oneshot::channel();
        let (ending, ended) = watch::channel(());
        let path = path.to_owned();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _ending = ending;
                let copier = match access {
                    Access::ReadWrite => connect(&path, access)
                        .map_err(|e| unavailable(&e))
                        .and_then(|db| Copier::start(db).map_err(|e| unavailable(&e)))
                        .map(Some),
                    Access::ReadOnly => Ok(None),
                };
                match (connect(&path, access), copier) {
                    (Ok(db), Ok(copier)) => {
                        let _ = opened.send(Ok(()));
                        run(db, queue, copier);
                    }
                    (Err(error), _) => drop(opened.send(Err(unavailable(&error)))),
                    (_, Err(error)) => drop(opened.send(Err(error))),
                }
            })
            .map_err(|e| unavailable(&e))?;
        answer.await.map_err(|_| stopped())??;
        Ok(Self { jobs, ended })
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
            .send(Message::Job(Job { work, reply }))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Queues every job of `work` before waiting for any, so that they
    /// share commits, and answers each as [`Writer::submit`] would.
    pub(super) async fn submit_all(&self, work: impl Iterator<Item = Work>) -> Vec<Result<Done>> {
        let mut answers = Vec::new();
        for work in work {
            let (reply, answer) = oneshot::channel();
            let queued = self.jobs.send(Message::Job(Job { work, reply })).await;
            answers.push(queued.ok().map(|()| answer));
        }
        let mut done = Vec::with_capacity(answers.len());
        for answer in answers {
            done.push(match answer {
                Some(answer) => answer.await.unwrap_or_else(|_| Err(stopped())),
                None => Err(stopped()),
            });
        }
        done
    }

    /// Commits what was queued before this call, then stops the thread
    /// and waits for it; writes queued after are refused `Unavailable`.
    pub(super) async fn close(&self) {
        // Fails only when the thread has already stopped.
        let _ = self.jobs.send(Message::Close).await;
        let mut ended = self.ended.clone();
        while ended.changed().await.is_ok() {}
    }
}

fn stopped() -> StorageError {
    StorageError::Unavailable("the database writer has stopped".into())
}

/// The writer's connection, with the pragmas the sqlx connections have,
/// and its temporary files in memory.
fn connect(path: &Path, access: Access) -> rusqlite::Result<Connection> {
    let flags = match access {
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    };
    let db = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    db.busy_timeout(Duration::from_secs(5))?;
    // Room for every statement of the write path.
    db.set_prepared_statement_cache_capacity(64);
    if matches!(access, Access::ReadWrite) {
        db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        // SQLite checkpoints in the commit that takes the WAL past
        // CHECKPOINT_PAGES (more under load, see `checkpoint_pages`), and
        // starts it over after; `run` also checkpoints when no write
        // waits, and under load wakes the copier. The copier alone would
        // not do: against a busy writer its copy never reaches the WAL's
        // end, so the WAL would grow without end (1.7 GB in 25,000 writes
        // when tried) unless a blocking checkpoint stopped the writer now
        // and then. The writer's own checkpoint at the threshold is what
        // lets the WAL start over; one that grew in a burst is cut back
        // to WAL_LIMIT_BYTES then.
        db.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
        db.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)?;
        db.pragma_update(None, "cache_size", -CACHE_KIB)?;
    }
    db.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // A statement or savepoint journal keeps the pages it changes in a
    // temporary file by default: when each case write had a savepoint,
    // that file was a third of the writer's time. In memory it is only
    // ever needed to roll a statement back, never for durability.
    db.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(db)
}

/// Takes everything queued (up to [`BATCH`]) and commits it together,
/// until every [`Writer`] is gone or one asks to close; with a `copier`,
/// has it copy the WAL into the database after each commit, and copies
/// it itself when nothing waits.
///
/// A panic in a job costs only its batch (whose callers then hear
/// `Unavailable`: their replies are dropped, and so is the transaction,
/// which rolls back), not every write after it.
fn run(mut db: Connection, mut queue: mpsc::Receiver<Message>, copier: Option<Copier>) {
    let mut closing = false;
    let mut threshold = CHECKPOINT_PAGES;
    let mut checkpointed: Option<Instant> = None;
    let mut drained = false;
    while !closing {
        let mut batch = Vec::with_capacity(BATCH);
        match queue.blocking_recv() {
            None => return,
            Some(Message::Job(job)) => batch.push(job),
            Some(Message::Close) => closing = true,
        }
        while !closing && batch.len() < BATCH {
            match queue.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close) => closing = true,
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        // Lowered only once the WAL is copied: a small batch after big ones
        // would otherwise copy their whole WAL while its callers wait.
        let pages = checkpoint_pages(batch.len());
        if pages > threshold || (pages < threshold && drained) {
            match db.pragma_update(None, "wal_autocheckpoint", pages) {
                Ok(()) => threshold = pages,
                Err(error) => tracing::warn!(%error, "the checkpoint threshold stays"),
            }
        }
        if std::panic::catch_unwind(AssertUnwindSafe(|| commit(&mut db, batch))).is_err() {
            tracing::error!("a write batch panicked and was rolled back");
            if !db.is_autocommit() {
                let _ = db.execute_batch("ROLLBACK");
            }
        }
        drained = false;
        let Some(copier) = &copier else {
            continue;
        };
        if !queue.is_empty() {
            // Under load the copier copies beside the next batches; the
            // WAL's flush and the database's then overlap. Under a light
            // load they would compete for the disk in the next caller's
            // commit, so the writer copies between callers instead.
            copier.wake();
        } else if checkpointed.is_none_or(|at| at.elapsed() >= IDLE_CHECKPOINT_EVERY) {
            // Copied now, with nobody waiting, the WAL seldom reaches the
            // threshold at which a commit copies it while its callers wait.
            drained = checkpoint(&db);
            checkpointed = Some(Instant::now());
        }
    }
    queue.close();
    while let Some(message) = queue.blocking_recv() {
        if let Message::Job(job) = message {
            let _ = job.reply.send(Err(stopped()));
        }
    }
}

/// The answer of a job that was not the kind it was sent as: a bug.
pub(super) fn mismatched() -> StorageError {
    corrupt(&"the database writer answered another kind of job")
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
