use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::domain::agency::AgencyRef;
use crate::domain::case::{CaseId, EarlierCase, RecordedEvent};
use crate::domain::event::ClosureReason;
use crate::domain::testing::{agency, announced_case, discharged_case, id, region, then};

fn policy() -> AccessPolicy {
    AccessPolicy {
        passing_parts_read_for: Duration::days(30),
        ..AccessPolicy::default()
    }
}

fn reads_until(caller: &AgencyRef, case: &Case, last: OffsetDateTime) {
    let policy = policy();
    assert!(can_read(caller, case, last, &policy), "{caller} at {last}");
    let after = last + Duration::SECOND;
    assert!(
        !can_read(caller, case, after, &policy),
        "{caller} at {after}"
    );
    assert!(can_view(caller, case), "{caller} still took a part");
}

fn reads_for_good(caller: &AgencyRef, case: &Case) {
    let far = datetime!(2029-01-01 00:00 UTC);
    assert!(can_read(caller, case, far, &policy()), "{caller}");
}

fn last_at(case: &Case) -> OffsetDateTime {
    case.history.last().unwrap().at
}

/// Yingze (140106) runs the case; the person's household is Datong.
fn yingze() -> Case {
    discharged_case("140106", "140202", Some("yingze-project"))
}

/// [`yingze`], discharged naming the person's `earlier` open case.
fn yingze_naming(earlier: EarlierCase) -> Case {
    let mut case = yingze();
    let mut discharge = case.history.remove(0);
    if let CaseEvent::Discharged {
        earlier_open_cases, ..
    } = &mut discharge.event
    {
        earlier_open_cases.push(earlier);
    }
    Case::from_history(case.id, vec![discharge]).unwrap()
}

fn under_supervision() -> Case {
    let project = id("yingze-project");
    let picked_up = then(&yingze(), &project, CaseEvent::PickedUp);
    then(&picked_up, &project, CaseEvent::Reported)
}

fn closed(case: &Case) -> Case {
    then(
        case,
        &id("yingze-project"),
        CaseEvent::Closed {
            reason: ClosureReason::Completed,
            note: String::new(),
        },
    )
}

#[test]
fn the_host_of_an_absence_reads_the_case_while_it_lasts_and_a_while_after() {
    let case = then(
        &under_supervision(),
        &id("yingze-project"),
        CaseEvent::AbsenceNotified {
            host_region: region("140105"),
            host_project: Some(id("xiaodian-project")),
            from: date!(2026 - 12 - 01),
            until: date!(2026 - 12 - 10),
            reason: "work".into(),
        },
    );
    // The last day of the absence ends at midnight in China.
    let absence_over = datetime!(2026-12-10 16:00 UTC);
    let last = absence_over + Duration::days(30);
    for host in [
        agency("county-project", "140105", "xiaodian-project"),
        agency("police", "140105", "xiaodian-police"),
    ] {
        assert_eq!(
            part(&host, &case),
            Some(Part::Passing {
                ends: Some(absence_over)
            })
        );
        reads_until(&host, &case, last);
    }
    for keeper in [
        agency("county-project", "140106", "yingze-project"),
        agency("police", "140106", "yingze-police"),
        agency("police", "140202", "datong-police"),
        agency("oversight", "140100", "taiyuan-office"),
    ] {
        assert_eq!(part(&keeper, &case), Some(Part::Lasting), "{keeper}");
        reads_for_good(&keeper, &case);
    }
    // An office over both counties keeps the case for the county it runs in.
    let province = agency("police", "140000", "shanxi-police");
    assert_eq!(part(&province, &case), Some(Part::Lasting));

    // Closure ends an absence planned past it.
    let ended_early = closed(&case);
    let host = agency("police", "140105", "xiaodian-police");
    reads_until(
        &host,
        &ended_early,
        last_at(&ended_early) + Duration::days(30),
    );
}

