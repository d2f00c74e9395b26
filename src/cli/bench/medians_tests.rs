use super::*;
use crate::cli::bench::report::submit_case;

fn summary(rate: f64, p50_ms: f64, p99_ms: f64) -> Summary {
    Summary {
        count: 1000,
        rate: Some(rate),
        p50_ms: Some(p50_ms),
        p99_ms: Some(p99_ms),
        p999_ms: Some(p99_ms),
        cpu_us: Some(300.0),
        ..Summary::default()
    }
}

fn row(scenario: &'static str, case: &str, gateway: Summary, echo: Option<Summary>) -> Row {
    Row {
        scenario: scenario.into(),
        target: judge(scenario, case, &gateway),
        case: case.into(),
        unit: "calls/s".into(),
        gateway,
        echo,
        note: String::new(),
    }
}

fn run(backend: &'static str, peak_mb: f64, rows: Vec<Row>) -> Report {
    Report {
        backend: backend.into(),
        connection: None,
        runs: 1,
        agencies: 245,
        cases_stored: 1000,
        seed_seconds: Some(peak_mb / 10.0),
        cores: 2,
        gateway_peak_mb: Some(peak_mb),
        rows,
    }
}

/// Writes each report as `bench --json` does; the files' paths.
fn written(dir: &Path, reports: &[Report]) -> Vec<PathBuf> {
    reports
        .iter()
        .enumerate()
        .map(|(i, report)| {
            let path = dir.join(format!("run-{i}.json"));
            std::fs::write(&path, serde_json::to_string(report).unwrap()).unwrap();
            path
        })
        .collect()
}

/// The medians of `runs`, read back from files as `--medians` reads them.
fn medians_of(runs: &[Report]) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir().unwrap();
    of(&written(dir.path(), runs))
}

fn c64(rate: f64, p99_ms: f64) -> Row {
    row(
        "submit",
        "concurrency 64",
        summary(rate, 10.0, p99_ms),
        Some(summary(30_000.0, 1.0, 5.0)),
    )
}

#[test]
fn each_figure_is_the_median_of_the_runs_and_the_target_is_judged_on_it() {
    let runs = [
        run("sqlite", 145.0, vec![c64(8_500.0, 24.0)]),
        run("sqlite", 140.0, vec![c64(7_000.0, 30.0)]),
        run("sqlite", 150.0, vec![c64(9_000.0, 20.0)]),
    ];
    assert!(!runs[1].rows[0].target.as_ref().unwrap().met);

    let medians = medians_of(&runs).unwrap();

    assert_eq!((medians.backend.as_ref(), medians.runs), ("sqlite", 3));
    assert_eq!(
        medians.gateway_peak_mb,
        Some(150.0),
        "the highest run's peak"
    );
    assert_eq!(medians.seed_seconds, Some(14.5));
    let row = &medians.rows[0];
    assert_eq!(row.gateway.rate, Some(8_500.0));
    assert_eq!(row.gateway.p99_ms, Some(24.0));
    assert_eq!(row.echo.as_ref().unwrap().rate, Some(30_000.0));
    let verdict = row.target.as_ref().unwrap();
    assert!(
        verdict.met,
        "8,500/s and 24 ms p99 meet it: {}",
        verdict.detail
    );
    assert_eq!(
        row.note,
        "runs: 8500, 7000, 9000/s, p50 10.000, 10.000, 10.000 ms, p99 24.000, 30.000, 20.000 ms"
    );
}

#[test]
fn an_even_number_of_runs_takes_the_mean_of_the_middle_two() {
    let runs = [
        run("postgresql", 100.0, vec![c64(3_000.0, 30.0)]),
        run("postgresql", 100.0, vec![c64(4_000.0, 40.0)]),
    ];
    let medians = medians_of(&runs).unwrap();
    assert_eq!(medians.rows[0].gateway.rate, Some(3_500.0));
    assert_eq!(medians.rows[0].gateway.p99_ms, Some(35.0));
}

