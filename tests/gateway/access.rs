use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::domain::clock::Clock;
use tonic::Code;

use crate::support::*;

async fn discharge_in_yingze(app: &App, number: &str) -> String {
    submit_as_detox(app, discharge("r-1", "D-1", person(number, "140106", None)))
        .await
        .case_id
}

async fn get(app: &App, agency: &str, key: Key, purpose: &str) -> Result<pb::Case, tonic::Status> {
    let request = pb::GetCaseRequest {
        key: Some(key),
        purpose: purpose.into(),
    };
    app.cases(agency)
        .await
        .get_case(request)
        .await
        .map(|r| r.into_inner().case.unwrap())
}

#[tokio::test]
async fn police_get_the_status_of_a_person_in_their_jurisdiction() {
    let app = spawn_app().await;
    let number = id_number("19900307", 201);
    let case_id = discharge_in_yingze(&app, &number).await;
    for police in ["yingze-police", "taiyuan-police"] {
        let case = get(
            &app,
            police,
            Key::IdNumber(number.clone()),
            "monthly review",
        )
        .await
        .unwrap();
        assert_eq!(case.case_id, case_id);
        assert_eq!(case.state(), pb::CaseState::AwaitingPickup);
        assert_eq!(case.responsible_project_id, "yingze-project");
        assert_eq!(case.history.len(), 1);
        let kinds: Vec<_> = case.deadlines.iter().map(|d| d.kind()).collect();
        assert_eq!(kinds, [pb::DeadlineKind::Pickup, pb::DeadlineKind::Report]);
    }
    for agency in ["taiyuan-detox", "yingze-project", "shanxi-office"] {
        let case = get(&app, agency, Key::CaseId(case_id.clone()), "")
            .await
            .unwrap();
        assert_eq!(case.case_id, case_id, "{agency}");
    }
}

#[tokio::test]
async fn police_outside_the_jurisdiction_get_the_same_answer_as_for_an_unknown_person() {
    let app = spawn_app().await;
    let number = id_number("19900307", 202);
    let case_id = discharge_in_yingze(&app, &number).await;

    let outside = get(&app, "xiaodian-police", Key::IdNumber(number), "check")
        .await
        .unwrap_err();
    let unknown = get(
        &app,
        "xiaodian-police",
        Key::IdNumber(id_number("19900307", 203)),
        "check",
    )
    .await
    .unwrap_err();
    assert_eq!(outside.code(), Code::NotFound);
    assert_eq!(
        (outside.code(), outside.message()),
        (unknown.code(), unknown.message())
    );

    let other_project = get(&app, "xiaodian-project", Key::CaseId(case_id), "")
        .await
        .unwrap_err();
    let unknown_case = get(&app, "xiaodian-project", Key::CaseId(uuid_like()), "")
        .await
        .unwrap_err();
    assert_eq!(
        (other_project.code(), other_project.message()),
        (unknown_case.code(), unknown_case.message())
    );
}

#[tokio::test]
async fn police_must_state_the_purpose_of_a_query() {
    let app = spawn_app().await;
    let number = id_number("19900307", 204);
    discharge_in_yingze(&app, &number).await;
    let refused = get(&app, "yingze-police", Key::IdNumber(number), "  ")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused), ["purpose"]);
}

fn uuid_like() -> String {
    "01900000-0000-7000-8000-000000000000".into()
}

/// A status query checks its caller against the registry held in memory
/// and confirms it with the registry version its read of the case
/// returns: police disabled since (by another replica, or an operator)
/// learn nothing and are recorded as unauthenticated, while a caller the
/// changed registry still admits is answered.
#[tokio::test]
async fn a_caller_disabled_since_the_registry_was_held_is_shown_no_case() {
    let app = spawn_app().await;
    let number = id_number("19900307", 204);
    let case_id = discharge_in_yingze(&app, &number).await;
    let by_number = || Key::IdNumber(number.clone());
    let by_id = || Key::CaseId(case_id.clone());

    disable(&app, "yingze-police").await;
    let refused = get(&app, "yingze-police", by_number(), "check").await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
    assert_last_call_unauthenticated(&app, "yingze-police").await;

    disable(&app, "yingze-project").await;
    let refused = get(&app, "yingze-project", by_id(), "").await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
    assert_last_call_unauthenticated(&app, "yingze-project").await;

    disable(&app, "xiaodian-police").await;
    let admitted = get(&app, "taiyuan-police", by_number(), "check").await;
    assert_eq!(admitted.unwrap().case_id, case_id);
}

