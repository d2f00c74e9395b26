//! A detox center withdraws a release it announced: the case closes as
//! release-withdrawn, everyone the notice reached hears of it, and the
//! decision cannot be discharged afterwards.

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::domain::audit::AuditCaller;
use tonic::Code;

use crate::steps::*;
use crate::support::*;

fn told(receipt: &pb::Receipt) -> Vec<(String, pb::RecipientRole)> {
    let mut told: Vec<_> = receipt
        .deliveries
        .iter()
        .map(|d| (d.agency_id.clone(), d.role()))
        .collect();
    told.sort();
    told
}

async fn case_as(app: &App, agency: &str, case_id: &str) -> pb::Case {
    let request = pb::GetCaseRequest {
        key: Some(Key::CaseId(case_id.into())),
        purpose: "withdrawal test".into(),
    };
    let response = app.cases(agency).await.get_case(request).await.unwrap();
    response.into_inner().case.unwrap()
}

#[tokio::test]
async fn a_withdrawn_announcement_closes_the_case_and_reaches_everyone_the_notice_did() {
    let app = spawn_app().await;
    // Household in Yingze, living in Xiaodian with consent.
    let person = person(&id_number("19880808", 41), "140106", Some("140105"));
    let announced = announce_in(&app, "a-41", "D-41", person.clone()).await;
    assert_eq!(announced.state(), pb::CaseState::Announced);
    let case_id = announced.case_id.clone();

    let refused = withdraw_announcement(&app, "xiaodian-project", &case_id, "not released")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(
        refused.message(),
        "only a detox center may withdraw the announcement"
    );
    let refused = withdraw_announcement(&app, "taiyuan-detox", &case_id, " ")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused), ["reason"]);

    let withdrawn = withdraw_announcement(&app, "taiyuan-detox", &case_id, "order extended")
        .await
        .unwrap();
    assert_eq!(withdrawn.case_id, case_id);
    assert_eq!(withdrawn.state(), pb::CaseState::Closed);
    assert_eq!(withdrawn.version, 2);
    assert_eq!(told(&withdrawn), told(&announced));
    assert_eq!(
        told(&withdrawn),
        [
            ("xiaodian-police".into(), pb::RecipientRole::ExecutingPolice),
            (
                "xiaodian-project".into(),
                pb::RecipientRole::ResponsibleProject
            ),
            ("yingze-police".into(), pb::RecipientRole::HouseholdPolice),
        ]
    );
    for agency in ["xiaodian-project", "xiaodian-police", "yingze-police"] {
        assert_eq!(
            heard(&app, agency, &case_id).await,
            ["release-announced", "closed"],
            "{agency}"
        );
    }
    assert!(heard(&app, "taiyuan-detox", &case_id).await.is_empty());

    let again = withdraw_announcement(&app, "taiyuan-detox", &case_id, "order extended")
        .await
        .unwrap();
    assert_eq!(again.signed_content, withdrawn.signed_content, "a retry");
    let refused = withdraw_announcement(&app, "taiyuan-detox", &case_id, "twice")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("closed"), "{refused:?}");

    let case = case_as(&app, "taiyuan-detox", &case_id).await;
    assert_eq!(case.state(), pb::CaseState::Closed);
    assert_eq!(case.closure_reason(), pb::ClosureReason::ReleaseWithdrawn);
    assert!(case.responsible_project_id.is_empty());

    let refused = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(discharge("d-41", "D-41", person))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(violations(&refused), ["decision_number"]);
    assert!(refused.message().contains("withdrawn"), "{refused:?}");

    let calls: Vec<(String, String)> = audit_log(&app)
        .await
        .into_iter()
        .filter(|e| e.record.call.ends_with("/WithdrawAnnouncement"))
        .map(|e| match e.record.caller {
            AuditCaller::Agency { id } => (id, e.record.outcome),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("xiaodian-project".into(), "PERMISSION_DENIED".into()),
            ("taiyuan-detox".into(), "INVALID_ARGUMENT".into()),
            ("taiyuan-detox".into(), "OK".into()),
            ("taiyuan-detox".into(), "OK".into()),
            ("taiyuan-detox".into(), "FAILED_PRECONDITION".into()),
        ]
    );
}

#[tokio::test]
async fn a_discharged_case_cannot_be_withdrawn_and_a_project_cannot_close_as_withdrawn() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 42).await.case_id;
    let refused = withdraw_announcement(&app, "taiyuan-detox", &case_id, "mistake")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("awaiting-pickup"), "{refused:?}");

    let refused = close(
        &app,
        "yingze-project",
        &case_id,
        pb::ClosureReason::ReleaseWithdrawn,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused), ["reason"]);
    let case = case_as(&app, "yingze-project", &case_id).await;
    assert_eq!(case.state(), pb::CaseState::AwaitingPickup);
}
