//! SQLite: the embedded default. WAL with `synchronous=FULL` (WAL with
//! NORMAL can lose the last commits on power loss), one writer connection
//! owned by a thread that commits concurrent writes together in one
//! `BEGIN IMMEDIATE` transaction ([`writer`], [`batch`], [`write_sql`]),
//! reader threads with connections of their own for the reads on every
//! call's path ([`reader`], [`read_sql`]), and a pool of sqlx connections
//! for migrations, lists, scans and the audit log.

mod audit;
mod batch;
mod cases;
mod checkpoint;
mod lists;
mod read_sql;
mod reader;
mod registry;
mod write_sql;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

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
use reader::Readers;
use write_sql::SealedWrite;
use writer::{Access, Done, Work, Writer};

/// Reads at once: SQLite readers in WAL mode do not block one another, and
/// a read of pages not yet cached waits on the disk.
const READ_THREADS: usize = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug)]
pub struct SqliteStorage {
    /// Every write after opening goes through here, to share commits.
    writes: Writer,
    /// A sqlx connection for what runs while opening: migrations, and
    /// sealing an older version's plain bodies (see [`Self::sealed`]).
    writer: SqlitePool,
    /// The reads on every call's path.
    reads: Readers,
    /// The other reads: lists, scans, the audit log.
    readers: SqlitePool,
    /// Seals what names a person; without it, case data cannot be read or
    /// written (the registry and the audit log can).
    sealer: Option<Arc<Sealer>>,
}

impl SqliteStorage {
    /// Opens (creating if missing) the database file and brings its schema
    /// up to date.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| unavailable(&e))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| unavailable(&e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // A local file needs no liveness test before each use: it would be
        // one more round trip to SQLite's thread on every commit.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        MIGRATOR.run(&writer).await.map_err(|e| unavailable(&e))?;
        restrict_to_owner(path);
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Self {
            writes: Writer::start(path, Access::ReadWrite).await?,
            writer,
            reads: Readers::start(path, READ_THREADS)?,
            readers,
            sealer: None,
        })
    }

    /// Runs SQLite's own integrity check; `Ok(())` when it says "ok".
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] with what the check found.
    pub async fn integrity_check(&self) -> Result<()> {
        let result: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.readers)
            .await
            .map_err(|e| unavailable(&e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StorageError::Corrupt(result))
        }
    }

    /// The same storage, sealing personal data with `sealer`. Bodies a
    /// version before sealing left in plain text are sealed now, in one
    /// transaction.
    ///
    /// # Errors
    /// When the plain bodies cannot be sealed.
    pub async fn sealed(mut self, sealer: Sealer) -> Result<Self> {
        cases::seal_plain_bodies(&self.writer, &sealer).await?;
        self.sealer = Some(Arc::new(sealer));
        Ok(self)
    }

    /// The sealer, for a job that the writer or a reader thread runs.
    fn shared_sealer(&self) -> Result<Arc<Sealer>> {
        self.sealer.clone().ok_or_else(no_key)
    }

    /// Closes the readers, then the writer once the writes queued before
    /// this call are committed; writes queued after that are refused as
    /// `Unavailable`.
    pub async fn close(&self) {
        self.reads.close();
        self.readers.close().await;
        self.writes.close().await;
        self.writer.close().await;
    }
}

fn no_key() -> StorageError {
    corrupt(&"case data needs the master key; the storage was opened without it")
}

/// The database holds personal data: only the gateway's user may read it.
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            if let Err(error) =
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            {
                tracing::debug!(%error, file = ?file, "cannot restrict database file permissions");
            }
        }
    }
}

pub(super) fn unavailable(error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Unavailable(error.to_string())
}

pub(super) fn corrupt(error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Corrupt(error.to_string())
}

