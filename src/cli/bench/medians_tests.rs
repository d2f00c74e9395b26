use super::*;

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
        scenario,
        target: judge(scenario, case, &gateway),
        case: case.into(),
        unit: "calls/s",
        gateway,
        echo,
        note: String::new(),
    }
}

fn run(backend: &'static str, peak_mb: f64, rows: Vec<Row>) -> Report {
    Report {
        backend,
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
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        run("sqlite", 140.0, vec![c64(7_000.0, 30.0)]),
        run("sqlite", 150.0, vec![c64(9_000.0, 20.0)]),
        run("sqlite", 145.0, vec![c64(8_500.0, 24.0)]),
    ];
    assert!(!runs[0].rows[0].target.as_ref().unwrap().met);

    let medians = of(&written(dir.path(), &runs)).unwrap();

    assert_eq!((medians.backend, medians.runs), ("sqlite", 3));
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
        "runs: 7000, 9000, 8500/s, p50 10.000, 10.000, 10.000 ms, p99 30.000, 20.000, 24.000 ms"
    );
}

#[test]
fn an_even_number_of_runs_takes_the_mean_of_the_middle_two() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        run("postgresql", 100.0, vec![c64(3_000.0, 30.0)]),
        run("postgresql", 100.0, vec![c64(4_000.0, 40.0)]),
    ];
    let medians = of(&written(dir.path(), &runs)).unwrap();
    assert_eq!(medians.rows[0].gateway.rate, Some(3_500.0));
    assert_eq!(medians.rows[0].gateway.p99_ms, Some(35.0));
}

#[test]
fn a_row_missing_from_some_runs_says_so_and_errors_are_summed() {
    let dir = tempfile::tempdir().unwrap();
    let mut failing = summary(50.0, 0.5, 1.5);
    failing.errors = 2;
    failing.first_error = Some("Unavailable: stopped".into());
    let query = |gateway| row("query", "concurrency 1, 1000 seeded", gateway, None);
    let runs = [
        run(
            "sqlite",
            100.0,
            vec![c64(4_000.0, 30.0), query(summary(1_000.0, 0.5, 1.5))],
        ),
        run("sqlite", 100.0, vec![c64(4_000.0, 30.0), query(failing)]),
        run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]),
    ];
    let medians = of(&written(dir.path(), &runs)).unwrap();
    let query = &medians.rows[1];
    assert!(query.note.ends_with("(in 2 of 3 runs)"), "{}", query.note);
    assert_eq!(query.gateway.rate, Some(525.0));
    assert_eq!(query.gateway.errors, 2);
    assert_eq!(
        query.gateway.first_error.as_deref(),
        Some("Unavailable: stopped")
    );
    assert!(query.target.as_ref().unwrap().met, "1.5 ms p99");
}

#[test]
fn runs_of_different_backends_or_case_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bigger = run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]);
    bigger.cases_stored = 1_000_000;
    for other in [run("postgresql", 100.0, vec![c64(4_000.0, 30.0)]), bigger] {
        let runs = [run("sqlite", 100.0, vec![c64(4_000.0, 30.0)]), other];
        let error = of(&written(dir.path(), &runs)).unwrap_err().to_string();
        assert!(error.contains("run-1.json is a run on"), "{error}");
    }
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
        ("submit", "concurrency 1"),
        ("submit", "concurrency 64"),
        ("push", "1000/s open loop"),
        ("replay", "100000 backlog"),
        ("query", "concurrency 1, 1000000 seeded"),
    ] {
        let verdict = judge(scenario, case, &fast).unwrap();
        assert!(verdict.met, "{scenario} {case}: {}", verdict.detail);
    }
    assert!(judge("submit", "concurrency 16", &fast).is_none());
    let memory = Summary {
        value: Some(151.0),
        ..Summary::default()
    };
    assert!(!judge("memory", "2000 subscriptions", &memory).unwrap().met);
}
