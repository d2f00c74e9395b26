//! A release (announced or discharged) of a person whose earlier case is
//! still open (a relapse the project did not record): the new case opens
//! as always, names the open one, and that case's project and police are
//! told.

use handover_gateway::api::pb;
use pb::case_event::Detail;

use crate::steps::{close, heard, pickup, report};
use crate::support::*;

fn deliveries(receipt: &pb::Receipt) -> Vec<(&str, pb::RecipientRole)> {
    receipt
        .deliveries
        .iter()
        .map(|d| (d.agency_id.as_str(), d.role()))
        .collect()
}

/// The case ids, counties and projects its discharge named as still open.
fn earlier_named(case: &pb::Case) -> Vec<(String, String, String)> {
    let discharge = case
        .history
        .iter()
        .find(|event| matches!(event.detail, Some(Detail::Discharged(_))))
        .unwrap_or_else(|| panic!("no discharge in {case:?}"));
    named_by(discharge)
        .into_iter()
        .map(|(case_id, county, project, _)| (case_id, county, project))
        .collect()
}

async fn readable_by(app: &App, agency: &str, case_id: &str) -> bool {
    let request = pb::GetCaseRequest {
        key: Some(pb::get_case_request::Key::CaseId(case_id.into())),
        purpose: "the person was discharged again".into(),
    };
    app.cases(agency).await.get_case(request).await.is_ok()
}

#[tokio::test]
async fn a_second_discharge_names_the_open_case_and_tells_its_project_and_police() {
    let app = spawn_app().await;
    let number = id_number("19790606", 41);
    // Household in Xiaodian (140105); the first term was served in Yingze.
    let in_yingze = person(&number, "140105", Some("140106"));
    let first = submit_as_detox(&app, discharge("r-1", "D-41", in_yingze))
        .await
        .case_id;
    pickup(&app, "yingze-project", &first).await.unwrap();
    report(&app, "yingze-project", &first).await.unwrap();
    assert!(earlier_named(&app.case_for_office(&first).await).is_empty());
    assert!(!readable_by(&app, "xiaodian-project", &first).await);

    // Re-detained without Yingze recording it, and released again, now
    // to the household county.
    let in_xiaodian = person(&number, "140105", None);
    let second_request = discharge("r-2", "D-42", in_xiaodian.clone());
    let receipt = submit_as_detox(&app, second_request.clone()).await;
    let second = receipt.case_id.clone();

    use pb::RecipientRole as Role;
    assert_eq!(
        deliveries(&receipt),
        [
            ("xiaodian-project", Role::ResponsibleProject),
            ("xiaodian-police", Role::ExecutingPolice),
            ("shanxi-office", Role::Oversight),
            ("yingze-project", Role::EarlierCaseProject),
            ("yingze-police", Role::EarlierCasePolice),
        ]
    );
    let case = app.case_for_office(&second).await;
    assert_eq!(
        earlier_named(&case),
        [(first.clone(), "140106".into(), "yingze-project".into())]
    );
    assert_eq!(case.responsible_project_id, "xiaodian-project");
    assert_eq!(heard(&app, "yingze-project", &second).await, ["discharged"]);
    assert_eq!(heard(&app, "yingze-police", &second).await, ["discharged"]);
    // Told of it, they may read it, to find where the person is now.
    assert!(readable_by(&app, "yingze-project", &second).await);
    assert!(readable_by(&app, "yingze-police", &second).await);

    // The office finds the person's two open cases in one list.
    let twice = pb::ListCasesRequest {
        open_elsewhere: true,
        ..Default::default()
    };
    let listed = app.cases("shanxi-office").await.list_cases(twice).await;
    let mut ids: Vec<_> = listed
        .unwrap()
        .into_inner()
        .cases
        .into_iter()
        .map(|c| c.case_id)
        .collect();
    ids.sort();
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(ids, both);

    // The earlier case is left to its project: still open, unchanged.
    let earlier = app.case_for_office(&first).await;
    assert_eq!(earlier.state(), pb::CaseState::UnderSupervision);
    assert_eq!(earlier.responsible_project_id, "yingze-project");
    assert_eq!(earlier.version, 3);

    // Yingze closes it; a third release names only the case still open.
    close(
        &app,
        "yingze-project",
        &first,
        pb::ClosureReason::Redetained,
    )
    .await
    .unwrap();
    // A retry that planned again would now name nothing.
    let retried = submit_as_detox(&app, second_request).await;
    assert_eq!(retried, receipt, "a retry gets the first receipt");
    let third = discharge("r-3", "D-43", in_xiaodian.clone());
    let receipt = submit_as_detox(&app, third).await;
    let names: Vec<_> = earlier_named(&app.case_for_office(&receipt.case_id).await)
        .into_iter()
        .map(|(case_id, _, _)| case_id)
        .collect();
    assert_eq!(names, std::slice::from_ref(&second));
    assert!(
        deliveries(&receipt)
            .iter()
            .all(|(agency, _)| !agency.starts_with("yingze")),
        "{receipt:?}"
    );

    // Once every other case is closed, a discharge names none.
    for case_id in [&second, &receipt.case_id] {
        let answer = close(
            &app,
            "xiaodian-project",
            case_id,
            pb::ClosureReason::Redetained,
        );
        answer.await.unwrap();
    }
    let fourth = submit_as_detox(&app, discharge("r-4", "D-44", in_xiaodian)).await;
    assert!(earlier_named(&app.case_for_office(&fourth.case_id).await).is_empty());
}

