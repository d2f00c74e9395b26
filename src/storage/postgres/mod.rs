//! PostgreSQL: the backend for production scale. One pool for backlogs,
//! lists (whose page's statement reads the registry version too) and
//! acknowledgements; connections held outside it ([`held`]) for the
//! registry version that calls read on their own, each submission's
//! lookup, status queries (which read the version with the case), and
//! the two writers ([`writer`]): batches of case writes and audit
//! appends. Every write is one transaction at READ COMMITTED with
//! synchronous commit (the server's default), and the rows it must order
//! (a case's version, a recipient's inbox head, the audit log) are
//! serialized by row locks and, for the log, an advisory lock, so several
//! gateway processes may share one database without forking a chain or
//! leaving a gap.

mod agencies;
mod audit;
mod cases;
mod connect;
mod crl_floor;
mod group;
mod held;
mod inbox;
mod lists;
mod notify;
mod quota;
mod storage;
mod write;
mod write_sql;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Semaphore;

use self::connect::{HOT_CONNECTIONS, POOL_SIZE, REPLAY_CONNECTIONS, STATUS_CONNECTIONS};
use self::held::Held;
use self::writer::Writer;
use super::seal::Sealer;
use super::{Result, StorageError};

/// How long [`PostgresStorage::close`] waits for its connections to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a case write or an audit append waits for the database's
/// answer. Each replica has two writers ([`writer`]), and a
/// connection to a server that went away without a word (its host
/// crashed, its address moved in a failover) answers nothing until TCP
/// gives up, some 15 minutes on Linux: every write and audited call of
/// the replica would queue behind it, refused as backpressure, while
/// health said serving. After this long the write is answered
/// `Unavailable` with its fate unknown (a retry under its request id is
/// safe either way) and the writer goes on once the server process of
/// that write is no longer running it ([`writer`]). A write's statement takes
/// milliseconds; this leaves room for a lock wait behind another
/// replica's batch and for a synchronous standby.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct PostgresStorage {
    pool: PgPool,
    /// Where calls read the registry version on its own, and every
    /// submission looks up its answer or case.
    hot: Arc<Held>,
    /// Where cases are read by id or person (with the registry version,
    /// for a status query).
    status: Arc<Held>,
    /// Where [`group`] writes cases; connected on the first write.
    writer: Arc<Writer>,
    /// Where the audit log is appended to; connected on the first append.
    auditor: Arc<Writer>,
    /// Turns for backlog reads ([`REPLAY_CONNECTIONS`]).
    replay: Arc<Semaphore>,
    /// Seals what names a person; without it, case data cannot be read or
    /// written (the registry and the audit log can).
    sealer: Option<Arc<Sealer>>,
    /// Case writes, committed in batches (see [`group`]).
    group: Arc<group::Group>,
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://...`) and brings its
    /// schema up to date. sqlx holds an advisory lock while it migrates, so
    /// replicas starting together do not migrate twice.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the database cannot be reached or
    /// migrated.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_answering_within(url, ANSWER_TIMEOUT).await
    }

    /// [`PostgresStorage::open`], with case writes and audit appends
    /// waiting `answer_timeout` for the database's answer instead of
    /// [`ANSWER_TIMEOUT`].
    ///
    /// # Errors
    /// As [`PostgresStorage::open`].
    pub async fn open_answering_within(url: &str, answer_timeout: Duration) -> Result<Self> {
        let storage = Self::connect_answering_within(url, answer_timeout).await?;
        MIGRATOR
            .run(&storage.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(storage)
    }

    /// Connects without touching the schema, for reading what is stored.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_answering_within(url, ANSWER_TIMEOUT).await
    }

    /// [`PostgresStorage::connect`], with writes and audit appends waiting
    /// `answer_timeout` for the database's answer.
    async fn connect_answering_within(url: &str, answer_timeout: Duration) -> Result<Self> {
        let options = connect::options(url)?;
        let pool = connect::pool_options(POOL_SIZE)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Self {
            pool,
            hot: Arc::new(Held::new(options.clone(), HOT_CONNECTIONS)),
            status: Arc::new(Held::new(options.clone(), STATUS_CONNECTIONS)),
            writer: Arc::new(Writer::new(options.clone(), answer_timeout)),
            auditor: Arc::new(Writer::new(options, answer_timeout)),
            replay: Arc::new(Semaphore::new(REPLAY_CONNECTIONS)),
            sealer: None,
            group: Arc::default(),
        })
    }

    /// The same storage, sealing personal data with `sealer`. PostgreSQL
    /// databases were sealed from the start: there are no plain bodies to
    /// convert.
    pub fn sealed(mut self, sealer: Sealer) -> Self {
        self.sealer = Some(Arc::new(sealer));
        self
    }

    fn sealer(&self) -> Result<&Sealer> {
        self.sealer.as_deref().ok_or_else(|| {
            corrupt(&"case data needs the master key; the storage was opened without it")
        })
    }

    /// Closes every connection, telling the server, and takes no more.
    /// Waits [`CLOSE_TIMEOUT`] at most: the pool's close of a connection
    /// to a server gone silent was seen to wait without end, and with it
    /// a gateway's shutdown. Connections not closed by then go with the
    /// last handle on the storage.
    pub async fn close(&self) {
        self.replay.close();
        let closing = async {
            tokio::join!(
                self.pool.close(),
                self.writer.close(),
                self.auditor.close(),
                self.status.close(),
                self.hot.close(),
            )
        };
        if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
            tracing::warn!("the database did not take every connection's close in time");
        }
    }
}

pub(super) fn unavailable(error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Unavailable(error.to_string())
}

pub(super) fn corrupt(error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Corrupt(error.to_string())
}

pub(super) use crate::storage::millis;

pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod settings_tests;

#[cfg(test)]
#[path = "replay_tests.rs"]
mod replay_tests;
#[cfg(test)]
#[path = "scratch_tests.rs"]
mod scratch_tests;
