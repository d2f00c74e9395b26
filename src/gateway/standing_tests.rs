//! Where a caller checked against the held registry stands
//! ([`Gateway::authenticate_held`]), driven from inside a call: a refusal
//! holds for the rest of the call, and a call abandoned before any read
//! confirmed its caller is not audited in the agency's name. From outside
//! both depend on when a client hangs up or a registry changes, so they
//! are tested here, on a real SQLite file.

use std::sync::Arc;
use std::time::Duration;

use time::macros::datetime;
use tokio_util::sync::CancellationToken;

use super::keys::MasterKey;
use super::registry::Standing;
use super::{Caller, Gateway, GatewayError, Settings};
use crate::domain::agency::{Agency, AgencyId, AgencyRef};
use crate::domain::audit::{AuditCaller, AuditDetails, AuditEntry, AuditRecord};
use crate::domain::clock::ManualClock;
use crate::domain::testing::shanxi;
use crate::pki::PeerIdentity;
use crate::storage::{self, Database, Sealer, Storage};

const CENTER: &str = "taiyuan-detox";

struct Harness {
    gateway: Gateway,
    storage: Arc<dyn Storage>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::from_bytes([3; 32]);
    let database = Database::Sqlite(dir.path().join("gateway.db"));
    let storage = storage::open(&database, Sealer::new(key.data_key()))
        .await
        .unwrap();
    for agency in shanxi() {
        storage.register_agency(&agency).await.unwrap();
    }
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-30 09:00 +8)));
    let gateway = Gateway::new(
        storage.clone(),
        clock,
        &key,
        Settings::default(),
        CancellationToken::new(),
    );
    Harness {
        gateway,
        storage,
        _dir: dir,
    }
}

impl Harness {
    /// The detox center as a submission's caller: admitted by the registry
    /// held in memory, not yet confirmed by a read of its call.
    async fn unconfirmed_center(&self) -> Caller {
        let registry = self.gateway.registry().await.unwrap();
        let center = registry
            .iter()
            .find(|agency| agency.agency.id.as_str() == CENTER)
            .unwrap();
        let caller = self
            .gateway
            .authenticate_held(Some(&peer(&center.agency)))
            .await
            .unwrap();
        assert!(matches!(
            *caller.standing.lock().unwrap(),
            Standing::Unconfirmed(_)
        ));
        caller
    }

    async fn enable_center(&self, enabled: bool) {
        let id = AgencyId::parse(CENTER).unwrap();
        let registered = self.storage.agency(&id).await.unwrap().unwrap();
        self.storage
            .register_agency(&Agency {
                enabled,
                ..registered
            })
            .await
            .unwrap();
    }

    /// The call's two checks of its caller, with the detox center
    /// `enabled` or not between them, and `recording`'s own at the end.
    async fn checks_around(&self, caller: &Caller, enabled: bool) -> [super::Result<()>; 3] {
        let ((first, second), _, last) = self
            .gateway
            .recording(caller, record(caller), async {
                let first = self.gateway.confirm_caller(None).await;
                self.enable_center(enabled).await;
                (first, self.gateway.confirm_caller(None).await)
            })
            .await;
        [first, second, last]
    }

    /// The audit log's entries once it holds `count`.
    async fn audit_log(&self, count: usize) -> Vec<AuditEntry> {
        // The abandoned call's entry is written by a task of its own.
        for _ in 0..3000 {
            let rows = self.storage.audit_entries(0, 100).await.unwrap();
            if rows.len() >= count {
                return rows.iter().map(|row| row.parse().unwrap()).collect();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the audit log never held {count} entries");
    }
}

/// What the TLS layer tells of a client whose certificate names `agency`.
fn peer(agency: &AgencyRef) -> PeerIdentity {
    PeerIdentity {
        remote_addr: None,
        agency: Ok(agency.clone()),
        valid_until: None,
    }
}

fn record(caller: &Caller) -> AuditRecord {
    AuditRecord {
        at: datetime!(2026-11-30 09:00 +8),
        caller: AuditCaller::Agency {
            id: caller.agency.id.to_string(),
        },
        call: "handover.v1.IntakeService/SubmitDischarge".into(),
        outcome: "CANCELLED".into(),
        reason: None,
        details: AuditDetails::default(),
    }
}

#[tokio::test]
async fn a_refused_caller_stays_refused_for_the_rest_of_its_call() {
    let harness = harness().await;
    let caller = harness.unconfirmed_center().await;
    harness.enable_center(false).await;

    // Enabled again mid-call: the call already heard no, and a second
    // check must not let it write after all.
    for answer in harness.checks_around(&caller, true).await {
        assert!(
            matches!(&answer, Err(GatewayError::Unauthenticated(reason)) if reason.contains("disabled")),
            "{answer:?}"
        );
    }
    assert!(matches!(
        *caller.standing.lock().unwrap(),
        Standing::Refused(_)
    ));
}

#[tokio::test]
async fn a_confirmed_caller_is_not_checked_again_in_the_same_call() {
    let harness = harness().await;
    let caller = harness.unconfirmed_center().await;

    // Disabled after the call was confirmed: the call goes on as it
    // began, and the next call is refused.
    for answer in harness.checks_around(&caller, false).await {
        assert!(answer.is_ok(), "{answer:?}");
    }
    assert!(matches!(
        *caller.standing.lock().unwrap(),
        Standing::Confirmed
    ));
    let refused = harness
        .gateway
        .authenticate(Some(&peer(&caller.agency)))
        .await
        .map(|caller| caller.agency);
    assert!(
        matches!(&refused, Err(GatewayError::Unauthenticated(reason)) if reason.contains("disabled")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_abandoned_call_is_audited_in_the_agency_name_only_once_confirmed() {
    let harness = harness().await;
    let abandon = |standing: Option<Standing>| {
        let harness = &harness;
        async move {
            let caller = harness.unconfirmed_center().await;
            if let Some(standing) = standing {
                *caller.standing.lock().unwrap() = standing;
            }
            drop(
                harness
                    .gateway
                    .audit_unless_finished(record(&caller), &caller),
            );
        }
    };
    abandon(None).await;
    abandon(Some(Standing::Refused(
        "agency taiyuan-detox is disabled".into(),
    )))
    .await;
    abandon(Some(Standing::Confirmed)).await;

    let mut callers: Vec<AuditCaller> = harness
        .audit_log(3)
        .await
        .into_iter()
        .map(|entry| entry.record.caller)
        .collect();
    callers.sort_by_key(|caller| matches!(caller, AuditCaller::Agency { .. }));
    let unauthenticated = AuditCaller::Unauthenticated {
        claimed: Some(CENTER.into()),
    };
    assert_eq!(
        callers,
        [
            unauthenticated.clone(),
            unauthenticated,
            AuditCaller::Agency { id: CENTER.into() },
        ]
    );
}
