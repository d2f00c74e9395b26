//! A replica's writers: the one for case writes, which [`super::group`]
//! hands batches, and the one for audit appends, which the gateway's
//! audit queue hands its batches. Each has its connection, how long it
//! waits for the database's answer ([`super::ANSWER_TIMEOUT`]), and the
//! server process of the write it stopped waiting for.
//!
//! A write that times out on a server that is alive but stalled (a lock
//! held by a transaction that does not end, a synchronous standby that
//! does not confirm) leaves its statement waiting on the server:
//! PostgreSQL does not notice that the client went away while a statement
//! waits. Were the writer to write on a new connection after each timeout,
//! every timeout would leave one more backend waiting, until the stall
//! ended or the server's `max_connections` ran out, for every client of
//! the database. So while the backend of the write it gave up on is
//! still running a statement, the writer sends nothing and says why; once
//! that backend has ended or gone idle, it writes again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use super::held::{Backend, Held, Taken};
use super::unavailable;
use super::write::Failure;
use crate::storage::StorageError;

#[derive(Debug)]
pub(super) struct Writer {
    held: Arc<Held>,
    pub(super) answer_timeout: Duration,
    /// The backend of the last write the writer stopped waiting for,
    /// until it is seen to have ended or gone idle.
    abandoned: Mutex<Option<Backend>>,
}

impl Writer {
    /// A writer on one connection of its own, connected on its first
    /// write. One, because it writes one statement at a time anyway (a
    /// case batch, or an audit append that waits for the log's lock), and
    /// so that there is one backend at most to watch after a timeout.
    /// Case writes once shared the pool, and `write_batch()`, which is
    /// planned once per connection (some 20 ms the first time), made the
    /// first write on each connection wait that long.
    pub(super) fn new(options: PgConnectOptions, answer_timeout: Duration) -> Self {
        Self {
            held: Arc::new(Held::new(options, 1)),
            answer_timeout,
            abandoned: Mutex::default(),
        }
    }

    /// A connection to write on, once the backend of the write the writer
    /// last gave up on is no longer running a statement.
    ///
    /// # Errors
    /// [`Failure::Stalled`] while that backend still runs one, or when
    /// the database does not say in time whether it does;
    /// [`Failure::Failed`] when no connection can be had.
    pub(super) async fn take(&self) -> Result<Taken, Failure> {
        let mut taken = self.held.take().await.map_err(Failure::Failed)?;
        let Some(abandoned) = *self.lock() else {
            return Ok(taken);
        };
        // Its statement ended within the rescue's wait (see `Taken`'s
        // drop), and the connection was kept.
        if taken.backend() == abandoned {
            *self.lock() = None;
            return Ok(taken);
        }
        let running = abandoned.is_running(taken.connection());
        match tokio::time::timeout(self.answer_timeout, running).await {
            Ok(Ok(false)) => {
                *self.lock() = None;
                Ok(taken)
            }
            Ok(Ok(true)) => {
                taken.give_back();
                Err(Failure::Stalled(still_running()))
            }
            Ok(Err(error)) => {
                taken.discard();
                Err(Failure::Failed(unavailable(&error)))
            }
            Err(_) => Err(Failure::Stalled(unchecked())),
        }
    }

    /// Lets `taken` go with its statement unanswered, remembering its
    /// backend: dropped, the connection is rescued or closed in the
    /// background, and the server may run the statement on.
    pub(super) fn abandon(&self, taken: Taken) {
        let backend = taken.backend();
        tracing::warn!(
            pid = backend.pid,
            timeout = ?self.answer_timeout,
            "the database did not answer a write in time; no more writes until its backend is done"
        );
        *self.lock() = Some(backend);
        drop(taken);
    }

    /// See [`Held::check_idle`].
    pub(super) async fn check_idle(&self) -> crate::storage::Result<()> {
        self.held.check_idle().await
    }

    pub(super) async fn close(&self) {
        self.held.close().await;
    }

    #[cfg(test)]
    pub(super) fn held(&self) -> &Arc<Held> {
        &self.held
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Backend>> {
        self.abandoned
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn still_running() -> StorageError {
    StorageError::Unavailable(
        "not written: the database still runs an earlier write it did not answer in time".into(),
    )
}

fn unchecked() -> StorageError {
    StorageError::Unavailable(
        "not written: the database did not say in time whether an earlier write still runs".into(),
    )
}

/// The answer to a write queued behind one the database did not answer,
/// or behind a refusal for one it still runs: not tried, since it would
/// have met the same.
pub(super) fn untried() -> StorageError {
    StorageError::Unavailable(
        "not written: the database did not answer an earlier write in time, or still runs it"
            .into(),
    )
}