#[test]
fn a_transfer_not_completed_is_a_passing_part_and_one_completed_lasts() {
    let requested = then(
        &under_supervision(),
        &id("yingze-project"),
        CaseEvent::TransferRequested {
            to_region: region("140105"),
            to_project: id("xiaodian-project"),
            reason: "moved".into(),
        },
    );
    let receivers = [
        agency("county-project", "140105", "xiaodian-project"),
        agency("police", "140105", "xiaodian-police"),
    ];
    for receiver in &receivers {
        assert_eq!(
            part(receiver, &requested),
            Some(Part::Passing { ends: None }),
            "a transfer not answered has no end"
        );
        reads_for_good(receiver, &requested);
    }

    let rejected = then(
        &requested,
        &id("xiaodian-project"),
        CaseEvent::TransferRejected {
            reason: "no room".into(),
        },
    );
    for receiver in &receivers {
        reads_until(receiver, &rejected, last_at(&rejected) + Duration::days(30));
    }

    let accepted = then(
        &requested,
        &id("xiaodian-project"),
        CaseEvent::TransferAccepted,
    );
    let arrived = then(&accepted, &id("xiaodian-project"), CaseEvent::Arrived);
    for receiver in &receivers {
        assert_eq!(part(receiver, &arrived), Some(Part::Lasting), "{receiver}");
    }
    // The county the case left ran it: its project and police keep it.
    for sender in [
        agency("county-project", "140106", "yingze-project"),
        agency("police", "140106", "yingze-police"),
    ] {
        assert_eq!(part(&sender, &arrived), Some(Part::Lasting), "{sender}");
    }
}

#[test]
fn an_announcement_for_a_county_the_discharge_did_not_go_to_is_passing() {
    let announced = announced_case("140107", Some("xinghualing-project"), None);
    let named = agency("county-project", "140107", "xinghualing-project");
    assert_eq!(part(&named, &announced), Some(Part::Passing { ends: None }));

    // The discharge corrected the household and went to Yingze.
    let mut case = announced;
    let discharge = yingze().history.remove(0);
    case.apply(RecordedEvent {
        sequence: 2,
        ..discharge
    })
    .unwrap();
    let discharged_at = last_at(&case);
    for told in [named, agency("police", "140107", "xinghualing-police")] {
        assert_eq!(
            part(&told, &case),
            Some(Part::Passing {
                ends: Some(discharged_at)
            }),
            "{told}"
        );
        reads_until(&told, &case, discharged_at + Duration::days(30));
    }
}

#[test]
fn the_county_of_an_earlier_open_case_is_told_once() {
    let case = yingze_naming(EarlierCase {
        case_id: CaseId::new(uuid::Uuid::max()),
        executing_region: region("140105"),
        project: Some(id("xiaodian-project")),
        oversight: None,
    });
    for told in [
        agency("county-project", "140105", "xiaodian-project"),
        agency("police", "140105", "xiaodian-police"),
    ] {
        reads_until(&told, &case, last_at(&case) + Duration::days(30));
    }
}

#[test]
fn no_part_no_reading_and_police_lose_a_closed_case_whatever_their_part() {
    let case = closed(&yingze());
    let stranger = agency("county-project", "140105", "xiaodian-project");
    assert_eq!(part(&stranger, &case), None);
    assert!(!can_read(&stranger, &case, last_at(&case), &policy()));

    let police = agency("police", "140106", "yingze-police");
    let policy = AccessPolicy {
        police_see_closed_cases_for: Duration::days(10),
        passing_parts_read_for: Duration::days(90),
    };
    let cutoff = last_at(&case) + Duration::days(10);
    assert!(can_read(&police, &case, cutoff, &policy));
    assert!(!can_read(
        &police,
        &case,
        cutoff + Duration::SECOND,
        &policy
    ));
}

fn requested(case: &Case) -> Case {
    then(
        case,
        &id("yingze-project"),
        CaseEvent::TransferRequested {
            to_region: region("140105"),
            to_project: id("xiaodian-project"),
            reason: "moved".into(),
        },
    )
}

fn absence(case: &Case, until: time::Date) -> Case {
    then(
        case,
        &id("yingze-project"),
        CaseEvent::AbsenceNotified {
            host_region: region("140105"),
            host_project: Some(id("xiaodian-project")),
            from: date!(2026 - 11 - 28),
            until,
            reason: "work".into(),
        },
    )
}