#[test]
fn a_row_missing_from_some_runs_says_so_and_errors_are_summed() {
    let failing = |errors, error: &str| Summary {
        errors,
        first_error: Some(error.into()),
        ..summary(50.0, 0.5, 1.5)
    };
    let query = |gateway| row("query", "concurrency 1, 1000 seeded", gateway, None);
    let runs = [
        run(
            "sqlite",
            100.0,
            vec![
                c64(4_000.0, 30.0),
                query(failing(3, "Unavailable: stopped")),
            ],
        ),
        run(
            "sqlite",
            100.0,
            vec![c64(4_000.0, 30.0), query(failing(2, "Internal: later"))],
        ),
        run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]),
    ];
    let medians = medians_of(&runs).unwrap();
    let query = &medians.rows[1];
    assert!(query.note.ends_with("(in 2 of 3 runs)"), "{}", query.note);
    assert_eq!(query.gateway.rate, Some(50.0));
    assert_eq!(query.gateway.errors, 5);
    assert_eq!(
        query.gateway.first_error.as_deref(),
        Some("Unavailable: stopped")
    );
    assert!(query.target.as_ref().unwrap().met, "1.5 ms p99");
}

#[test]
fn runs_of_different_backends_case_counts_provinces_or_machines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bigger = run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]);
    bigger.cases_stored = 1_000_000;
    let mut smaller_province = run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]);
    smaller_province.agencies = 30;
    let mut more_cores = run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]);
    more_cores.cores = 8;
    let others = [
        run("postgresql", 100.0, vec![c64(4_000.0, 30.0)]),
        bigger,
        smaller_province,
        more_cores,
    ];
    for other in others {
        let runs = [run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]), other];
        let error = of(&written(dir.path(), &runs)).unwrap_err().to_string();
        assert!(error.contains("run-1.json is a run on"), "{error}");
    }
}

#[test]
fn runs_over_different_connections_to_postgresql_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let over = |connection: &str| Report {
        connection: Some(connection.into()),
        ..run("postgresql", 100.0, vec![c64(6_000.0, 20.0)])
    };
    let runs = [over("Unix socket"), over("TCP with TLS")];
    let error = of(&written(dir.path(), &runs)).unwrap_err().to_string();
    assert!(
        error.contains("run-1.json is a run on postgresql (TCP with TLS)"),
        "{error}"
    );

    let runs = [over("Unix socket"), over("Unix socket")];
    let medians = of(&written(dir.path(), &runs)).unwrap();
    assert_eq!(medians.connection.as_deref(), Some("Unix socket"));
}

#[test]
fn a_file_that_is_not_a_report_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.txt");
    std::fs::write(&path, "handover-gateway bench on sqlite: ...").unwrap();
    let error = format!("{:#}", of(&[path]).unwrap_err());
    assert!(
        error.contains("table.txt is not a report of `bench --json`"),
        "{error}"
    );
    assert!(of(&[]).is_err());
}

#[test]
fn the_targets_are_those_the_scenarios_judge() {
    let fast = summary(200_000.0, 0.1, 0.5);
    for (scenario, case) in [
        ("submit", submit_case(1)),
        ("submit", submit_case(64)),
        ("push", "1000/s open loop".into()),
        ("replay", "100000 backlog".into()),
        ("query", "concurrency 1, 1000000 seeded".into()),
    ] {
        let verdict = judge(scenario, &case, &fast).unwrap();
        assert!(verdict.met, "{scenario} {case}: {}", verdict.detail);
    }
    assert!(judge("submit", &submit_case(16), &fast).is_none());
    let memory = Summary {
        value: Some(151.0),
        ..Summary::default()
    };
    assert!(!judge("memory", "2000 subscriptions", &memory).unwrap().met);
}

