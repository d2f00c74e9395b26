//! The audit log: every call recorded with its outcome, police purposes
//! kept, identity numbers never, and tampering with the stored rows found
//! at the entry it touched, by the library and by `audit verify`.

use std::path::{Path, PathBuf};
use std::process::Command;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::audit::{AuditCaller, AuditEntry, BreakKind, Lookup};
use handover_gateway::domain::region::RegionCode;
use handover_gateway::gateway::verify_audit;
use handover_gateway::pki::client_tls;
use handover_gateway::storage::SqliteStorage;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tonic::Code;

use crate::support::*;

const GET_CASE: &str = "handover.v1.CaseService/GetCase";
const DISCHARGE: &str = "handover.v1.IntakeService/SubmitDischarge";

async fn entries(app: &App) -> Vec<AuditEntry> {
    let rows = app
        .gateway
        .storage()
        .audit_entries(0, 10_000)
        .await
        .unwrap();
    rows.iter().map(|row| row.parse().unwrap()).collect()
}

fn caller_id(entry: &AuditEntry) -> Option<&str> {
    match &entry.record.caller {
        AuditCaller::Agency { id } => Some(id),
        AuditCaller::Unauthenticated { .. } => None,
    }
}

async fn get(app: &App, agency: &str, key: Key, purpose: &str) -> Result<pb::Case, tonic::Status> {
    app.cases(agency)
        .await
        .get_case(pb::GetCaseRequest {
            key: Some(key),
            purpose: purpose.into(),
        })
        .await
        .map(|r| r.into_inner().case.unwrap())
}

