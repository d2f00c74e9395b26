//! The command-line client, run as a person would, against a real gateway.

use std::process::{Command, Output};

use crate::support::*;

mod commands;

pub(super) fn run(app: &App, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(args)
        .arg("--server")
        .arg(format!("https://localhost:{}", app.addr.port()))
        .arg("--certs-dir")
        .arg(certs_dir(app.dir.path()))
        .output()
        .unwrap()
}

pub(super) fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(super) fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

// Multi-threaded: the server must keep running while this thread waits
// for the client processes.
#[tokio::test(flavor = "multi_thread")]
async fn each_role_can_use_the_command_line_client() {
    let app = spawn_app().await;
    let discharge = example("discharge.json");

    let first = stdout(&run(
        &app,
        &[
            "discharge",
            "--as",
            "taiyuan-detox",
            "--file",
            &discharge,
            "--json",
        ],
    ));
    let again = stdout(&run(
        &app,
        &[
            "discharge",
            "--as",
            "taiyuan-detox",
            "--file",
            &discharge,
            "--json",
        ],
    ));
    assert_eq!(first, again, "running the same file again is a safe retry");
    let receipt: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(receipt["responsible_project_id"], "yingze-project");
    let case_id = receipt["case_id"].as_str().unwrap().to_owned();

    let watched = stdout(&run(
        &app,
        &["watch", "--as", "yingze-project", "--limit", "1", "--ack"],
    ));
    assert!(watched.contains(&case_id), "{watched}");
    assert!(
        watched.contains("140106********1230"),
        "text output masks the identity number: {watched}"
    );
    assert!(!watched.contains("140106199003071230"));

    let acked = stdout(&run(
        &app,
        &["ack", "--as", "yingze-project", "--position", "1", "--json"],
    ));
    assert!(acked.contains("\"acknowledged_position\":1"), "{acked}");

    let args = [
        "case",
        "--as",
        "yingze-police",
        "--id-number",
        "140106199003071230",
        "--purpose",
        "monthly review",
    ];
    let case = stdout(&run(&app, &args));
    assert!(
        case.contains(&case_id) && case.contains("awaiting-pickup"),
        "{case}"
    );

    let refused = run(
        &app,
        &[
            "case",
            "--as",
            "xiaodian-police",
            "--id-number",
            "140106199003071230",
            "--purpose",
            "x",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("NotFound"));
}

pub(super) fn stderr_of_failure(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected a failure, got: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Discharges the example person (王五, Yingze) and returns the case id.
pub(super) fn discharge_example(app: &App) -> String {
    let file = example("discharge.json");
    let args = [
        "discharge",
        "--as",
        "taiyuan-detox",
        "--file",
        &file,
        "--json",
    ];
    let receipt: serde_json::Value = serde_json::from_str(&stdout(&run(app, &args))).unwrap();
    receipt["case_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_is_picked_up_reported_and_transferred_on_the_command_line() {
    let app = spawn_app().await;
    let case_id = discharge_example(&app);
    let case = case_id.as_str();

    let picked_up = stdout(&run(
        &app,
        &["pickup", "--as", "yingze-project", "--case", case],
    ));
    assert!(
        picked_up.contains(&format!("case {case_id} (picked-up), version 2"))
            && picked_up.contains("responsible project yingze-project")
            && picked_up.contains("delivered to taiyuan-detox at #1 (detox-center)"),
        "{picked_up}"
    );
    assert!(
        !picked_up.contains("pre-release notice"),
        "the late-notice remark belongs to the discharge only: {picked_up}"
    );

    let reported = stdout(&run(
        &app,
        &["report", "--as", "yingze-project", "--case", case],
    ));
    assert!(
        reported.contains("(under-supervision), version 3")
            && reported.contains("executing county 140106, responsible project yingze-project"),
        "{reported}"
    );

    let request = [
        "transfer",
        "request",
        "--as",
        "yingze-project",
        "--case",
        case,
        "--to",
        "140105",
        "--reason",
        "moved in with family in Xiaodian",
    ];
    let requested = stdout(&run(&app, &request));
    assert!(
        requested.contains("(transfer-pending), version 4")
            && requested.contains("responsible project yingze-project")
            && requested.contains("delivered to xiaodian-project at #1 (receiving-project)")
            && requested.contains("(receiving-police)"),
        "{requested}"
    );

    let accept = [
        "transfer",
        "accept",
        "--as",
        "xiaodian-project",
        "--case",
        case,
    ];
    let accepted = stdout(&run(&app, &accept));
    assert!(
        accepted.contains("(transfer-pending), version 5")
            && accepted.contains("executing county 140106, responsible project yingze-project"),
        "the sending county stays responsible until the arrival: {accepted}"
    );
    let shown = stdout(&run(
        &app,
        &["case", "--as", "xiaodian-project", "--case-id", case],
    ));
    assert!(
        shown.contains("(transfer-pending, accepted by xiaodian-project)")
            && shown.contains("arrival due")
            && shown.contains(
                "transfer-requested to 140105 (xiaodian-project) by yingze-project: \
                 moved in with family in Xiaodian"
            ),
        "{shown}"
    );

    let arrive = [
        "transfer",
        "arrive",
        "--as",
        "xiaodian-project",
        "--case",
        case,
    ];
    let arrived = stdout(&run(&app, &arrive));
    assert!(
        arrived.contains("(under-supervision), version 6")
            && arrived.contains("executing county 140105, responsible project xiaodian-project")
            && arrived.contains("delivered to yingze-project at #3 (sending-project)"),
        "responsibility moves in one step: {arrived}"
    );
    let again = run(&app, &arrive);
    assert_eq!(stdout(&again), arrived, "running it again is a safe retry");
    assert!(
        again.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let json = stdout(&run(
        &app,
        &["case", "--as", "shanxi-office", "--case-id", case, "--json"],
    ));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["responsible_project_id"], "xiaodian-project");
    assert_eq!(json["version"], 6);
    assert_eq!(json["history"][3]["type"], "transfer-requested");
    assert_eq!(
        json["history"][3]["detail"]["to_project_id"],
        "xiaodian-project"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn police_list_the_cases_of_their_jurisdiction() {
    let app = spawn_app().await;
    let case_id = discharge_example(&app);

    let listed = stdout(&run(&app, &["cases", "--as", "yingze-police"]));
    assert!(
        listed.contains(&format!(
            "{case_id} awaiting-pickup county 140106 (yingze-project) 王五 140106********1230"
        )) && listed.contains("(end of list)"),
        "{listed}"
    );
    assert!(!listed.contains("140106199003071230"), "{listed}");

    let none = stdout(&run(
        &app,
        &[
            "cases",
            "--as",
            "yingze-police",
            "--state",
            "under-supervision",
        ],
    ));
    assert!(none.starts_with("no cases"), "{none}");
    let elsewhere = stdout(&run(&app, &["cases", "--as", "xiaodian-police"]));
    assert!(!elsewhere.contains(&case_id), "{elsewhere}");

    let first = stdout(&run(
        &app,
        &[
            "cases",
            "--as",
            "taiyuan-police",
            "--page-size",
            "1",
            "--json",
        ],
    ));
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["cases"][0]["case_id"], case_id.as_str());
    assert_eq!(first["cases"][0]["overdue"], false);
    let token = first["next_page_token"].as_str().unwrap();
    let next = stdout(&run(
        &app,
        &[
            "cases",
            "--as",
            "taiyuan-police",
            "--page-size",
            "1",
            "--page-token",
            token,
        ],
    ));
    assert_eq!(next, "no cases\n(end of list)\n");

    let refused = run(&app, &["cases", "--as", "yingze-police", "--state", "gone"]);
    assert!(stderr_of_failure(&refused).contains("under-supervision"));
}