async fn list(app: &App, agency: &str) -> Result<Vec<String>, tonic::Status> {
    let page = app
        .cases(agency)
        .await
        .list_cases(pb::ListCasesRequest::default())
        .await?;
    Ok(page
        .into_inner()
        .cases
        .into_iter()
        .map(|c| c.case_id)
        .collect())
}

/// A list is confirmed by the registry version its own read returns, as a
/// status query is: police disabled behind the gateway's back list nothing
/// and are recorded as unauthenticated, while a caller the changed
/// registry still admits gets its page.
#[tokio::test]
async fn a_caller_disabled_since_the_registry_was_held_lists_no_case() {
    let app = spawn_app().await;
    let case_id = discharge_in_yingze(&app, &id_number("19900307", 205)).await;
    let listed = list(&app, "yingze-police").await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&case_id));

    disable(&app, "yingze-police").await;
    let refused = list(&app, "yingze-police").await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
    assert_last_call_unauthenticated(&app, "yingze-police").await;

    disable(&app, "xiaodian-police").await;
    assert_eq!(list(&app, "taiyuan-police").await.unwrap(), [case_id]);
}

/// `agency` closes `case_id` as completed; from an agency that may not,
/// the refusal must not tell a hidden case from no case.
async fn close_as(
    app: &App,
    agency: &str,
    case_id: &str,
    expected_version: Option<u32>,
) -> Result<(), tonic::Status> {
    app.supervision(agency)
        .await
        .close_case(pb::CloseCaseRequest {
            request_id: format!("close-{agency}-{case_id}-{expected_version:?}"),
            case_id: case_id.into(),
            expected_version,
            reason: pb::ClosureReason::Completed.into(),
            note: String::new(),
        })
        .await
        .map(drop)
}

async fn list_closed(app: &App, agency: &str) -> Vec<String> {
    let request = pb::ListCasesRequest {
        state: pb::CaseState::Closed.into(),
        ..Default::default()
    };
    let page = app.cases(agency).await.list_cases(request).await.unwrap();
    page.into_inner()
        .cases
        .into_iter()
        .map(|c| c.case_id)
        .collect()
}

/// Police see a closed case for `[access] police_see_closed_cases_for`
/// after its closure, then get the answer for an unknown person, by
/// number, by id and in lists; the agencies that ran the case keep it,
/// and a new case of the same person is found again.
#[tokio::test]
async fn police_lose_sight_of_a_closed_case_after_the_configured_period() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let mut config = config(dir.path());
    config.access.police_see_closed_cases_for = time::Duration::days(30);
    let app = start_with(dir, START, config).await;
    let number = id_number("19900307", 206);
    let case_id = discharge_in_yingze(&app, &number).await;
    close_as(&app, "yingze-project", &case_id, None)
        .await
        .unwrap();
    let by_number = || Key::IdNumber(number.clone());
    let by_id = || Key::CaseId(case_id.clone());
    let police = ["yingze-police", "taiyuan-police"];

    app.clock.advance(time::Duration::days(30));
    for agency in police {
        let case = get(&app, agency, by_number(), "check").await.unwrap();
        assert_eq!(case.state(), pb::CaseState::Closed);
        assert_eq!(
            list(&app, agency).await.unwrap(),
            std::slice::from_ref(&case_id)
        );
        assert_eq!(
            list_closed(&app, agency).await,
            std::slice::from_ref(&case_id)
        );
    }

    app.clock.advance(time::Duration::seconds(1));
    let unknown = get(
        &app,
        "yingze-police",
        Key::IdNumber(id_number("19900307", 207)),
        "check",
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    for agency in police {
        for key in [by_number(), by_id()] {
            let hidden = get(&app, agency, key, "check").await.unwrap_err();
            assert_eq!(
                (hidden.code(), hidden.message()),
                (unknown.code(), unknown.message()),
                "{agency}"
            );
        }
        assert!(list(&app, agency).await.unwrap().is_empty(), "{agency}");
        assert!(list_closed(&app, agency).await.is_empty(), "{agency}");
    }
    for expected_version in [None, Some(1)] {
        let hidden = close_as(&app, "yingze-police", &case_id, expected_version)
            .await
            .unwrap_err();
        let unknown = close_as(&app, "yingze-police", &uuid_like(), expected_version)
            .await
            .unwrap_err();
        assert_eq!(
            (hidden.code(), hidden.message()),
            (unknown.code(), unknown.message())
        );
    }
    for agency in ["taiyuan-detox", "yingze-project", "shanxi-office"] {
        let case = get(&app, agency, by_id(), "").await.unwrap();
        assert_eq!(case.case_id, case_id, "{agency}");
    }
    assert_eq!(
        list_closed(&app, "shanxi-office").await,
        std::slice::from_ref(&case_id)
    );

    let mut again = discharge("r-2", "D-2", person(&number, "140106", None));
    again.released_at = Some(prost_types::Timestamp {
        seconds: app.clock.now().unix_timestamp() - 3600,
        nanos: 0,
    });
    let reopened = submit_as_detox(&app, again).await.case_id;
    for agency in police {
        let case = get(&app, agency, by_number(), "check").await.unwrap();
        assert_eq!(case.case_id, reopened, "{agency}");
        assert_eq!(
            list(&app, agency).await.unwrap(),
            std::slice::from_ref(&reopened)
        );
    }
}

