//! Deadlines moved past with the test clock: each escalates once, to the
//! police and the oversight office (a discharge owed after an
//! announcement also to the detox center and the project told), also
//! across restarts and when it passed while the gateway was down. Met
//! deadlines produce nothing.

use handover_gateway::api::pb;
use handover_gateway::api::pb::DeadlineKind;
use time::Duration;

use crate::steps::*;
use crate::support::*;

/// Reads messages until a missed deadline arrives, and returns its kind,
/// its role and the case id.
async fn next_escalation(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
) -> (DeadlineKind, pb::RecipientRole, String) {
    loop {
        let message = next_message(stream).await;
        if let Some(pb::case_event::Detail::DeadlineMissed(missed)) =
            message.event.as_ref().and_then(|e| e.detail.as_ref())
        {
            let case_id = message.case.as_ref().unwrap().case_id.clone();
            return (missed.kind(), message.role(), case_id);
        }
    }
}

// Releases happen an hour before START: pickup is due at START + 23 h,
// the report at START + 15 d - 1 h.
const PICKUP_DUE: Duration = Duration::hours(23);

#[tokio::test]
async fn an_overdue_pickup_escalates_once_and_a_restart_does_not_repeat_it() {
    let app = spawn_app().await;
    let mut police = app.inbox("yingze-police").await;
    let mut police_stream = subscribe(&mut police, None).await;
    let mut office = app.inbox("shanxi-office").await;
    let mut office_stream = subscribe(&mut office, None).await;
    let case_id = discharged_in_yingze(&app, 1).await.case_id;

    app.clock.advance(PICKUP_DUE - Duration::minutes(1));
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0, "not yet due");
    app.clock.advance(Duration::minutes(2));
    assert_eq!(
        next_escalation(&mut police_stream).await,
        (
            DeadlineKind::Pickup,
            pb::RecipientRole::ExecutingPolice,
            case_id.clone()
        )
    );
    assert_eq!(
        next_escalation(&mut office_stream).await,
        (
            DeadlineKind::Pickup,
            pb::RecipientRole::Oversight,
            case_id.clone()
        )
    );
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0);
    assert_eq!(escalations(&app, &case_id).await, [DeadlineKind::Pickup]);

    let dir = app.stop().await;
    let app = start_at(dir, START + Duration::days(2)).await;
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0);
    assert_eq!(escalations(&app, &case_id).await, [DeadlineKind::Pickup]);
    // A late pickup is still recorded; it raises nothing new.
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    assert_eq!(escalations(&app, &case_id).await, [DeadlineKind::Pickup]);
}

#[tokio::test]
async fn deadlines_that_passed_while_the_gateway_was_down_escalate_when_it_starts() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 2).await.case_id;
    let dir = app.stop().await;

    let app = start_at(dir, START + Duration::days(16)).await;
    let mut office = app.inbox("shanxi-office").await;
    let mut stream = subscribe(&mut office, None).await;
    let mut missed = vec![
        next_escalation(&mut stream).await.0,
        next_escalation(&mut stream).await.0,
    ];
    missed.sort_by_key(|kind| *kind as i32);
    assert_eq!(missed, [DeadlineKind::Pickup, DeadlineKind::Report]);
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0);
    assert_eq!(
        escalations(&app, &case_id).await,
        [DeadlineKind::Pickup, DeadlineKind::Report]
    );
}

#[tokio::test]
async fn a_missed_report_escalates_as_refusal_after_a_timely_pickup() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 3).await.case_id;
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    app.clock.advance(Duration::days(15));
    let mut police = app.inbox("yingze-police").await;
    let mut stream = subscribe(&mut police, None).await;
    assert_eq!(next_escalation(&mut stream).await.0, DeadlineKind::Report);
    assert_eq!(escalations(&app, &case_id).await, [DeadlineKind::Report]);
}

#[tokio::test]
async fn a_transfer_left_unanswered_and_a_person_who_never_arrives_both_escalate() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 4).await.case_id;
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    report(&app, "yingze-project", &case_id).await.unwrap();
    request_transfer(&app, "yingze-project", &case_id, "140105")
        .await
        .unwrap();
    let mut receiving = app.inbox("xiaodian-police").await;
    let mut stream = subscribe(&mut receiving, None).await;

    app.clock.advance(Duration::days(7) + Duration::seconds(1));
    assert_eq!(
        next_escalation(&mut stream).await,
        (
            DeadlineKind::TransferReply,
            pb::RecipientRole::ReceivingPolice,
            case_id.clone()
        )
    );
    accept(&app, "xiaodian-project", &case_id, None)
        .await
        .unwrap();
    app.clock.advance(Duration::days(15) + Duration::seconds(1));
    assert_eq!(next_escalation(&mut stream).await.0, DeadlineKind::Arrival);
    assert_eq!(
        escalations(&app, &case_id).await,
        [DeadlineKind::TransferReply, DeadlineKind::Arrival]
    );
}

