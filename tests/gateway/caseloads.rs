//! A project lists its caseload, a detox center the releases it
//! submitted: the cases they act in, wherever they run. A project keeps
//! its county while it runs open cases, since its caseload is read there.
//! Any list reads on past the cases its reader may not see. A project also
//! lists the transfers coming to it.

use handover_gateway::api::pb;
use handover_gateway::bootstrap::issue_agency;
use handover_gateway::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::region::RegionCode;
use tonic::Code;

use crate::steps::*;
use crate::support::*;

async fn list(app: &App, agency: &str, request: pb::ListCasesRequest) -> Vec<String> {
    let response = app.cases(agency).await.list_cases(request).await;
    let cases = response.unwrap().into_inner().cases;
    cases.into_iter().map(|case| case.case_id).collect()
}

#[tokio::test]
async fn a_project_lists_its_caseload_and_a_detox_center_its_releases() {
    let app = spawn_app().await;
    let yingze = discharged_in_yingze(&app, 71).await.case_id;
    let person = person(&id_number("19850101", 72), "140106", Some("140105"));
    let xiaodian = submit_as_detox(&app, discharge("d-72", "D-72", person))
        .await
        .case_id;
    let all = pb::ListCasesRequest::default;

    assert_eq!(
        list(&app, "yingze-project", all()).await,
        std::slice::from_ref(&yingze)
    );
    assert_eq!(
        list(&app, "xiaodian-project", all()).await,
        std::slice::from_ref(&xiaodian)
    );
    let mut released = vec![yingze.clone(), xiaodian.clone()];
    released.sort();
    assert_eq!(list(&app, "taiyuan-detox", all()).await, released);

    // Any county the center's releases went to; the state narrows.
    let in_xiaodian = pb::ListCasesRequest {
        county: "140105".into(),
        ..all()
    };
    assert_eq!(
        list(&app, "taiyuan-detox", in_xiaodian).await,
        std::slice::from_ref(&xiaodian)
    );
    pickup(&app, "yingze-project", &yingze).await.unwrap();
    let awaiting = pb::ListCasesRequest {
        state: pb::CaseState::AwaitingPickup.into(),
        ..all()
    };
    assert_eq!(
        list(&app, "taiyuan-detox", awaiting).await,
        std::slice::from_ref(&xiaodian)
    );

    // Responsibility moves with the arrival, and the caseload with it.
    report(&app, "yingze-project", &yingze).await.unwrap();
    request_transfer(&app, "yingze-project", &yingze, "140105")
        .await
        .unwrap();
    accept(&app, "xiaodian-project", &yingze, None)
        .await
        .unwrap();
    assert_eq!(
        list(&app, "xiaodian-project", all()).await,
        std::slice::from_ref(&xiaodian)
    );
    arrive(&app, "xiaodian-project", &yingze).await.unwrap();
    assert!(list(&app, "yingze-project", all()).await.is_empty());
    assert_eq!(list(&app, "xiaodian-project", all()).await, released);

    let refused = app
        .cases("yingze-project")
        .await
        .list_cases(pb::ListCasesRequest {
            open_elsewhere: true,
            ..all()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused), ["open_elsewhere"]);
}

#[tokio::test]
async fn a_project_running_open_cases_keeps_its_county_in_the_registry() {
    let app = spawn_app().await;
    let case_id = discharged_in_yingze(&app, 75).await.case_id;
    let certificate = app.read("yingze-project.pem");
    let reissue = |kind, region: &str| {
        let agency = AgencyRef::new(
            kind,
            RegionCode::parse(region).unwrap(),
            AgencyId::parse("yingze-project").unwrap(),
        )
        .unwrap();
        let (ca, dir) = (app.ca(), certs_dir(app.dir.path()));
        let storage = app.gateway.storage();
        async move { issue_agency(&ca, storage.as_ref(), &dir, agency, "迎泽").await }
    };

    for (kind, region) in [
        (AgencyKind::CountyProject, "140105"),
        (AgencyKind::Police, "140106"),
    ] {
        let refused = reissue(kind, region).await.unwrap_err().to_string();
        assert!(
            refused.contains("responsible for open cases in 140106"),
            "{refused}"
        );
    }
    assert_eq!(
        app.read("yingze-project.pem"),
        certificate,
        "nothing written"
    );
    let listed = list(&app, "yingze-project", pb::ListCasesRequest::default()).await;
    assert_eq!(listed, std::slice::from_ref(&case_id));

    // The same county and kind again (a renewal) is no move.
    reissue(AgencyKind::CountyProject, "140106").await.unwrap();
    close(
        &app,
        "yingze-project",
        &case_id,
        pb::ClosureReason::Completed,
    )
    .await
    .unwrap();
    reissue(AgencyKind::CountyProject, "140105").await.unwrap();
}

