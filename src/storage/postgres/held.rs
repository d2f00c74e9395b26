//! Connections kept outside sqlx's pool, for the statements on every
//! call's path: the registry version, a submission's lookup and its case
//! write, a status query's case read, an audited call's append. Each runs
//! one statement at a time, outside any transaction (`write_batch()` and
//! `audit_append()` are one statement each), which is what lets one be
//! given back without the pool's ping. Each knows its server process
//! ([`Backend`]), which a writer that gave up on a statement watches
//! ([`super::writer`]).
//!
//! sqlx pings each connection as its pool takes it back, to find one that
//! a cancelled statement left halfway through the protocol: a second round
//! trip after every statement, both ends of it through TLS. At
//! concurrency 1 the pings were 12% of the gateway's CPU (BENCHMARKS.md).
//! A held connection goes back without one, once its statement finished
//! or the server refused it (the protocol is then intact), unless the
//! refusal ended the session too (severity FATAL or PANIC) or said the
//! session cannot write (SQLSTATE class 25). One whose
//! statement was cancelled (a caller's deadline, a client that hung up)
//! is pinged in the background instead, which waits for the statement to
//! end, and goes back if that succeeds: under overload, when deadlines
//! cancel the most, each cancellation would otherwise cost a new
//! connection. One that failed on the connection itself is dropped. As in
//! the pool, a connection that sat idle [`PING_IDLE`] is pinged before it
//! is used, taking one waits [`ACQUIRE_TIMEOUT`] at most, and a connection
//! is replaced after [`MAX_LIFETIME`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgSeverity};
use sqlx::{Connection, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connect::{ACQUIRE_TIMEOUT, PING_IDLE};
use super::unavailable;
use crate::storage::Result;

/// A connection is closed and replaced once this old (sqlx's pool
/// default), so that a long-running gateway does not keep one backend, and
/// the memory it grew, for ever.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How long a cancelled statement may take to end before its connection
/// is dropped rather than kept. It keeps its slot meanwhile, so a replica
/// never holds more connections than its sets allow; once dropped, the
/// server may run the statement on a while beside its replacement.
const RESCUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Up to a fixed number of connections, made as they are first needed.
#[derive(Debug)]
pub(super) struct Held {
    options: PgConnectOptions,
    idle: Mutex<Idle>,
    slots: Arc<Semaphore>,
    /// [`RESCUE_TIMEOUT`], shorter in tests.
    rescue_timeout: Duration,
}

#[derive(Debug, Default)]
struct Idle {
    connections: Vec<Kept>,
    closed: bool,
}

#[derive(Debug)]
struct Kept {
    connection: PgConnection,
    backend: Backend,
    opened: Instant,
    since: Instant,
}

/// The server process behind a connection, as `pg_stat_activity` names
/// it: its pid, and when it started (a pid is reused once its process
/// ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Backend {
    pub(super) pid: i32,
    /// Microseconds since the Unix epoch.
    pub(super) started: i64,
}

impl Backend {
    async fn of(connection: &mut PgConnection) -> sqlx::Result<Self> {
        let (pid, started) = sqlx::query_as(
            "SELECT pid, (extract(epoch FROM backend_start) * 1000000)::int8
             FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        )
        .fetch_one(connection)
        .await?;
        Ok(Self { pid, started })
    }

    /// Whether this backend is running a statement, asked on `connection`.
    /// Idle, it never received the statement it was sent (the network
    /// went silent first) or has finished it: it waits for nothing and
    /// holds no lock. (With `track_activities` off its state reads
    /// `disabled`, and it counts as not running.)
    pub(super) async fn is_running(self, connection: &mut PgConnection) -> sqlx::Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1
                 AND (extract(epoch FROM backend_start) * 1000000)::int8 = $2
                 AND state = 'active')",
        )
        .bind(self.pid)
        .bind(self.started)
        .fetch_one(connection)
        .await
    }
}

/// A connection taken for one statement, never for a transaction. Give it
/// back with [`Taken::give_back`] once the statement finished, or drop the
/// connection with [`Taken::discard`] after a failure of the connection;
/// dropped instead (its statement cancelled), it is rescued in the
/// background.
pub(super) struct Taken {
    /// Until given back, discarded or rescued.
    connection: Option<PgConnection>,
    backend: Backend,
    opened: Instant,
    held: Arc<Held>,
    slot: Option<OwnedSemaphorePermit>,
}

