//! The person's cases a new discharge names as still open: discharged and
//! not closed, of another decision, read with the discharge's lookup.

use handover_gateway::domain::agency::AgencyId;
use handover_gateway::domain::case::{
    Case, CaseEvent, CaseId, ClosureReason, EarlierCase, RecordedEvent,
};
use handover_gateway::domain::intake::{DecisionNumber, TermMonths};
use handover_gateway::storage::{CaseFilter, CaseKey, Lookup, Storage};

use crate::support::{Db, discharged, filter, id, next, person, person_key, region, write};

conformance!(only_open_discharged_cases_of_the_person_are_named_oldest_first);

fn announced(decision: &str) -> Case {
    let event = CaseEvent::ReleaseAnnounced {
        decision_number: DecisionNumber::parse(decision).unwrap(),
        person: person(1, "140106"),
        planned_release_date: time::macros::date!(2026 - 12 - 20),
        term: TermMonths::new(12).unwrap(),
        executing_region: region("140106"),
        project: Some(id("yingze-project")),
        oversight: None,
        earlier_open_cases: Vec::new(),
    };
    let recorded = RecordedEvent {
        sequence: 1,
        at: time::macros::datetime!(2026-11-28 09:00 UTC),
        by: id("taiyuan-detox"),
        event,
    };
    Case::from_history(CaseId::new(uuid::Uuid::now_v7()), vec![recorded]).unwrap()
}

/// The other open cases a discharge of person `n` for `decision` finds
/// with its lookup.
async fn open_of(storage: &dyn Storage, n: u32, decision: &str) -> Vec<EarlierCase> {
    let decision = DecisionNumber::parse(decision).unwrap();
    let key = CaseKey::Decision(decision, person_key(n));
    let detox = id("taiyuan-detox");
    match storage
        .answer_or_case(&detox, "r-new", &key)
        .await
        .unwrap()
        .found
    {
        Lookup::Unanswered(_, open) => open,
        other => panic!("no answer was stored for r-new: {other:?}"),
    }
}

/// `(case, county, project, oversight)` of each case named.
async fn named(storage: &dyn Storage, except: &str) -> Vec<(CaseId, String, String, String)> {
    let found = open_of(storage, 1, except).await;
    let text = |agency: Option<AgencyId>| agency.map(|a| a.to_string()).unwrap_or_default();
    found
        .into_iter()
        .map(|c| {
            let county = c.executing_region.to_string();
            (c.case_id, county, text(c.project), text(c.oversight))
        })
        .collect()
}

async fn only_open_discharged_cases_of_the_person_are_named_oldest_first(db: Db) {
    let storage = db.open().await;
    let supervised = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let supervised_then = next(&supervised, "yingze-project", CaseEvent::PickedUp);
    let unroutable = discharged("D-2", "140108", person(1, "140106"), None);
    let closed = discharged("D-3", "140106", person(1, "140106"), Some("yingze-project"));
    let closed_then = next(
        &closed,
        "yingze-project",
        CaseEvent::Closed {
            reason: ClosureReason::Redetained,
            note: String::new(),
        },
    );
    let stranger = discharged("D-5", "140106", person(2, "140106"), Some("yingze-project"));
    for (n, (case, version)) in [
        (&supervised, 0),
        (&supervised_then, 1),
        (&unroutable, 0),
        (&closed, 0),
        (&closed_then, 1),
        (&announced("D-4"), 0),
        (&stranger, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let written = write(case, version, &format!("r-{n}"), &[]);
        storage.write_case(written).await.unwrap();
    }

    let (yingze, office) = ("yingze-project".to_owned(), "shanxi-office".to_owned());
    assert_eq!(
        named(&*storage, "D-9").await,
        [
            (
                supervised.id.clone(),
                "140106".into(),
                yingze.clone(),
                String::new()
            ),
            (
                unroutable.id.clone(),
                "140108".into(),
                String::new(),
                office
            ),
        ]
    );
    assert_eq!(
        named(&*storage, "D-1").await,
        [(
            unroutable.id.clone(),
            "140108".into(),
            String::new(),
            "shanxi-office".into()
        )],
        "the discharge's own decision is not another case"
    );

    // Once assigned, the case has a project and no office holds it.
    let assigned = next(
        &unroutable,
        "shanxi-office",
        CaseEvent::Assigned {
            executing_region: region("140106"),
            project: id("yingze-project"),
            reason: "lives in Yingze".into(),
        },
    );
    storage
        .write_case(write(&assigned, 1, "r-assign", &[]))
        .await
        .unwrap();
    assert_eq!(
        named(&*storage, "D-1").await,
        [(assigned.id.clone(), "140106".into(), yingze, String::new())]
    );
    assert!(open_of(&*storage, 3, "D-1").await.is_empty());

    // Lists find the person's open cases, and neither the closed one, the
    // announced one nor the stranger's; only another case in the caller's
    // jurisdiction counts, so a list tells of none the caller cannot see.
    let datong = discharged(
        "D-6",
        "140211",
        person(1, "140211"),
        Some("pingcheng-project"),
    );
    storage
        .write_case(write(&datong, 0, "r-datong", &[]))
        .await
        .unwrap();
    let twice = |code: &str| CaseFilter {
        open_elsewhere: true,
        ..filter(code)
    };
    let yingze = sorted(vec![supervised.id.clone(), assigned.id.clone()]);
    assert_eq!(listed(&*storage, twice("140106")).await, yingze);
    let province = vec![
        supervised.id.clone(),
        assigned.id.clone(),
        datong.id.clone(),
    ];
    assert_eq!(listed(&*storage, twice("140000")).await, sorted(province));
    assert!(
        listed(&*storage, twice("140211")).await.is_empty(),
        "the others lie outside Datong"
    );
    let elsewhere_only = CaseFilter {
        county: Some(region("140108")),
        ..twice("140000")
    };
    assert!(listed(&*storage, elsewhere_only).await.is_empty());
    // A command's lookup, by case id, reads no other cases.
    let by_id = CaseKey::Id(supervised.id.clone());
    let detox = id("taiyuan-detox");
    let looked = storage.answer_or_case(&detox, "r-new", &by_id).await;
    assert!(matches!(
        looked.unwrap().found,
        Lookup::Unanswered(Some(_), open) if open.is_empty()
    ));
}

fn sorted(mut ids: Vec<CaseId>) -> Vec<CaseId> {
    ids.sort();
    ids
}

async fn listed(storage: &dyn Storage, filter: CaseFilter) -> Vec<CaseId> {
    let found = storage.list_cases(&filter).await.unwrap().found;
    found.into_iter().map(|c| c.id).collect()
}
