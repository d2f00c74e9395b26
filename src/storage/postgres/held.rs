//! Connections kept outside sqlx's pool, for the statements on every
//! call's path: the registry version, a submission's lookup and its case
//! write, a status query's case read. Each runs one statement at a time,
//! outside any transaction (`write_batch()` is one statement), which is
//! what lets one be given back without the pool's ping.
//!
//! sqlx pings each connection as its pool takes it back, to find one that
//! a cancelled statement left halfway through the protocol: a second round
//! trip after every statement, both ends of it through TLS. At
//! concurrency 1 the pings were 12% of the gateway's CPU (BENCHMARKS.md).
//! A held connection goes back without one, once its statement finished
//! or the server refused it (the protocol is then intact), unless the
//! refusal ended the session too (severity FATAL or PANIC). One whose
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

use super::{ACQUIRE_TIMEOUT, ANSWER_TIMEOUT, PING_IDLE, unavailable};
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
    /// How long a caller that must not wait for ever waits for a
    /// statement's answer ([`super::ANSWER_TIMEOUT`], shorter in tests).
    pub(super) answer_timeout: Duration,
}

#[derive(Debug, Default)]
struct Idle {
    connections: Vec<Kept>,
    closed: bool,
}

#[derive(Debug)]
struct Kept {
    connection: PgConnection,
    opened: Instant,
    since: Instant,
}

/// A connection taken for one statement, never for a transaction. Give it
/// back with [`Taken::give_back`] once the statement finished, or drop the
/// connection with [`Taken::discard`] after a failure of the connection;
/// dropped instead (its statement cancelled), it is rescued in the
/// background.
pub(super) struct Taken {
    /// Until given back, discarded or rescued.
    connection: Option<PgConnection>,
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