/// The open cases a release event named, as `(case, county, project, office)`.
fn named_by(event: &pb::CaseEvent) -> Vec<(String, String, String, String)> {
    let earlier = match &event.detail {
        Some(Detail::ReleaseAnnounced(d)) => &d.earlier_open_cases,
        Some(Detail::Discharged(d)) => &d.earlier_open_cases,
        other => panic!("not a release: {other:?}"),
    };
    earlier
        .iter()
        .map(|c| {
            let c = c.clone();
            (c.case_id, c.executing_region, c.project_id, c.oversight_id)
        })
        .collect()
}

#[tokio::test]
async fn an_announcement_and_its_discharge_name_an_unroutable_open_case_and_tell_its_office() {
    let app = spawn_app().await;
    let number = id_number("19790606", 51);
    // Jiancaoping (140108) has no project: the province's office holds it.
    let in_jiancaoping = person(&number, "140108", None);
    let first = submit_as_detox(&app, discharge("r-1", "D-51", in_jiancaoping))
        .await
        .case_id;
    let in_yingze = person(&number, "140108", Some("140106"));
    let announcement = pb::AnnounceReleaseRequest {
        request_id: "a-2".into(),
        decision_number: "D-52".into(),
        person: Some(in_yingze.clone()),
        planned_release_date: "2026-12-05".into(),
        term_months: 12,
    };
    let mut intake = app.intake("taiyuan-detox").await;
    let announced = intake.announce_release(announcement).await.unwrap();
    let announced = announced.into_inner().receipt.unwrap();

    // Told in advance: the office holding the open case, as its holder.
    use pb::RecipientRole as Role;
    assert_eq!(
        deliveries(&announced),
        [
            ("yingze-project", Role::ResponsibleProject),
            ("yingze-police", Role::ExecutingPolice),
            ("taiyuan-police", Role::HouseholdPolice),
            ("shanxi-office", Role::EarlierCaseOversight),
        ]
    );
    let receipt = submit_as_detox(&app, discharge("r-2", "D-52", in_yingze)).await;

    assert_eq!(
        receipt.case_id, announced.case_id,
        "the announced case goes on"
    );
    let case = app.case_for_office(&receipt.case_id).await;
    let named = [(
        first.clone(),
        "140108".to_owned(),
        String::new(),
        "shanxi-office".to_owned(),
    )];
    assert_eq!(named_by(&case.history[0]), named, "the announcement");
    assert_eq!(named_by(&case.history[1]), named, "the discharge");
    assert_eq!(case.responsible_project_id, "yingze-project");
    assert_eq!(
        heard(&app, "shanxi-office", &receipt.case_id).await,
        ["release-announced", "discharged"]
    );
}

#[tokio::test]
async fn a_discharge_nobody_could_take_on_is_refused_though_an_earlier_county_hears_of_it() {
    let app = spawn_app().await;
    let number = id_number("19790606", 61);
    // Registered in Beijing, the first term served in Yingze.
    let in_yingze = person(&number, "110105", Some("140106"));
    submit_as_detox(&app, discharge("r-1", "D-61", in_yingze)).await;
    // With the province's office gone, nobody covers Beijing.
    disable(&app, "shanxi-office").await;

    let in_beijing = person(&number, "110105", None);
    let refused = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(discharge("r-2", "D-62", in_beijing))
        .await
        .unwrap_err();

    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains("110105"), "{refused:?}");
}
