use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::domain::case::CaseState;
use crate::domain::deadline::DeadlineKind;
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::person::Person;
use crate::domain::routing::{RecipientRole, route};
use crate::domain::testing::{discharged_case, id, person, region, shanxi, then};

// ---- examples ---------------------------------------------------------------

/// `discharged_case` releases at this time; pickup is due a day later.
const RELEASED: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

fn context<'a>(
    agencies: &'a [Agency],
    policy: &'a DeadlinePolicy,
    now: OffsetDateTime,
) -> Context<'a> {
    Context {
        agencies,
        route: None,
        policy,
        now,
    }
}

fn yingze_case() -> Case {
    discharged_case("140106", "140106", Some("yingze-project"))
}

/// The events `planned` added to `before`, as (by, event).
fn added(before: &Case, planned: &Planned) -> Vec<(String, CaseEvent)> {
    planned.case.history[before.history.len()..]
        .iter()
        .map(|e| (e.by.to_string(), e.event.clone()))
        .collect()
}

fn missed(kind: DeadlineKind, anchor: u32, due_at: OffsetDateTime) -> CaseEvent {
    CaseEvent::DeadlineMissed {
        kind,
        anchor,
        due_at,
    }
}

fn deliveries(planned: &Planned, sequence: u32) -> Vec<(&str, RecipientRole)> {
    planned
        .notices
        .iter()
        .filter(|(_, notice)| notice.event.sequence == sequence)
        .map(|(to, notice)| (to.as_str(), notice.role))
        .collect()
}

#[test]
fn a_pickup_after_its_deadline_records_the_escalation_first() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let now = RELEASED + Duration::hours(26);
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &id("yingze-project"),
        vec![CaseEvent::PickedUp],
        &context(&agencies, &policy, now),
    )
    .unwrap();
    assert_eq!(
        added(&case, &planned),
        [
            (
                "handover-gateway".to_owned(),
                missed(DeadlineKind::Pickup, 1, RELEASED + Duration::DAY)
            ),
            ("yingze-project".to_owned(), CaseEvent::PickedUp),
        ]
    );
    assert_eq!(planned.case.state, CaseState::PickedUp);
    assert!(
        planned
            .case
            .history
            .iter()
            .all(|e| e.at == now || e.sequence == 1)
    );
    assert!(planned.case.due_escalations(&policy, now).is_empty());
}

#[test]
fn met_deadlines_are_never_escalated() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let project = id("yingze-project");
    let just_in_time = RELEASED + Duration::DAY - Duration::SECOND;
    let picked_up = plan(
        Some(case.clone()),
        &case.id,
        &project,
        vec![CaseEvent::PickedUp],
        &context(&agencies, &policy, just_in_time),
    )
    .unwrap();
    assert_eq!(
        added(&case, &picked_up),
        [("yingze-project".to_owned(), CaseEvent::PickedUp)]
    );
    // Weeks later only the report is overdue.
    let later = RELEASED + Duration::days(20);
    let scanned = plan(
        Some(picked_up.case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context(&agencies, &policy, later),
    )
    .unwrap();
    assert_eq!(
        added(&picked_up.case, &scanned),
        [(
            "handover-gateway".to_owned(),
            missed(DeadlineKind::Report, 1, RELEASED + Duration::days(15))
        )]
    );
    // Reporting late meets it; nothing more is escalated, however late.
    let reported = plan(
        Some(scanned.case.clone()),
        &case.id,
        &project,
        vec![CaseEvent::Reported],
        &context(&agencies, &policy, later + Duration::days(3)),
    )
    .unwrap();
    assert_eq!(
        added(&scanned.case, &reported),
        [("yingze-project".to_owned(), CaseEvent::Reported)]
    );
    let year_later = later + Duration::days(365);
    assert!(
        reported
            .case
            .due_escalations(&policy, year_later)
            .is_empty()
    );
}

#[test]
fn a_scan_with_nothing_due_writes_nothing() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context(&agencies, &policy, RELEASED + Duration::hours(23)),
    )
    .unwrap();
    assert_eq!(planned.case, case);
    assert!(planned.notices.is_empty());
}

#[test]
fn an_escalation_reaches_the_executing_police_and_the_oversight_office() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    // Executes in Yingze, household registered in Datong.
    let case = discharged_case("140106", "140202", Some("yingze-project"));
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context(&agencies, &policy, RELEASED + Duration::days(2)),
    )
    .unwrap();
    assert_eq!(
        deliveries(&planned, 2),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("datong-police", RecipientRole::HouseholdPolice),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
}

