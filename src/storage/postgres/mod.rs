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
mod write;
mod write_sql;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use tokio::sync::Semaphore;

use self::connect::{HOT_CONNECTIONS, POOL_SIZE, REPLAY_CONNECTIONS, STATUS_CONNECTIONS};
use self::held::Held;
use self::writer::Writer;
use super::seal::Sealer;
use super::{
    CaseFilter, CaseKey, CaseWrite, CrlFloor, Cutoffs, InboxChange, InboxState, Looked, PersonKey,
    Result, Seen, Storage, StorageError, StoredAnswer,
};
use crate::domain::agency::{Agency, AgencyId};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry};
use crate::domain::case::{Case, CaseId};
use crate::domain::notice::InboxMessage;
use crate::domain::region::RegionCode;
use crate::domain::submission::SubmissionOutcome;

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

#[async_trait]
impl Storage for PostgresStorage {
    async fn register_agency(&self, agency: &Agency) -> Result<()> {
        agencies::register(&self.pool, agency).await
    }

    async fn agency(&self, id: &AgencyId) -> Result<Option<Agency>> {
        agencies::one(&self.pool, id).await
    }

    async fn agencies(&self) -> Result<Vec<Agency>> {
        agencies::all(&self.pool).await
    }

    async fn registry_version(&self) -> Result<i64> {
        let mut taken = self.hot.take().await?;
        let version = sqlx::query_scalar("SELECT version FROM registry_version WHERE id = 1")
            .fetch_one(taken.connection())
            .await;
        taken.settle(version)
    }

    async fn answer(&self, agency: &AgencyId, request_id: &str) -> Result<Option<StoredAnswer>> {
        cases::answer(&self.pool, agency, request_id).await
    }

    async fn answer_or_case(
        &self,
        agency: &AgencyId,
        request_id: &str,
        key: &CaseKey,
    ) -> Result<Looked> {
        let sealer = self.sealer()?;
        let mut taken = self.hot.take().await?;
        let rows = cases::answer_or_case(taken.connection(), agency, request_id, key).await;
        let rows = taken.settle(rows)?;
        cases::lookup_from_rows(sealer, &rows)
    }

    async fn write_case(&self, write: CaseWrite) -> Result<SubmissionOutcome> {
        let mut answers = self.write_cases(vec![write]).await;
        answers
            .pop()
            .unwrap_or_else(|| Err(corrupt(&"a write went unanswered")))
    }

    async fn write_cases(&self, writes: Vec<CaseWrite>) -> Vec<Result<SubmissionOutcome>> {
        let sealer = match self.sealer() {
            Ok(sealer) => sealer,
            Err(error) => return writes.iter().map(|_| Err(error.clone())).collect(),
        };
        // A write that cannot be prepared is answered at once; the others
        // go together.
        let mut answers: Vec<Option<Result<SubmissionOutcome>>> = Vec::new();
        let mut prepared = Vec::new();
        for write in writes {
            match write::prepare(sealer, write) {
                Ok(ready) => {
                    prepared.push(ready);
                    answers.push(None);
                }
                Err(error) => answers.push(Some(Err(error))),
            }
        }
        let mut written = self.group.write(&self.writer, prepared).await.into_iter();
        answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    written
                        .next()
                        .unwrap_or_else(|| Err(corrupt(&"a write went unanswered")))
                })
            })
            .collect()
    }

    /// On a held connection, as a status query is answered on the
    /// caller's path (the pool's release ping would double its round trips).
    async fn case_seen(&self, id: &CaseId) -> Result<Seen<Option<Case>>> {
        let sealer = self.sealer()?;
        let mut taken = self.status.take().await?;
        let rows = cases::case_rows_seen(taken.connection(), id).await;
        let rows = taken.settle(rows)?;
        cases::case_seen_from_rows(sealer, id, &rows)
    }

    async fn holds_cases(&self) -> Result<bool> {
        lists::holds_cases(&self.pool).await
    }

    async fn deadline_backfill(&self, after: Option<&CaseId>, limit: u32) -> Result<Vec<CaseId>> {
        lists::deadline_backfill(&self.pool, after, limit).await
    }

    async fn deadline_backfilled(&self, id: &CaseId) -> Result<()> {
        lists::deadline_backfilled(&self.pool, id).await
    }

    async fn responsible_for_open_cases(
        &self,
        project: &AgencyId,
        county: RegionCode,
    ) -> Result<bool> {
        lists::responsible_for_open_cases(&self.pool, project, county).await
    }

    async fn cases_of_person(&self, key: &PersonKey) -> Result<Seen<Vec<Case>>> {
        let sealer = self.sealer()?;
        let mut taken = self.status.take().await?;
        let rows = cases::person_rows(taken.connection(), key).await;
        let rows = taken.settle(rows)?;
        cases::cases_from_rows(sealer, &rows)
    }

    async fn due_cases(
        &self,
        cutoffs: &Cutoffs,
        after: Option<&CaseId>,
        limit: u32,
    ) -> Result<Vec<CaseId>> {
        lists::due_cases(&self.pool, cutoffs, after, limit).await
    }

    async fn count_overdue(&self, cutoffs: &Cutoffs) -> Result<u64> {
        lists::count_overdue(&self.pool, cutoffs).await
    }

    async fn count_unroutable(&self) -> Result<u64> {
        lists::count_unroutable(&self.pool).await
    }

    async fn list_cases(&self, filter: &CaseFilter) -> Result<Seen<Vec<Case>>> {
        lists::list_cases(&self.pool, self.sealer()?, filter).await
    }

    async fn inbox_after(
        &self,
        agency: &AgencyId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InboxMessage>> {
        inbox::after(
            &self.pool,
            &self.replay,
            self.sealer()?,
            agency,
            after,
            limit,
        )
        .await
    }

    async fn inbox_state(&self, agency: &AgencyId) -> Result<InboxState> {
        inbox::state(&self.pool, agency).await
    }

    async fn acknowledge(&self, agency: &AgencyId, position: u64) -> Result<Option<InboxState>> {
        inbox::acknowledge(&self.pool, agency, position).await
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Chain> {
        audit::append(&self.auditor, records).await
    }

    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<SealedEntry>> {
        audit::entries(&self.pool, after, limit).await
    }

    /// The pool, and an idle connection of each held set: one may have
    /// been dropped (a database restart, an operator) while it sat idle,
    /// and health must not say serving before a submission would find a
    /// live one (a connection that fails here is dropped, so the next
    /// check makes a new one). A busy one is not waited for: a slow write
    /// is no outage.
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        self.hot.check_idle().await?;
        self.status.check_idle().await?;
        self.writer.check_idle().await?;
        self.auditor.check_idle().await
    }

    async fn count_police_query(
        &self,
        agency: &AgencyId,
        day: time::Date,
        quota: u32,
    ) -> Result<Option<bool>> {
        quota::count(&self.pool, agency, day, quota).await.map(Some)
    }

    async fn raise_crl_floor(&self, issuer: &str, list: &CrlFloor) -> Result<CrlFloor> {
        crl_floor::raise(&self.pool, issuer, list).await
    }

    async fn follow_inboxes(&self, changes: tokio::sync::mpsc::Sender<InboxChange>) {
        notify::follow(&self.pool, changes).await;
    }

    async fn close(&self) {
        PostgresStorage::close(self).await;
    }
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
