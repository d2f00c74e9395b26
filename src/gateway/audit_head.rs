//! The audit log's head, as the gateway vouches for it: checked to extend
//! the head it vouched for last, then handed to the transport to sign.
//!
//! The check is what makes a signature worth keeping. Without it the
//! gateway would sign whatever the database holds, and someone who had cut
//! or rewritten the log could fetch a signed head of the result. With it,
//! a log cut back to or before the last head signed, or rewritten with
//! recomputed hashes at or before it, is refused and the place named, for
//! as long as the process runs; after a start the first head checks the
//! whole log. Entries before the last head signed are not read again, so
//! one deleted or edited there without rehashing is left to a whole
//! `audit verify`.

use std::sync::Arc;

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
        // In a task of its own: a caller that gives up on a long first
        // check must not throw it away, and the next call, waiting on the
        // lock, then starts from where it got. One check at a time: each
        // starts from the head the last one reached.
        let (heads, storage) = (Arc::clone(&self.audit_heads), Arc::clone(&self.storage));
        let checking = tokio::spawn(async move {
            let mut vouched = heads.lock().await;
            let verifier = vouched.map_or_else(Verifier::new, Verifier::resuming);
            let from = vouched.map_or(0, |head| head.entries.saturating_sub(1));
            let checked = walk_audit(storage.as_ref(), verifier, from).await;
            if let Ok(Ok(head)) = checked {
                *vouched = Some(head);
            }
            checked
        });
        let checked = checking
            .await
            .map_err(|error| GatewayError::Internal(format!("the audit check failed: {error}")))?;
        let head = checked?.map_err(|found| {
            GatewayError::DataLoss(format!(
                "the audit log is broken: {found}; the gateway signs no head of it"
            ))
        })?;
        Ok((head, self.clock.now()))
    }
}
