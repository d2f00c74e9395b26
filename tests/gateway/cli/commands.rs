//! Supervision commands on the command line: a refusal a person can read,
//! a command given again later, and an oversight office's assignment.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_command_from_the_wrong_agency_fails_with_a_clear_message() {
    let app = spawn_app().await;
    let case_id = discharge_example(&app);
    let case = case_id.as_str();

    let police = run(&app, &["pickup", "--as", "yingze-police", "--case", case]);
    let message = stderr_of_failure(&police);
    assert!(
        message.contains("PermissionDenied: only a county project may confirm the pickup"),
        "{message}"
    );

    let project = run(
        &app,
        &["cases", "--as", "yingze-project", "--open-elsewhere"],
    );
    let message = stderr_of_failure(&project);
    assert!(message.contains("open_elsewhere"), "{message}");
    let caseload = stdout(&run(&app, &["cases", "--as", "yingze-project"]));
    assert!(caseload.contains(case), "{caseload}");

    let stranger = run(
        &app,
        &["pickup", "--as", "xiaodian-project", "--case", case],
    );
    let message = stderr_of_failure(&stranger);
    assert!(message.contains("NotFound"), "{message}");

    let early = run(&app, &["resume", "--as", "yingze-project", "--case", case]);
    let message = stderr_of_failure(&early);
    assert!(
        message.contains(
            "FailedPrecondition: cannot resume the case while the case is awaiting-pickup"
        ),
        "{message}"
    );
    let shown = stdout(&run(
        &app,
        &["case", "--as", "yingze-project", "--case-id", case],
    ));
    assert!(shown.contains("(awaiting-pickup), decision"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_command_given_again_later_needs_the_expected_version() {
    let app = spawn_app().await;
    let case_id = discharge_example(&app);
    let case = case_id.as_str();
    let lost = ["lost-contact", "--as", "yingze-project", "--case", case];

    assert!(stdout(&run(&app, &lost)).contains("(lost-contact), version 2"));
    let restored = run(
        &app,
        &["contact-restored", "--as", "yingze-project", "--case", case],
    );
    assert!(stdout(&restored).contains("(awaiting-pickup), version 3"));

    let replayed = run(&app, &lost);
    assert!(stdout(&replayed).contains("(lost-contact), version 2"));
    let warning = String::from_utf8_lossy(&replayed.stderr);
    assert!(
        warning.contains("moved on to version 3") && warning.contains("--expected-version 3"),
        "{warning}"
    );

    let mut again = lost.to_vec();
    again.extend(["--expected-version", "3"]);
    let lost_again = stdout(&run(&app, &again));
    assert!(
        lost_again.contains("(lost-contact), version 4"),
        "{lost_again}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_office_assigns_an_unroutable_case_on_the_command_line() {
    let app = spawn_app().await;
    let person = person(&id_number("19880808", 302), "140108", None);
    let case_id = submit_as_detox(&app, discharge("r-1", "D-302", person))
        .await
        .case_id;
    let case = case_id.as_str();

    let held = stdout(&run(
        &app,
        &["cases", "--as", "shanxi-office", "--unroutable"],
    ));
    assert!(
        held.contains(&format!("{case_id} awaiting-pickup county 140108"))
            && held.contains("UNROUTABLE"),
        "{held}"
    );
    let reason = "lives with family in Yingze";
    let assign = |agency: &str| {
        let args = ["assign", "--as", agency, "--case", case, "--to", "140106"];
        run(&app, &[&args[..], &["--reason", reason]].concat())
    };
    let by_police = assign("taiyuan-police");
    assert!(
        stderr_of_failure(&by_police)
            .contains("only an oversight office may assign the case to a project"),
        "{by_police:?}"
    );

    let assigned = stdout(&assign("shanxi-office"));
    assert!(
        assigned.contains(&format!("case {case_id} (awaiting-pickup), version 2"))
            && assigned.contains("executing county 140106, responsible project yingze-project")
            && assigned.contains("delivered to yingze-project at #1 (responsible-project)"),
        "{assigned}"
    );
    let shown = stdout(&run(
        &app,
        &["case", "--as", "yingze-project", "--case-id", case],
    ));
    assert!(
        shown.contains(&format!(
            "assigned to 140106 (yingze-project) by shanxi-office: {reason}"
        )),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_detox_center_withdraws_an_announcement_on_the_command_line() {
    let app = spawn_app().await;
    let file = example("announce.json");
    let args = [
        "announce",
        "--as",
        "taiyuan-detox",
        "--file",
        &file,
        "--json",
    ];
    let receipt: serde_json::Value = serde_json::from_str(&stdout(&run(&app, &args))).unwrap();
    let case_id = receipt["case_id"].as_str().unwrap().to_owned();
    let case = case_id.as_str();

    // The file edited for another day and sent again: the same case's
    // revised notice.
    let edited = app.dir.path().join("announce-later.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&edited, text.replace("2027-01-15", "2027-01-22")).unwrap();
    let edited = edited.to_str().unwrap();
    let args = [
        "announce",
        "--as",
        "taiyuan-detox",
        "--file",
        edited,
        "--json",
    ];
    let revised: serde_json::Value = serde_json::from_str(&stdout(&run(&app, &args))).unwrap();
    assert_eq!(revised["case_id"], case);
    assert_eq!(revised["version"], 2);

    let reason = "the detox order was extended";
    let withdraw = |agency: &str| {
        let args = ["withdraw-announcement", "--as", agency, "--case", case];
        run(&app, &[&args[..], &["--reason", reason]].concat())
    };

    let by_project = withdraw("yingze-project");
    assert!(
        stderr_of_failure(&by_project)
            .contains("only a detox center may withdraw the announcement"),
        "{by_project:?}"
    );
    let withdrawn = stdout(&withdraw("taiyuan-detox"));
    assert!(
        withdrawn.contains(&format!("case {case_id} (closed), version 3"))
            && withdrawn.contains("(responsible-project)"),
        "{withdrawn}"
    );
    let shown = stdout(&run(
        &app,
        &["case", "--as", "taiyuan-detox", "--case-id", case],
    ));
    assert!(
        shown.contains("closed, release-withdrawn") && shown.contains(reason),
        "{shown}"
    );
}