pub(super) fn now_millis() -> i64 {
    crate::storage::millis(time::OffsetDateTime::now_utc())
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn register_agency(&self, agency: &Agency) -> Result<()> {
        match self
            .writes
            .submit(Work::RegisterAgency(agency.clone()))
            .await?
        {
            Done::Registered => Ok(()),
            _ => Err(writer::mismatched()),
        }
    }

    async fn raise_crl_floor(&self, issuer: &str, list: &CrlFloor) -> Result<CrlFloor> {
        // Read first: the list seldom changes, and a write would cost a
        // durable commit every reload period.
        let issuer = issuer.to_owned();
        let read_issuer = issuer.clone();
        let floor = self
            .reads
            .read(move |db| read_sql::crl_floor(db, &read_issuer))
            .await?;
        if floor.holds(list) {
            return Ok(floor);
        }
        let list = list.clone();
        match self
            .writes
            .submit(Work::RaiseCrlFloor { issuer, list })
            .await?
        {
            Done::CrlFloor(floor) => Ok(floor),
            _ => Err(writer::mismatched()),
        }
    }

    async fn agency(&self, id: &AgencyId) -> Result<Option<Agency>> {
        registry::agency(&self.readers, id).await
    }

    async fn agencies(&self) -> Result<Vec<Agency>> {
        registry::agencies(&self.readers).await
    }

    async fn registry_version(&self) -> Result<i64> {
        self.reads.read(read_sql::registry_version).await
    }

    async fn answer(&self, agency: &AgencyId, request_id: &str) -> Result<Option<StoredAnswer>> {
        let (agency, request_id) = (agency.clone(), request_id.to_owned());
        self.reads
            .read(move |db| read_sql::answer(db, &agency, &request_id))
            .await
    }

    async fn answer_or_case(
        &self,
        agency: &AgencyId,
        request_id: &str,
        key: &CaseKey,
    ) -> Result<Looked> {
        let (sealer, agency, request_id, key) = (
            self.shared_sealer()?,
            agency.clone(),
            request_id.to_owned(),
            key.clone(),
        );
        self.reads
            .read(move |db| read_sql::answer_or_case(db, &sealer, &agency, &request_id, &key))
            .await
    }

    async fn write_case(&self, write: CaseWrite) -> Result<SubmissionOutcome> {
        let write = SealedWrite::seal(&*self.shared_sealer()?, write)?;
        match self.writes.submit(Work::Case(Box::new(write))).await? {
            Done::Case(outcome) => Ok(outcome),
            _ => Err(writer::mismatched()),
        }
    }

    async fn write_cases(&self, writes: Vec<CaseWrite>) -> Vec<Result<SubmissionOutcome>> {
        let sealer = match self.shared_sealer() {
            Ok(sealer) => sealer,
            Err(error) => return writes.iter().map(|_| Err(error.clone())).collect(),
        };
        // A write that cannot be sealed is answered alone, in its place.
        let mut answers = Vec::with_capacity(writes.len());
        let mut work = Vec::with_capacity(writes.len());
        for write in writes {
            match SealedWrite::seal(&sealer, write) {
                Ok(write) => {
                    answers.push(None);
                    work.push(Work::Case(Box::new(write)));
                }
                Err(error) => answers.push(Some(Err(error))),
            }
        }
        let mut done = self.writes.submit_all(work.into_iter()).await.into_iter();
        answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| match done.next() {
                    Some(Ok(Done::Case(outcome))) => Ok(outcome),
                    Some(Err(error)) => Err(error),
                    _ => Err(writer::mismatched()),
                })
            })
            .collect()
    }

    async fn case_seen(&self, id: &CaseId) -> Result<Seen<Option<Case>>> {
        let (sealer, id) = (self.shared_sealer()?, id.clone());
        self.reads
            .read(move |db| read_sql::case_seen(db, &sealer, &id))
            .await
    }

    async fn cases_of_person(&self, key: &PersonKey) -> Result<Seen<Vec<Case>>> {
        let (sealer, key) = (self.shared_sealer()?, *key);
        self.reads
            .read(move |db| read_sql::cases_of_person(db, &sealer, &key))
            .await
    }

    async fn holds_cases(&self) -> Result<bool> {
        lists::holds_cases(&self.readers).await
    }

    async fn deadline_backfill(&self, after: Option<&CaseId>, limit: u32) -> Result<Vec<CaseId>> {
        lists::deadline_backfill(&self.readers, after, limit).await
    }

    async fn deadline_backfilled(&self, id: &CaseId) -> Result<()> {
        match self
            .writes
            .submit(Work::DeadlineBackfilled(id.clone()))
            .await?
        {
            Done::Backfilled => Ok(()),
            _ => Err(writer::mismatched()),
        }
    }

    async fn responsible_for_open_cases(
        &self,
        project: &AgencyId,
        county: RegionCode,
    ) -> Result<bool> {
        lists::responsible_for_open_cases(&self.readers, project, county).await
    }

    async fn due_cases(
        &self,
        cutoffs: &Cutoffs,
        after: Option<&CaseId>,
        limit: u32,
    ) -> Result<Vec<CaseId>> {
        lists::due_cases(&self.readers, cutoffs, after, limit).await
    }

    async fn count_overdue(&self, cutoffs: &Cutoffs) -> Result<u64> {
        lists::count_overdue(&self.readers, cutoffs).await
    }

    async fn count_unroutable(&self) -> Result<u64> {
        lists::count_unroutable(&self.readers).await
    }

    async fn list_cases(&self, filter: &CaseFilter) -> Result<Seen<Vec<Case>>> {
        let ids = lists::list_case_ids(&self.readers, filter).await?;
        let sealer = self.shared_sealer()?;
        self.reads
            .read(move |db| read_sql::cases_seen(db, &sealer, &ids))
            .await
    }

    async fn inbox_after(
        &self,
        agency: &AgencyId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InboxMessage>> {
        let (sealer, agency) = (self.shared_sealer()?, agency.clone());
        self.reads
            .read(move |db| read_sql::inbox_after(db, &sealer, &agency, after, limit))
            .await
    }

    async fn inbox_state(&self, agency: &AgencyId) -> Result<InboxState> {
        let agency = agency.clone();
        self.reads
            .read(move |db| read_sql::inbox_state(db, &agency))
            .await
    }

    async fn acknowledge(&self, agency: &AgencyId, position: u64) -> Result<Option<InboxState>> {
        let work = Work::Acknowledge {
            agency: agency.clone(),
            position,
        };
        match self.writes.submit(work).await? {
            Done::Acknowledged(state) => Ok(state),
            _ => Err(writer::mismatched()),
        }
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Chain> {
        match self.writes.submit(Work::Audit(records.to_vec())).await? {
            Done::Audit(chain) => Ok(chain),
            _ => Err(writer::mismatched()),
        }
    }

    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<SealedEntry>> {
        audit::entries(&self.readers, after, limit).await
    }

    async fn ping(&self) -> Result<()> {
        let pinged = sqlx::query("SELECT 1").execute(&self.readers).await;
        pinged.map(drop).map_err(|e| unavailable(&e))
    }

    async fn follow_inboxes(&self, _changes: tokio::sync::mpsc::Sender<InboxChange>) {}

    async fn close(&self) {
        SqliteStorage::close(self).await;
    }
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod seal_tests;
