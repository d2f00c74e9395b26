//! The audit log's head, as the gateway vouches for it: checked to extend
//! the head it vouched for last, then handed to the transport to sign.
//!
//! The check is what makes a signature worth keeping. Without it the
//! gateway would sign whatever the database holds, and someone who had cut
//! or rewritten the log could fetch a signed head of the result. With it,
//! a log changed at or before the last head signed is refused, and the
//! change is named, for as long as the process runs; after a start the
//! first head checks the whole log.

use time::OffsetDateTime;

use super::audit::walk_audit;
use super::{Gateway, GatewayError, Result};
use crate::domain::agency::AgencyRef;
use crate::domain::audit::{Head, Verifier};
use crate::domain::policy::Call;

impl Gateway {
    /// The head of the audit log and the time it was read, for `caller` to
    /// have signed.
    ///
    /// # Errors
    /// `DataLoss` naming the entry where the log no longer extends the head
    /// this process vouched for last (or, the first time, where its chain
    /// breaks); `Unavailable` when storage cannot be read.
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn audit_head(&self, caller: &AgencyRef) -> Result<(Head, OffsetDateTime)> {
        self.authorize(caller, Call::GetAuditHead)?;
        // One check at a time: each starts from the head the last one
        // reached, and two at once would both read the same stretch.
        let mut vouched = self.audit_heads.lock().await;
        let verifier = vouched.map_or_else(Verifier::new, Verifier::resuming);
        let from = vouched.map_or(0, |head| head.entries.saturating_sub(1));
        let checked = walk_audit(self.storage.as_ref(), verifier, from).await?;
        let head = checked.map_err(|found| {
            GatewayError::DataLoss(format!(
                "the audit log is broken: {found}; the gateway signs no head of it"
            ))
        })?;
        *vouched = Some(head);
        Ok((head, self.clock.now()))
    }
}
