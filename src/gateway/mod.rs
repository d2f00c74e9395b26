//! The application: what each agency can do, in domain terms. Transport
//! adapters (gRPC, the command line) call these functions; storage keeps
//! what they decide.

mod admission;
mod audit;
mod audit_head;
mod audit_queue;
mod cases;
pub use cases::{CaseQuery, ListQuery};
mod error;
mod escalation;
mod gauges;
mod inbox;
mod intake;
mod keys;
mod limits;
mod receipts;
mod registry;
#[cfg(test)]
mod standing_tests;
mod supervision;
mod wakeups;
mod write;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::access::AccessPolicy;
use crate::domain::agency::{Agency, AgencyRef};
use crate::domain::audit::Head;
use crate::domain::clock::Clock;
use crate::domain::deadline::DeadlinePolicy;
use crate::domain::policy::{self, Call, Denial, Relation};
use crate::metrics::Metrics;
use crate::storage::Storage;
use registry::Standing;

pub use audit::{verify_audit, verify_audit_keeping};
pub use error::{GatewayError, Result};
pub use inbox::InboxEvent;
pub use keys::{MasterKey, PersonKeyer};
pub use limits::{Exhausted, Limiter, Limits};
pub use receipts::{
    PUBLIC_KEY_FILE, ReceiptError, ReceiptPublicKey, ReceiptSigner, Signature, from_hex, to_hex,
};
pub use wakeups::Wakeups;
pub use write::Submitted;

/// An authenticated caller, with the registry it was checked against: the
/// call plans its first write with that registry, or with the one a read
/// of the call confirmed it against (see [`Gateway::recording`]), instead
/// of reading it again.
#[derive(Debug, Clone)]
pub struct Caller {
    pub agency: AgencyRef,
    registry: Arc<[Agency]>,
    /// Where the caller stands with the registry as read during this call
    /// (see [`Gateway::authenticate_held`]); shared with the call's recording
    /// and the guard that records it if it is abandoned.
    standing: Arc<Mutex<Standing>>,
}

/// Tunables of the running gateway.
#[derive(Clone, Debug)]
pub struct Settings {
    pub deadlines: DeadlinePolicy,
    pub access: AccessPolicy,
    /// How often an idle inbox stream gets a heartbeat.
    pub heartbeat: Duration,
    /// Messages read from storage at a time when replaying a backlog.
    pub replay_batch: u32,
    /// How often the gateway looks for deadlines that passed.
    pub escalation_scan: Duration,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            deadlines: DeadlinePolicy::default(),
            access: AccessPolicy::default(),
            heartbeat: Duration::from_secs(15),
            replay_batch: 256,
            escalation_scan: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }
}

/// The gateway's shared state: one per process, cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    keyer: PersonKeyer,
    /// Signs every receipt; derived from the master key like `keyer`.
    signer: ReceiptSigner,
    wakeups: Wakeups,
    limiter: Arc<Limiter>,
    admission: Arc<admission::Admission>,
    settings: Arc<Settings>,
    shutdown: CancellationToken,
    /// This gateway's own counters, apart from any other in the process.
    metrics: Metrics,
    registry: Arc<registry::RegistryCache>,
    audit_queue: Arc<audit_queue::AuditQueue>,
    /// The last head of the audit log this process vouched for
    /// ([`Gateway::audit_head`]).
    audit_heads: Arc<tokio::sync::Mutex<Option<Head>>>,
}

impl Gateway {
    pub fn new(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        master_key: &MasterKey,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            storage,
            clock,
            keyer: master_key.person_keyer(),
            signer: master_key.receipt_signer(),
            wakeups: Wakeups::default(),
            limiter: Arc::new(Limiter::new(settings.limits.clone())),
            admission: Arc::new(admission::Admission::new(
                settings.limits.pending_writes,
                settings.limits.pending_wait,
                settings.limits.pending_latency,
            )),
            settings: Arc::new(settings),
            shutdown,
            metrics: Metrics::new(),
            registry: Arc::default(),
            audit_queue: Arc::default(),
            audit_heads: Arc::default(),
        }
    }

    /// What the gateway counts, for the metrics endpoint and the layers
    /// around it (the gRPC adapter, the TLS accept loop).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The key that signs receipts; its public half is published.
    pub fn receipt_signer(&self) -> &ReceiptSigner {
        &self.signer
    }
}

impl Gateway {
    /// Counts the call against the caller's limits, then checks the caller's
    /// kind against the policy table; yields the relation the call still
    /// needs.
    ///
    /// # Errors
    /// `ResourceExhausted` over a limit, `PermissionDenied` for a kind the
    /// table does not list.
    fn authorize(&self, caller: &AgencyRef, call: Call) -> Result<Relation> {
        self.limit(caller)?;
        policy::authorize(caller, call).map_err(|denial| match denial {
            Denial::Unseen => GatewayError::NotFound,
            Denial::Denied(message) => GatewayError::PermissionDenied(message),
        })
    }

    /// Counts the call against the caller's bucket of calls.
    fn limit(&self, caller: &AgencyRef) -> Result<()> {
        self.limiter
            .admit(caller, self.clock.now())
            .map_err(GatewayError::Exhausted)
    }

    /// Counts a police case query against the agency's daily quota: in the
    /// database where replicas share one, else in memory.
    ///
    /// # Errors
    /// `ResourceExhausted` once the day's quota is used up; `Unavailable`
    /// when the shared count cannot be reached.
    async fn count_query(&self, caller: &AgencyRef, call: Call) -> Result<()> {
        let Some(quota) = self.limiter.query_quota(caller, call) else {
            return Ok(());
        };
        let now = self.clock.now();
        let day = now.to_offset(crate::domain::clock::CHINA).date();
        let counted = match self
            .storage
            .count_police_query(&caller.id, day, quota)
            .await?
        {
            Some(counted) => counted,
            None => self.limiter.count_query(&caller.id, now),
        };
        if counted {
            Ok(())
        } else {
            Err(GatewayError::Exhausted(
                self.limiter.quota_used_up(&caller.id, now),
            ))
        }
    }
}
