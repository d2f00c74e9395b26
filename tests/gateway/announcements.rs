//! A release announced before discharge: a detox center revises the
//! notice by sending it again, or withdraws it, and whoever a notice
//! reached hears of each change.

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

fn announcement(request_id: &str, person: &pb::Person, day: &str) -> pb::AnnounceReleaseRequest {
    pb::AnnounceReleaseRequest {
        request_id: request_id.into(),
        decision_number: "D-43".into(),
        person: Some(person.clone()),
        planned_release_date: day.into(),
        term_months: 24,
    }
}

#[tokio::test]
async fn a_notice_sent_again_revises_the_day_and_the_county_and_tells_whom_it_no_longer_names() {
    let app = spawn_app().await;
    let mut intake = app.intake("taiyuan-detox").await;
    let number = id_number("19880808", 43);
    let in_yingze = person(&number, "140106", None);
    let first = intake
        .announce_release(announcement("a-43", &in_yingze, "2026-12-08"))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();

    // Another day: the same case, the same county.
    let later = intake
        .announce_release(announcement("a-43-later", &in_yingze, "2026-12-15"))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(later.case_id, first.case_id);
    assert_eq!(
        (later.state(), later.version),
        (pb::CaseState::Announced, 2)
    );
    assert_eq!(told(&later), told(&first));
    let case = case_as(&app, "yingze-project", &first.case_id).await;
    assert_eq!(case.planned_release_date, "2026-12-15");

    // The person will live in Xiaodian: Yingze's project hears that the
    // release it expected goes there.
    let in_xiaodian = person(&number, "140106", Some("140105"));
    let moved = intake
        .announce_release(announcement("a-43-moved", &in_xiaodian, "2026-12-15"))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(
        (moved.case_id.as_str(), moved.version),
        (first.case_id.as_str(), 3)
    );
    assert_eq!(moved.executing_region, "140105");
    assert_eq!(
        told(&moved),
        [
            ("xiaodian-police".into(), pb::RecipientRole::ExecutingPolice),
            (
                "xiaodian-project".into(),
                pb::RecipientRole::ResponsibleProject
            ),
            ("yingze-police".into(), pb::RecipientRole::HouseholdPolice),
            ("yingze-project".into(), pb::RecipientRole::AnnouncedBefore),
        ]
    );
    assert_eq!(
        heard(&app, "yingze-project", &first.case_id).await,
        ["release-announced"; 3]
    );

    // Released to the household county after all: both projects hear it.
    app.clock.advance(time::Duration::days(5));
    let mut released = discharge("d-43", "D-43", in_yingze);
    released.released_at = Some(prost_types::Timestamp {
        seconds: START.unix_timestamp() + 5 * 86_400,
        nanos: 0,
    });
    let discharged = intake
        .submit_discharge(released)
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(discharged.case_id, first.case_id);
    assert!(!discharged.late_notice, "notice counts from the first one");
    assert_eq!(
        told(&discharged),
        [
            ("xiaodian-police".into(), pb::RecipientRole::AnnouncedBefore),
            (
                "xiaodian-project".into(),
                pb::RecipientRole::AnnouncedBefore
            ),
            ("yingze-police".into(), pb::RecipientRole::ExecutingPolice),
            (
                "yingze-project".into(),
                pb::RecipientRole::ResponsibleProject
            ),
        ]
    );

    // Discharged: no notice revises it any more.
    let refused = intake
        .announce_release(announcement("a-43-after", &in_xiaodian, "2026-12-20"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(violations(&refused), ["decision_number"]);
}

#[tokio::test]
async fn a_notice_for_another_person_or_a_withdrawn_release_revises_nothing() {
    let app = spawn_app().await;
    let mut intake = app.intake("taiyuan-detox").await;
    let someone = person(&id_number("19880808", 44), "140106", None);
    let first = intake
        .announce_release(announcement("a-44", &someone, "2026-12-08"))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    let someone_else = person(&id_number("19880808", 45), "140106", None);
    let refused = intake
        .announce_release(announcement("a-45", &someone_else, "2026-12-08"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert!(refused.message().contains("already exists"), "{refused:?}");

    withdraw_announcement(&app, "taiyuan-detox", &first.case_id, "order extended")
        .await
        .unwrap();
    let refused = intake
        .announce_release(announcement("a-44-again", &someone, "2026-12-20"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert!(refused.message().contains("withdrawn"), "{refused:?}");
    let case = case_as(&app, "taiyuan-detox", &first.case_id).await;
    assert_eq!((case.state(), case.version), (pb::CaseState::Closed, 2));
}
