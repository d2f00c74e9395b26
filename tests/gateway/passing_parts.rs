//! A county told of a case in passing reads it while its part lasts and
//! for `[access] passing_parts_read_for` after, then no more.

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::domain::clock::{CHINA, Clock};
use time::Duration;
use tonic::Code;

use crate::steps::*;
use crate::support::*;

async fn read(app: &App, agency: &str, key: Key) -> Result<pb::Case, tonic::Status> {
    let request = pb::GetCaseRequest {
        key: Some(key),
        purpose: "follow-up".into(),
    };
    app.cases(agency)
        .await
        .get_case(request)
        .await
        .map(|r| r.into_inner().case.unwrap())
}

/// Xiaodian's police read by identity number, its project by case id:
/// both read the case, or both get the answer for a case nobody knows.
async fn xiaodian_reads(app: &App, number: &str, case_id: &str) -> bool {
    let by_number = read(app, "xiaodian-police", Key::IdNumber(number.into())).await;
    let by_id = read(app, "xiaodian-project", Key::CaseId(case_id.into())).await;
    let unknown = read(
        app,
        "xiaodian-police",
        Key::IdNumber(id_number("19850101", 999)),
    )
    .await
    .unwrap_err();
    match (by_number, by_id) {
        (Ok(police), Ok(project)) => {
            assert_eq!(
                (police.case_id.as_str(), project.case_id.as_str()),
                (case_id, case_id)
            );
            true
        }
        (Err(police), Err(project)) => {
            for hidden in [police, project] {
                assert_eq!(hidden.code(), Code::NotFound);
                assert_eq!(hidden.message(), unknown.message(), "as for nobody's case");
            }
            false
        }
        (police, project) => panic!("police {police:?}, project {project:?}"),
    }
}

async fn yingze_reads(app: &App, number: &str, case_id: &str) {
    for police in ["yingze-police", "taiyuan-police"] {
        let case = read(app, police, Key::IdNumber(number.into()))
            .await
            .unwrap();
        assert_eq!(case.case_id, case_id, "{police}");
    }
    let case = read(app, "yingze-project", Key::CaseId(case_id.into()))
        .await
        .unwrap();
    assert_eq!(case.case_id, case_id);
}

#[tokio::test]
async fn a_county_told_in_passing_reads_the_case_for_a_while_after_its_part_ended() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let mut config = config(dir.path());
    config.access.passing_parts_read_for = Duration::days(10);
    let app = start_with(dir, START, config).await;
    let number = id_number("19850101", 31);
    let case_id = discharged_in_yingze(&app, 31).await.case_id;
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    report(&app, "yingze-project", &case_id).await.unwrap();
    assert!(
        !xiaodian_reads(&app, &number, &case_id).await,
        "no part yet"
    );

    request_transfer(&app, "yingze-project", &case_id, "140105")
        .await
        .unwrap();
    app.clock.advance(Duration::days(5));
    assert!(
        xiaodian_reads(&app, &number, &case_id).await,
        "asked to take it"
    );
    reject(&app, "xiaodian-project", &case_id).await.unwrap();
    app.clock.advance(Duration::days(10));
    xiaodian_reads_to_the_last_moment(&app, &number, &case_id).await;

    // An absence in Xiaodian is a new part, to the end of its last day in
    // China (16:00 UTC) and ten days more.
    let today = app.clock.now().to_offset(CHINA).date();
    let until = today + Duration::days(4);
    notify_absence(&app, &case_id, &today.to_string(), &until.to_string())
        .await
        .unwrap();
    assert!(
        xiaodian_reads(&app, &number, &case_id).await,
        "hosting the stay"
    );
    let absence_over = until.midnight().assume_utc() + Duration::hours(16);
    app.clock.set(absence_over + Duration::days(10));
    xiaodian_reads_to_the_last_moment(&app, &number, &case_id).await;
}

/// At the clock's moment Xiaodian still reads the case, a second later
/// no more; Yingze, which runs it, reads it still.
async fn xiaodian_reads_to_the_last_moment(app: &App, number: &str, case_id: &str) {
    assert!(
        xiaodian_reads(app, number, case_id).await,
        "the last moment"
    );
    app.clock.advance(Duration::SECOND);
    assert!(
        !xiaodian_reads(app, number, case_id).await,
        "a second after"
    );
    yingze_reads(app, number, case_id).await;
}

#[tokio::test]
async fn a_county_a_case_was_transferred_to_keeps_it_and_so_does_the_one_it_left() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let mut config = config(dir.path());
    config.access.passing_parts_read_for = Duration::ZERO;
    let app = start_with(dir, START, config).await;
    let number = id_number("19850101", 32);
    let case_id = discharged_in_yingze(&app, 32).await.case_id;
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    report(&app, "yingze-project", &case_id).await.unwrap();
    request_transfer(&app, "yingze-project", &case_id, "140105")
        .await
        .unwrap();
    accept(&app, "xiaodian-project", &case_id, None)
        .await
        .unwrap();
    arrive(&app, "xiaodian-project", &case_id).await.unwrap();
    // Long after, within the year the test's certificates are valid for.
    app.clock.advance(Duration::days(300));
    assert!(xiaodian_reads(&app, &number, &case_id).await);
    yingze_reads(&app, &number, &case_id).await;
}

/// A release announced for a county outside the province reaches the
/// office above the detox center, which reads the announced case though
/// the county is not in its jurisdiction.
#[tokio::test]
async fn the_office_told_of_an_announcement_no_project_can_receive_reads_it() {
    let app = spawn_app().await;
    let number = id_number("19850101", 33);
    let announced = app
        .intake("taiyuan-detox")
        .await
        .announce_release(pb::AnnounceReleaseRequest {
            request_id: "a-33".into(),
            decision_number: "D-33".into(),
            person: Some(person(&number, "110105", None)),
            planned_release_date: "2026-12-05".into(),
            term_months: 12,
        })
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    let case = read(
        &app,
        "shanxi-office",
        Key::CaseId(announced.case_id.clone()),
    )
    .await
    .unwrap();
    assert_eq!(case.state(), pb::CaseState::Announced);
    let stranger = read(&app, "xiaodian-police", Key::CaseId(announced.case_id))
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::NotFound);
}
