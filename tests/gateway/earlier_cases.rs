//! A discharge of a person whose earlier case is still open (a relapse the
//! project did not record): the new case opens as always, names the open
//! one, and that case's project and police are told.

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
    match &case.history[0].detail {
        Some(Detail::Discharged(d)) => d
            .earlier_open_cases
            .iter()
            .map(|c| {
                let c = c.clone();
                (c.case_id, c.executing_region, c.project_id)
            })
            .collect(),
        other => panic!("a case opens with its discharge, not {other:?}"),
    }
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
    let retried = submit_as_detox(&app, second_request).await;
    assert_eq!(retried, receipt, "a retry gets the first receipt");

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
