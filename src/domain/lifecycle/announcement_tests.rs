//! A release announced before discharge: revised by a new notice, or
//! withdrawn by the detox center.

use time::Duration;
use time::macros::datetime;

use super::fixtures::{act, decided, every_command, refused_fields, supervised, text, yingze};
use super::*;
use crate::domain::access::{AccessPolicy, Part, can_read, part};
use crate::domain::case::{CaseId, EarlierCase, RecordedEvent};
use crate::domain::recipients::recipients;
use crate::domain::routing::RecipientRole;
use crate::domain::testing::{
    agency, announced_case, discharged_case, id, region, renoticed, shanxi,
};

fn taiyuan_detox() -> AgencyRef {
    agency("detox-center", "140100", "taiyuan-detox")
}

fn withdrawal() -> Command {
    Command::WithdrawAnnouncement {
        reason: text("the detox order was extended"),
    }
}

/// Announced to Yingze's project; the person's household is Yingze.
fn announced() -> Case {
    announced_case("140106", Some("yingze-project"), None)
}

#[test]
fn the_detox_center_that_announced_closes_the_case_as_release_withdrawn() {
    let event = decided(&announced(), &taiyuan_detox(), &withdrawal()).unwrap();
    assert_eq!(
        event,
        CaseEvent::Closed {
            reason: ClosureReason::ReleaseWithdrawn,
            note: text("the detox order was extended"),
        }
    );
    let closed = act(&announced(), &taiyuan_detox(), &withdrawal());
    assert_eq!(closed.state, CaseState::Closed);
    assert_eq!(closed.closure, Some(ClosureReason::ReleaseWithdrawn));
    assert!(closed.responsible.is_none());
}

