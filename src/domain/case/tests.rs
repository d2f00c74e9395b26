use super::*;
use crate::domain::deadline::DeadlinePolicy;
use crate::domain::testing::{discharged_case, person};
use time::macros::{date, datetime};

fn announced() -> RecordedEvent {
    let person = person("140106", None, false);
    RecordedEvent {
        sequence: 1,
        at: datetime!(2026-11-20 08:00 UTC),
        by: AgencyId::parse("taiyuan-detox").unwrap(),
        event: CaseEvent::ReleaseAnnounced {
            decision_number: DecisionNumber::parse("D-1").unwrap(),
            executing_region: person.executing_region(),
            person,
            planned_release_date: date!(2026 - 11 - 28),
            term: TermMonths::new(12).unwrap(),
            project: None,
            oversight: None,
            earlier_open_cases: Vec::new(),
        },
    }
}

#[test]
fn a_discharge_puts_the_case_in_the_hands_of_the_project() {
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    assert_eq!(case.state, CaseState::AwaitingPickup);
    assert_eq!(
        case.responsible.as_ref().map(AgencyId::as_str),
        Some("yingze-project")
    );
    assert_eq!(case.version(), 1);
    assert!(!case.is_unroutable());
}

#[test]
fn an_announced_case_is_discharged_in_place() {
    let mut case = Case::from_history(CaseId::new(uuid::Uuid::nil()), vec![announced()]).unwrap();
    assert_eq!(case.state, CaseState::Announced);
    let owed: Vec<_> = (case.deadlines(&DeadlinePolicy::default()).into_iter())
        .map(|d| d.kind)
        .collect();
    assert_eq!(owed, [DeadlineKind::Discharge], "only the discharge");
    let discharged = discharged_case("140106", "140106", None).history.remove(0);
    case.apply(RecordedEvent {
        sequence: 2,
        ..discharged
    })
    .unwrap();
    assert_eq!(case.state, CaseState::AwaitingPickup);
    assert!(case.is_unroutable());
    assert_eq!(case.planned_release_date, Some(date!(2026 - 11 - 28)));
}

#[test]
fn events_out_of_order_are_refused() {
    let mut case = discharged_case("140106", "140106", Some("yingze-project"));
    let again = case.history[0].clone();
    assert_eq!(case.apply(again), Err(HistoryError::OutOfOrder(1)));
    assert_eq!(
        Case::from_history(case.id.clone(), Vec::new()),
        Err(HistoryError::Empty)
    );
}

#[test]
fn deadlines_count_from_release() {
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    let deadlines: Vec<_> = case
        .deadlines(&DeadlinePolicy::default())
        .into_iter()
        .map(|d| (d.kind, d.due_at, d.escalated))
        .collect();
    assert_eq!(
        deadlines,
        [
            (DeadlineKind::Pickup, datetime!(2026-11-29 08:00 UTC), false),
            (DeadlineKind::Report, datetime!(2026-12-13 08:00 UTC), false),
        ]
    );
}
