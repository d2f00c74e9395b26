//! Picking cases by their columns: due deadlines for the escalation scan,
//! filtered pages for police and oversight, and the cases a detox center
//! or a project acts in.

use handover_gateway::domain::access::closed_at;
use handover_gateway::domain::case::{Case, CaseEvent, CaseId, CaseState};
use handover_gateway::domain::deadline::DeadlineKind;
use handover_gateway::domain::event::ClosureReason;
use handover_gateway::storage::{CaseFilter, Party, Storage};
use time::Duration;

use crate::support::{Db, discharged, filter, id, next, person, region, write};

conformance!(
    due_cases_follow_the_cutoffs_and_skip_escalated_and_met_deadlines,
    lists_filter_by_jurisdiction_county_state_and_page_in_id_order,
    lists_show_a_closed_case_only_if_closed_since_the_cutoff,
    a_partys_list_shows_the_cases_it_submitted_or_is_responsible_for,
    unroutable_cases_are_counted_until_assigned,
);

fn ids(cases: &[&Case]) -> Vec<CaseId> {
    let mut ids: Vec<_> = cases.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids
}

async fn due_cases_follow_the_cutoffs_and_skip_escalated_and_met_deadlines(db: Db) {
    let storage = db.open().await;
    let early = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let late = discharged("D-2", "140106", person(2, "140106"), Some("yingze-project"));
    let escalated = discharged("D-3", "140106", person(3, "140106"), Some("yingze-project"));
    let written = write(&early, 0, "r-1", &[]);
    let start = written
        .deadlines
        .iter()
        .find(|d| d.kind == DeadlineKind::Pickup)
        .unwrap()
        .starts_at;
    storage.write_case(written).await.unwrap();
    let mut later = write(&late, 0, "r-2", &[]);
    for deadline in &mut later.deadlines {
        deadline.starts_at += Duration::days(1);
    }
    storage.write_case(later).await.unwrap();
    let mut done = write(&escalated, 0, "r-3", &[]);
    for deadline in &mut done.deadlines {
        deadline.escalated = true;
    }
    storage.write_case(done).await.unwrap();

    let due = |at| vec![(DeadlineKind::Pickup, at)];
    assert!(
        storage
            .due_cases(&due(start - Duration::seconds(1)), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        storage.due_cases(&due(start), None, 10).await.unwrap(),
        ids(&[&early])
    );
    let both = storage
        .due_cases(&due(start + Duration::days(2)), None, 10)
        .await
        .unwrap();
    assert_eq!(both, ids(&[&early, &late]), "by id");
    // Paged by id: the scan reads past a case it could not escalate.
    let first = storage
        .due_cases(&due(start + Duration::days(2)), None, 1)
        .await
        .unwrap();
    assert_eq!(first, both[..1]);
    let second = storage
        .due_cases(&due(start + Duration::days(2)), Some(&first[0]), 10)
        .await
        .unwrap();
    assert_eq!(second, both[1..]);
    assert!(
        storage
            .due_cases(&Vec::new(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Picking up meets the pickup deadline: the write replaces it.
    let picked_up = next(&early, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&picked_up, 1, "r-4", &[]))
        .await
        .unwrap();
    assert!(
        storage
            .due_cases(&due(start), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let report = vec![(DeadlineKind::Report, start)];
    assert_eq!(
        storage.due_cases(&report, None, 10).await.unwrap(),
        ids(&[&early])
    );

    // An escalated deadline is no longer due, but still overdue.
    let mut overdue = filter("140000");
    overdue.overdue = Some(due(start + Duration::days(2)));
    assert_eq!(listed(&*storage, &overdue).await, ids(&[&late, &escalated]));
    let cutoffs = due(start + Duration::days(2));
    assert_eq!(storage.count_overdue(&cutoffs).await.unwrap(), 2);
    assert_eq!(storage.count_overdue(&Vec::new()).await.unwrap(), 0);
    storage.close().await;
}

async fn listed(storage: &dyn Storage, filter: &CaseFilter) -> Vec<CaseId> {
    storage
        .list_cases(filter)
        .await
        .unwrap()
        .found
        .into_iter()
        .map(|case| case.id)
        .collect()
}

async fn lists_filter_by_jurisdiction_county_state_and_page_in_id_order(db: Db) {
    let storage = db.open().await;
    let yingze = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let moved = discharged(
        "D-2",
        "140105",
        person(2, "140106"),
        Some("xiaodian-project"),
    );
    let unroutable = discharged("D-3", "140108", person(3, "140108"), None);
    let datong = discharged(
        "D-4",
        "140211",
        person(4, "140211"),
        Some("pingcheng-project"),
    );
    for (n, case) in [&yingze, &moved, &unroutable, &datong]
        .into_iter()
        .enumerate()
    {
        storage
            .write_case(write(case, 0, &format!("r-{n}"), &[]))
            .await
            .unwrap();
    }
    let picked_up = next(&yingze, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&picked_up, 1, "r-9", &[]))
        .await
        .unwrap();

    assert_eq!(
        listed(&*storage, &filter("140106")).await,
        ids(&[&yingze, &moved])
    );
    assert_eq!(
        listed(&*storage, &filter("140100")).await,
        ids(&[&yingze, &moved, &unroutable])
    );
    let everything = ids(&[&yingze, &moved, &unroutable, &datong]);
    assert_eq!(listed(&*storage, &filter("140000")).await, everything);
    let county = CaseFilter {
        county: Some(region("140106")),
        ..filter("140106")
    };
    assert_eq!(listed(&*storage, &county).await, ids(&[&yingze]));
    let state = CaseFilter {
        state: Some(CaseState::PickedUp),
        ..filter("140000")
    };
    let found = storage.list_cases(&state).await.unwrap().found;
    assert_eq!(found, [picked_up]);
    let stray = CaseFilter {
        unroutable: true,
        ..filter("140000")
    };
    assert_eq!(listed(&*storage, &stray).await, ids(&[&unroutable]));
    let office = CaseFilter {
        oversight: Some(id("shanxi-office")),
        ..filter("140106")
    };
    assert_eq!(
        listed(&*storage, &office).await,
        ids(&[&yingze, &moved, &unroutable])
    );

    let first = CaseFilter {
        limit: 2,
        ..filter("140000")
    };
    assert_eq!(listed(&*storage, &first).await, everything[..2]);
    let rest = CaseFilter {
        after: Some(everything[1].clone()),
        ..first
    };
    assert_eq!(listed(&*storage, &rest).await, everything[2..]);
    let past = CaseFilter {
        after: Some(everything[3].clone()),
        ..filter("140000")
    };
    assert!(listed(&*storage, &past).await.is_empty());
    storage.close().await;
}

/// Police lose sight of a closed case some time after its closure; the
/// list finds the closure by the case's newest event, the instant the
/// domain's `closed_at` names.
async fn lists_show_a_closed_case_only_if_closed_since_the_cutoff(db: Db) {
    let storage = db.open().await;
    let open = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let discharged = discharged("D-2", "140106", person(2, "140106"), Some("yingze-project"));
    let closure = CaseEvent::Closed {
        reason: ClosureReason::Completed,
        note: String::new(),
    };
    let closed = next(&discharged, "yingze-project", closure);
    for (case, version, request) in [
        (&open, 0, "r-1"),
        (&discharged, 0, "r-2"),
        (&closed, 1, "r-3"),
    ] {
        storage
            .write_case(write(case, version, request, &[]))
            .await
            .unwrap();
    }
    let closed_at = closed_at(&closed).unwrap();

    let everything = ids(&[&open, &closed]);
    assert_eq!(listed(&*storage, &filter("140106")).await, everything);
    let since = |at| CaseFilter {
        closed_since: Some(at),
        ..filter("140106")
    };
    assert_eq!(listed(&*storage, &since(closed_at)).await, everything);
    let later = closed_at + Duration::milliseconds(1);
    assert_eq!(listed(&*storage, &since(later)).await, ids(&[&open]));
    let only_closed = CaseFilter {
        state: Some(CaseState::Closed),
        ..since(later)
    };
    assert!(listed(&*storage, &only_closed).await.is_empty());
    storage.close().await;
}

async fn unroutable_cases_are_counted_until_assigned(db: Db) {
    let storage = db.open().await;
    let routed = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let stray = discharged("D-2", "140108", person(2, "140108"), None);
    for (case, request) in [(&routed, "r-1"), (&stray, "r-2")] {
        storage
            .write_case(write(case, 0, request, &[]))
            .await
            .unwrap();
    }
    assert_eq!(storage.count_unroutable().await.unwrap(), 1);

    let assignment = CaseEvent::Assigned {
        executing_region: region("140106"),
        project: id("yingze-project"),
        reason: "lives in Yingze".into(),
    };
    let assigned = next(&stray, "shanxi-office", assignment);
    storage
        .write_case(write(&assigned, 1, "r-3", &[]))
        .await
        .unwrap();
    assert_eq!(storage.count_unroutable().await.unwrap(), 0);
    storage.close().await;
}

fn yingze_caseload() -> Party {
    Party::Responsible {
        project: id("yingze-project"),
        county: region("140106"),
    }
}

async fn a_partys_list_shows_the_cases_it_submitted_or_is_responsible_for(db: Db) {
    let storage = db.open().await;
    let yingze = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let xiaodian = discharged(
        "D-2",
        "140105",
        person(2, "140106"),
        Some("xiaodian-project"),
    );
    // Submitted by Datong's center, to Yingze.
    let mut from_datong = discharged("D-3", "140106", person(3, "140106"), Some("yingze-project"));
    from_datong.history[0].by = id("datong-detox");
    let from_datong = Case::from_history(from_datong.id.clone(), from_datong.history).unwrap();
    for (n, case) in [&yingze, &xiaodian, &from_datong].into_iter().enumerate() {
        let written = write(case, 0, &format!("r-{n}"), &[]);
        storage.write_case(written).await.unwrap();
    }
    let party = |party: Party| CaseFilter {
        party: Some(party),
        ..filter("140106")
    };

    let submitted = party(Party::Submitted(id("taiyuan-detox")));
    assert_eq!(
        listed(&*storage, &submitted).await,
        ids(&[&yingze, &xiaodian])
    );
    let submitted = party(Party::Submitted(id("datong-detox")));
    assert_eq!(listed(&*storage, &submitted).await, ids(&[&from_datong]));
    let caseload = party(yingze_caseload());
    assert_eq!(
        listed(&*storage, &caseload).await,
        ids(&[&yingze, &from_datong])
    );
    let caseload = party(Party::Responsible {
        project: id("xiaodian-project"),
        county: region("140105"),
    });
    assert_eq!(listed(&*storage, &caseload).await, ids(&[&xiaodian]));

    // The other filters narrow a party's list as any other.
    let picked_up = next(&yingze, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&picked_up, 1, "r-9", &[]))
        .await
        .unwrap();
    let picked = CaseFilter {
        state: Some(CaseState::PickedUp),
        ..party(yingze_caseload())
    };
    assert_eq!(listed(&*storage, &picked).await, ids(&[&yingze]));
    // Every open state is in the caseload, a lost contact among them.
    let lost = next(
        &picked_up,
        "yingze-project",
        CaseEvent::ContactLost {
            note: String::new(),
        },
    );
    storage
        .write_case(write(&lost, 2, "r-11", &[]))
        .await
        .unwrap();
    assert_eq!(
        listed(&*storage, &party(yingze_caseload())).await,
        ids(&[&yingze, &from_datong])
    );
    let in_xiaodian = CaseFilter {
        county: Some(region("140105")),
        ..party(Party::Submitted(id("taiyuan-detox")))
    };
    assert_eq!(listed(&*storage, &in_xiaodian).await, ids(&[&xiaodian]));

    // A closed case leaves the caseload, and is listed when asked for.
    let runs = |project: &'static str, county: &'static str| {
        let storage = &storage;
        async move {
            (storage.responsible_for_open_cases(&id(project), region(county)))
                .await
                .unwrap()
        }
    };
    assert!(runs("xiaodian-project", "140105").await);
    assert!(!runs("xiaodian-project", "140106").await, "its county only");
    let closed = next(
        &xiaodian,
        "xiaodian-project",
        CaseEvent::Closed {
            reason: ClosureReason::Deceased,
            note: String::new(),
        },
    );
    storage
        .write_case(write(&closed, 1, "r-10", &[]))
        .await
        .unwrap();
    let caseload = party(Party::Responsible {
        project: id("xiaodian-project"),
        county: region("140105"),
    });
    assert!(listed(&*storage, &caseload).await.is_empty());
    assert!(!runs("xiaodian-project", "140105").await);
    assert!(
        runs("yingze-project", "140106").await,
        "lost contact is open"
    );
    let closed_ones = CaseFilter {
        state: Some(CaseState::Closed),
        ..caseload
    };
    assert_eq!(listed(&*storage, &closed_ones).await, ids(&[&xiaodian]));
    let submitted = party(Party::Submitted(id("taiyuan-detox")));
    assert_eq!(
        listed(&*storage, &submitted).await,
        ids(&[&yingze, &xiaodian])
    );
}
