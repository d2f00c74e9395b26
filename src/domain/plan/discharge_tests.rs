//! The discharge an announcement promises: due by the end of the day after
//! the planned day, escalated once to the detox center, whoever the latest
//! notice reached and the oversight office; met by the discharge, ended by
//! a withdrawal, started afresh by a revision.

use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::domain::case::{CaseState, ClosureReason};
use crate::domain::deadline::{Deadline, DeadlineKind};
use crate::domain::routing::{RecipientRole, route};
use crate::domain::testing::{announced_case, id, region, renoticed, shanxi, then};

/// `announced_case` plans the release for 2026-11-28 (China): the
/// discharge is due when 2026-11-30 starts there.
const DUE: OffsetDateTime = datetime!(2026-11-29 16:00 UTC);

fn announced() -> Case {
    announced_case("140106", Some("yingze-project"), None)
}

/// A scan at `now`: no command, only what is due.
fn scan(case: &Case, policy: &DeadlinePolicy, agencies: &[Agency], now: OffsetDateTime) -> Planned {
    let context = Context {
        agencies,
        route: None,
        policy,
        now,
    };
    plan(
        Some(case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context,
    )
    .unwrap()
}

/// Who `planned` tells, in what role, in order.
fn told(planned: &Planned) -> Vec<(&str, RecipientRole)> {
    (planned.notices.iter())
        .map(|(to, notice)| (to.as_str(), notice.role))
        .collect()
}

fn escalations(case: &Case) -> Vec<(DeadlineKind, u32)> {
    case.history
        .iter()
        .filter_map(|recorded| match recorded.event {
            CaseEvent::DeadlineMissed { kind, anchor, .. } => Some((kind, anchor)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_announced_release_owes_its_discharge_by_the_end_of_the_day_after_the_planned_day() {
    let policy = DeadlinePolicy::default();
    assert_eq!(
        announced().deadlines(&policy),
        [Deadline {
            kind: DeadlineKind::Discharge,
            anchor: 1,
            starts_at: datetime!(2026-11-27 16:00 UTC),
            due_at: DUE,
            escalated: false,
        }]
    );
    let shorter = DeadlinePolicy {
        discharge: Duration::hours(12),
        ..policy
    };
    assert_eq!(
        announced().deadlines(&shorter)[0].due_at,
        datetime!(2026-11-28 04:00 UTC),
        "the allowance is the operator's"
    );
}

/// A message or a list carries the case without its history, and shows
/// the same deadline, a revision's included.
#[test]
fn a_case_without_its_history_shows_the_discharge_deadline_of_its_latest_notice() {
    let policy = DeadlinePolicy::default();
    let case = announced();
    assert_eq!(case.summary().deadlines(&policy), case.deadlines(&policy));
    let revised = renoticed(&case, "140106", date!(2026 - 12 - 10));
    let deadlines = revised.summary().deadlines(&policy);
    assert_eq!(deadlines, revised.deadlines(&policy));
    assert_eq!(
        (deadlines[0].anchor, deadlines[0].due_at),
        (2, datetime!(2026-12-11 16:00 UTC))
    );
}

#[test]
fn an_overdue_discharge_escalates_once_to_the_center_the_notice_s_agencies_and_the_office() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = announced();
    let early = scan(&case, &policy, &agencies, DUE - Duration::SECOND);
    assert_eq!(early.case, case, "not due yet");

    let planned = scan(&case, &policy, &agencies, DUE);
    assert_eq!(escalations(&planned.case), [(DeadlineKind::Discharge, 1)]);
    let told = told(&planned);
    assert_eq!(
        told,
        [
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("taiyuan-detox", RecipientRole::DetoxCenter),
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
    assert_eq!(planned.case.state, CaseState::Announced);
    assert!(planned.case.deadlines(&policy)[0].escalated);

    let again = scan(&planned.case, &policy, &agencies, DUE + Duration::days(30));
    assert_eq!(again.case, planned.case, "exactly once");
}

#[test]
fn a_late_discharge_records_the_miss_first_and_meets_the_deadline() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = announced();
    let person = case.person.clone();
    let route = route(&person, region("140100"), &agencies);
    let released_at = DUE + Duration::hours(3);
    let discharge = CaseEvent::Discharged {
        decision_number: case.decision_number.clone(),
        person,
        released_at,
        term: case.term,
        executing_region: route.executing_region,
        project: route.project.clone(),
        oversight: None,
        late_notice: false,
        earlier_open_cases: Vec::new(),
    };
    let context = Context {
        agencies: &agencies,
        route: Some(&route),
        policy: &policy,
        now: released_at,
    };
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &id("taiyuan-detox"),
        vec![discharge],
        &context,
    )
    .unwrap();
    let names: Vec<_> = planned.case.history[1..]
        .iter()
        .map(|recorded| recorded.event.name())
        .collect();
    assert_eq!(names, ["deadline-missed", "discharged"]);
    assert!(
        planned
            .case
            .deadlines(&policy)
            .iter()
            .all(|deadline| deadline.kind != DeadlineKind::Discharge),
        "met by the discharge"
    );
}

#[test]
fn a_revision_starts_a_new_deadline_for_its_day_even_after_an_escalation() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let escalated = scan(&announced(), &policy, &agencies, DUE).case;
    let revised = renoticed(&escalated, "140106", date!(2026 - 12 - 10));
    let deadlines = revised.deadlines(&policy);
    assert_eq!(deadlines.len(), 1);
    let deadline = &deadlines[0];
    assert_eq!(
        (deadline.kind, deadline.anchor, deadline.escalated),
        (DeadlineKind::Discharge, revised.version(), false)
    );
    assert_eq!(deadline.due_at, datetime!(2026-12-11 16:00 UTC));
    assert!(
        scan(&revised, &policy, &agencies, DUE + Duration::days(1))
            .notices
            .is_empty()
    );

    // Brought forward before it was due, the deadline comes forward too.
    let sooner = renoticed(&announced(), "140106", date!(2026 - 11 - 25));
    assert_eq!(
        sooner.deadlines(&policy)[0].due_at,
        datetime!(2026-11-26 16:00 UTC)
    );
}

#[test]
fn a_withdrawn_release_owes_no_discharge() {
    let policy = DeadlinePolicy::default();
    let withdrawn = then(
        &announced(),
        &id("taiyuan-detox"),
        CaseEvent::Closed {
            reason: ClosureReason::ReleaseWithdrawn,
            note: "the detox order was extended".into(),
        },
    );
    assert!(withdrawn.deadlines(&policy).is_empty());
    assert!(
        withdrawn
            .due_escalations(&policy, DUE + Duration::days(9))
            .is_empty()
    );
}

#[test]
fn an_unroutable_announcement_s_overdue_discharge_reaches_the_office_that_holds_it() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    // Jiancaoping (140108) has no project; the notice went to the city's
    // office, which the escalation reaches once.
    let case = announced_case("140108", None, Some("taiyuan-office"));
    let planned = scan(&case, &policy, &agencies, DUE);
    let told = told(&planned);
    assert_eq!(
        told,
        [
            ("taiyuan-police", RecipientRole::ExecutingPolice),
            ("taiyuan-detox", RecipientRole::DetoxCenter),
            ("taiyuan-office", RecipientRole::UnroutableOversight),
        ]
    );
}
