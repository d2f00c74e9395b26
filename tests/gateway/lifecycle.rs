//! The case lifecycle end to end over mutual TLS: who is responsible at
//! every step, and who hears of it.

use handover_gateway::api::pb;
use tonic::Code;

use crate::steps::*;
use crate::support::*;

#[tokio::test]
async fn a_person_moves_from_yingze_to_xiaodian_and_both_police_follow_every_step() {
    let app = spawn_app().await;
    let mut yingze_police = app.inbox("yingze-police").await;
    let mut yingze = subscribe(&mut yingze_police, None).await;
    let mut xiaodian_police = app.inbox("xiaodian-police").await;
    let mut xiaodian = subscribe(&mut xiaodian_police, None).await;
    let mut detox_inbox = app.inbox("taiyuan-detox").await;
    let mut detox = subscribe(&mut detox_inbox, None).await;

    let discharged = discharged_in_yingze(&app, 1).await;
    let case_id = discharged.case_id.clone();
    assert_eq!(discharged.responsible_project_id, "yingze-project");
    assert_eq!(event_name(&next_message(&mut yingze).await), "discharged");

    let picked_up = pickup(&app, "yingze-project", &case_id).await.unwrap();
    assert_eq!(picked_up.state(), pb::CaseState::PickedUp);
    assert_eq!(event_name(&next_message(&mut yingze).await), "picked-up");
    let told = next_message(&mut detox).await;
    assert_eq!(event_name(&told), "picked-up");
    assert_eq!(told.role(), pb::RecipientRole::DetoxCenter);

    let reported = report(&app, "yingze-project", &case_id).await.unwrap();
    assert_eq!(reported.state(), pb::CaseState::UnderSupervision);
    assert_eq!(event_name(&next_message(&mut yingze).await), "reported");

    let requested = request_transfer(&app, "yingze-project", &case_id, "140105")
        .await
        .unwrap();
    assert_eq!(requested.state(), pb::CaseState::TransferPending);
    assert_eq!(requested.responsible_project_id, "yingze-project");
    for (stream, role) in [
        (&mut yingze, pb::RecipientRole::ExecutingPolice),
        (&mut xiaodian, pb::RecipientRole::ReceivingPolice),
    ] {
        let message = next_message(stream).await;
        assert_eq!(event_name(&message), "transfer-requested");
        assert_eq!(message.role(), role);
    }

    let accepted = accept(&app, "xiaodian-project", &case_id, None)
        .await
        .unwrap();
    assert_eq!(accepted.state(), pb::CaseState::TransferPending);
    assert_eq!(
        accepted.responsible_project_id, "yingze-project",
        "the sender stays responsible until the person arrives"
    );
    for stream in [&mut yingze, &mut xiaodian] {
        assert_eq!(event_name(&next_message(stream).await), "transfer-accepted");
    }

    let arrived = arrive(&app, "xiaodian-project", &case_id).await.unwrap();
    assert_eq!(arrived.state(), pb::CaseState::UnderSupervision);
    assert_eq!(arrived.responsible_project_id, "xiaodian-project");
    assert_eq!(arrived.executing_region, "140105");
    let at_xiaodian = next_message(&mut xiaodian).await;
    assert_eq!(event_name(&at_xiaodian), "arrived");
    assert_eq!(at_xiaodian.role(), pb::RecipientRole::ExecutingPolice);
    let case = at_xiaodian.case.unwrap();
    assert_eq!(case.responsible_project_id, "xiaodian-project");
    assert_eq!(case.executing_region, "140105");
    let at_yingze = next_message(&mut yingze).await;
    assert_eq!(event_name(&at_yingze), "arrived");
    assert_eq!(at_yingze.role(), pb::RecipientRole::HouseholdPolice);

    // From now on Xiaodian holds the case: the old project can no longer
    // act, and the new county's police hear of the next step.
    let refused = lose_contact(&app, "yingze-project", &case_id)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    lose_contact(&app, "xiaodian-project", &case_id)
        .await
        .unwrap();
    let lost = next_message(&mut xiaodian).await;
    assert_eq!(event_name(&lost), "contact-lost");
    assert_eq!(lost.role(), pb::RecipientRole::ExecutingPolice);
    assert_eq!(event_name(&next_message(&mut yingze).await), "contact-lost");
}

