//! `bench --medians a.json b.json c.json`: the targets are
//! medians of repeated runs, and one hour's runs differ by a fifth or
//! more, so this reads the reports that `--json` wrote and prints one
//! report of their medians, each target judged on its median and each
//! row noting every run's figure. Runs are made apart (and alternated
//! between backends) so that a slow spell of the machine falls on both.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::report::{Report, Row, judge};
use super::stats::Summary;

/// The report of the medians of the runs in `paths`: every row of the
/// first run, with the same row of each other run that has it.
///
/// # Errors
/// When a file cannot be read or is not such a report, or the runs are
/// of different backends (or connections to PostgreSQL), case counts,
/// provinces or machines.
pub fn of(paths: &[PathBuf]) -> anyhow::Result<Report> {
    let runs = paths
        .iter()
        .map(|path| read(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = runs.first().context("no reports to take the medians of")?;
    for (run, path) in runs.iter().zip(paths) {
        anyhow::ensure!(
            run.runs == 1,
            "{} is a report of medians, not of one run",
            path.display()
        );
        anyhow::ensure!(
            run.setup() == first.setup(),
            "{} is a run on {}, the first one on {}",
            path.display(),
            run.setup(),
            first.setup()
        );
    }
    let mut rows = Vec::with_capacity(first.rows.len());
    for wanted in &first.rows {
        let same: Vec<&Row> = runs
            .iter()
            .filter_map(|run| {
                run.rows
                    .iter()
                    .find(|row| row.scenario == wanted.scenario && row.case == wanted.case)
            })
            .collect();
        let gateway = median_summary(same.iter().map(|row| &row.gateway));
        let echoes: Vec<&Summary> = same.iter().filter_map(|row| row.echo.as_ref()).collect();
        let echo = (!echoes.is_empty()).then(|| median_summary(echoes.into_iter()));
        rows.push(Row {
            scenario: wanted.scenario.clone(),
            target: judge(&wanted.scenario, &wanted.case, &gateway),
            case: wanted.case.clone(),
            unit: wanted.unit.clone(),
            note: noted(&wanted.note, &same, runs.len()),
            gateway,
            echo,
        });
    }
    Ok(Report {
        backend: first.backend.clone(),
        connection: first.connection.clone(),
        runs: runs.len(),
        agencies: first.agencies,
        cases_stored: first.cases_stored,
        seed_seconds: median(runs.iter().filter_map(|run| run.seed_seconds)),
        cores: first.cores,
        gateway_peak_mb: runs
            .iter()
            .filter_map(|run| run.gateway_peak_mb)
            .reduce(f64::max),
        rows,
    })
}

impl Report {
    /// What runs must share for their medians to mean anything.
    fn setup(&self) -> String {
        format!(
            "{} with {} cases, {} agencies, {} cores",
            self.database(),
            self.cases_stored,
            self.agencies,
            self.cores
        )
    }
}

fn read(path: &Path) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a report of `bench --json`", path.display()))
}

/// The middle value, or the mean of the two middle ones.
fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[middle]),
        _ => Some(f64::midpoint(values[middle - 1], values[middle])),
    }
}

/// Each figure's median, or none when a run lacks it (all its calls
/// failed): such a run must not drop out of a target's median. The
/// errors of every run, summed.
fn median_summary<'a>(summaries: impl Iterator<Item = &'a Summary>) -> Summary {
    let all: Vec<&Summary> = summaries.collect();
    let of = |figure: fn(&Summary) -> Option<f64>| {
        let figures: Option<Vec<f64>> = all.iter().map(|s| figure(s)).collect();
        median(figures?.into_iter())
    };
    Summary {
        count: median(all.iter().map(|s| s.count as f64)).map_or(0, |count| count.round() as u64),
        errors: all.iter().map(|s| s.errors).sum(),
        rate: of(|s| s.rate),
        p50_ms: of(|s| s.p50_ms),
        p99_ms: of(|s| s.p99_ms),
        p999_ms: of(|s| s.p999_ms),
        value: of(|s| s.value),
        cpu_us: of(|s| s.cpu_us),
        disk_kb: of(|s| s.disk_kb),
        server_cpu_us: of(|s| s.server_cpu_us),
        server_disk_kb: of(|s| s.server_disk_kb),
        first_error: all.iter().find_map(|s| s.first_error.clone()),
    }
}

/// The first run's note on the row, then the gateway's headline figures
/// in each run, in run order.
fn noted(note: &str, rows: &[&Row], runs: usize) -> String {
    let list = |figure: fn(&Summary) -> Option<f64>, digits: usize| {
        rows.iter()
            .map(|row| figure(&row.gateway).map_or_else(|| "-".into(), |v| format!("{v:.digits$}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut figures = if rows.iter().any(|row| row.gateway.value.is_some()) {
        format!("runs: {} MB", list(|s| s.value, 1))
    } else {
        format!(
            "runs: {}/s, p50 {} ms, p99 {} ms",
            list(|s| s.rate, 0),
            list(|s| s.p50_ms, 3),
            list(|s| s.p99_ms, 3)
        )
    };
    if rows.len() < runs {
        figures.push_str(&format!(" (in {} of {runs} runs)", rows.len()));
    }
    if note.is_empty() {
        figures
    } else {
        format!("{note}; {figures}")
    }
}

#[cfg(test)]
#[path = "medians_tests.rs"]
mod tests;
