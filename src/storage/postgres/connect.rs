//! How many connections a gateway process opens to PostgreSQL, what for,
//! and the settings each session starts with.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::storage::{Result, StorageError};

/// Connections per gateway process for backlogs, lists, acknowledgements
/// and `LISTEN`; with [`HOT_CONNECTIONS`], [`STATUS_CONNECTIONS`] and one
/// for each of the two writers ([`super::writer`]), what the database's
/// `max_connections` must allow for every replica.
pub(super) const POOL_SIZE: u32 = 8;

/// Connections for the registry version, which calls read on their own
/// (a submission, a status query or a list only when refused before its
/// read, or when the held registry does not admit its caller), and each
/// submission's lookup, which reads it too (a discharge's, the person's
/// other open cases as well); held outside the pool.
pub(super) const HOT_CONNECTIONS: usize = 5;

/// Connections for reading cases by id or person (status queries, the
/// escalation scan), held outside the pool ([`super::held`]) and apart
/// from the hot ones, so that a burst of queries cannot keep calls from
/// reading the registry.
pub(super) const STATUS_CONNECTIONS: usize = 3;

/// Backlog pages read at once, each on one of the pool's connections:
/// when every agency's stream replays at once (all reconnecting after an
/// outage), the rest of the pool stays free for acknowledgements and
/// lists, which would otherwise queue behind every page.
pub(super) const REPLAY_CONNECTIONS: usize = 4;

/// A connection idle this long is pinged before it is used.
pub(super) const PING_IDLE: Duration = Duration::from_secs(5);

/// Taking a connection waits this long at most, then the call is answered
/// `Unavailable`.
pub(super) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The options of every connection to the database at `url`.
///
/// # Errors
/// `Unavailable` when `url` is not a `postgres://` URL.
pub(super) fn options(url: &str) -> Result<PgConnectOptions> {
    // The URL may hold a password: errors name neither it nor the URL.
    let options = PgConnectOptions::from_str(url)
        .map_err(|_| StorageError::Unavailable("not a valid postgres:// URL".into()))?
        .application_name("handover-gateway")
        // The server's defaults, stated so that a server or role set
        // otherwise cannot change what the writes rely on: with
        // `synchronous_commit` off the gateway would acknowledge a
        // submission a crash could lose, and the audit log's tail and
        // the case versions are read at READ COMMITTED, where each
        // statement sees what committed before it began.
        .options([
            ("synchronous_commit", "on"),
            // The startup packet's options separate words by spaces.
            ("default_transaction_isolation", r"read\ committed"),
            // Every statement here is short. JIT compiling one costs
            // 100 ms or more, and the planner orders it whenever its
            // estimate is high, which stale statistics make it (a
            // status query on a freshly filled database was compiled
            // on every call).
            ("jit", "off"),
        ]);
    Ok(options)
}

/// A pool of `size` connections that pings only those idle a while.
pub(super) fn pool_options(size: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // sqlx pings every connection it hands out by default: one more
        // round trip before each query. Only a connection that sat idle a
        // while is tested; one that broke since its last use fails its
        // query, which the caller sees as `Unavailable` and may retry, and
        // sqlx drops it (it pings each connection it takes back).
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}
