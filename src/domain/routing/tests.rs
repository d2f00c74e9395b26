use super::*;
use crate::domain::case::{Case, CaseEvent};
use crate::domain::testing::{person, region, registered};

fn registry() -> Vec<Agency> {
    vec![
        registered("county-project", "140106", "yingze-project"),
        registered("police", "140106", "yingze-police"),
        registered("county-project", "140202", "datong-project"),
        registered("police", "140202", "datong-police"),
        registered("police", "140100", "taiyuan-police"),
        registered("oversight", "140000", "shanxi-office"),
    ]
}

fn recipients(route: &Route) -> Vec<(&str, RecipientRole)> {
    route
        .recipients
        .iter()
        .map(|r| (r.agency.as_str(), r.role))
        .collect()
}

#[test]
fn a_discharge_goes_to_the_household_county_without_consent() {
    let route = route(
        &person("140106", Some("140202"), false),
        region("140100"),
        &registry(),
    );
    assert_eq!(route.executing_region.to_string(), "140106");
    assert_eq!(
        recipients(&route),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
        ]
    );
}

#[test]
fn with_consent_the_residence_executes_and_household_police_get_a_copy() {
    let route = route(
        &person("140106", Some("140202"), true),
        region("140100"),
        &registry(),
    );
    assert_eq!(
        route.project.as_ref().map(AgencyId::as_str),
        Some("datong-project")
    );
    assert_eq!(
        recipients(&route),
        [
            ("datong-project", RecipientRole::ResponsibleProject),
            ("datong-police", RecipientRole::ExecutingPolice),
            ("yingze-police", RecipientRole::HouseholdPolice),
        ]
    );
}

#[test]
fn a_county_without_a_project_goes_to_oversight_and_police_above() {
    let route = route(
        &person("140105", None, false),
        region("140100"),
        &registry(),
    );
    assert_eq!(route.project, None);
    assert_eq!(
        recipients(&route),
        [
            ("taiyuan-police", RecipientRole::ExecutingPolice),
            ("shanxi-office", RecipientRole::UnroutableOversight),
        ]
    );
}

#[test]
fn disabled_agencies_receive_nothing() {
    let mut agencies = registry();
    for agency in &mut agencies {
        agency.enabled = agency.agency.id.as_str() != "yingze-police";
    }
    let route = route(&person("140106", None, false), region("140100"), &agencies);
    assert_eq!(
        recipients(&route),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("taiyuan-police", RecipientRole::ExecutingPolice),
        ]
    );
}

#[test]
fn one_agency_in_two_roles_gets_one_message() {
    let agencies = vec![registered("police", "140100", "taiyuan-police")];
    let route = route(
        &person("140105", Some("140106"), true),
        region("140100"),
        &agencies,
    );
    assert_eq!(
        recipients(&route),
        [("taiyuan-police", RecipientRole::ExecutingPolice)]
    );
}

#[test]
fn a_county_outside_the_province_goes_to_the_office_above_the_detox_center() {
    let route = route(
        &person("110105", None, false),
        region("140100"),
        &registry(),
    );
    assert_eq!(route.project, None);
    assert_eq!(
        route.oversight.as_ref().map(AgencyId::as_str),
        Some("shanxi-office")
    );
    assert_eq!(
        recipients(&route),
        [("shanxi-office", RecipientRole::UnroutableOversight)]
    );
}

#[test]
fn a_discharge_reaches_the_projects_and_police_of_the_persons_other_open_cases() {
    let agency = |id: &str| AgencyId::parse(id).unwrap();
    let earlier = |county: &str, project: Option<&str>, oversight: Option<&str>| EarlierCase {
        case_id: crate::domain::case::CaseId::new(uuid::Uuid::now_v7()),
        executing_region: region(county),
        project: project.map(agency),
        oversight: oversight.map(agency),
    };
    let mut agencies = registry();
    agencies.push(Agency {
        enabled: false,
        ..registered("county-project", "140203", "gone-project")
    });
    let route = route(&person("140106", None, false), region("140100"), &agencies)
        .with_earlier_cases(
            &[
                earlier("140202", Some("datong-project"), None),
                // Unroutable: the office holding it and its county's police.
                earlier("140105", None, Some("shanxi-office")),
                // Already a recipient in its own right: one message.
                earlier("140106", Some("yingze-project"), None),
                // A disabled project hears nothing.
                earlier("140203", Some("gone-project"), None),
            ],
            &agencies,
        );
    assert_eq!(
        recipients(&route),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("datong-project", RecipientRole::EarlierCaseProject),
            ("datong-police", RecipientRole::EarlierCasePolice),
            ("taiyuan-police", RecipientRole::EarlierCasePolice),
            ("shanxi-office", RecipientRole::EarlierCaseOversight),
        ]
    );
}

#[test]
fn a_release_elsewhere_than_announced_reaches_whoever_the_notice_did() {
    // Announced to Datong, where the person lives with consent; the
    // household is Yingze.
    let announced = crate::domain::testing::announced_case("140106", None, None);
    let mut first = announced.history[0].clone();
    let living_in_datong = person("140106", Some("140202"), true);
    if let CaseEvent::ReleaseAnnounced {
        person,
        executing_region,
        project,
        ..
    } = &mut first.event
    {
        *person = living_in_datong.clone();
        *executing_region = region("140202");
        *project = Some(AgencyId::parse("datong-project").unwrap());
    }
    let announced = Case::from_history(announced.id, vec![first]).unwrap();

    // Released to the household county after all.
    let at_home = person("140106", None, false);
    let elsewhere = route(&at_home, region("140100"), &registry())
        .with_announced_before(Some(&announced), &registry());
    assert_eq!(
        recipients(&elsewhere),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("datong-project", RecipientRole::AnnouncedBefore),
            ("datong-police", RecipientRole::AnnouncedBefore),
        ]
    );
    // Where it was announced: nobody more.
    let as_announced = route(&living_in_datong, region("140100"), &registry())
        .with_announced_before(Some(&announced), &registry());
    assert_eq!(
        recipients(&as_announced),
        [
            ("datong-project", RecipientRole::ResponsibleProject),
            ("datong-police", RecipientRole::ExecutingPolice),
            ("yingze-police", RecipientRole::HouseholdPolice),
        ]
    );
}
