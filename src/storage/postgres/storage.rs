//! [`Storage`] on PostgreSQL: each call to the held connections or the
//! pool that serves it.

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

use super::{
    PostgresStorage, agencies, audit, cases, corrupt, crl_floor, inbox, lists, notify, quota,
    unavailable, write,
};

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

    async fn key_check(&self) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT sealed FROM master_key_check WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))
    }

    async fn a_sealed_event(&self) -> Result<Option<(String, i64, Vec<u8>)>> {
        sqlx::query_as("SELECT case_id, sequence, body FROM case_events LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))
    }

    async fn store_key_check(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO master_key_check (id, sealed) VALUES (1, $1) ON CONFLICT DO NOTHING",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        sqlx::query_scalar("SELECT sealed FROM master_key_check WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unavailable(&e))
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
    ) -> Result<Vec<InboxEntry>> {
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