#[test]
fn a_withdrawal_is_refused_once_the_person_was_discharged_or_the_case_closed() {
    let discharged = supervised();
    let withdrawn = act(&announced(), &taiyuan_detox(), &withdrawal());
    for case in [discharged, withdrawn] {
        match decided(&case, &taiyuan_detox(), &withdrawal()) {
            Err(Refusal::WrongState { state, message }) => {
                assert_eq!(state, case.state);
                assert!(message.contains(case.state.as_str()), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    let withdrawn = act(&announced(), &taiyuan_detox(), &withdrawal());
    let discharge = discharged_case("140106", "140106", None)
        .history
        .remove(0)
        .event;
    assert!(!withdrawn.allows(&discharge), "a withdrawal is final");
}

#[test]
fn only_the_announcing_detox_center_withdraws() {
    let case = announced();
    for onlooker in [
        yingze(),
        agency("police", "140106", "yingze-police"),
        agency("oversight", "140100", "taiyuan-office"),
    ] {
        assert!(
            matches!(
                decided(&case, &onlooker, &withdrawal()),
                Err(Refusal::NotPermitted(_))
            ),
            "{onlooker}"
        );
    }
    let other_center = agency("detox-center", "140200", "datong-detox");
    assert_eq!(
        decided(&case, &other_center, &withdrawal()),
        Err(Refusal::NotFound)
    );
}

/// The project told of the release may act once the discharge comes:
/// before it, a command is refused for the state, not for who asks.
#[test]
fn the_project_told_of_a_release_acts_only_after_the_discharge() {
    let case = announced();
    for command in every_command() {
        let refused = decided(&case, &yingze(), &command);
        match relation(command.call(), AgencyKind::CountyProject) {
            Some(Relation::Responsible) => assert!(
                matches!(
                    &refused,
                    Err(Refusal::WrongState { state: CaseState::Announced, message })
                        if message.ends_with("while the case is announced")
                ),
                "{command:?}: {refused:?}"
            ),
            _ => assert!(refused.is_err(), "{command:?}: {refused:?}"),
        }
    }
    // The project of the person's earlier case reads the release, and will
    // never act on it.
    let mut history = case.history.clone();
    if let CaseEvent::ReleaseAnnounced {
        earlier_open_cases, ..
    } = &mut history[0].event
    {
        earlier_open_cases.push(EarlierCase {
            case_id: CaseId::new(uuid::Uuid::max()),
            executing_region: region("140202"),
            project: Some(id("datong-project")),
            oversight: None,
        });
    }
    let told = Case::from_history(case.id.clone(), history).unwrap();
    let datong = agency("county-project", "140202", "datong-project");
    assert!(crate::domain::access::can_view(&datong, &told));
    assert!(matches!(
        decided(&told, &datong, &Command::ConfirmPickup),
        Err(Refusal::NotPermitted(_))
    ));
}

#[test]
fn a_project_cannot_close_with_the_withdrawal_and_a_withdrawal_needs_a_reason() {
    let close = CommandDraft::Close {
        reason: text("release-withdrawn"),
        note: text("never released"),
    };
    assert_eq!(refused_fields(&close), ["reason"]);
    let bare = CommandDraft::WithdrawAnnouncement { reason: text(" ") };
    assert_eq!(refused_fields(&bare), ["reason"]);
    assert!(!announced().allows(&CaseEvent::Closed {
        reason: ClosureReason::Completed,
        note: String::new(),
    }));
    assert!(!supervised().allows(&CaseEvent::Closed {
        reason: ClosureReason::ReleaseWithdrawn,
        note: String::new(),
    }));
}

#[test]
fn the_withdrawal_reaches_everyone_the_announcement_reached() {
    // Announced to Yingze, household in Datong; the person's earlier case
    // runs in Xiaodian.
    let mut case = announced_case("140202", None, None);
    let mut first = case.history.remove(0);
    if let CaseEvent::ReleaseAnnounced {
        executing_region,
        project,
        earlier_open_cases,
        ..
    } = &mut first.event
    {
        *executing_region = region("140106");
        *project = Some(id("yingze-project"));
        earlier_open_cases.push(EarlierCase {
            case_id: CaseId::new(uuid::Uuid::nil()),
            executing_region: region("140105"),
            project: Some(id("xiaodian-project")),
            oversight: None,
        });
    }
    let case = Case::from_history(case.id, vec![first]).unwrap();
    let event = decided(&case, &taiyuan_detox(), &withdrawal()).unwrap();
    let recorded = RecordedEvent {
        sequence: 2,
        at: datetime!(2026-11-22 08:00 UTC),
        by: taiyuan_detox().id,
        event,
    };
    let mut after = case.clone();
    after.apply(recorded.clone()).unwrap();
    let told: Vec<(String, &str)> = recipients(&case, &after, &recorded, &shanxi())
        .into_iter()
        .map(|r| (r.agency.to_string(), r.role.as_str()))
        .collect();
    let told: Vec<(&str, &str)> = told.iter().map(|(a, r)| (a.as_str(), *r)).collect();
    assert_eq!(
        told,
        [
            ("yingze-police", "executing-police"),
            ("datong-police", "household-police"),
            ("yingze-project", "responsible-project"),
            ("xiaodian-project", "earlier-case-project"),
            ("xiaodian-police", "earlier-case-police"),
        ]
    );
}

#[test]
fn an_unroutable_announcements_office_hears_of_its_withdrawal_and_parts_end_there() {
    let case = announced_case("140108", None, Some("taiyuan-office"));
    let withdrawn = act(&case, &taiyuan_detox(), &withdrawal());
    let recorded = withdrawn.history.last().unwrap().clone();
    let told = recipients(&case, &withdrawn, &recorded, &shanxi());
    assert!(
        told.iter().any(|r| r.agency.as_str() == "taiyuan-office"
            && r.role == RecipientRole::UnroutableOversight),
        "{told:?}"
    );

    // The project an announcement named read the case while it was
    // announced; its part ends with the withdrawal.
    let named = yingze();
    let announced = announced();
    assert_eq!(part(&named, &announced), Some(Part::Passing { ends: None }));
    let withdrawn = act(&announced, &taiyuan_detox(), &withdrawal());
    let at = withdrawn.history.last().unwrap().at;
    assert_eq!(
        part(&named, &withdrawn),
        Some(Part::Passing { ends: Some(at) })
    );
    let policy = AccessPolicy::default();
    let last = at + policy.passing_parts_read_for;
    assert!(can_read(&named, &withdrawn, last, &policy));
    assert!(!can_read(
        &named,
        &withdrawn,
        last + Duration::SECOND,
        &policy
    ));
}

#[test]
fn a_revised_notice_moves_the_day_and_the_county_before_discharge_only() {
    let first = announced();
    let later = time::macros::date!(2026 - 12 - 05);
    let case = renoticed(&first, "140105", later);
    assert_eq!(case.state, CaseState::Announced);
    assert_eq!(case.planned_release_date, Some(later));
    assert_eq!(case.executing_region, region("140105"));
    assert_eq!(case.announced_to, Some(id("xiaodian-project")));
    assert_eq!(case.person.residence_region, Some(region("140105")));
    assert_eq!(case.version(), 2);

    let revision = case.history.last().unwrap().event.clone();
    assert!(!supervised().allows(&revision), "not after discharge");
    let withdrawn = act(&case, &taiyuan_detox(), &withdrawal());
    assert!(!withdrawn.allows(&revision), "not after withdrawal");
}

#[test]
fn a_notice_moved_elsewhere_ends_the_first_countys_part_there() {
    let yingze_project = yingze();
    let case = renoticed(&announced(), "140105", time::macros::date!(2026 - 12 - 05));
    let at = case.history.last().unwrap().at;
    assert_eq!(
        part(&yingze_project, &case),
        Some(Part::Passing { ends: Some(at) })
    );
    let xiaodian = agency("county-project", "140105", "xiaodian-project");
    assert_eq!(part(&xiaodian, &case), Some(Part::Passing { ends: None }));

    // A notice that names Yingze again keeps its part open.
    let back = renoticed(&case, "140106", time::macros::date!(2026 - 12 - 06));
    assert_eq!(
        part(&yingze_project, &back),
        Some(Part::Passing { ends: None })
    );
}

#[test]
fn a_withdrawal_after_a_moved_notice_reaches_whom_the_latest_notice_named() {
    // Yingze's project heard of the move with the revision, and no more.
    let moved = renoticed(&announced(), "140105", time::macros::date!(2026 - 12 - 05));
    let withdrawn = act(&moved, &taiyuan_detox(), &withdrawal());
    let recorded = withdrawn.history.last().unwrap().clone();
    let told: Vec<(String, RecipientRole)> = recipients(&moved, &withdrawn, &recorded, &shanxi())
        .into_iter()
        .map(|r| (r.agency.to_string(), r.role))
        .collect();
    assert_eq!(
        told,
        [
            ("xiaodian-police".into(), RecipientRole::ExecutingPolice),
            ("yingze-police".into(), RecipientRole::HouseholdPolice),
            ("xiaodian-project".into(), RecipientRole::ResponsibleProject),
        ]
    );
}

#[test]
fn an_earlier_cases_project_told_by_a_notice_reads_until_the_notice_is_withdrawn() {
    let mut case = announced();
    if let CaseEvent::ReleaseAnnounced {
        earlier_open_cases, ..
    } = &mut case.history[0].event
    {
        earlier_open_cases.push(EarlierCase {
            case_id: CaseId::new(uuid::Uuid::nil()),
            executing_region: region("140202"),
            project: Some(id("datong-project")),
            oversight: None,
        });
    }
    let case = Case::from_history(case.id, case.history).unwrap();
    let datong = agency("county-project", "140202", "datong-project");
    assert_eq!(part(&datong, &case), Some(Part::Passing { ends: None }));
    let withdrawn = act(&case, &taiyuan_detox(), &withdrawal());
    let at = withdrawn.history.last().unwrap().at;
    assert_eq!(
        part(&datong, &withdrawn),
        Some(Part::Passing { ends: Some(at) })
    );
    let recorded = withdrawn.history.last().unwrap().clone();
    let told = recipients(&case, &withdrawn, &recorded, &shanxi());
    assert!(
        told.iter()
            .any(|r| r.agency == datong.id && r.role == RecipientRole::EarlierCaseProject),
        "{told:?}"
    );
}