    /// Keeps the connection for the next statement (after [`Held::close`],
    /// drops it).
    pub(super) fn give_back(mut self) {
        if let Some(connection) = self.connection.take() {
            self.held.keep(connection, self.opened);
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
        let (held, opened, slot) = (Arc::clone(&self.held), self.opened, self.slot.take());
        runtime.spawn(async move {
            // sqlx reads what the cancelled statement still sends, up to
            // the server's ready message, before the ping's own answer.
            let pinged = tokio::time::timeout(held.rescue_timeout, connection.ping()).await;
            if matches!(pinged, Ok(Ok(()))) && !connection.is_in_transaction() {
                held.keep(connection, opened);
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
            answer_timeout: ANSWER_TIMEOUT,
        }
    }

    /// The same set, its callers waiting `answer_timeout` for an answer.
    pub(super) fn answering_within(self, answer_timeout: Duration) -> Self {
        Self {
            answer_timeout,
            ..self
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
                return Ok(self.taken(kept.connection, kept.opened, slot));
            }
        }
        let connection = PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(self.taken(connection, Instant::now(), slot))
    }

    fn taken(
        self: &Arc<Self>,
        connection: PgConnection,
        opened: Instant,
        slot: OwnedSemaphorePermit,
    ) -> Taken {
        Taken {
            connection: Some(connection),
            opened,
            held: Arc::clone(self),
            slot: Some(slot),
        }
    }

    /// An idle connection, untested, if one is free now.
    pub(super) fn try_take(self: &Arc<Self>) -> Option<Taken> {
        let slot = Arc::clone(&self.slots).try_acquire_owned().ok()?;
        let kept = self.pop()?;
        Some(self.taken(kept.connection, kept.opened, slot))
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

    fn keep(&self, connection: PgConnection, opened: Instant) {
        let mut idle = self.lock();
        if !idle.closed {
            idle.connections.push(Kept {
                connection,
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
fn ended_only_the_statement(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error
        .try_downcast_ref::<PgDatabaseError>()
        .is_some_and(|error| !matches!(error.severity(), PgSeverity::Fatal | PgSeverity::Panic))
}

fn closed() -> crate::storage::StorageError {
    unavailable(&"the database connections are closed")
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn options() -> PgConnectOptions {
        let url = std::env::var("HANDOVER_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        PgConnectOptions::from_str(&url).unwrap()
    }

    async fn backend(taken: &mut Taken) -> sqlx::Result<i32> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(taken.connection())
            .await
    }

    /// Has `taken`'s backend sleep `seconds`, and stops waiting for it
    /// after `after`, as a caller's deadline does: the statement goes on
    /// running on the server.
    async fn cancel_a_sleep(taken: &mut Taken, seconds: f64, after: Duration) {
        let sleep = sqlx::query("SELECT pg_sleep($1)")
            .bind(seconds)
            .execute(taken.connection());
        assert!(
            tokio::time::timeout(after, sleep).await.is_err(),
            "cancelled while the server runs it"
        );
    }

    #[tokio::test]
    async fn a_connection_given_back_is_used_again_and_one_discarded_is_not() {
        let held = Arc::new(Held::new(options(), 1));
        let mut first = held.take().await.unwrap();
        let pid = backend(&mut first).await.unwrap();
        assert!(held.try_take().is_none(), "its one connection is taken");
        first.give_back();

        let mut again = held.take().await.unwrap();
        assert_eq!(backend(&mut again).await.unwrap(), pid);
        // As a statement that failed on the connection leaves it.
        again.discard();
        let mut fresh = held.take().await.unwrap();
        assert_ne!(backend(&mut fresh).await.unwrap(), pid);
        fresh.give_back();
        assert!(held.try_take().is_some(), "an idle one is there");

        held.close().await;
        assert!(held.take().await.is_err());
        assert!(held.try_take().is_none());
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_fails_one_statement_and_is_replaced() {
        let held = Arc::new(Held::new(options(), 2));
        let mut taken = held.take().await.unwrap();
        let pid = backend(&mut taken).await.unwrap();
        taken.give_back();
        let mut admin = PgConnection::connect_with(&options()).await.unwrap();
        // Waits until the backend has ended (PostgreSQL 14 or later).
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 10000)")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert!(ended);

        // Not tested before use: it was idle for less than PING_IDLE.
        let mut broken = held.take().await.unwrap();
        let failed = backend(&mut broken).await.map(drop);
        assert!(broken.settle(failed).is_err());
        let mut replaced = held.take().await.unwrap();
        assert_ne!(backend(&mut replaced).await.unwrap(), pid);
    }

    #[tokio::test]
    async fn a_connection_whose_statement_was_cancelled_is_kept_once_it_ended() {
        let held = Arc::new(Held::new(options(), 1));
        let mut taken = held.take().await.unwrap();
        let pid = backend(&mut taken).await.unwrap();
        cancel_a_sleep(&mut taken, 0.3, Duration::from_millis(50)).await;
        drop(taken);

        // The one slot is the rescue's until the statement has ended.
        let mut again = held.take().await.unwrap();
        assert_eq!(backend(&mut again).await.unwrap(), pid);
        assert_eq!(
            sqlx::query_scalar::<_, i32>("SELECT 7")
                .fetch_one(again.connection())
                .await
                .unwrap(),
            7,
            "the protocol is where it should be"
        );
    }

    #[tokio::test]
    async fn a_cancelled_statement_that_runs_on_loses_its_connection_and_frees_its_slot() {
        let held = Arc::new(Held {
            rescue_timeout: Duration::from_millis(200),
            ..Held::new(options(), 1)
        });
        let mut taken = held.take().await.unwrap();
        let pid = backend(&mut taken).await.unwrap();
        // Long enough to outlast the rescue's timeout and this test's
        // wait, short enough that a failed run leaves no backend for long.
        cancel_a_sleep(&mut taken, 5.0, Duration::from_millis(500)).await;
        drop(taken);

        // Had the rescue waited for the statement to end, this would time
        // out, or get the same backend back.
        let mut next = tokio::time::timeout(Duration::from_secs(2), held.take())
            .await
            .expect("the rescue gives up its slot after its timeout")
            .unwrap();
        assert_ne!(backend(&mut next).await.unwrap(), pid);
        next.give_back();
        assert_eq!(held.lock().connections.len(), 1, "only the new one is kept");

        let mut admin = PgConnection::connect_with(&options()).await.unwrap();
        sqlx::query("SELECT pg_cancel_backend($1)")
            .bind(pid)
            .execute(&mut admin)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_connection_rescued_after_close_is_not_kept() {
        let held = Arc::new(Held::new(options(), 1));
        let mut taken = held.take().await.unwrap();
        cancel_a_sleep(&mut taken, 0.3, Duration::from_millis(50)).await;
        drop(taken);
        held.close().await;

        // The rescue gives its slot back once it has ended.
        while held.slots.available_permits() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(held.lock().connections.is_empty());
    }
}