/// `agency`'s inbox read from the start up to its head, as a fresh replay.
async fn replay(app: &App, agency: &str) -> Vec<pb::InboxMessage> {
    let id = handover_gateway::domain::agency::AgencyId::parse(agency).unwrap();
    let head = app.gateway.storage().inbox_state(&id).await.unwrap().head;
    let mut stream = subscribe(&mut app.inbox(agency).await, Some(0)).await;
    let mut messages = Vec::new();
    while messages.len() < usize::try_from(head).unwrap() {
        messages.push(next_message(&mut stream).await);
    }
    messages
}

/// A replay is no way around the period: once police no longer read a
/// closed case, its messages in their inbox come withheld, in their
/// places, to acknowledge; the project that ran it still reads them all.
#[tokio::test]
async fn a_replayed_police_inbox_withholds_a_case_police_no_longer_read() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let mut config = config(dir.path());
    config.access.police_see_closed_cases_for = time::Duration::days(30);
    let app = start_with(dir, START, config).await;
    let release = |n: u32| {
        let person = person(&id_number("19900307", n), "140106", None);
        discharge(&format!("w-{n}"), &format!("D-W{n}"), person)
    };
    // A stream open all along keeps the newest messages in memory, where a
    // later replay may find them; that must not get round the period either.
    let _watching = subscribe(&mut app.inbox("yingze-police").await, Some(0)).await;
    let closed = submit_as_detox(&app, release(210)).await.case_id;
    close_as(&app, "yingze-project", &closed, None)
        .await
        .unwrap();
    app.clock.advance(time::Duration::days(30));
    let open = submit_as_detox(&app, release(211)).await.case_id;
    let about = |message: &pb::InboxMessage| message.case.as_ref().map(|c| c.case_id.clone());

    let within = replay(&app, "yingze-police").await;
    assert!(within.iter().all(|m| m.withheld.is_empty()), "{within:?}");
    let closed_messages = within
        .iter()
        .filter(|m| about(m).as_ref() == Some(&closed))
        .count();
    assert!(closed_messages >= 2, "the discharge and the closure");

    app.clock.advance(time::Duration::seconds(1));
    let after = replay(&app, "yingze-police").await;
    assert_eq!(after.len(), within.len());
    for (message, before) in after.iter().zip(&within) {
        assert_eq!(message.position, before.position);
        assert_eq!(message.role, before.role);
        if about(before).as_ref() == Some(&closed) {
            assert!(message.case.is_none() && message.event.is_none());
            assert_eq!(
                message.withheld,
                "the case closed more than 30 days ago; police no longer read it"
            );
        } else {
            assert_eq!(about(message).as_ref(), Some(&open));
            assert!(message.withheld.is_empty());
        }
    }
    let project = replay(&app, "yingze-project").await;
    assert!(project.iter().all(|m| m.withheld.is_empty()));
    assert!(project.iter().any(|m| about(m).as_ref() == Some(&closed)));
}