#[tokio::test]
async fn accepted_and_refused_calls_are_recorded_with_their_outcome() {
    let app = spawn_app().await;
    let number = id_number("19900307", 601);
    let receipt = submit_as_detox(
        &app,
        discharge("r-1", "D-1", person(&number, "140106", None)),
    )
    .await;
    let refused = app
        .intake("yingze-project")
        .await
        .submit_discharge(discharge("r-2", "D-2", person(&number, "140106", None)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let log = entries(&app).await;
    assert_eq!(log.len(), 2);
    let (accepted, denied) = (&log[0], &log[1]);
    assert_eq!((accepted.sequence, denied.sequence), (1, 2));
    assert_eq!(accepted.record.call, DISCHARGE);
    assert_eq!(caller_id(accepted), Some("taiyuan-detox"));
    assert_eq!(accepted.record.outcome, "OK");
    assert_eq!(accepted.record.reason, None);
    let request_id = accepted.record.details.request_id.as_ref().unwrap();
    assert_eq!(request_id.as_str(), "r-1");
    let case_id = accepted.record.details.case_id.as_ref().unwrap();
    assert_eq!(case_id.as_str(), receipt.case_id);
    assert_eq!(caller_id(denied), Some("yingze-project"));
    assert_eq!(denied.record.outcome, "PERMISSION_DENIED");
    assert_eq!(
        denied.record.reason.as_ref().unwrap().as_str(),
        refused.message()
    );
}

#[tokio::test]
async fn a_caller_the_registry_does_not_know_is_recorded_as_unauthenticated() {
    let app = spawn_app().await;
    let ghost = AgencyRef::new(
        AgencyKind::DetoxCenter,
        RegionCode::parse("140100").unwrap(),
        AgencyId::parse("ghost-detox").unwrap(),
    )
    .unwrap();
    let issued = app.ca().issue_agency(&ghost, "not registered").unwrap();
    let tls = client_tls(
        &app.read("ca.pem"),
        &issued.cert_pem,
        &issued.key_pem,
        "localhost",
    );
    let channel = app.channel_with(tls).await.unwrap();
    let refused = IntakeServiceClient::new(channel)
        .submit_discharge(discharge(
            "r-1",
            "D-1",
            person(&id_number("19900307", 602), "140106", None),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let log = entries(&app).await;
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!(
        entry.record.caller,
        AuditCaller::Unauthenticated {
            claimed: Some("ghost-detox".into())
        }
    );
    assert_eq!(entry.record.call, DISCHARGE);
    assert_eq!(entry.record.outcome, "UNAUTHENTICATED");
    assert!(
        entry
            .record
            .reason
            .as_ref()
            .unwrap()
            .as_str()
            .contains("ghost-detox")
    );
}

#[tokio::test]
async fn a_police_query_keeps_its_purpose_but_no_identity_number() {
    let app = spawn_app().await;
    let number = id_number("19900307", 603);
    let case_id = submit_as_detox(
        &app,
        discharge("r-1", "D-1", person(&number, "140106", None)),
    )
    .await
    .case_id;
    let purpose = format!("traffic stop, checked {number} on the spot");
    let case = get(
        &app,
        "yingze-police",
        Key::IdNumber(number.clone()),
        &purpose,
    )
    .await
    .unwrap();
    assert_eq!(case.case_id, case_id);
    let unknown = id_number("19900307", 604);
    get(
        &app,
        "yingze-police",
        Key::IdNumber(unknown.clone()),
        "routine check",
    )
    .await
    .unwrap_err();

    let log = entries(&app).await;
    let queries: Vec<_> = log.iter().filter(|e| e.record.call == GET_CASE).collect();
    assert_eq!(queries.len(), 2);
    let found = &queries[0].record;
    assert_eq!(found.outcome, "OK");
    assert_eq!(
        found.details.purpose.as_ref().unwrap().as_str(),
        "traffic stop, checked [id number] on the spot"
    );
    assert_eq!(found.details.case_id.as_ref().unwrap().as_str(), case_id);
    let Some(Lookup::IdNumber {
        person: Some(person),
    }) = &found.details.lookup
    else {
        panic!("{:?}", found.details.lookup);
    };
    assert_eq!(person.len(), 64, "the keyed person hash, in hex");
    assert_eq!(queries[1].record.outcome, "NOT_FOUND");
    assert_eq!(
        queries[1].record.details.purpose.as_ref().unwrap().as_str(),
        "routine check"
    );

    let raw = app
        .gateway
        .storage()
        .audit_entries(0, 10_000)
        .await
        .unwrap();
    for row in raw {
        for secret in [&number, &unknown, &number[..17].to_owned()] {
            assert!(!row.entry.contains(secret.as_str()), "{}", row.entry);
        }
    }
}

#[tokio::test]
async fn inbox_calls_record_where_they_start_and_what_they_acknowledge() {
    let app = spawn_app().await;
    submit_as_detox(
        &app,
        discharge(
            "r-1",
            "D-1",
            person(&id_number("19900307", 605), "140106", None),
        ),
    )
    .await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, Some(0)).await;
    let message = next_message(&mut stream).await;
    inbox
        .acknowledge(pb::AcknowledgeRequest {
            position: message.position,
        })
        .await
        .unwrap();

    let log = entries(&app).await;
    let calls: Vec<_> = log
        .iter()
        .map(|e| (e.record.call.as_str(), e.record.details.position))
        .collect();
    assert_eq!(
        calls,
        [
            (DISCHARGE, None),
            ("handover.v1.InboxService/Subscribe", Some(0)),
            (
                "handover.v1.InboxService/Acknowledge",
                Some(message.position)
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_make_one_gapless_chain() {
    let app = spawn_app().await;
    let number = id_number("19900307", 606);
    let case_id = submit_as_detox(
        &app,
        discharge("r-1", "D-1", person(&number, "140106", None)),
    )
    .await
    .case_id;
    let client = app.cases("shanxi-office").await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let mut client = client.clone();
        let request = pb::GetCaseRequest {
            key: Some(Key::CaseId(case_id.clone())),
            purpose: String::new(),
        };
        calls.spawn(async move { client.get_case(request).await });
    }
    while let Some(answer) = calls.join_next().await {
        answer.unwrap().unwrap();
    }
    let head = verify_audit(app.gateway.storage().as_ref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.entries, 17);
}

/// A log of five entries on a stopped server's database.
async fn stopped_with_five_entries() -> tempfile::TempDir {
    let app = spawn_app().await;
    let case_id = submit_as_detox(
        &app,
        discharge(
            "r-1",
            "D-1",
            person(&id_number("19900307", 607), "140106", None),
        ),
    )
    .await
    .case_id;
    for _ in 0..4 {
        app.case_for_office(&case_id).await;
    }
    assert_eq!(entries(&app).await.len(), 5);
    app.stop().await
}

/// A copy of the stopped database, tampered with by `statements` run
/// directly (the append-only triggers dropped first, as an intruder would).
async fn tampered(dir: &Path, name: &str, statements: &[&str]) -> PathBuf {
    let copy = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let original = dir.join(format!("data/gateway.db{suffix}"));
        if original.exists() {
            std::fs::copy(&original, dir.join(format!("{name}.db{suffix}"))).unwrap();
        }
    }
    let mut db = SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(&mut db)
        .await
        .unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
    copy
}

async fn verified(database: &Path) -> Result<u64, (u64, BreakKind)> {
    let storage = SqliteStorage::open_read_only(database).await.unwrap();
    let checked = verify_audit(&storage).await.unwrap();
    storage.close().await;
    checked
        .map(|head| head.entries)
        .map_err(|found| (found.sequence, found.kind))
}

fn audit_verify(database: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(["audit", "verify", "--database"])
        .arg(database)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn tampering_with_the_stored_rows_is_found_at_the_entry_it_touched() {
    let dir = stopped_with_five_entries().await;
    let original = dir.path().join("data/gateway.db");
    assert_eq!(verified(&original).await, Ok(5));
    let (ok, text) = audit_verify(&original);
    assert!(ok, "{text}");
    assert!(
        text.starts_with("audit log intact: 5 entries, head "),
        "{text}"
    );

    let changed = tampered(
        dir.path(),
        "changed",
        &["UPDATE audit_log SET entry = replace(entry, '\"OK\"', '\"NOT_FOUND\"') WHERE sequence = 3"],
    )
    .await;
    let removed = tampered(
        dir.path(),
        "removed",
        &["DELETE FROM audit_log WHERE sequence = 3"],
    )
    .await;
    let inserted = tampered(
        dir.path(),
        "inserted",
        &[
            "UPDATE audit_log SET sequence = -sequence - 1 WHERE sequence >= 3",
            "UPDATE audit_log SET sequence = -sequence WHERE sequence < 0",
            "INSERT INTO audit_log (sequence, entry, hash) \
             VALUES (3, '{\"sequence\":3,\"call\":\"made up\"}', randomblob(32))",
        ],
    )
    .await;
    for (database, kind, word) in [
        (changed, BreakKind::Changed, "changed"),
        (removed, BreakKind::Removed, "removed"),
        (inserted, BreakKind::Inserted, "inserted"),
    ] {
        assert_eq!(verified(&database).await, Err((3, kind)), "{word}");
        let (ok, text) = audit_verify(&database);
        assert!(!ok, "{word}: {text}");
        assert!(text.contains(&format!("entry 3 was {word}")), "{text}");
    }
}