#[tokio::test]
async fn rejection_and_withdrawal_leave_the_case_with_the_sender() {
    let app = spawn_app().await;
    for (seq, end) in [(2, "reject"), (3, "withdraw")] {
        let case_id = discharged_in_yingze(&app, seq).await.case_id;
        pickup(&app, "yingze-project", &case_id).await.unwrap();
        report(&app, "yingze-project", &case_id).await.unwrap();
        request_transfer(&app, "yingze-project", &case_id, "140105")
            .await
            .unwrap();
        let ended = match end {
            "reject" => reject(&app, "xiaodian-project", &case_id).await,
            _ => withdraw(&app, "yingze-project", &case_id, None).await,
        }
        .unwrap();
        assert_eq!(ended.state(), pb::CaseState::UnderSupervision, "{end}");
        assert_eq!(ended.responsible_project_id, "yingze-project", "{end}");
        assert_eq!(ended.executing_region, "140106", "{end}");
        let case = app.case_for_office(&case_id).await;
        assert!(case.transfer.is_none(), "{end}");
    }
}

#[tokio::test]
async fn a_transfer_to_the_same_or_an_unregistered_county_is_refused() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 4).await.case_id;
    report(&app, "yingze-project", &case_id).await.unwrap();

    let same = request_transfer(&app, "yingze-project", &case_id, "140106")
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::InvalidArgument);
    assert_eq!(violations(&same), ["to_region"]);

    // 140107 (Xinghualing) has no registered project.
    let nobody = request_transfer(&app, "yingze-project", &case_id, "140107")
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::FailedPrecondition);
    assert!(nobody.message().contains("140107"), "{}", nobody.message());

    let malformed = request_transfer(&app, "yingze-project", &case_id, "1401")
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(violations(&malformed), ["to_region"]);
}

#[tokio::test]
async fn every_call_by_the_wrong_role_or_an_agency_outside_the_case_is_refused() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 5).await.case_id;
    // Police, the detox center and oversight see the case but may not act.
    for agency in ["yingze-police", "taiyuan-detox", "shanxi-office"] {
        let refused = pickup(&app, agency, &case_id).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{agency}");
    }
    // Another county's project does not even learn that the case exists.
    let outside = pickup(&app, "xiaodian-project", &case_id)
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::NotFound);
    let unknown = pickup(&app, "yingze-project", &uuid_like())
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(outside.message(), unknown.message());

    report(&app, "yingze-project", &case_id).await.unwrap();
    request_transfer(&app, "yingze-project", &case_id, "140105")
        .await
        .unwrap();
    // Only the receiving project answers a transfer, only the sender
    // withdraws it.
    let by_sender = accept(&app, "yingze-project", &case_id, None)
        .await
        .unwrap_err();
    assert_eq!(by_sender.code(), Code::PermissionDenied);
    let by_receiver = withdraw(&app, "xiaodian-project", &case_id, None)
        .await
        .unwrap_err();
    assert_eq!(by_receiver.code(), Code::PermissionDenied);
    // Out-of-order steps name the state the case is in.
    let early = arrive(&app, "xiaodian-project", &case_id)
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains("transfer-pending"),
        "{}",
        early.message()
    );

    // A project lists its own caseload, not a county's.
    let listing = app
        .cases("xiaodian-project")
        .await
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap();
    assert!(listing.into_inner().cases.is_empty(), "not responsible yet");
}

fn uuid_like() -> String {
    "0192f0c4-0000-7000-8000-000000000000".into()
}

