//! A release announced before discharge: a detox center revises the
//! notice by sending it again, or withdraws it, and whoever a notice
//! reached hears of each change.

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::domain::audit::AuditCaller;
use handover_gateway::domain::clock::Clock;
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
    assert!(
        !withdrawn.unroutable,
        "a withdrawn release was never discharged"
    );
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

/// Receipt of `person`'s discharge for D-43, released now.
async fn discharged_now(app: &App, person: pb::Person) -> Result<pb::Receipt, tonic::Status> {
    let mut released = discharge("d-43", "D-43", person);
    released.released_at = Some(prost_types::Timestamp {
        seconds: app.clock.now().unix_timestamp(),
        nanos: 0,
    });
    let response = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(released)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

#[tokio::test]
async fn a_notice_sent_again_for_another_day_keeps_the_time_the_county_has_known() {
    let app = spawn_app().await;
    let in_yingze = person(&id_number("19880808", 43), "140106", None);
    let first = announce(&app, announcement("a-43", &in_yingze, "2026-12-08")).await;

    app.clock.advance(time::Duration::days(2));
    let later = announce(&app, announcement("a-43-later", &in_yingze, "2026-12-15")).await;
    assert_eq!(later.case_id, first.case_id);
    assert_eq!(
        (later.state(), later.version),
        (pb::CaseState::Announced, 2)
    );
    assert_eq!(told(&later), told(&first));
    let case = case_as(&app, "yingze-project", &first.case_id).await;
    assert_eq!(case.planned_release_date, "2026-12-15");

    // Four days after the first notice, two after the revision.
    app.clock.advance(time::Duration::days(2));
    let released = discharged_now(&app, in_yingze).await.unwrap();
    assert_eq!(released.case_id, first.case_id);
    assert!(!released.late_notice, "Yingze has known for four days");
    assert_eq!(
        told(&released),
        [
            ("yingze-police".into(), pb::RecipientRole::ExecutingPolice),
            (
                "yingze-project".into(),
                pb::RecipientRole::ResponsibleProject
            ),
        ]
    );

    // Discharged: no notice revises it any more.
    let refused = app
        .intake("taiyuan-detox")
        .await
        .announce_release(announcement(
            "a-43-after",
            &released_person(43),
            "2026-12-20",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(violations(&refused), ["decision_number"]);
}

/// Who a discharge to Xiaodian without timely notice reaches, of a person
/// whose household is Yingze.
fn released_late_to_xiaodian() -> Vec<(String, pb::RecipientRole)> {
    vec![
        ("shanxi-office".into(), pb::RecipientRole::Oversight),
        ("xiaodian-police".into(), pb::RecipientRole::ExecutingPolice),
        (
            "xiaodian-project".into(),
            pb::RecipientRole::ResponsibleProject,
        ),
        ("yingze-police".into(), pb::RecipientRole::HouseholdPolice),
    ]
}

fn released_person(seq: u32) -> pb::Person {
    person(&id_number("19880808", seq), "140106", Some("140105"))
}

#[tokio::test]
async fn a_notice_moved_to_another_county_tells_the_first_and_counts_afresh() {
    let app = spawn_app().await;
    let in_yingze = person(&id_number("19880808", 43), "140106", None);
    let first = announce(&app, announcement("a-43", &in_yingze, "2026-12-08")).await;

    // The person will live in Xiaodian: Yingze's project hears that the
    // release it expected goes there.
    app.clock.advance(time::Duration::days(2));
    let in_xiaodian = released_person(43);
    let moved = announce(&app, announcement("a-43-moved", &in_xiaodian, "2026-12-08")).await;
    assert_eq!(
        (moved.case_id.as_str(), moved.version),
        (first.case_id.as_str(), 2)
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
    assert!(!moved.late_notice, "six days ahead of the planned day");

    // Two days later, to Xiaodian: it has known for two days only, and
    // Yingze's project, told of the move, hears no more.
    app.clock.advance(time::Duration::days(2));
    let released = discharged_now(&app, in_xiaodian).await.unwrap();
    assert!(released.late_notice, "Xiaodian has known for two days");
    assert_eq!(told(&released), released_late_to_xiaodian());
    assert_eq!(
        heard(&app, "yingze-project", &first.case_id).await,
        ["release-announced", "release-announced"]
    );
}

#[tokio::test]
async fn a_discharge_elsewhere_than_announced_reaches_the_county_announced() {
    let app = spawn_app().await;
    let in_yingze = person(&id_number("19880808", 46), "140106", None);
    let first = announce(&app, announcement("a-46", &in_yingze, "2026-12-08")).await;
    app.clock.advance(time::Duration::days(4));
    let released = discharged_now(&app, released_person(46)).await.unwrap();
    assert_eq!(released.case_id, first.case_id);
    assert!(released.late_notice, "no notice named Xiaodian");
    assert_eq!(
        told(&released),
        [
            released_late_to_xiaodian(),
            vec![("yingze-project".into(), pb::RecipientRole::AnnouncedBefore)],
        ]
        .concat()
    );
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
    // Only the center that withdrew learns that it did.
    let refused = intake
        .announce_release(announcement("a-45-again", &someone_else, "2026-12-20"))
        .await
        .unwrap_err();
    assert!(refused.message().contains("already exists"), "{refused:?}");
    let case = case_as(&app, "taiyuan-detox", &first.case_id).await;
    assert_eq!((case.state(), case.version), (pb::CaseState::Closed, 2));

    // The county held a notice, not a case: its police read the withdrawn
    // release as any passing part, then neither read nor list it.
    let police_read = || async {
        let request = pb::GetCaseRequest {
            key: Some(Key::CaseId(first.case_id.clone())),
            purpose: "withdrawal test".into(),
        };
        let read = app.cases("yingze-police").await.get_case(request).await;
        let request = pb::ListCasesRequest {
            county: "140106".into(),
            ..Default::default()
        };
        let list = app.cases("yingze-police").await.list_cases(request).await;
        let listed = list.unwrap().into_inner().cases;
        (read.map(drop).map_err(|s| s.code()), listed.len())
    };
    assert_eq!(police_read().await, (Ok(()), 1));
    app.clock.advance(time::Duration::days(91));
    assert_eq!(police_read().await, (Err(Code::NotFound), 0));

    // A page reads on past a case its reader may not see: a page of one
    // shows the release after it, not nothing.
    let mut released = discharge(
        "d-46",
        "D-46",
        person(&id_number("19880808", 46), "140106", None),
    );
    released.released_at = Some(prost_types::Timestamp {
        seconds: app.clock.now().unix_timestamp(),
        nanos: 0,
    });
    let later = submit_as_detox(&app, released).await.case_id;
    let request = pb::ListCasesRequest {
        county: "140106".into(),
        page_size: 1,
        ..Default::default()
    };
    let page = app.cases("yingze-police").await.list_cases(request).await;
    let page = page.unwrap().into_inner();
    let listed: Vec<_> = page.cases.iter().map(|case| case.case_id.clone()).collect();
    assert_eq!(listed, std::slice::from_ref(&later));
    assert_eq!(
        page.next_page_token, later,
        "a full page may have more after it"
    );
}
