//! [`Storage`] on SQLite: each call to the thread or pool that serves it
//! (the writer, the reader threads, or the sqlx pool).

use async_trait::async_trait;

use crate::domain::agency::{Agency, AgencyId};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry};
use crate::domain::case::{Case, CaseId};
use crate::domain::notice::InboxEntry;
use crate::domain::region::RegionCode;
use crate::domain::submission::SubmissionOutcome;
use crate::storage::{
    CaseFilter, CaseKey, CaseWrite, CrlFloor, Cutoffs, InboxChange, InboxState, Looked, PersonKey,
    Result, Seen, Storage, StoredAnswer,
};

use super::write_sql::SealedWrite;
use super::writer::{Done, Work};
use super::{SqliteStorage, audit, lists, read_sql, registry, unavailable, writer};

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

    async fn key_check(&self) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT sealed FROM master_key_check WHERE id = 1")
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| unavailable(&e))
    }

    async fn store_key_check(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO master_key_check (id, sealed) VALUES (1, ?) ON CONFLICT DO NOTHING",
        )
        .bind(sealed)
        .execute(&self.writer)
        .await
        .map_err(|e| unavailable(&e))?;
        sqlx::query_scalar("SELECT sealed FROM master_key_check WHERE id = 1")
            .fetch_one(&self.writer)
            .await
            .map_err(|e| unavailable(&e))
    }

    async fn a_sealed_event(&self) -> Result<Option<(String, i64, Vec<u8>)>> {
        sqlx::query_as(
            "SELECT case_id, sequence, body FROM case_events
             WHERE substr(body, 1, 1) = x'01' ORDER BY rowid DESC LIMIT 1",
        )
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| unavailable(&e))
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
    ) -> Result<Vec<InboxEntry>> {
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