#[test]
fn a_run_without_a_figure_leaves_the_median_without_one_and_the_target_missed() {
    let all_failed = Summary {
        errors: 10,
        ..Summary::default()
    };
    let replay = |gateway| row("replay", "100000 backlog", gateway, None);
    let runs = [
        run("sqlite", 100.0, vec![replay(summary(120_000.0, 5.0, 5.0))]),
        run("sqlite", 100.0, vec![replay(all_failed)]),
        run("sqlite", 100.0, vec![replay(summary(130_000.0, 5.0, 5.0))]),
    ];
    let medians = medians_of(&runs).unwrap();
    assert_eq!(medians.rows[0].gateway.rate, None);
    let verdict = medians.rows[0].target.as_ref().unwrap();
    assert!(!verdict.met, "{}", verdict.detail);
}

#[test]
fn a_row_keeps_its_note_and_memory_rows_give_each_run_in_mb() {
    let memory = |mb| {
        let mut row = row(
            "memory",
            "2000 subscriptions",
            Summary {
                value: Some(mb),
                ..Summary::default()
            },
            None,
        );
        row.unit = "open".into();
        row.note = "gateway RSS before opening 21.0 MB".into();
        row
    };
    let runs = [
        run("postgresql", 100.0, vec![memory(105.5)]),
        run("postgresql", 100.0, vec![memory(101.0)]),
        run("postgresql", 100.0, vec![memory(104.0)]),
    ];
    let medians = medians_of(&runs).unwrap();
    let row = &medians.rows[0];
    assert_eq!(row.gateway.value, Some(104.0));
    assert_eq!(
        row.note,
        "gateway RSS before opening 21.0 MB; runs: 105.5, 101.0, 104.0 MB"
    );
}

#[test]
fn a_report_of_medians_is_not_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]),
        run("sqlite", 100.0, vec![c64(5_000.0, 30.0)]),
    ];
    let paths = written(dir.path(), &runs);
    let medians_path = dir.path().join("medians.json");
    let medians = of(&paths).unwrap();
    std::fs::write(&medians_path, serde_json::to_string(&medians).unwrap()).unwrap();
    let error = of(&[paths[0].clone(), medians_path])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("medians.json is a report of medians"),
        "{error}"
    );
}

#[test]
fn each_target_is_missed_just_past_its_limit() {
    let just_past = [
        ("submit", submit_case(1), summary(900.0, 1.01, 2.0)),
        ("submit", submit_case(64), summary(7_999.0, 10.0, 20.0)),
        ("submit", submit_case(64), summary(9_000.0, 10.0, 25.1)),
        (
            "push",
            "1000/s open loop".into(),
            summary(1_000.0, 1.0, 5.01),
        ),
        (
            "replay",
            "100000 backlog".into(),
            summary(99_999.0, 5.0, 5.0),
        ),
        (
            "query",
            "concurrency 1, 1000000 seeded".into(),
            summary(1_000.0, 0.5, 2.01),
        ),
    ];
    for (scenario, case, gateway) in just_past {
        let verdict = judge(scenario, &case, &gateway).unwrap();
        assert!(!verdict.met, "{scenario} {case}: {}", verdict.detail);
    }
}

/// As the tool wrote its reports before it counted runs: no `runs`, a
/// row without a note, and its own verdict, which is judged again.
#[test]
fn a_report_of_an_earlier_version_is_read_as_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    let old = r#"{"backend":"sqlite","agencies":245,"cases_stored":1000,"seed_seconds":1.0,
        "cores":2,"gateway_peak_mb":90.0,"rows":[{"scenario":"replay","case":"100 backlog",
        "unit":"messages/s","gateway":{"count":100,"errors":0,"rate":150000.0,"p50_ms":1.0,
        "p99_ms":1.0,"p999_ms":1.0,"value":null},"echo":null,
        "target":{"target":"made up","met":false,"detail":"stale"}}]}"#;
    std::fs::write(&path, old).unwrap();
    let medians = of(&[path]).unwrap();
    assert_eq!(medians.runs, 1);
    let row = &medians.rows[0];
    assert_eq!(row.gateway.cpu_us, None);
    let verdict = row.target.as_ref().unwrap();
    assert!(verdict.met, "judged again: {}", verdict.detail);
    assert_eq!(row.note, "runs: 150000/s, p50 1.000 ms, p99 1.000 ms");
}