#[tokio::test]
async fn the_end_of_the_term_is_escalated_for_the_release_notice() {
    let app = spawn_app().await;
    let mut request = discharge(
        "d-term",
        "D-TERM",
        person(&id_number("19850101", 5), "140106", None),
    );
    request.term_months = 1;
    let case_id = submit_as_detox(&app, request).await.case_id;
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    report(&app, "yingze-project", &case_id).await.unwrap();
    // One calendar month from 28 November is 28 December: 30 days.
    app.clock.advance(Duration::days(30) - Duration::seconds(1));
    assert_eq!(
        app.gateway.escalate_due().await.unwrap(),
        0,
        "not a month yet"
    );
    app.clock.advance(Duration::seconds(1));
    let mut office = app.inbox("shanxi-office").await;
    let mut stream = subscribe(&mut office, None).await;
    assert_eq!(
        next_escalation(&mut stream).await.0,
        DeadlineKind::TermCompletion
    );
}

#[tokio::test]
async fn deadlines_that_are_met_produce_nothing() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 6).await.case_id;
    app.clock.advance(Duration::hours(20));
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    app.clock.advance(Duration::days(10));
    report(&app, "yingze-project", &case_id).await.unwrap();
    request_transfer(&app, "yingze-project", &case_id, "140105")
        .await
        .unwrap();
    app.clock.advance(Duration::days(6));
    accept(&app, "xiaodian-project", &case_id, None)
        .await
        .unwrap();
    app.clock.advance(Duration::days(14));
    arrive(&app, "xiaodian-project", &case_id).await.unwrap();
    app.clock.advance(Duration::days(60));
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0);
    assert!(escalations(&app, &case_id).await.is_empty());
    let case = app.case_for_office(&case_id).await;
    assert!(!case.overdue);
    assert_eq!(case.deadlines.len(), 1, "only the term's end is pending");
}

#[tokio::test]
async fn oversight_lists_what_is_overdue_and_what_no_county_could_take() {
    let app = spawn_app().await;
    let late = discharged_in_yingze(&app, 7).await.case_id;
    let on_time = discharged_in_yingze(&app, 8).await.case_id;
    pickup(&app, "yingze-project", &on_time).await.unwrap();
    // 140107 (Xinghualing) has no registered project.
    let nowhere = person(&id_number("19850101", 9), "140107", None);
    let unroutable = submit_as_detox(&app, discharge("d-9", "D-9", nowhere))
        .await
        .case_id;
    app.clock.advance(PICKUP_DUE + Duration::minutes(1));
    app.gateway.escalate_due().await.unwrap();

    let mut office = app.cases("shanxi-office").await;
    let list = |overdue, unroutable| pb::ListCasesRequest {
        overdue,
        unroutable,
        ..Default::default()
    };
    let ids = |response: pb::ListCasesResponse| -> Vec<String> {
        response.cases.into_iter().map(|c| c.case_id).collect()
    };
    let overdue = ids(office
        .list_cases(list(true, false))
        .await
        .unwrap()
        .into_inner());
    assert_eq!(overdue, [late.clone(), unroutable.clone()]);
    let nobody = ids(office
        .list_cases(list(false, true))
        .await
        .unwrap()
        .into_inner());
    assert_eq!(nobody, std::slice::from_ref(&unroutable));
    let all = office
        .list_cases(list(false, false))
        .await
        .unwrap()
        .into_inner();
    assert!(
        (all.cases.iter())
            .all(|c| c.history.is_empty() && !c.deadlines.is_empty() && c.version >= 1),
        "a list carries the deadlines and versions, not the histories: {:?}",
        all.cases
    );
    let flagged: Vec<(String, bool)> = all
        .cases
        .into_iter()
        .map(|c| (c.case_id, c.overdue))
        .collect();
    assert_eq!(
        flagged,
        [(late, true), (on_time, false), (unroutable.clone(), true)]
    );
    // The escalation of an unroutable case reaches the office holding it.
    assert_eq!(escalations(&app, &unroutable).await, [DeadlineKind::Pickup]);
}