#[tokio::test]
async fn a_page_reads_on_past_cases_its_reader_no_longer_sees_a_few_reads_at_most() {
    let app = spawn_app().await;
    let mut hidden = Vec::new();
    for n in 81..=85 {
        let person = person(&id_number("19880808", n), "140106", None);
        let notice = announce_in(&app, &format!("a-{n}"), &format!("D-{n}"), person).await;
        withdraw_announcement(&app, "taiyuan-detox", &notice.case_id, "order extended")
            .await
            .unwrap();
        hidden.push(notice.case_id);
    }
    // Past `passing_parts_read_for`, Yingze's police no longer read the
    // withdrawn notices; they read the release that follows.
    app.clock.advance(time::Duration::days(91));
    let mut released = discharge(
        "d-86",
        "D-86",
        person(&id_number("19880808", 86), "140106", None),
    );
    released.released_at = Some(prost_types::Timestamp {
        seconds: START.unix_timestamp() + 91 * 86_400,
        nanos: 0,
    });
    let visible = submit_as_detox(&app, released).await.case_id;

    let page = |page_token: String| {
        let request = pb::ListCasesRequest {
            county: "140106".into(),
            page_size: 1,
            page_token,
            ..Default::default()
        };
        let app = &app;
        async move {
            let response = app.cases("yingze-police").await.list_cases(request).await;
            let page = response.unwrap().into_inner();
            let ids: Vec<String> = page.cases.into_iter().map(|case| case.case_id).collect();
            (ids, page.next_page_token)
        }
    };
    let (first, token) = page(String::new()).await;
    assert!(first.is_empty(), "four reads, each of a case not seen");
    assert_eq!(token, hidden[3], "the next page goes on after them");
    let (second, token) = page(token).await;
    assert_eq!(second, std::slice::from_ref(&visible));
    assert_eq!(token, visible);
    assert_eq!(page(token).await, (Vec::new(), String::new()));
}

/// A project lists the cases being transferred to it, from the request
/// until the person arrives: the one that sends them and every other
/// project see none of them; once arrived, the case is in the caseload.
#[tokio::test]
async fn a_project_lists_the_transfers_coming_to_it_until_the_person_arrives() {
    let app = spawn_app().await;
    let incoming = || pb::ListCasesRequest {
        incoming_transfers: true,
        ..pb::ListCasesRequest::default()
    };
    let mut moving = Vec::new();
    for n in 81..=83 {
        let case_id = discharged_in_yingze(&app, n).await.case_id;
        pickup(&app, "yingze-project", &case_id).await.unwrap();
        report(&app, "yingze-project", &case_id).await.unwrap();
        moving.push(case_id);
    }
    let staying = discharged_in_yingze(&app, 84).await.case_id;
    for case_id in &moving[..2] {
        request_transfer(&app, "yingze-project", case_id, "140105")
            .await
            .unwrap();
    }
    request_transfer(&app, "yingze-project", &moving[2], "140105")
        .await
        .unwrap();
    reject(&app, "xiaodian-project", &moving[2]).await.unwrap();
    assert_eq!(
        list(&app, "xiaodian-project", incoming()).await,
        moving[..2]
    );
    assert!(list(&app, "yingze-project", incoming()).await.is_empty());
    let mut caseload = vec![
        moving[0].clone(),
        moving[1].clone(),
        moving[2].clone(),
        staying,
    ];
    caseload.sort();
    assert_eq!(
        list(&app, "yingze-project", pb::ListCasesRequest::default()).await,
        caseload
    );

    accept(&app, "xiaodian-project", &moving[0], None)
        .await
        .unwrap();
    let one_a_page = pb::ListCasesRequest {
        page_size: 1,
        ..incoming()
    };
    let first = app
        .cases("xiaodian-project")
        .await
        .list_cases(one_a_page.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.cases[0].case_id, moving[0], "accepted, not arrived");
    let second = pb::ListCasesRequest {
        page_token: first.next_page_token,
        ..one_a_page
    };
    assert_eq!(
        list(&app, "xiaodian-project", second).await,
        [moving[1].clone()]
    );

    arrive(&app, "xiaodian-project", &moving[0]).await.unwrap();
    assert_eq!(
        list(&app, "xiaodian-project", incoming()).await,
        [moving[1].clone()]
    );
    assert_eq!(
        list(&app, "xiaodian-project", pb::ListCasesRequest::default()).await,
        [moving[0].clone()]
    );

    let refused = app
        .cases("yingze-police")
        .await
        .list_cases(incoming())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused), ["incoming_transfers"]);
}