#[test]
fn whatever_cancels_a_transfer_ends_the_receivers_part() {
    let receiver = agency("police", "140105", "xiaodian-police");
    let project = id("yingze-project");
    let cancellations = [
        CaseEvent::TransferWithdrawn {
            reason: String::new(),
        },
        CaseEvent::ContactLost {
            note: String::new(),
        },
        CaseEvent::Suspended {
            reason: String::new(),
        },
        CaseEvent::Closed {
            reason: ClosureReason::Deceased,
            note: String::new(),
        },
    ];
    for event in cancellations {
        let name = event.name();
        let cancelled = then(&requested(&under_supervision()), &project, event);
        assert_eq!(
            part(&receiver, &cancelled),
            Some(Part::Passing {
                ends: Some(last_at(&cancelled))
            }),
            "{name}"
        );
        reads_until(
            &receiver,
            &cancelled,
            last_at(&cancelled) + Duration::days(30),
        );
    }
}

#[test]
fn the_latest_of_several_passing_parts_counts() {
    let case = under_supervision();
    let first = absence(&case, date!(2026 - 12 - 05));
    let second = absence(&first, date!(2026 - 12 - 20));
    let host = agency("county-project", "140105", "xiaodian-project");
    assert_eq!(
        part(&host, &second),
        Some(Part::Passing {
            ends: Some(datetime!(2026-12-20 16:00 UTC))
        })
    );
    // A shorter absence after a longer one does not cut it short.
    let shorter = absence(&second, date!(2026 - 12 - 01));
    assert_eq!(part(&host, &shorter), part(&host, &second));
    // A pending transfer to the host county has no end yet.
    let pending = requested(&second);
    assert_eq!(part(&host, &pending), Some(Part::Passing { ends: None }));
    reads_for_good(&host, &pending);
}

#[test]
fn an_absence_planned_to_the_last_day_there_is_reads_without_overflow() {
    let case = absence(&under_supervision(), time::Date::MAX);
    let host = agency("police", "140105", "xiaodian-police");
    let policy = AccessPolicy {
        passing_parts_read_for: Duration::days(3653),
        ..AccessPolicy::default()
    };
    let now = datetime!(2030-01-01 00:00 UTC);
    assert!(can_read(&host, &case, now, &policy));
}

#[test]
fn the_office_holding_an_earlier_unroutable_case_is_told_by_name() {
    // Held by the office above the detox center, not above its county.
    let case = yingze_naming(EarlierCase {
        case_id: CaseId::new(uuid::Uuid::max()),
        executing_region: region("110105"),
        project: None,
        oversight: Some(id("taiyuan-office")),
    });
    let holder = agency("oversight", "140100", "taiyuan-office");
    let other = agency("oversight", "140200", "datong-office");
    let beijing = agency("police", "110105", "chaoyang-police");
    assert!(
        can_view(&other, &case),
        "Datong's office: the household county"
    );
    reads_until(&beijing, &case, last_at(&case) + Duration::days(30));
    // Taiyuan covers Yingze anyway; an office named only by id is found by it.
    assert_eq!(part(&holder, &case), Some(Part::Lasting));
    let named = agency("oversight", "130000", "taiyuan-office");
    reads_until(&named, &case, last_at(&case) + Duration::days(30));
}

#[test]
fn the_office_told_of_an_announcement_no_project_could_receive_reads_it_until_the_discharge() {
    // Announced for Beijing's Chaoyang: the office above the detox center
    // is told, and reads the announced case.
    let announced = announced_case("110105", None, Some("taiyuan-office"));
    let office = agency("oversight", "140100", "taiyuan-office");
    assert_eq!(
        part(&office, &announced),
        Some(Part::Passing { ends: None })
    );

    // The person was discharged to Datong after all, a county outside the
    // office's jurisdiction.
    let mut case = announced;
    let discharge = discharged_case("140202", "140202", Some("datong-project"))
        .history
        .remove(0);
    case.apply(RecordedEvent {
        sequence: 2,
        ..discharge
    })
    .unwrap();
    reads_until(&office, &case, last_at(&case) + Duration::days(30));
}
