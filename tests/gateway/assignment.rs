//! A case no project may act on (unroutable, or its project disabled)
//! handed to a project by the oversight office, over mutual TLS: who may,
//! what is refused, and who hears of it.

use handover_gateway::api::pb;
use tonic::{Code, Status};

use crate::steps::{discharged_in_yingze, heard, pickup, report};
use crate::support::*;

async fn assign(
    app: &App,
    agency: &str,
    case_id: &str,
    to: &str,
    reason: &str,
    n: u32,
) -> Result<pb::Receipt, Status> {
    let request = pb::AssignCaseRequest {
        request_id: format!("assign-{n}"),
        case_id: case_id.into(),
        expected_version: None,
        to_region: to.into(),
        reason: reason.into(),
    };
    let response = app.supervision(agency).await.assign_case(request).await?;
    Ok(response.into_inner().receipt.unwrap())
}

async fn unroutable_listed(app: &App) -> Vec<String> {
    let request = pb::ListCasesRequest {
        unroutable: true,
        ..Default::default()
    };
    let page = app.cases("shanxi-office").await.list_cases(request).await;
    let cases = page.unwrap().into_inner().cases;
    cases.into_iter().map(|c| c.case_id).collect()
}

#[tokio::test]
async fn the_office_hands_an_unroutable_case_to_a_project_that_then_supervises_it() {
    let app = spawn_app().await;
    // Jiancaoping (140108), in Taiyuan, has no project.
    let person = person(&id_number("19880808", 301), "140108", None);
    let case_id = submit_as_detox(&app, discharge("r-1", "D-301", person))
        .await
        .case_id;
    assert!(app.case_for_office(&case_id).await.unroutable);
    assert_eq!(
        unroutable_listed(&app).await,
        std::slice::from_ref(&case_id)
    );

    let code = |answer: Result<pb::Receipt, Status>| answer.unwrap_err().code();
    let reason = "lives with family in Yingze";
    let by_project = assign(&app, "yingze-project", &case_id, "140106", reason, 1).await;
    assert_eq!(code(by_project), Code::NotFound, "it was never told");
    let by_police = assign(&app, "taiyuan-police", &case_id, "140106", reason, 2).await;
    assert_eq!(code(by_police), Code::PermissionDenied);
    let no_reason = assign(&app, "shanxi-office", &case_id, "140106", " ", 3).await;
    assert_eq!(violations(&no_reason.unwrap_err()), ["reason"]);
    let no_project = assign(&app, "shanxi-office", &case_id, "140108", reason, 4).await;
    let no_project = no_project.unwrap_err();
    assert_eq!(no_project.code(), Code::FailedPrecondition);
    assert!(no_project.message().contains("to_region"), "{no_project:?}");
    let elsewhere = assign(&app, "shanxi-office", &case_id, "110105", reason, 5).await;
    assert_eq!(code(elsewhere), Code::PermissionDenied);
    assert_eq!(
        app.case_for_office(&case_id).await.version,
        1,
        "refusals changed nothing"
    );

    let receipt = assign(&app, "shanxi-office", &case_id, "140106", reason, 6)
        .await
        .unwrap();
    assert_eq!(receipt.version, 2);
    let again = assign(&app, "shanxi-office", &case_id, "140106", reason, 6).await;
    assert_eq!(again.unwrap(), receipt, "a retry gets the first receipt");

    let case = app.case_for_office(&case_id).await;
    assert_eq!(case.responsible_project_id, "yingze-project");
    assert_eq!(case.executing_region, "140106");
    assert!(!case.unroutable);
    assert_eq!(case.state(), pb::CaseState::AwaitingPickup);
    let last = case.history.last().unwrap();
    assert_eq!(last.agency_id, "shanxi-office");
    assert!(matches!(
        &last.detail,
        Some(pb::case_event::Detail::Assigned(d))
            if d.project_id == "yingze-project" && d.reason == reason
    ));
    assert!(unroutable_listed(&app).await.is_empty());

    // The new county's project and police, and the police of the county
    // the case was in, hear of it; the office that acted has its receipt.
    assert_eq!(heard(&app, "yingze-project", &case_id).await, ["assigned"]);
    assert_eq!(heard(&app, "yingze-police", &case_id).await, ["assigned"]);
    assert_eq!(
        heard(&app, "taiyuan-police", &case_id).await,
        ["discharged", "assigned"]
    );
    assert_eq!(heard(&app, "shanxi-office", &case_id).await, ["discharged"]);

    pickup(&app, "yingze-project", &case_id).await.unwrap();
    let twice = assign(&app, "shanxi-office", &case_id, "140105", reason, 7).await;
    let twice = twice.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert!(
        twice.message().contains("only an unroutable case"),
        "{twice:?}"
    );
}

/// A project disabled in the registry can act on none of its cases: the
/// office over its county hands each to another county's project, which
/// takes it on in the state it is in, and hears of it with the project it
/// leaves.
#[tokio::test]
async fn the_office_hands_on_the_cases_of_a_disabled_project_in_their_state() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 1).await.case_id;
    pickup(&app, "yingze-project", &case_id).await.unwrap();
    let reason = "the project in Yingze was dissolved";
    let refused = assign(&app, "shanxi-office", &case_id, "140105", reason, 1).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("yingze-project is responsible"),
        "{refused:?}"
    );

    disable(&app, "yingze-project").await;
    let receipt = assign(&app, "shanxi-office", &case_id, "140105", reason, 2)
        .await
        .unwrap();
    assert_eq!(receipt.responsible_project_id, "xiaodian-project");
    assert_eq!(receipt.state(), pb::CaseState::PickedUp);
    assert!(!receipt.unroutable);
    assert_eq!(
        heard(&app, "xiaodian-project", &case_id).await,
        ["assigned"]
    );
    assert_eq!(
        heard(&app, "yingze-project", &case_id).await,
        ["discharged", "assigned"]
    );
    report(&app, "xiaodian-project", &case_id).await.unwrap();
    let case = app.case_for_office(&case_id).await;
    assert_eq!(case.state(), pb::CaseState::UnderSupervision);
    assert_eq!(case.executing_region, "140105");
}
