use handover_gateway::api::pb;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn a_discharge_reaches_the_county_project_and_police_and_the_household_police_copy() {
    let app = spawn_app().await;
    let mut project = app.inbox("xiaodian-project").await;
    let mut project_stream = subscribe(&mut project, None).await;
    let mut police = app.inbox("xiaodian-police").await;
    let mut police_stream = subscribe(&mut police, None).await;
    let mut household = app.inbox("yingze-police").await;
    let mut household_stream = subscribe(&mut household, None).await;

    let person = person(&id_number("19900307", 123), "140106", Some("140105"));
    let receipt = submit_as_detox(&app, discharge("r-1", "D-2026-1", person)).await;

    assert_eq!(receipt.executing_region, "140105");
    assert_eq!(receipt.responsible_project_id, "xiaodian-project");
    let mut delivered: Vec<_> = receipt
        .deliveries
        .iter()
        .map(|d| (d.agency_id.as_str(), d.role()))
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            // No pre-release notice came: the discharge is escalated as it
            // is delivered.
            ("shanxi-office", pb::RecipientRole::Oversight),
            ("xiaodian-police", pb::RecipientRole::ExecutingPolice),
            ("xiaodian-project", pb::RecipientRole::ResponsibleProject),
            ("yingze-police", pb::RecipientRole::HouseholdPolice),
        ]
    );
    for (stream, role) in [
        (&mut project_stream, pb::RecipientRole::ResponsibleProject),
        (&mut police_stream, pb::RecipientRole::ExecutingPolice),
        (&mut household_stream, pb::RecipientRole::HouseholdPolice),
    ] {
        let message = next_message(stream).await;
        assert_eq!(message.position, 1);
        assert_eq!(message.role(), role);
        let case = message.case.unwrap();
        assert_eq!(case.case_id, receipt.case_id);
        assert_eq!(case.state(), pb::CaseState::AwaitingPickup);
        assert_eq!(case.responsible_project_id, "xiaodian-project");
        assert_eq!(case.deadlines.len(), 2);
    }
}

#[tokio::test]
async fn a_discharge_in_the_household_county_sends_no_copy() {
    let app = spawn_app().await;
    let person = person(&id_number("19900307", 124), "140106", None);
    let receipt = submit_as_detox(&app, discharge("r-1", "D-2026-2", person)).await;
    let agencies: Vec<_> = receipt
        .deliveries
        .iter()
        .map(|d| d.agency_id.as_str())
        .collect();
    assert_eq!(
        agencies,
        ["yingze-project", "yingze-police", "shanxi-office"]
    );
}