impl Taken {
    pub(super) fn connection(&mut self) -> &mut PgConnection {
        self.connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("a taken connection is there until it is let go"))
    }

    /// The server process the connection talks to.
    pub(super) fn backend(&self) -> Backend {
        self.backend
    }

    /// Keeps the connection for the next statement (after [`Held::close`],
    /// drops it).
    pub(super) fn give_back(mut self) {
        if let Some(connection) = self.connection.take() {
            self.held.keep(connection, self.backend, self.opened);
        }
    }

    /// Drops the connection: it failed, and may be unusable.
    pub(super) fn discard(mut self) {
        drop(self.connection.take());
    }

    /// Gives the connection back after its statement ended with `result`,
    /// unless the error may have left it unusable (an error the server
    /// answered with leaves the protocol where it was, unless it ended the
    /// session too), and maps the error to `Unavailable`.
    pub(super) fn settle<T>(self, result: sqlx::Result<T>) -> Result<T> {
        if result.as_ref().err().is_none_or(ended_only_the_statement) {
            self.give_back();
        } else {
            self.discard();
        }
        result.map_err(|e| unavailable(&e))
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (held, backend, opened) = (Arc::clone(&self.held), self.backend, self.opened);
        let slot = self.slot.take();
        runtime.spawn(async move {
            // sqlx reads what the cancelled statement still sends, up to
            // the server's ready message, before the ping's own answer.
            let pinged = tokio::time::timeout(held.rescue_timeout, connection.ping()).await;
            if matches!(pinged, Ok(Ok(()))) && !connection.is_in_transaction() {
                held.keep(connection, backend, opened);
            }
            drop(slot);
        });
    }
}

impl Held {
    pub(super) fn new(options: PgConnectOptions, size: usize) -> Self {
        Self {
            options,
            idle: Mutex::new(Idle::default()),
            slots: Arc::new(Semaphore::new(size)),
            rescue_timeout: RESCUE_TIMEOUT,
        }
    }

    /// An idle connection, tested if it sat idle a while, or a new one;
    /// waits while all are taken.
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had within
    /// [`ACQUIRE_TIMEOUT`], or after [`Held::close`].
    pub(super) async fn take(self: &Arc<Self>) -> Result<Taken> {
        tokio::time::timeout(ACQUIRE_TIMEOUT, self.take_now())
            .await
            .map_err(|_| unavailable(&"no database connection came free in time"))?
    }

    async fn take_now(self: &Arc<Self>) -> Result<Taken> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        while let Some(mut kept) = self.pop() {
            if kept.opened.elapsed() >= MAX_LIFETIME {
                let _ = kept.connection.close().await;
                continue;
            }
            if kept.since.elapsed() < PING_IDLE || kept.connection.ping().await.is_ok() {
                return Ok(self.taken(kept, slot));
            }
        }
        let mut connection = PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| unavailable(&e))?;
        let backend = Backend::of(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        let now = Instant::now();
        let kept = Kept {
            connection,
            backend,
            opened: now,
            since: now,
        };
        Ok(self.taken(kept, slot))
    }

    fn taken(self: &Arc<Self>, kept: Kept, slot: OwnedSemaphorePermit) -> Taken {
        Taken {
            connection: Some(kept.connection),
            backend: kept.backend,
            opened: kept.opened,
            held: Arc::clone(self),
            slot: Some(slot),
        }
    }

    /// An idle connection, untested, if one is free now.
    pub(super) fn try_take(self: &Arc<Self>) -> Option<Taken> {
        let slot = Arc::clone(&self.slots).try_acquire_owned().ok()?;
        let kept = self.pop()?;
        Some(self.taken(kept, slot))
    }

    /// Runs `SELECT 1` on an idle connection, if one is free now.
    ///
    /// # Errors
    /// `Unavailable` when it fails; the connection is then dropped.
    pub(super) async fn check_idle(self: &Arc<Self>) -> Result<()> {
        let Some(mut taken) = self.try_take() else {
            return Ok(());
        };
        let checked = sqlx::query("SELECT 1").execute(taken.connection()).await;
        taken.settle(checked).map(drop)
    }

    fn keep(&self, connection: PgConnection, backend: Backend, opened: Instant) {
        let mut idle = self.lock();
        if !idle.closed {
            idle.connections.push(Kept {
                connection,
                backend,
                opened,
                since: Instant::now(),
            });
        }
    }

    /// Closes the idle connections; a taken one is dropped when it is
    /// given back or let go, and nothing more is taken.
    pub(super) async fn close(&self) {
        self.slots.close();
        let idle = {
            let mut idle = self.lock();
            idle.closed = true;
            std::mem::take(&mut idle.connections)
        };
        for kept in idle {
            let _ = kept.connection.close().await;
        }
    }

    fn pop(&self) -> Option<Kept> {
        self.lock().connections.pop()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Whether `error` is the server's refusal of one statement, after which
/// the session goes on: not a failure of the connection, and not an error
/// of severity FATAL or PANIC, which the server sends as it ends the
/// session (an administrator's `pg_terminate_backend`, a shutdown).
///
/// Nor an error of SQLSTATE class 25 (invalid transaction state): above
/// all `25006`, a write on a server that is read-only. A connection that
/// came up on a standby, or on a primary demoted behind the address it
/// was reached by, would refuse every write for the rest of its life; a
/// new one goes to wherever the address points now.
fn ended_only_the_statement(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error
        .try_downcast_ref::<PgDatabaseError>()
        .is_some_and(|error| {
            !matches!(error.severity(), PgSeverity::Fatal | PgSeverity::Panic)
                && !error.code().starts_with("25")
        })
}

fn closed() -> crate::storage::StorageError {
    unavailable(&"the database connections are closed")
}

#[cfg(test)]
#[path = "held_tests.rs"]
mod tests;
