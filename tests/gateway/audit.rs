//! The audit log: every call recorded with its outcome, police purposes
//! kept, identity numbers never ([`queries`]), and tampering with the
//! stored rows found at the entry it touched, by the library and by
//! `audit verify` ([`tamper`]).

mod heads;
mod queries;
mod tamper;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::audit::{AuditCaller, AuditEntry};
use handover_gateway::domain::intake::DecisionNumber;
use handover_gateway::domain::region::RegionCode;
use handover_gateway::gateway::verify_audit;
use handover_gateway::pki::client_tls;
use handover_gateway::storage::{CaseKey, Lookup as Found};
use tonic::Code;

use crate::support::*;

const GET_CASE: &str = "handover.v1.CaseService/GetCase";
const DISCHARGE: &str = "handover.v1.IntakeService/SubmitDischarge";

async fn entries(app: &App) -> Vec<AuditEntry> {
    audit_log(app).await
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
async fn a_write_a_replay_and_a_conflict_are_recorded_once_each() {
    let app = spawn_app().await;
    let number = id_number("19900307", 602);
    let first = discharge("r-1", "D-1", person(&number, "140106", None));
    let case_id = submit_as_detox(&app, first.clone()).await.case_id;
    let replayed = submit_as_detox(&app, first).await;
    assert_eq!(replayed.case_id, case_id);
    let taken = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(discharge("r-2", "D-1", person(&number, "140106", None)))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);

    let log: Vec<_> = entries(&app)
        .await
        .into_iter()
        .map(|e| {
            let details = e.record.details;
            (
                e.record.outcome,
                details.request_id.map(|r| r.as_str().to_owned()),
                details.case_id.map(|c| c.as_str().to_owned()),
            )
        })
        .collect();
    let entry = |outcome: &str, request: &str, case: Option<&str>| {
        (
            outcome.to_owned(),
            Some(request.to_owned()),
            case.map(str::to_owned),
        )
    };
    assert_eq!(
        log,
        [
            entry("OK", "r-1", Some(&case_id)),
            entry("OK", "r-1", Some(&case_id)),
            entry("ALREADY_EXISTS", "r-2", None),
        ]
    );
}

/// On SQLite a submission's entry is written in the write's own
/// transaction: when the entry cannot be written, neither is the case,
/// so no answer the caller never got is ever stored without its record.
#[tokio::test]
async fn a_write_whose_audit_entry_cannot_be_written_is_not_written_either() {
    let app = spawn_app().await;
    let db = rusqlite::Connection::open(app.dir.path().join("data/gateway.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER audit_log_refuses BEFORE INSERT ON audit_log
         BEGIN SELECT RAISE(ABORT, 'the test refuses audit entries'); END;",
    )
    .unwrap();
    let number = id_number("19900307", 603);
    let request = discharge("r-1", "D-1", person(&number, "140106", None));
    let refused = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(request.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let decision = CaseKey::Decision(DecisionNumber::parse("D-1").unwrap(), [0; 32]);
    let storage = app.gateway.storage();
    let detox = AgencyId::parse("taiyuan-detox").unwrap();
    let found = storage
        .answer_or_case(&detox, "r-1", &decision)
        .await
        .map(|looked| looked.found);
    assert!(
        matches!(found, Ok(Found::Unanswered(None, _))),
        "neither the answer nor the case: {found:?}"
    );

    db.execute_batch("DROP TRIGGER audit_log_refuses").unwrap();
    let receipt = submit_as_detox(&app, request).await;
    let found = storage
        .answer_or_case(&detox, "r-2", &decision)
        .await
        .map(|looked| looked.found);
    match found {
        Ok(Found::Unanswered(Some(stored), _)) => assert_eq!(stored.id.as_str(), receipt.case_id),
        other => panic!("the case: {other:?}"),
    }
    let log = entries(&app).await;
    assert_eq!(log.len(), 1, "only the accepted call's entry: {log:?}");
    assert_eq!(log[0].record.outcome, "OK");
}

#[tokio::test]
async fn a_supervision_command_records_its_request_and_case_whoever_sends_it() {
    let app = spawn_app().await;
    let number = id_number("19900307", 608);
    let case_id = submit_as_detox(
        &app,
        discharge("r-1", "D-1", person(&number, "140106", None)),
    )
    .await
    .case_id;
    let pickup = |request_id: &str| pb::ConfirmPickupRequest {
        request_id: request_id.into(),
        case_id: case_id.clone(),
        expected_version: None,
    };
    let refused = app
        .supervision("xiaodian-project")
        .await
        .confirm_pickup(pickup("p-0"))
        .await
        .unwrap_err();
    app.supervision("yingze-project")
        .await
        .confirm_pickup(pickup("p-1"))
        .await
        .unwrap();

    let log = entries(&app).await;
    let pickups: Vec<_> = log
        .iter()
        .filter(|e| e.record.call == "handover.v1.SupervisionService/ConfirmPickup")
        .map(|e| {
            let details = &e.record.details;
            (
                caller_id(e).unwrap(),
                e.record.outcome.as_str(),
                details.request_id.as_ref().unwrap().as_str(),
                details.case_id.as_ref().unwrap().as_str(),
            )
        })
        .collect();
    let refusal = match refused.code() {
        Code::NotFound => "NOT_FOUND",
        _ => "PERMISSION_DENIED",
    };
    assert_eq!(
        pickups,
        [
            ("xiaodian-project", refusal, "p-0", case_id.as_str()),
            ("yingze-project", "OK", "p-1", case_id.as_str()),
        ]
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
