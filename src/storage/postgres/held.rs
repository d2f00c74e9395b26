//! Connections kept outside sqlx's pool, for the statements on every
//! submission's path: the registry version, the lookup and the case write.
//!
//! sqlx pings each connection as its pool takes it back, to find one that
//! a cancelled statement left halfway through the protocol: a second round
//! trip after every statement, both ends of it through TLS. At
//! concurrency 1 the pings were 12% of the gateway's CPU (BENCHMARKS.md).
//! A held connection goes back without one, once its statement finished
//! or the server refused it (the protocol is then intact); one whose
//! statement was cancelled, or failed on the connection itself, is dropped
//! instead, which is what the ping was for. As in the pool, a connection
//! that sat idle [`PING_IDLE`] is pinged before it is used, taking one
//! waits [`ACQUIRE_TIMEOUT`] at most, and a connection is replaced after
//! [`MAX_LIFETIME`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{ACQUIRE_TIMEOUT, PING_IDLE, unavailable};
use crate::storage::Result;

/// A connection is closed and replaced once this old (sqlx's pool
/// default), so that a long-running gateway does not keep one backend, and
/// the memory it grew, for ever.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Up to a fixed number of connections, made as they are first needed.
#[derive(Debug)]
pub(super) struct Held {
    options: PgConnectOptions,
    idle: Mutex<Idle>,
    slots: Semaphore,
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

/// A connection taken for one statement. Give it back with
/// [`Held::give_back`] once the statement finished; dropped instead, it is
/// closed.
pub(super) struct Taken<'a> {
    pub(super) connection: PgConnection,
    opened: Instant,
    _slot: SemaphorePermit<'a>,
}

impl Held {
    pub(super) fn new(options: PgConnectOptions, size: usize) -> Self {
        Self {
            options,
            idle: Mutex::new(Idle::default()),
            slots: Semaphore::new(size),
        }
    }

    /// An idle connection, tested if it sat idle a while, or a new one;
    /// waits while all are taken.
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had within
    /// [`ACQUIRE_TIMEOUT`], or after [`Held::close`].
    pub(super) async fn take(&self) -> Result<Taken<'_>> {
        tokio::time::timeout(ACQUIRE_TIMEOUT, self.take_now())
            .await
            .map_err(|_| unavailable(&"no database connection came free in time"))?
    }

    async fn take_now(&self) -> Result<Taken<'_>> {
        let slot = self.slots.acquire().await.map_err(|_| closed())?;
        while let Some(mut kept) = self.pop() {
            if kept.opened.elapsed() >= MAX_LIFETIME {
                let _ = kept.connection.close().await;
                continue;
            }
            if kept.since.elapsed() < PING_IDLE || kept.connection.ping().await.is_ok() {
                return Ok(Taken {
                    connection: kept.connection,
                    opened: kept.opened,
                    _slot: slot,
                });
            }
        }
        let connection = PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Taken {
            connection,
            opened: Instant::now(),
            _slot: slot,
        })
    }

    /// An idle connection, untested, if one is free now.
    pub(super) fn try_take(&self) -> Option<Taken<'_>> {
        let slot = self.slots.try_acquire().ok()?;
        let kept = self.pop()?;
        Some(Taken {
            connection: kept.connection,
            opened: kept.opened,
            _slot: slot,
        })
    }

    /// Runs `SELECT 1` on an idle connection, if one is free now.
    ///
    /// # Errors
    /// `Unavailable` when it fails; the connection is then dropped.
    pub(super) async fn check_idle(&self) -> Result<()> {
        let Some(mut taken) = self.try_take() else {
            return Ok(());
        };
        let checked = sqlx::query("SELECT 1").execute(&mut taken.connection).await;
        self.settle(taken, checked).map(drop)
    }

    /// Keeps `taken`'s connection for the next statement (after
    /// [`Held::close`], closes it).
    pub(super) fn give_back(&self, taken: Taken<'_>) {
        let Taken {
            connection,
            opened,
            _slot,
        } = taken;
        let mut idle = self.lock();
        if !idle.closed {
            idle.connections.push(Kept {
                connection,
                opened,
                since: Instant::now(),
            });
        }
    }

    /// Gives `taken` back after its statement ended with `result`, unless
    /// the error may have left the connection unusable (an error the
    /// server answered with leaves the protocol where it was), and maps
    /// the error to `Unavailable`.
    pub(super) fn settle<T>(&self, taken: Taken<'_>, result: sqlx::Result<T>) -> Result<T> {
        if result.is_ok() || matches!(result, Err(sqlx::Error::Database(_))) {
            self.give_back(taken);
        }
        result.map_err(|e| unavailable(&e))
    }

    /// Closes the idle connections; a taken one is closed when it is
    /// given back or dropped, and nothing more is taken.
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

    async fn backend(taken: &mut Taken<'_>) -> sqlx::Result<i32> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut taken.connection)
            .await
    }

    #[tokio::test]
    async fn a_connection_given_back_is_used_again_and_one_dropped_is_not() {
        let held = Held::new(options(), 1);
        let mut first = held.take().await.unwrap();
        let pid = backend(&mut first).await.unwrap();
        assert!(held.try_take().is_none(), "its one connection is taken");
        held.give_back(first);

        let mut again = held.take().await.unwrap();
        assert_eq!(backend(&mut again).await.unwrap(), pid);
        // As a statement that failed or was cancelled leaves it.
        drop(again);
        let mut fresh = held.take().await.unwrap();
        assert_ne!(backend(&mut fresh).await.unwrap(), pid);
        held.give_back(fresh);
        assert!(held.try_take().is_some(), "an idle one is there");

        held.close().await;
        assert!(held.take().await.is_err());
        assert!(held.try_take().is_none());
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_fails_one_statement_and_is_replaced() {
        let held = Held::new(options(), 2);
        let mut taken = held.take().await.unwrap();
        let pid = backend(&mut taken).await.unwrap();
        held.give_back(taken);
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
        assert!(backend(&mut broken).await.is_err());
        drop(broken);
        let mut replaced = held.take().await.unwrap();
        assert_ne!(backend(&mut replaced).await.unwrap(), pid);
    }
}
