//! Two gateway replicas on one PostgreSQL database, each with its own
//! port, clock and process state, sharing only the database, the
//! certificates and the master key, as in production: what one accepts
//! reaches streams on the other promptly, inbox order and idempotency hold
//! whichever replica serves, and a deadline escalates once however many
//! replicas scan for it.

use std::collections::BTreeSet;
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::bootstrap;
use handover_gateway::domain::agency::AgencyId;
use handover_gateway::gateway::Limits;
use sqlx::{Connection, PgConnection};
use tonic::Code;

use crate::app::{self, App, START};
use crate::support::{Db, Kind, run};

/// A replica on `db`, with the certificates and master key in `shared`
/// (copied into its own folder) and its own heartbeat.
async fn replica(db: &Db, shared: &std::path::Path, heartbeat: Duration) -> App {
    replica_with(db, shared, heartbeat, Limits::default()).await
}

/// [`replica`] with `limits`.
pub(crate) async fn replica_with(
    db: &Db,
    shared: &std::path::Path,
    heartbeat: Duration,
    limits: Limits,
) -> App {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shared.join("certs"), &dir.path().join("certs"));
    if shared.join("data/master.key").exists() {
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::copy(
            shared.join("data/master.key"),
            dir.path().join("data/master.key"),
        )
        .unwrap();
    }
    let config = handover_gateway::config::Config {
        database: db.setting.clone(),
        heartbeat,
        limits,
        ..app::config(dir.path())
    };
    app::start_with(dir, START, config).await
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Replicas A and B on `db` with the example registry. A starts first and
/// makes the master key that B then shares.
pub(crate) async fn two_replicas(db: &Db, heartbeat: Duration) -> (App, App) {
    let shared = tempfile::tempdir().unwrap();
    let backend = db.unsealed().await;
    bootstrap::development(&app::certs_dir(shared.path()), backend.storage())
        .await
        .unwrap();
    backend.storage().close().await;
    let a = replica(db, shared.path(), heartbeat).await;
    let b = replica(db, a.dir.path(), heartbeat).await;
    (a, b)
}

pub(crate) fn discharge(n: u32) -> pb::SubmitDischargeRequest {
    let person = app::person(&app::id_number("19900307", n), "140106", None);
    app::discharge(&format!("r-{n}"), &format!("D-{n}"), person)
}