#[test]
fn an_escalation_the_event_makes_due_is_recorded_after_it() {
    let agencies = shanxi();
    let policy = DeadlinePolicy {
        transfer_reply: Duration::ZERO,
        ..DeadlinePolicy::default()
    };
    let project = id("yingze-project");
    let case = then(&yingze_case(), &project, CaseEvent::Reported);
    let request = CaseEvent::TransferRequested {
        to_region: region("140105"),
        to_project: id("xiaodian-project"),
        reason: "moved".into(),
    };
    let now = RELEASED + Duration::days(3);
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &project,
        vec![request.clone()],
        &context(&agencies, &policy, now),
    )
    .unwrap();
    assert_eq!(
        added(&case, &planned),
        [
            ("yingze-project".to_owned(), request),
            (
                "handover-gateway".to_owned(),
                missed(DeadlineKind::TransferReply, 3, now)
            ),
        ]
    );
    let told: Vec<_> = deliveries(&planned, 4);
    assert!(told.contains(&("xiaodian-project", RecipientRole::ReceivingProject)));
    assert!(told.contains(&("xiaodian-police", RecipientRole::ReceivingPolice)));
    assert!(told.contains(&("taiyuan-office", RecipientRole::Oversight)));
}

fn discharge(person: &Person, released_at: OffsetDateTime, route: &Route) -> CaseEvent {
    CaseEvent::Discharged {
        decision_number: DecisionNumber::parse("D-1").unwrap(),
        person: person.clone(),
        released_at,
        term: TermMonths::new(12).unwrap(),
        executing_region: route.executing_region,
        project: route.project.clone(),
        oversight: route.oversight.clone(),
        late_notice: true,
        earlier_open_cases: Vec::new(),
    }
}

#[test]
fn a_discharge_goes_where_it_is_routed_and_escalates_what_is_already_late() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let person = person("140106", None, false);
    let route = route(&person, region("140100"), &agencies).with_late_notice(&agencies);
    let now = RELEASED + Duration::days(2);
    let planned = plan(
        None,
        &CaseId::new(uuid::Uuid::nil()),
        &id("taiyuan-detox"),
        vec![discharge(&person, RELEASED, &route)],
        &Context {
            route: Some(&route),
            ..context(&agencies, &policy, now)
        },
    )
    .unwrap();
    assert_eq!(
        deliveries(&planned, 1),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
    assert_eq!(
        added(&discharged_case("140106", "140106", None), &planned),
        [(
            "handover-gateway".to_owned(),
            missed(DeadlineKind::Pickup, 1, RELEASED + Duration::DAY)
        )]
    );
}

#[test]
fn an_unroutable_discharge_and_its_escalations_reach_the_oversight_office() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let person = person("140108", None, false);
    let route = route(&person, region("140100"), &agencies);
    let id_ = CaseId::new(uuid::Uuid::nil());
    let context = Context {
        route: Some(&route),
        ..context(&agencies, &policy, RELEASED)
    };
    let detox = id("taiyuan-detox");
    let events = vec![discharge(&person, RELEASED, &route)];
    let opened = plan(None, &id_, &detox, events, &context).unwrap();
    assert!(opened.case.is_unroutable());
    assert_eq!(
        deliveries(&opened, 1),
        [
            ("taiyuan-police", RecipientRole::ExecutingPolice),
            ("taiyuan-office", RecipientRole::UnroutableOversight),
        ]
    );
    let later = Context {
        route: None,
        now: RELEASED + Duration::days(2),
        ..context
    };
    let scanned = plan(
        Some(opened.case),
        &id_,
        &AgencyId::gateway(),
        vec![],
        &later,
    )
    .unwrap();
    assert_eq!(
        deliveries(&scanned, 2),
        [
            ("taiyuan-police", RecipientRole::ExecutingPolice),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
}

#[test]
fn events_that_do_not_follow_are_refused() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let now = RELEASED + Duration::hours(1);
    let by = id("yingze-project");
    let context = context(&agencies, &policy, now);
    assert_eq!(
        plan(
            Some(case.clone()),
            &case.id,
            &by,
            vec![CaseEvent::Resumed],
            &context
        )
        .unwrap_err(),
        HistoryError::OutOfOrder(2)
    );
    assert!(plan(None, &case.id, &by, vec![CaseEvent::PickedUp], &context).is_err());
    // An intake event needs a route.
    let person = person("140106", None, false);
    let route = route(&person, region("140100"), &agencies);
    let discharge = discharge(&person, RELEASED, &route);
    assert!(plan(None, &case.id, &by, vec![discharge], &context).is_err());
}