#[tokio::test]
async fn an_announced_release_never_discharged_escalates_to_the_center_and_whoever_waits() {
    let app = spawn_app().await;
    let mut streams = Vec::new();
    for agency in ["taiyuan-detox", "yingze-project", "shanxi-office"] {
        let mut inbox = app.inbox(agency).await;
        streams.push(subscribe(&mut inbox, None).await);
    }
    let person = person(&id_number("19850101", 11), "140106", None);
    let case_id = announce_in(&app, "a-11", "D-11", person.clone())
        .await
        .case_id;

    // Planned for 2026-12-08 (China): due when 2026-12-10 starts there.
    let due = time::macros::datetime!(2026-12-09 16:00 UTC);
    app.clock.advance(due - START - Duration::minutes(1));
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0, "not yet due");
    app.clock.advance(Duration::minutes(1));
    let mut told = Vec::new();
    for stream in &mut streams {
        told.push(next_escalation(stream).await);
    }
    assert_eq!(
        told,
        [
            (
                DeadlineKind::Discharge,
                pb::RecipientRole::DetoxCenter,
                case_id.clone()
            ),
            (
                DeadlineKind::Discharge,
                pb::RecipientRole::ResponsibleProject,
                case_id.clone()
            ),
            (
                DeadlineKind::Discharge,
                pb::RecipientRole::Oversight,
                case_id.clone()
            ),
        ]
    );
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0, "once");
    let case = app.case_for_office(&case_id).await;
    assert_eq!(case.state(), pb::CaseState::Announced);
    assert!(case.overdue);
    let deadline = &case.deadlines[0];
    assert_eq!(
        (deadline.kind(), deadline.escalated),
        (DeadlineKind::Discharge, true)
    );

    // The discharge, late, meets it: the case is no longer overdue for it.
    let mut released = discharge("d-11", "D-11", person);
    released.released_at = Some(prost_types::Timestamp {
        seconds: due.unix_timestamp(),
        nanos: 0,
    });
    submit_as_detox(&app, released).await;
    let case = app.case_for_office(&case_id).await;
    assert_eq!(case.state(), pb::CaseState::AwaitingPickup);
    assert!(
        case.deadlines
            .iter()
            .all(|deadline| deadline.kind() != DeadlineKind::Discharge)
    );
    assert_eq!(escalations(&app, &case_id).await, [DeadlineKind::Discharge]);
}

/// A case whose stored history no longer reads is logged and passed over:
/// the scan goes on, and the other cases' missed deadlines still escalate.
#[tokio::test]
async fn a_case_that_does_not_read_holds_up_no_other_escalation() {
    let app = spawn_app().await;
    let mut office = app.inbox("shanxi-office").await;
    let mut stream = subscribe(&mut office, None).await;
    let damaged = discharged_in_yingze(&app, 5).await.case_id;
    let sound = discharged_in_yingze(&app, 6).await.case_id;
    let db = rusqlite::Connection::open(app.dir.path().join("data/gateway.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE case_events SET body = x'00' WHERE case_id = ?1",
            [&damaged],
        )
        .unwrap();
    assert_eq!(changed, 1);

    app.clock.advance(PICKUP_DUE + Duration::minutes(1));
    assert_eq!(
        next_escalation(&mut stream).await,
        (
            DeadlineKind::Pickup,
            pb::RecipientRole::Oversight,
            sound.clone()
        )
    );
    assert_eq!(app.gateway.escalate_due().await.unwrap(), 0);
    assert_eq!(escalations(&app, &sound).await, [DeadlineKind::Pickup]);
}

/// A message's case is as it stood right after its event: replayed once
/// the pickup is overdue, the discharge's case is not, the escalation's is.
#[tokio::test]
async fn a_replayed_message_shows_its_case_as_it_stood_then() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 7).await.case_id;
    app.clock.advance(PICKUP_DUE + Duration::minutes(1));
    app.gateway.escalate_due().await.unwrap();
    assert_eq!(escalations(&app, &case_id).await, [DeadlineKind::Pickup]);

    let mut police = app.inbox("yingze-police").await;
    let mut stream = subscribe(&mut police, None).await;
    let discharged = next_message(&mut stream).await;
    assert_eq!(event_name(&discharged), "discharged");
    assert!(!discharged.case.unwrap().overdue, "not when it was sent");
    let escalated = next_message(&mut stream).await;
    assert_eq!(event_name(&escalated), "deadline-missed");
    assert!(escalated.case.unwrap().overdue);
}