/// Long enough that a test passing within it cannot be relying on the
/// heartbeat's re-read.
pub(crate) const NO_HEARTBEAT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_on_one_replica_promptly_receives_what_the_other_accepted() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, NO_HEARTBEAT).await;
        let mut inbox = b.inbox("yingze-project").await;
        let mut stream = app::subscribe(&mut inbox, Some(0)).await;

        for n in 1..=3 {
            let receipt = app::submit_as_detox(&a, discharge(n)).await;
            let message =
                tokio::time::timeout(Duration::from_secs(5), app::next_message(&mut stream))
                    .await
                    .expect("the hint from replica A did not wake the stream on B");
            assert_eq!(message.position, u64::from(n));
            assert_eq!(message.case.unwrap().case_id, receipt.case_id);
        }
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_inbox_stays_gapless_and_in_one_order_whichever_replica_wrote() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, Duration::from_millis(300)).await;
        const SUBMISSIONS: u32 = 40;
        let mut tasks = Vec::new();
        for n in 1..=SUBMISSIONS {
            let replica = if n % 2 == 0 { &a } else { &b };
            let mut intake = replica.intake("taiyuan-detox").await;
            tasks.push(tokio::spawn(async move {
                intake
                    .submit_discharge(discharge(n))
                    .await
                    .unwrap()
                    .into_inner()
                    .receipt
                    .unwrap()
                    .case_id
            }));
        }
        let mut accepted = BTreeSet::new();
        for task in tasks {
            accepted.insert(task.await.unwrap());
        }
        assert_eq!(accepted.len(), SUBMISSIONS as usize);

        let mut orders = Vec::new();
        for replica in [&a, &b] {
            let mut inbox = replica.inbox("yingze-project").await;
            let mut stream = app::subscribe(&mut inbox, Some(0)).await;
            let mut order = Vec::new();
            for position in 1..=u64::from(SUBMISSIONS) {
                let message = app::next_message(&mut stream).await;
                assert_eq!(message.position, position, "a gap or a reordering");
                order.push(message.case.unwrap().case_id);
            }
            orders.push(order);
        }
        assert_eq!(orders[0], orders[1], "both replicas serve one order");
        assert_eq!(orders[0].iter().cloned().collect::<BTreeSet<_>>(), accepted);
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_on_the_other_replica_gets_the_first_answer_and_a_decision_opens_one_case() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, Duration::from_millis(300)).await;
        for n in 1..=10 {
            // The same request on both replicas at once.
            let (mut on_a, mut on_b) = (
                a.intake("taiyuan-detox").await,
                b.intake("taiyuan-detox").await,
            );
            let (first, second) = tokio::join!(
                on_a.submit_discharge(discharge(n)),
                on_b.submit_discharge(discharge(n)),
            );
            let first = first.unwrap().into_inner().receipt.unwrap();
            let second = second.unwrap().into_inner().receipt.unwrap();
            assert_eq!(first.case_id, second.case_id);
            assert_eq!(
                first.accepted_at, second.accepted_at,
                "one answer, replayed"
            );
            assert_eq!(a.case_for_office(&first.case_id).await.history.len(), 1);

            // One decision under two request ids, on both replicas at once.
            let reused = pb::SubmitDischargeRequest {
                request_id: format!("other-{n}"),
                decision_number: format!("X-{n}"),
                ..discharge(n + 100)
            };
            let again = pb::SubmitDischargeRequest {
                request_id: format!("another-{n}"),
                ..reused.clone()
            };
            let (one, other) =
                tokio::join!(on_a.submit_discharge(reused), on_b.submit_discharge(again));
            let outcomes = [one.map(|_| ()), other.map(|_| ())];
            let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
            let refused: Vec<Code> = outcomes
                .iter()
                .filter_map(|o| o.as_ref().err().map(tonic::Status::code))
                .collect();
            assert_eq!((accepted, refused), (1, vec![Code::AlreadyExists]));
        }
        a.stop().await;
        b.stop().await;
    })
    .await;
}

