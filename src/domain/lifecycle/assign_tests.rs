//! An unroutable case handed to a project by the oversight office.

use super::*;
use crate::domain::access::can_view;
use crate::domain::case::CaseState;
use crate::domain::testing::{agency, discharged_case, id, region, shanxi, then};

/// Discharged to Taiyuan's 140108, which has no project.
fn unroutable() -> Case {
    let case = discharged_case("140108", "140108", None);
    assert!(case.is_unroutable());
    case
}

fn taiyuan_office() -> AgencyRef {
    agency("oversight", "140100", "taiyuan-office")
}

fn to(county: &str) -> Command {
    Command::Assign {
        to_region: region(county),
        reason: "lives in Yingze now".into(),
    }
}

fn decided(case: &Case, by: &AgencyRef, command: &Command) -> Result<CaseEvent, Refusal> {
    decide(case, by, command, &shanxi())
}

#[test]
fn the_office_hands_an_unroutable_case_to_a_project_which_then_acts_on_it() {
    let case = unroutable();
    let event = decided(&case, &taiyuan_office(), &to("140106")).unwrap();
    assert_eq!(
        event,
        CaseEvent::Assigned {
            executing_region: region("140106"),
            project: id("yingze-project"),
            reason: "lives in Yingze now".into(),
        }
    );
    let assigned = then(&case, &taiyuan_office().id, event);
    assert_eq!(assigned.responsible, Some(id("yingze-project")));
    assert_eq!(assigned.responsible_history, [id("yingze-project")]);
    assert_eq!(assigned.executing_region, region("140106"));
    assert_eq!(assigned.state, CaseState::AwaitingPickup);
    assert!(!assigned.is_unroutable());
    // The deadlines still count from the release.
    assert_eq!(assigned.clock, case.clock);

    let project = agency("county-project", "140106", "yingze-project");
    assert!(!can_view(&project, &case));
    assert!(can_view(&project, &assigned));
    assert!(
        can_view(&taiyuan_office(), &assigned),
        "the office keeps it"
    );
    let picked_up = decided(&assigned, &project, &Command::ConfirmPickup);
    assert_eq!(picked_up, Ok(CaseEvent::PickedUp));

    // Once is all: the case is no longer unroutable.
    match decided(&assigned, &taiyuan_office(), &to("140105")) {
        Err(Refusal::WrongState { state, message }) => {
            assert_eq!(state, CaseState::AwaitingPickup);
            assert!(
                message.contains("yingze-project is responsible"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_county_outside_the_office_or_without_a_project_is_refused() {
    let case = unroutable();
    // Datong (140202) lies outside Taiyuan's office, inside the province's.
    assert!(matches!(
        decided(&case, &taiyuan_office(), &to("140202")),
        Err(Refusal::NotPermitted(message)) if message.contains("140202")
    ));
    let province = agency("oversight", "140000", "shanxi-office");
    match decided(&case, &province, &to("140202")) {
        Ok(CaseEvent::Assigned { project, .. }) => assert_eq!(project, id("datong-project")),
        other => panic!("{other:?}"),
    }
    match decided(&case, &taiyuan_office(), &to("140108")) {
        Err(Refusal::Unroutable { field, message }) => {
            assert_eq!(field, "to_region");
            assert!(message.contains("140108"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_an_oversight_office_that_sees_the_case_assigns_it() {
    let case = unroutable();
    assert_eq!(
        decided(
            &case,
            &agency("county-project", "140106", "yingze-project"),
            &to("140106")
        ),
        Err(Refusal::NotFound)
    );
    assert_eq!(
        decided(
            &case,
            &agency("oversight", "140200", "datong-office"),
            &to("140106")
        ),
        Err(Refusal::NotFound)
    );
    for onlooker in [
        agency("police", "140100", "taiyuan-police"),
        agency("detox-center", "140100", "taiyuan-detox"),
    ] {
        assert!(
            matches!(
                decided(&case, &onlooker, &to("140106")),
                Err(Refusal::NotPermitted(_))
            ),
            "{onlooker}"
        );
    }
}

#[test]
fn a_routable_case_is_not_assigned() {
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    let province = agency("oversight", "140000", "shanxi-office");
    assert!(matches!(
        decided(&case, &province, &to("140105")),
        Err(Refusal::WrongState { .. })
    ));
}

/// The registry with `project` disabled.
fn without(project: &str) -> Vec<Agency> {
    let mut agencies = shanxi();
    for agency in &mut agencies {
        if agency.agency.id.as_str() == project {
            agency.enabled = false;
        }
    }
    agencies
}

/// Only the responsible project may act on a case: once it is disabled,
/// the office over its county hands the case on, in the state it is in.
#[test]
fn a_disabled_projects_case_is_handed_on_in_its_state() {
    let yingze = agency("county-project", "140106", "yingze-project");
    let discharged = discharged_case("140106", "140106", Some("yingze-project"));
    let picked_up = then(&discharged, &yingze.id, CaseEvent::PickedUp);
    let supervised = then(&picked_up, &yingze.id, CaseEvent::Reported);
    let agencies = without("yingze-project");
    for case in [discharged, picked_up, supervised] {
        let event = decide(&case, &taiyuan_office(), &to("140105"), &agencies).unwrap();
        let assigned = then(&case, &taiyuan_office().id, event);
        assert_eq!(assigned.state, case.state, "the state is kept");
        assert_eq!(assigned.responsible, Some(id("xiaodian-project")));
        assert_eq!(assigned.executing_region, region("140105"));
        assert_eq!(assigned.clock, case.clock, "deadlines count on");
        assert_eq!(assigned.supervision_started, case.supervision_started);
        assert_eq!(
            assigned.responsible_history,
            [id("yingze-project"), id("xiaodian-project")]
        );
    }
    let lost = then(
        &discharged_case("140106", "140106", Some("yingze-project")),
        &yingze.id,
        CaseEvent::ContactLost {
            note: String::new(),
        },
    );
    assert!(decide(&lost, &taiyuan_office(), &to("140105"), &agencies).is_ok());
}

#[test]
fn a_case_whose_project_is_enabled_or_whose_transfer_waits_is_not_handed_on() {
    let yingze = agency("county-project", "140106", "yingze-project");
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    match decided(&case, &taiyuan_office(), &to("140105")) {
        Err(Refusal::WrongState { message, .. }) => {
            assert!(
                message.contains("one whose project is disabled"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let supervised = then(
        &then(&case, &yingze.id, CaseEvent::PickedUp),
        &yingze.id,
        CaseEvent::Reported,
    );
    let transferring = then(
        &supervised,
        &yingze.id,
        CaseEvent::TransferRequested {
            to_region: region("140107"),
            to_project: id("xinghualing-project"),
            reason: "moved".into(),
        },
    );
    let agencies = without("yingze-project");
    match decide(&transferring, &taiyuan_office(), &to("140105"), &agencies) {
        Err(Refusal::WrongState { message, .. }) => {
            assert!(
                message.contains("transfer to xinghualing-project is pending"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let closed = then(
        &supervised,
        &yingze.id,
        CaseEvent::Closed {
            reason: ClosureReason::Completed,
            note: String::new(),
        },
    );
    assert!(matches!(
        decide(&closed, &taiyuan_office(), &to("140105"), &agencies),
        Err(Refusal::WrongState { .. })
    ));
}

#[test]
fn an_assignment_names_a_county_and_a_reason() {
    let draft = CommandDraft::Assign {
        to_region: "14010".into(),
        reason: " ".into(),
    };
    let invalid = draft.parse().unwrap_err();
    let fields: Vec<_> = invalid
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["to_region", "reason"]);
    let draft = CommandDraft::Assign {
        to_region: "140106".into(),
        reason: " moved ".into(),
    };
    assert_eq!(
        draft.parse(),
        Ok(Command::Assign {
            to_region: region("140106"),
            reason: "moved".into(),
        })
    );
    assert_eq!(draft.name(), "assign");
}

#[test]
fn an_office_that_sees_the_case_only_through_the_household_county_may_not_assign_it() {
    // Executing in 140108 with consent; household in Datong (140202).
    let case = discharged_case("140108", "140202", None);
    let datong = agency("oversight", "140200", "datong-office");
    assert!(can_view(&datong, &case));
    match decided(&case, &datong, &to("140202")) {
        Err(Refusal::NotPermitted(message)) => {
            assert!(message.contains("over county 140108"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_office_that_received_a_case_outside_the_province_assigns_it_inside() {
    // A county outside the province: the office above the detox center
    // received it.
    let mut case = discharged_case("110105", "110105", None);
    case.oversight = Some(id("shanxi-office"));
    let province = agency("oversight", "140000", "shanxi-office");
    match decided(&case, &province, &to("140106")) {
        Ok(CaseEvent::Assigned { project, .. }) => assert_eq!(project, id("yingze-project")),
        other => panic!("{other:?}"),
    }
    let taiyuan = taiyuan_office();
    assert_eq!(
        decided(&case, &taiyuan, &to("140106")),
        Err(Refusal::NotFound)
    );
}
