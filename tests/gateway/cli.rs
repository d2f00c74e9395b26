//! The command-line client, run as a person would, against a real gateway.

use std::process::{Command, Output};

use crate::support::*;

fn run(app: &App, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(args)
        .arg("--server")
        .arg(format!("https://localhost:{}", app.addr.port()))
        .arg("--certs-dir")
        .arg(certs_dir(app.dir.path()))
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn example(name: &str) -> String {
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
