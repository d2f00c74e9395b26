//! The benchmark tool in its smoke mode: it still builds its workspace,
//! starts the gateway and the echo, runs every scenario and reports. No
//! timing is asserted; the figures of a debug build on a shared machine
//! mean nothing.

use std::process::Command;

#[test]
fn the_benchmark_runs_every_scenario_in_smoke_mode_and_reports_each() {
    let workdir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(["bench", "--smoke", "--workdir"])
        .arg(workdir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench --smoke failed: {}\n{stdout}\n{stderr}",
        output.status
    );
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
    if std::path::Path::new("/proc/self/stat").exists() {
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
    assert!(
        !stdout.contains("errors "),
        "a smoke scenario had failed calls:\n{stdout}"
    );
    assert_eq!(
        std::fs::read_dir(workdir.path()).unwrap().count(),
        0,
        "the run left its workspace behind"
    );
}
