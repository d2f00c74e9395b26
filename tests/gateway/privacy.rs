//! Personal data at rest and in logs: after a full run of the real
//! process, neither the database files nor the debug logs hold the
//! person's identity number or name.

use std::path::Path;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::api::pb::supervision_service_client::SupervisionServiceClient;
use tonic::transport::Channel;

use crate::process::spawn_process;
use crate::support::*;

const NAME: &str = "王秘密";

fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let data = dir.join("data");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

async fn step(client: &mut SupervisionServiceClient<Channel>, call: &str, case_id: &str) {
    let (request_id, case_id) = (format!("{call}-{case_id}"), case_id.to_owned());
    let result = match call {
        "pickup" => client
            .confirm_pickup(pb::ConfirmPickupRequest {
                request_id,
                case_id,
                expected_version: None,
            })
            .await
            .map(drop),
        "report" => client
            .confirm_report(pb::ConfirmReportRequest {
                request_id,
                case_id,
                expected_version: None,
            })
            .await
            .map(drop),
        "absence" => client
            .notify_absence(pb::NotifyAbsenceRequest {
                request_id,
                case_id,
                expected_version: None,
                host_region: "140105".into(),
                from: "2027-01-04".into(),
                until: "2027-01-08".into(),
                reason: "visiting family".into(),
            })
            .await
            .map(drop),
        "lost" => client
            .report_lost_contact(pb::ReportLostContactRequest {
                request_id,
                case_id,
                expected_version: None,
                note: "not at home".into(),
            })
            .await
            .map(drop),
        other => unreachable!("{other}"),
    };
    result.unwrap_or_else(|status| panic!("{call}: {status:?}"));
}

// Multi-threaded: `terminate` blocks its thread while the clients'
// connections must still answer the server's GOAWAY.
#[tokio::test(flavor = "multi_thread")]
async fn no_identity_number_or_name_reaches_the_database_files_or_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let number = id_number("19900307", 777);

    let process = spawn_process(dir.path());
    let client = process.app(dir.path()).await;
    let mut person = person(&number, "140106", None);
    person.name = NAME.into();
    let mut request = discharge("p-1", "D-privacy", person);
    request.released_at = Some(handover_gateway::api::timestamp(
        time::OffsetDateTime::now_utc(),
    ));
    let mut intake =
        pb::intake_service_client::IntakeServiceClient::new(client.channel("taiyuan-detox").await);
    let case_id = intake
        .submit_discharge(request)
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap()
        .case_id;

    let mut project = SupervisionServiceClient::new(client.channel("yingze-project").await);
    for call in ["pickup", "report", "absence", "lost"] {
        step(&mut project, call, &case_id).await;
    }

    let mut cases =
        pb::case_service_client::CaseServiceClient::new(client.channel("yingze-police").await);
    let case = cases
        .get_case(pb::GetCaseRequest {
            key: Some(Key::IdNumber(number.clone())),
            // Police may type the number where it does not belong.
            purpose: format!("checking {number} after a tip"),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        case.person.unwrap().name,
        NAME,
        "the gateway still reads it"
    );
    let listed = cases
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.cases.len(), 1);

    for agency in ["yingze-project", "yingze-police", "xiaodian-police"] {
        let mut inbox =
            pb::inbox_service_client::InboxServiceClient::new(client.channel(agency).await);
        let mut stream = subscribe(&mut inbox, Some(0)).await;
        let message = next_message(&mut stream).await;
        assert_eq!(message.case.unwrap().case_id, case_id, "{agency}");
    }
    let logs = process.terminate();

    assert!(logs.contains("accepted"), "debug logs were captured");
    for (what, needle) in [
        ("identity number", number.as_bytes()),
        ("birth date", &number.as_bytes()[6..14]),
        ("name", NAME.as_bytes()),
    ] {
        assert!(
            !logs.as_bytes().windows(needle.len()).any(|w| w == needle),
            "the {what} reached the logs"
        );
        assert_eq!(
            files_holding(dir.path(), needle),
            Vec::<String>::new(),
            "the {what} is stored in clear"
        );
    }
}
