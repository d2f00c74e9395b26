//! The report: one line per target and measurement, a ratio line against
//! the echo ceiling, and each figure checked against the target the issue
//! sets for it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::stats::Summary;

/// One measurement, on the gateway and (when it ran) on the echo. Read
/// back from JSON by [`super::medians`], which judges the target anew.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub scenario: Cow<'static, str>,
    pub case: String,
    /// What `rate` counts: `calls/s`, `messages/s`.
    pub unit: Cow<'static, str>,
    pub gateway: Summary,
    pub echo: Option<Summary>,
    /// Extra facts, e.g. memory before the subscriptions.
    #[serde(default)]
    pub note: String,
    /// The target, and whether the gateway met it.
    #[serde(skip_deserializing)]
    pub target: Option<Verdict>,
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub target: &'static str,
    pub met: bool,
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub backend: Cow<'static, str>,
    /// How the gateway reached PostgreSQL (Unix socket, or TCP with or
    /// without TLS), which moves its figures; absent on SQLite, and in
    /// reports written before it was noted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Whole runs behind each figure: 1, or more for a report of medians
    /// (see [`super::medians`]); reports written before it was counted
    /// are of one run.
    #[serde(default = "one_run")]
    pub runs: usize,
    pub agencies: usize,
    pub cases_stored: u64,
    pub seed_seconds: Option<f64>,
    pub cores: usize,
    pub gateway_peak_mb: Option<f64>,
    pub rows: Vec<Row>,
}

fn one_run() -> usize {
    1
}

impl Report {
    /// The backend, and how it was reached where that was noted:
    /// `postgresql (Unix socket)`.
    pub fn database(&self) -> String {
        match &self.connection {
            Some(connection) => format!("{} ({connection})", self.backend),
            None => self.backend.to_string(),
        }
    }

    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(self)?);
            return Ok(());
        }
        let seeded = match self.seed_seconds {
            Some(seconds) => format!(
                ", {} cases stored (seeded in {seconds:.0} s, {:.0}/s)",
                self.cases_stored,
                self.cases_stored as f64 / seconds.max(1e-9)
            ),
            None => String::new(),
        };
        let medians = if self.runs > 1 {
            format!(" (medians of {} runs)", self.runs)
        } else {
            String::new()
        };
        println!(
            "handover-gateway bench on {}{medians}: {} agencies{seeded}, {} cores shared by client and servers",
            self.database(),
            self.agencies,
            self.cores
        );
        for row in &self.rows {
            print_line(row, "gateway", &row.gateway);
            if let Some(echo) = &row.echo {
                print_line(row, "echo", echo);
                println!(
                    "{:<7} {:<28} {:<7} {}",
                    row.scenario,
                    row.case,
                    "ratio",
                    ratios(&row.gateway, echo)
                );
            }
            if !row.note.is_empty() {
                println!(
                    "{:<7} {:<28} {:<7} {}",
                    row.scenario, row.case, "note", row.note
                );
            }
            if let Some(verdict) = &row.target {
                let met = if verdict.met { "met" } else { "MISSED" };
                println!(
                    "{:<7} {:<28} {:<7} {}: {met} ({})",
                    row.scenario, row.case, "target", verdict.target, verdict.detail
                );
            }
        }
        if let Some(peak) = self.gateway_peak_mb {
            let over = if self.runs > 1 {
                "the highest run"
            } else {
                "the whole run"
            };
            println!("gateway peak resident memory over {over} (VmHWM): {peak:.1} MB");
        }
        Ok(())
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn print_line(row: &Row, target: &str, summary: &Summary) {
    let rate = summary
        .rate
        .map_or_else(|| "-".into(), |r| format!("{r:.0} {}", row.unit));
    let value = summary
        .value
        .map_or_else(String::new, |v| format!("  RSS {v:.1} MB"));
    let cpu = summary
        .cpu_us
        .map_or_else(String::new, |us| format!("  cpu {us:.1} µs"));
    let disk = summary
        .disk_kb
        .map_or_else(String::new, |kb| format!("  disk {kb:.1} KB"));
    let server = match (summary.server_cpu_us, summary.server_disk_kb) {
        (Some(us), Some(kb)) => format!("  server cpu {us:.1} µs disk {kb:.1} KB"),
        (Some(us), None) => format!("  server cpu {us:.1} µs"),
        _ => String::new(),
    };
    let errors = match &summary.first_error {
        Some(first) => format!("  errors {} (first: {first})", summary.errors),
        None => String::new(),
    };
    println!(
        "{:<7} {:<28} {:<7} n={:<8} {:>16}  p50 {:>8} ms  p99 {:>8} ms  p99.9 {:>8} ms{value}{cpu}{disk}{server}{errors}",
        row.scenario,
        row.case,
        target,
        summary.count,
        rate,
        ms(summary.p50_ms),
        ms(summary.p99_ms),
        ms(summary.p999_ms),
    );
}

