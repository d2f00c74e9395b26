//! Builders for the domain's unit tests.

use time::macros::datetime;

use super::agency::{Agency, AgencyId, AgencyRef};
use super::case::{Case, CaseEvent, CaseId, RecordedEvent};
use super::id_number::IdNumber;
use super::intake::{DecisionNumber, TermMonths};
use super::person::{Person, Sex};
use super::region::RegionCode;

pub fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

pub fn agency(kind: &str, code: &str, id: &str) -> AgencyRef {
    AgencyRef::new(
        kind.parse().unwrap(),
        region(code),
        AgencyId::parse(id).unwrap(),
    )
    .unwrap()
}

pub fn registered(kind: &str, code: &str, id: &str) -> Agency {
    Agency {
        agency: agency(kind, code, id),
        name: id.to_owned(),
        enabled: true,
    }
}

pub fn person(household: &str, residence: Option<&str>, consent: bool) -> Person {
    Person {
        id_number: IdNumber::parse("11010519491231002X", time::macros::date!(2026 - 01 - 01))
            .unwrap(),
        name: "张三".into(),
        sex: Sex::Female,
        household_region: region(household),
        residence_region: residence.map(region),
        residence_consent: consent,
    }
}

pub fn discharged_case(executing: &str, household: &str, project: Option<&str>) -> Case {
    let person = person(household, Some(executing), true);
    let event = CaseEvent::Discharged {
        decision_number: DecisionNumber::parse("D-1").unwrap(),
        executing_region: person.executing_region(),
        person,
        released_at: datetime!(2026-11-28 08:00 UTC),
        term: TermMonths::new(36).unwrap(),
        project: project.map(|p| AgencyId::parse(p).unwrap()),
        oversight: None,
        late_notice: true,
        earlier_open_cases: Vec::new(),
    };
    let recorded = RecordedEvent {
        sequence: 1,
        at: datetime!(2026-11-28 09:00 UTC),
        by: AgencyId::parse("taiyuan-detox").unwrap(),
        event,
    };
    Case::from_history(CaseId::new(uuid::Uuid::nil()), vec![recorded]).unwrap()
}

/// A release of a person of `household` (no residence given) announced
/// by Taiyuan's detox center on 2026-11-20, to `project` or, when no
/// project can receive it, to `office`.
pub fn announced_case(household: &str, project: Option<&str>, office: Option<&str>) -> Case {
    let person = person(household, None, false);
    let announcement = RecordedEvent {
        sequence: 1,
        at: datetime!(2026-11-20 08:00 UTC),
        by: id("taiyuan-detox"),
        event: CaseEvent::ReleaseAnnounced {
            decision_number: DecisionNumber::parse("D-1").unwrap(),
            executing_region: person.executing_region(),
            person,
            planned_release_date: time::macros::date!(2026 - 11 - 28),
            term: TermMonths::new(12).unwrap(),
            project: project.map(id),
            oversight: office.map(id),
            earlier_open_cases: Vec::new(),
        },
    };
    Case::from_history(CaseId::new(uuid::Uuid::nil()), vec![announcement]).unwrap()
}

/// `case`'s notice sent again, for the person now living in `residence`
/// with consent, released on `day`, an hour after the last event.
pub fn renoticed(case: &Case, residence: &str, day: time::Date) -> Case {
    let Some(CaseEvent::ReleaseAnnounced {
        decision_number,
        person,
        term,
        ..
    }) = case.history.first().map(|first| first.event.clone())
    else {
        panic!("not announced");
    };
    let person = Person {
        residence_region: Some(region(residence)),
        residence_consent: true,
        ..person
    };
    let executing_region = person.executing_region();
    let project = super::routing::route(&person, region("140100"), &shanxi()).project;
    then(
        case,
        &id("taiyuan-detox"),
        CaseEvent::ReleaseAnnounced {
            decision_number,
            person,
            planned_release_date: day,
            term,
            executing_region,
            project,
            oversight: None,
            earlier_open_cases: Vec::new(),
        },
    )
}

pub fn id(text: &str) -> AgencyId {
    AgencyId::parse(text).unwrap()
}

/// Taiyuan with three project counties and one without (140108), Datong
/// with one project county, and the offices and police above them.
pub fn shanxi() -> Vec<Agency> {
    vec![
        registered("detox-center", "140100", "taiyuan-detox"),
        registered("county-project", "140105", "xiaodian-project"),
        registered("police", "140105", "xiaodian-police"),
        registered("county-project", "140106", "yingze-project"),
        registered("police", "140106", "yingze-police"),
        registered("county-project", "140107", "xinghualing-project"),
        registered("police", "140107", "xinghualing-police"),
        registered("county-project", "140202", "datong-project"),
        registered("police", "140202", "datong-police"),
        registered("police", "140100", "taiyuan-police"),
        registered("oversight", "140100", "taiyuan-office"),
        registered("oversight", "140000", "shanxi-office"),
    ]
}

/// `case` after `event` by `by`, recorded an hour after the last event.
pub fn then(case: &Case, by: &AgencyId, event: CaseEvent) -> Case {
    let at = case
        .history
        .last()
        .map_or(datetime!(2026-11-28 09:00 UTC), |e| e.at);
    let mut after = case.clone();
    after
        .apply(RecordedEvent {
            sequence: case.version() + 1,
            at: at + time::Duration::HOUR,
            by: by.clone(),
            event,
        })
        .unwrap();
    after
}