/// The kinds of the deadlines the case records as missed.
async fn escalations(app: &App, case_id: &str) -> Vec<pb::DeadlineKind> {
    app.case_for_office(case_id)
        .await
        .history
        .iter()
        .filter_map(|event| match &event.detail {
            Some(pb::case_event::Detail::DeadlineMissed(missed)) => Some(missed.kind()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missed_deadline_escalates_once_however_many_replicas_scan() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, Duration::from_millis(300)).await;
        let mut cases = Vec::new();
        for n in 1..=5 {
            cases.push(app::submit_as_detox(&a, discharge(n)).await.case_id);
        }
        // Past the pickup deadline (a day after release) on both clocks; the
        // background scans of both replicas race the explicit ones.
        for replica in [&a, &b] {
            replica.clock.advance(time::Duration::hours(24));
        }
        let scans = (0..4).map(|i| {
            let gateway = if i % 2 == 0 {
                a.gateway.clone()
            } else {
                b.gateway.clone()
            };
            tokio::spawn(async move { gateway.escalate_due().await.unwrap() })
        });
        let mut recorded = 0;
        for scan in scans {
            recorded += scan.await.unwrap();
        }
        assert!(
            recorded <= cases.len(),
            "{recorded} escalations recorded for {} cases",
            cases.len()
        );
        assert_eq!(a.gateway.escalate_due().await.unwrap(), 0);
        assert_eq!(b.gateway.escalate_due().await.unwrap(), 0);
        for case_id in &cases {
            assert_eq!(
                escalations(&b, case_id).await,
                [pb::DeadlineKind::Pickup],
                "{case_id}"
            );
        }
        // Whatever else the office hears, each case's missed pickup
        // reaches it once.
        let office = AgencyId::parse("shanxi-office").unwrap();
        let head = b.gateway.storage().inbox_state(&office).await.unwrap().head;
        let mut inbox = b.inbox("shanxi-office").await;
        let mut stream = app::subscribe(&mut inbox, Some(0)).await;
        let mut escalated = Vec::new();
        for _ in 0..head {
            let message = app::next_message(&mut stream).await;
            if let Some(pb::case_event::Detail::DeadlineMissed(_)) =
                message.event.as_ref().and_then(|e| e.detail.as_ref())
            {
                escalated.push(message.case.unwrap().case_id);
            }
        }
        escalated.sort();
        let mut expected = cases.clone();
        expected.sort();
        assert_eq!(escalated, expected, "one escalation message per case");
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_still_learns_of_messages_when_the_hints_connection_drops() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, NO_HEARTBEAT).await;
        let mut inbox = b.inbox("yingze-project").await;
        let mut stream = app::subscribe(&mut inbox, Some(0)).await;
        let first = app::submit_as_detox(&a, discharge(1)).await;
        let message = app::next_message(&mut stream).await;
        assert_eq!(message.case.unwrap().case_id, first.case_id);

        // Cut every listening connection (both replicas'): hints sent
        // before they listen again are lost, and the replicas must say so.
        let mut admin = PgConnection::connect(db.setting.to_str().unwrap())
            .await
            .unwrap();
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(cut, [true, true], "each replica listens on one connection");
        let second = app::submit_as_detox(&a, discharge(2)).await;
        let message = tokio::time::timeout(Duration::from_secs(10), app::next_message(&mut stream))
            .await
            .expect("a lost hint left the stream waiting for its heartbeat");
        assert_eq!(message.position, 2);
        assert_eq!(message.case.unwrap().case_id, second.case_id);
        a.stop().await;
        b.stop().await;
    })
    .await;
}

async fn signed_head(
    replica: &App,
    agency: &str,
) -> Result<handover_gateway::domain::audit::Head, tonic::Status> {
    let response = replica
        .audit_heads(agency)
        .await
        .get_audit_head(pb::GetAuditHeadRequest {})
        .await?;
    let signed = response.into_inner().head.expect("a head");
    let key = replica.gateway.receipt_signer().public_key();
    Ok(handover_gateway::api::verify_audit_head(&signed, &key).unwrap())
}

/// Each replica signs heads of the one log the replicas share, and each
/// checks from the last head it signed itself: a log cut under them is
/// refused by both, each naming where it parts from its own last head.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_replicas_sign_heads_of_the_one_log_and_refuse_it_cut() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, NO_HEARTBEAT).await;
        app::submit_as_detox(&a, discharge(1)).await;
        let first = signed_head(&a, "shanxi-office").await.unwrap();
        app::submit_as_detox(&b, discharge(2)).await;
        let second = signed_head(&b, "yingze-police").await.unwrap();
        assert!(second.entries > first.entries, "{first} then {second}");
        let third = signed_head(&a, "yingze-police").await.unwrap();
        assert!(third.entries > second.entries, "{second} then {third}");

        db.raw_execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
            .await
            .unwrap();
        let cut = format!("DELETE FROM audit_log WHERE sequence >= {}", second.entries);
        db.raw_execute(&cut).await.unwrap();
        // A finds its head gone; its refused call's entry then takes the
        // place of B's head, chained well, and B finds that by the hash.
        for (replica, found) in [
            (&a, format!("entry {} was removed", third.entries)),
            (&b, format!("entry {} was changed", second.entries)),
        ] {
            let refused = signed_head(replica, "shanxi-office").await.unwrap_err();
            assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
            assert!(refused.message().contains(&found), "{}", refused.message());
        }
    })
    .await;
}