#[tokio::test]
async fn of_accept_and_withdraw_racing_on_one_transfer_exactly_one_wins() {
    let app = spawn_app().await;
    for seq in 10..16 {
        let case_id = discharged_in_yingze(&app, seq).await.case_id;
        report(&app, "yingze-project", &case_id).await.unwrap();
        let requested = request_transfer(&app, "yingze-project", &case_id, "140105")
            .await
            .unwrap();
        let version = Some(requested.version);
        let (accepted, withdrawn) = tokio::join!(
            accept(&app, "xiaodian-project", &case_id, version),
            withdraw(&app, "yingze-project", &case_id, version),
        );
        let (winner, loser) = match (accepted, withdrawn) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
            other => panic!("both or neither won: {other:?}"),
        };
        assert_eq!(loser.code(), Code::FailedPrecondition, "{loser:?}");
        assert!(
            loser.message().contains("transfer-pending")
                || loser.message().contains("under-supervision"),
            "the refusal names the state: {}",
            loser.message()
        );
        let case = app.case_for_office(&case_id).await;
        assert_eq!(case.version, winner.version);
        assert_eq!(case.state(), winner.state());
    }
}

#[tokio::test]
async fn a_retried_command_gets_its_first_receipt_and_a_stale_version_is_refused() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 20).await.case_id;
    let first = pickup(&app, "yingze-project", &case_id).await.unwrap();
    let again = pickup(&app, "yingze-project", &case_id).await.unwrap();
    assert_eq!(first, again);

    let stale = app
        .supervision("yingze-project")
        .await
        .confirm_report(pb::ConfirmReportRequest {
            request_id: "report-stale".into(),
            case_id: case_id.clone(),
            expected_version: Some(first.version - 1),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert!(stale.message().contains("picked-up"), "{}", stale.message());

    let reused = app
        .supervision("yingze-project")
        .await
        .confirm_report(pb::ConfirmReportRequest {
            request_id: format!("pickup-{case_id}"),
            case_id: case_id.clone(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn police_and_oversight_list_the_cases_of_their_jurisdiction_page_by_page() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for seq in 30..35 {
        ids.push(discharged_in_yingze(&app, seq).await.case_id);
    }
    let xiaodian_person = person(&id_number("19850101", 40), "140105", None);
    submit_as_detox(&app, discharge("x-40", "D-X-40", xiaodian_person)).await;
    pickup(&app, "yingze-project", &ids[0]).await.unwrap();

    let mut client = app.cases("yingze-police").await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_cases(pb::ListCasesRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.cases.len() <= 2);
        seen.extend(page.cases.into_iter().map(|c| c.case_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids, "Yingze's police see Yingze's cases, in order");

    let awaiting = client
        .list_cases(pb::ListCasesRequest {
            state: pb::CaseState::AwaitingPickup.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(awaiting.cases.len(), 4);

    let province = app
        .cases("shanxi-office")
        .await
        .list_cases(pb::ListCasesRequest {
            county: "140105".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(province.cases.len(), 1);

    let outside = client
        .list_cases(pb::ListCasesRequest {
            county: "140105".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);
    let too_many = client
        .list_cases(pb::ListCasesRequest {
            page_size: 10_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&too_many), ["page_size"]);
}

#[tokio::test]
async fn an_absence_already_over_or_a_year_off_is_refused_and_a_retry_still_gets_its_receipt() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 61).await.case_id;
    report(&app, "yingze-project", &case_id).await.unwrap();
    // START is 2026-11-28 10:00 in China.
    let over = notify_absence(&app, &case_id, "2026-11-20", "2026-11-27")
        .await
        .unwrap_err();
    assert_eq!(over.code(), Code::InvalidArgument);
    assert_eq!(violations(&over), ["until"]);
    let far = notify_absence(&app, &case_id, "2027-12-01", "2027-12-05")
        .await
        .unwrap_err();
    assert_eq!(violations(&far), ["from"]);

    // Begun yesterday, ends today: the host county can still help.
    let accepted = notify_absence(&app, &case_id, "2026-11-27", "2026-11-28")
        .await
        .unwrap();
    app.clock.advance(time::Duration::days(3));
    let retried = notify_absence(&app, &case_id, "2026-11-27", "2026-11-28")
        .await
        .unwrap();
    assert_eq!(retried.signed_content, accepted.signed_content);
}