/// Gateway over echo: below 1 for rates means slower, above 1 for
/// latencies and memory means slower or bigger.
fn ratios(gateway: &Summary, echo: &Summary) -> String {
    let ratio = |g: Option<f64>, e: Option<f64>| match (g, e) {
        (Some(g), Some(e)) if e > 0.0 => format!("{:.2}x", g / e),
        _ => "-".into(),
    };
    format!(
        "gateway/echo: rate {}  p50 {}  p99 {}  p99.9 {}  RSS {}  cpu {}",
        ratio(gateway.rate, echo.rate),
        ratio(gateway.p50_ms, echo.p50_ms),
        ratio(gateway.p99_ms, echo.p99_ms),
        ratio(gateway.p999_ms, echo.p999_ms),
        ratio(gateway.value, echo.value),
        ratio(gateway.cpu_us, echo.cpu_us),
    )
}

/// How a submit row names its concurrency, which [`judge`] reads back.
const SUBMIT_CASE: &str = "concurrency ";

/// The case of the submit row at `concurrency`.
pub fn submit_case(concurrency: usize) -> String {
    format!("{SUBMIT_CASE}{concurrency}")
}

/// The target the issue sets for a row of `scenario` and `case` (as the
/// scenarios name them), judged on the gateway's figures.
pub fn judge(scenario: &str, case: &str, gateway: &Summary) -> Option<Verdict> {
    match scenario {
        "submit" => match case.strip_prefix(SUBMIT_CASE)?.parse::<usize>().ok()? {
            1 => Some(at_most("p50 < 1 ms", gateway.p50_ms, 1.0, "ms p50")),
            64 => Some(both(
                ">= 8,000 durable submissions/s and p99 < 25 ms",
                at_least("", gateway.rate, 8000.0, "/s"),
                at_most("", gateway.p99_ms, 25.0, "ms p99"),
            )),
            _ => None,
        },
        "push" => Some(at_most(
            "p99 < 5 ms at 1,000/s",
            gateway.p99_ms,
            5.0,
            "ms p99",
        )),
        "replay" => Some(at_least(
            ">= 100,000 messages/s",
            gateway.rate,
            100_000.0,
            "messages/s",
        )),
        "query" => Some(at_most(
            "p99 < 2 ms with 1,000,000 cases",
            gateway.p99_ms,
            2.0,
            "ms p99",
        )),
        "memory" => Some(at_most(
            "<= 150 MB RSS with 2,000 subscriptions",
            gateway.value,
            150.0,
            "MB",
        )),
        _ => None,
    }
}

/// A target of at least `min` of a figure.
fn at_least(target: &'static str, figure: Option<f64>, min: f64, unit: &str) -> Verdict {
    match figure {
        Some(value) => Verdict {
            target,
            met: value >= min,
            detail: format!(
                "{value:.1} {unit}, {:.0}% of the target",
                value / min * 100.0
            ),
        },
        None => missing(target),
    }
}

/// A target of at most `max` of a figure.
fn at_most(target: &'static str, figure: Option<f64>, max: f64, unit: &str) -> Verdict {
    match figure {
        Some(value) => Verdict {
            target,
            met: value <= max,
            detail: format!("{value:.3} {unit}, {:.1}x the limit", value / max),
        },
        None => missing(target),
    }
}

/// Both parts of a two-part target.
fn both(target: &'static str, first: Verdict, second: Verdict) -> Verdict {
    Verdict {
        target,
        met: first.met && second.met,
        detail: format!("{}; {}", first.detail, second.detail),
    }
}

fn missing(target: &'static str) -> Verdict {
    Verdict {
        target,
        met: false,
        detail: "no figure".into(),
    }
}