#[tokio::test]
async fn a_county_without_a_project_goes_to_the_oversight_office_as_unroutable() {
    let app = spawn_app().await;
    let mut office = app.inbox("shanxi-office").await;
    let mut stream = subscribe(&mut office, None).await;
    // 140107 (Xinghualing) has no registered project or police.
    let person = person(&id_number("19900307", 125), "140107", None);
    let receipt = submit_as_detox(&app, discharge("r-1", "D-2026-3", person)).await;
    assert!(receipt.unroutable);
    assert_eq!(receipt.responsible_project_id, "");
    let agencies: Vec<_> = receipt
        .deliveries
        .iter()
        .map(|d| d.agency_id.as_str())
        .collect();
    assert_eq!(agencies, ["taiyuan-police", "shanxi-office"]);
    let message = next_message(&mut stream).await;
    assert_eq!(message.role(), pb::RecipientRole::UnroutableOversight);
    assert!(message.case.unwrap().unroutable);
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_a_reused_id_or_decision_is_refused() {
    let app = spawn_app().await;
    let mut intake = app.intake("taiyuan-detox").await;
    let number = id_number("19900307", 126);
    let request = discharge("r-1", "D-2026-4", person(&number, "140106", None));

    let first = intake
        .submit_discharge(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = intake
        .submit_discharge(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);

    let other_content = pb::SubmitDischargeRequest {
        term_months: 12,
        ..request.clone()
    };
    let refused = intake.submit_discharge(other_content).await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert!(
        refused.message().contains("request_id"),
        "{}",
        refused.message()
    );

    let same_decision = pb::SubmitDischargeRequest {
        request_id: "r-2".into(),
        ..request
    };
    let refused = intake.submit_discharge(same_decision).await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(violations(&refused), ["decision_number"]);

    let mut inbox = app.inbox("yingze-project").await;
    let state = inbox
        .acknowledge(pb::AcknowledgeRequest { position: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state.head_position, 1,
        "one decision opened one case and one message"
    );
}

#[tokio::test]
async fn a_retry_whose_planned_date_has_passed_still_gets_the_first_answer() {
    let app = spawn_app().await;
    let mut intake = app.intake("taiyuan-detox").await;
    let number = id_number("19850101", 128);
    let request = pb::AnnounceReleaseRequest {
        request_id: "a-1".into(),
        decision_number: "D-2026-6".into(),
        person: Some(person(&number, "140106", None)),
        planned_release_date: "2026-12-05".into(),
        term_months: 36,
    };
    let first = intake
        .announce_release(request.clone())
        .await
        .unwrap()
        .into_inner();

    app.clock.advance(time::Duration::days(10));
    let again = intake
        .announce_release(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the stored answer, not a refusal");
    let reused = pb::AnnounceReleaseRequest {
        term_months: 24,
        ..request.clone()
    };
    let refused = intake.announce_release(reused).await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    assert!(refused.message().contains("request_id"), "{refused:?}");

    let fresh = pb::AnnounceReleaseRequest {
        request_id: "a-2".into(),
        decision_number: "D-2026-7".into(),
        ..request
    };
    let refused = intake.announce_release(fresh).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused), ["planned_release_date"]);
}

#[tokio::test]
async fn an_announced_release_is_discharged_as_the_same_case() {
    let app = spawn_app().await;
    let mut intake = app.intake("taiyuan-detox").await;
    let number = id_number("19850101", 127);
    let announced = intake
        .announce_release(pb::AnnounceReleaseRequest {
            request_id: "a-1".into(),
            decision_number: "D-2026-5".into(),
            person: Some(person(&number, "140106", None)),
            planned_release_date: "2026-12-05".into(),
            term_months: 36,
        })
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(announced.state(), pb::CaseState::Announced);
    assert!(!announced.late_notice);

    let mut request = discharge("r-1", "D-2026-5", person(&number, "140106", None));
    request.released_at = Some(prost_types::Timestamp {
        seconds: START.unix_timestamp() + 7 * 86_400,
        nanos: 0,
    });
    app.clock.advance(time::Duration::days(7));
    let discharged = intake
        .submit_discharge(request)
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(discharged.case_id, announced.case_id);
    assert_eq!(discharged.state(), pb::CaseState::AwaitingPickup);
    assert!(!discharged.late_notice, "announced seven days ahead");

    let case = app
        .cases("yingze-project")
        .await
        .get_case(pb::GetCaseRequest {
            key: Some(pb::get_case_request::Key::CaseId(announced.case_id)),
            purpose: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.history.len(), 2);
    assert_eq!(case.version, 2);
}

#[tokio::test]
async fn an_invalid_identity_number_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let mut intake = app.intake("taiyuan-detox").await;
    let valid = id_number("19900307", 128);
    let wrong_check = format!(
        "{}{}",
        &valid[..17],
        if valid.ends_with('0') { '1' } else { '0' }
    );
    let impossible_date = with_check("14010619900230128");
    for bad in [wrong_check, impossible_date, "12345".to_owned()] {
        let refused = intake
            .submit_discharge(discharge("r-bad", "D-bad", person(&bad, "140106", None)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(violations(&refused), ["person.id_number"], "{bad}");
    }
}

#[tokio::test]
async fn every_wrong_field_is_named_at_once() {
    let app = spawn_app().await;
    let mut request = discharge(
        "",
        "",
        person(&id_number("19900307", 129), "140100", Some("99")),
    );
    request.term_months = 0;
    request.released_at = None;
    let refused = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(request)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&refused),
        ["request_id",]
            .into_iter()
            .chain([
                "decision_number",
                "person.household_region",
                "person.residence_region",
                "released_at",
                "term_months"
            ])
            .collect::<Vec<_>>()
    );
}

fn with_check(first17: &str) -> String {
    handover_gateway::domain::id_number::with_check_character(first17).unwrap()
}

#[tokio::test]
async fn a_county_outside_the_province_goes_to_the_office_above_the_detox_center() {
    let app = spawn_app().await;
    let person = person(&id_number("19900307", 130), "110105", None);
    let receipt = submit_as_detox(&app, discharge("r-1", "D-2026-beijing", person)).await;
    assert!(receipt.unroutable);
    let agencies: Vec<_> = receipt
        .deliveries
        .iter()
        .map(|d| d.agency_id.as_str())
        .collect();
    assert_eq!(agencies, ["shanxi-office"], "never dropped");
    let case = app
        .cases("shanxi-office")
        .await
        .get_case(pb::GetCaseRequest {
            key: Some(pb::get_case_request::Key::CaseId(receipt.case_id.clone())),
            purpose: "unroutable review".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        case.case_id, receipt.case_id,
        "the office that received it can read it"
    );
}

#[tokio::test]
async fn concurrent_submissions_of_one_decision_open_one_case() {
    let app = spawn_app().await;
    let number = id_number("19900307", 131);
    let mut calls = Vec::new();
    for n in 0..12 {
        let mut intake = app.intake("taiyuan-detox").await;
        // Half retry one request id, half use their own.
        let request_id = if n % 2 == 0 {
            "same".to_owned()
        } else {
            format!("own-{n}")
        };
        let request = discharge(&request_id, "D-2026-race", person(&number, "140106", None));
        calls.push(tokio::spawn(async move {
            intake.submit_discharge(request).await
        }));
    }
    let mut case_ids = std::collections::BTreeSet::new();
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(response) => {
                case_ids.insert(response.into_inner().receipt.unwrap().case_id);
            }
            Err(status) => {
                assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(case_ids.len(), 1, "one decision, one case");
    assert!(
        refused >= 5,
        "the other request ids were refused: {refused}"
    );
    let mut inbox = app.inbox("yingze-project").await;
    let state = inbox
        .acknowledge(pb::AcknowledgeRequest { position: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.head_position, 1);
}
