//! The reads on every call's path, on threads of their own with `rusqlite`
//! connections, the way the writer runs ([`super::writer`]).
//!
//! sqlx runs each SQLite statement as a round trip to its connection's
//! worker thread and decodes rows on the way back: about a fifth of the
//! gateway's CPU went there when a submission made four such reads. Here a
//! read is one hand-off: the whole job (its statements, prepared once per
//! connection, and the opening of sealed bodies) runs on a reader thread,
//! and only its result comes back. Lists, scans and the audit log, which
//! are not on that path, stay with sqlx.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::unavailable;
use crate::storage::{Result, StorageError};

type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The way to the reader threads; cheap to clone. The threads end when
/// the last handle is dropped, or at [`Readers::close`].
#[derive(Clone, Debug)]
pub(super) struct Readers {
    jobs: Arc<Mutex<Option<Sender<Job>>>>,
}

impl Readers {
    /// Opens `threads` read-only connections to `path` (which exists and
    /// is migrated), each on a thread of its own.
    ///
    /// # Errors
    /// `Unavailable` when a connection cannot be opened or a thread started.
    pub(super) fn start(path: &Path, threads: usize) -> Result<Self> {
        let (jobs, queue) = channel::<Job>();
        // The threads take jobs from one queue, so a slow read holds up
        // only its own thread.
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let db = connect(path).map_err(|e| unavailable(&e))?;
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || run(&db, &queue))
                .map_err(|e| unavailable(&e))?;
        }
        Ok(Self {
            jobs: Arc::new(Mutex::new(Some(jobs))),
        })
    }

    /// Runs `read` on a reader thread and waits for its result.
    ///
    /// # Errors
    /// `read`'s own error, or `Unavailable` once the readers are closed.
    pub(super) async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |db| drop(reply.send(read(db))));
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            return Err(closed());
        }
        // A job that panicked dropped its reply.
        answer.await.map_err(|_| closed())?
    }

    /// Refuses further reads; the threads end after the reads queued.
    pub(super) fn close(&self) {
        self.jobs
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
    }
}

fn closed() -> StorageError {
    StorageError::Unavailable("the database readers have stopped".into())
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(Duration::from_secs(5))?;
    db.set_prepared_statement_cache_capacity(32);
    Ok(db)
}

fn run(db: &Connection, queue: &Mutex<Receiver<Job>>) {
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .recv();
        let Ok(job) = next else { return };
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(db))).is_err() {
            tracing::error!("a read panicked");
        }
    }
}
