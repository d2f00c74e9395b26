//! The benchmark tool in its smoke mode: it still builds its workspace,
//! starts the gateway and the echo, runs every scenario and reports, on
//! SQLite and on PostgreSQL. No timing is asserted; the figures of a debug
//! build on a shared machine mean nothing.

use std::path::Path;
use std::process::Command;

use sqlx::Connection;

/// What `bench --smoke` printed (stdout, stderr), once it has succeeded,
/// reported every scenario and left nothing in `workdir`.
fn smoke(workdir: &Path, database: Option<&str>) -> (String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handover-gateway"));
    command.args(["bench", "--smoke", "--workdir"]).arg(workdir);
    if let Some(url) = database {
        command.args(["--database", url]);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "bench --smoke failed: {}\n{stdout}\n{stderr}",
        output.status
    );
    // Every scenario is judged against its target (submit at c=1 here).
    for scenario in ["submit", "push", "replay", "query", "memory"] {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(scenario) && line.contains(" target ")),
            "no target line for {scenario}:\n{stdout}"
        );
    }
    for scenario in ["submit", "push", "replay", "query", "memory"] {
        for target in ["gateway", "echo", "ratio"] {
            assert!(
                stdout
                    .lines()
                    .any(|line| line.starts_with(scenario) && line.contains(target)),
                "no {target} line for {scenario}:\n{stdout}"
            );
        }
    }
    // Each process's CPU time per call, where /proc tells it.
    if Path::new("/proc/self/stat").exists() {
        for scenario in ["submit", "push", "replay", "query"] {
            for target in ["gateway", "echo"] {
                assert!(
                    stdout.lines().any(|line| line.starts_with(scenario)
                        && line.contains(target)
                        && line.contains(" µs")),
                    "no CPU time on the {target} line of {scenario}:\n{stdout}"
                );
            }
        }
    }
    // What the gateway wrote to storage per submission, where /proc tells
    // it: a figure, not its size (a file system in memory, such as tmpfs,
    // counts no writes, and a PostgreSQL server's writes are its own).
    if Path::new("/proc/self/io").exists() {
        let written = figure_after(gateway_submit_line(&stdout), "  disk ");
        assert!(
            written.is_some(),
            "no disk figure on the gateway's submit line:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("errors "),
        "a smoke scenario had failed calls:\n{stdout}"
    );
    assert!(
        !stderr.contains("warning:"),
        "the run warned of something:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(workdir).unwrap().count(),
        0,
        "the run left its workspace behind"
    );
    (stdout, stderr)
}

#[test]
fn the_benchmark_runs_every_scenario_in_smoke_mode_and_reports_each() {
    let workdir = tempfile::tempdir().unwrap();
    let (stdout, _) = smoke(workdir.path(), None);
    assert!(stdout.contains("bench on sqlite"), "{stdout}");
    assert!(
        !stdout.contains("server cpu"),
        "a database server's figures on SQLite:\n{stdout}"
    );
}

/// The number printed after the first `marker` of `line`.
fn figure_after(line: &str, marker: &str) -> Option<f64> {
    line.split(marker)
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The gateway's submit line of a run, as printed.
fn gateway_submit_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|line| line.starts_with("submit") && line.contains("gateway"))
        .unwrap_or_else(|| panic!("no gateway submit line:\n{stdout}"))
}

/// On PostgreSQL the run also makes a database of its own, checkpoints the
/// server after seeding (a warning if it could not), and drops the
/// database at the end.
#[tokio::test]
async fn the_benchmark_runs_on_postgresql_in_a_database_it_drops() {
    let admin = std::env::var("HANDOVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let workdir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = tokio::task::spawn_blocking({
        let (dir, admin) = (workdir.path().to_owned(), admin.clone());
        move || smoke(&dir, Some(&admin))
    })
    .await
    .unwrap();
    assert!(stdout.contains("bench on postgresql"), "{stdout}");
    // A server on this machine (its backend is a process here) has its
    // processes' work counted beside the gateway's: their CPU, and their
    // writes where their /proc files may be read, which is not asserted.
    let mut server = sqlx::PgConnection::connect(&admin).await.unwrap();
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut server)
        .await
        .unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{backend}/comm")).unwrap_or_default();
    if comm.starts_with("postgres") {
        let line = gateway_submit_line(&stdout);
        let cpu = figure_after(line, "  server cpu ");
        assert!(
            cpu.is_some(),
            "no server CPU on the gateway's submit line:\n{line}"
        );
        assert!(
            stderr.contains("counting the work of the PostgreSQL server's processes"),
            "{stderr}"
        );
    }
    let name = stderr
        .lines()
        .find_map(|line| line.strip_prefix("made the database "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the run did not name its database:\n{stderr}"));
    assert!(name.starts_with("hg_bench_"), "{name}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut server)
        .await
        .unwrap();
    assert_eq!(left, 0, "the run left its database {name} behind");
}

/// `--cases` stores cases only for the query scenario: a run without it
/// says so rather than let its command line claim tables it never had.
#[test]
fn cases_asked_of_a_run_that_stores_none_are_warned_of() {
    let workdir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args([
            "bench",
            "--smoke",
            "--scenario",
            "submit",
            "--cases",
            "1000",
        ])
        .arg("--workdir")
        .arg(workdir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "warning: --cases 1000 stores cases only for the query scenario; this run stores none"
        ),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("submit"), "{stdout}");
}
