//! Deadlines that pass unmet become escalations, exactly once: each is an
//! event in the case's history, written under the case's version, so two
//! scans (two replicas, or a scan racing a command) cannot both record it.
//! A scan at start-up catches what passed while the gateway was down.

use super::{Gateway, GatewayError, Result};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId};
use crate::domain::submission::RequestKey;
use crate::storage::{CaseWrite, Cutoffs, StorageError};

const BATCH: u32 = 200;
const MAX_BATCHES_PER_SCAN: usize = 50;
const ATTEMPTS: usize = 3;

impl Gateway {
    /// Escalates every deadline that is due now and not yet escalated;
    /// returns how many it recorded. A case that cannot be escalated (its
    /// history does not read, its writes keep losing) is logged and left
    /// for the next scan, and the scan goes on past it: one damaged case
    /// must not silence every other missed deadline.
    ///
    /// # Errors
    /// When the database does not answer; what was escalated before stays
    /// escalated.
    pub async fn escalate_due(&self) -> Result<usize> {
        let cutoffs: Cutoffs = self.settings.deadlines.cutoffs(self.clock.now());
        let mut escalated = 0;
        let mut after: Option<CaseId> = None;
        for _ in 0..MAX_BATCHES_PER_SCAN {
            let due = self
                .storage
                .due_cases(&cutoffs, after.as_ref(), BATCH)
                .await?;
            let full = due.len() == BATCH as usize;
            for id in due {
                match self.escalate(&id).await {
                    Ok(count) => escalated += count,
                    Err(error @ GatewayError::Unavailable(Some(StorageError::Unavailable(_)))) => {
                        return Err(error);
                    }
                    Err(error) => {
                        // Debug: an internal error's display hides its detail.
                        tracing::error!(case_id = %id, error = ?error, "deadline due but not escalated; retrying at the next scan");
                    }
                }
                after = Some(id);
            }
            if !full {
                break;
            }
        }
        Ok(escalated)
    }

    async fn escalate(&self, id: &CaseId) -> Result<usize> {
        for _ in 0..ATTEMPTS {
            let Some(case) = self.storage.case(id).await? else {
                return Ok(0);
            };
            let due = case
                .due_escalations(&self.settings.deadlines, self.clock.now())
                .len();
            if due == 0 {
                return Ok(0);
            }
            let request_id = format!("escalation/{id}/{}", case.version() + 1);
            let write = self.by_gateway(case, request_id).await?;
            if self.write(write).await?.is_some() {
                tracing::warn!(case_id = %id, escalations = due, "deadline missed; escalated");
                return Ok(due);
            }
        }
        Err(GatewayError::Unavailable(None))
    }

    /// Writes the deadline rows of the cases a version before the
    /// `discharge` deadline left without them, recording what is already
    /// due, and takes each off the list. A case that fails stays listed
    /// for the next pass, and the others go on. Returns how many were
    /// taken off, and whether any is still listed.
    ///
    /// # Errors
    /// When the list cannot be read or changed; what was written stays.
    pub async fn backfill_deadlines(&self) -> Result<(usize, bool)> {
        let mut done = 0;
        let mut after: Option<CaseId> = None;
        for _ in 0..MAX_BATCHES_PER_SCAN {
            let listed = self
                .storage
                .deadline_backfill(after.as_ref(), BATCH)
                .await?;
            let full = listed.len() == BATCH as usize;
            for id in listed {
                match self.write_deadlines(&id).await {
                    Ok(()) => {
                        self.storage.deadline_backfilled(&id).await?;
                        done += 1;
                    }
                    Err(error) => {
                        tracing::warn!(case_id = %id, %error, "deadlines not written; retrying");
                    }
                }
                after = Some(id);
            }
            if !full {
                break;
            }
        }
        let left = !self.storage.deadline_backfill(None, 1).await?.is_empty();
        Ok((done, left))
    }

    /// A write of no new event under the case's version, which writes its
    /// deadline rows and records what is due. One that lost to another
    /// write finds the rows that write made, or, losing on its request id,
    /// those an earlier pass wrote at this version before it could take
    /// the case off the list.
    async fn write_deadlines(&self, id: &CaseId) -> Result<()> {
        let Some(case) = self.storage.case(id).await? else {
            return Ok(());
        };
        let request_id = format!("deadlines/{id}/{}", case.version());
        let write = self.by_gateway(case, request_id).await?;
        self.write(write).await?;
        Ok(())
    }

    /// The gateway's own write of `case` with no new event but what is
    /// due, under `request_id`.
    async fn by_gateway(&self, case: Case, request_id: String) -> Result<CaseWrite> {
        let agencies = self.registry().await?;
        let mut write = self.prepare(
            &AgencyId::gateway(),
            case.id,
            case.history,
            Vec::new(),
            &agencies,
            None,
        )?;
        write.request = RequestKey {
            agency: AgencyId::gateway(),
            request_id,
            digest: [0; 32],
        };
        Ok(write)
    }

    /// Scans for due deadlines now and then every `escalation_scan`, until
    /// the gateway shuts down; first writes the deadline rows an earlier
    /// version left unwritten.
    pub async fn run_escalations(self) {
        let mut ticker = tokio::time::interval(self.settings.escalation_scan);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backfilled = false;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            if !backfilled {
                match self.backfill_deadlines().await {
                    Ok((done, left)) => {
                        if done > 0 {
                            tracing::info!(
                                cases = done,
                                "deadlines written for cases stored before them"
                            );
                        }
                        backfilled = !left;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "deadline backfill failed; retrying at the next tick");
                    }
                }
            }
            if let Err(error) = self.escalate_due().await {
                tracing::warn!(%error, "escalation scan failed; retrying at the next tick");
            }
        }
    }
}
