//! Latencies and rates: every call's duration is kept and sorted, which at
//! the counts a run makes (a few hundred thousand) costs milliseconds and
//! needs no histogram crate.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one target did in one measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Calls or messages that succeeded.
    pub count: u64,
    /// Calls that failed; a run with failures still reports, and says so.
    pub errors: u64,
    /// Successes per second of wall time.
    pub rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    /// A figure that is neither a rate nor a latency (resident memory, MB).
    pub value: Option<f64>,
    /// CPU time the serving process spent per success, in microseconds
    /// (user and system, all its threads; a database server's own is in
    /// `server_cpu_us`). Steadier than the rate on a machine whose speed
    /// varies: it does not count the time the process waited for the CPU.
    pub cpu_us: Option<f64>,
    /// What the serving process wrote to storage per success, in KB
    /// (`write_bytes` less `cancelled_write_bytes` of `/proc/<pid>/io`:
    /// pages it dirtied, counted once until written back). For SQLite
    /// that is the WAL and the checkpoints' copies; a database server's
    /// own writes are in `server_disk_kb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_kb: Option<f64>,
    /// A PostgreSQL server's CPU per success, in microseconds: all its
    /// processes, whatever database they serve, when it runs on this
    /// machine (see `database_server.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_us: Option<f64>,
    /// What that server's processes wrote to storage per success, in KB:
    /// its WAL, and data pages only where a checkpoint, the background
    /// writer or a backend evicting a buffer wrote them meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_disk_kb: Option<f64>,
    /// The first error seen, to say why calls failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Durations of calls made in one measurement.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

impl Samples {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            latencies: Vec::with_capacity(capacity),
            ..Self::default()
        }
    }

    pub fn record(&mut self, latency: Duration) {
        self.latencies.push(latency);
    }

    pub fn fail(&mut self, error: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    pub fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn len(&self) -> usize {
        self.latencies.len()
    }

    /// Rate over `elapsed` and latency percentiles (nearest rank).
    pub fn summarize(mut self, elapsed: Duration) -> Summary {
        self.latencies.sort_unstable();
        let count = self.latencies.len() as u64;
        // `per_100k` in hundred-thousandths (p99.9 = 99_900), in integers:
        // 0.999 * 1000 in floating point rounds up past 999.
        let percentile = |per_100k: usize| -> Option<f64> {
            let n = self.latencies.len();
            if n == 0 {
                return None;
            }
            let rank = (per_100k * n).div_ceil(100_000);
            let index = rank.clamp(1, n) - 1;
            Some(self.latencies[index].as_secs_f64() * 1000.0)
        };
        Summary {
            count,
            errors: self.errors,
            rate: rate(count, elapsed),
            p50_ms: percentile(50_000),
            p99_ms: percentile(99_000),
            p999_ms: percentile(99_900),
            value: None,
            cpu_us: None,
            disk_kb: None,
            server_cpu_us: None,
            server_disk_kb: None,
            first_error: self.first_error.clone(),
        }
    }
}

pub fn rate(count: u64, elapsed: Duration) -> Option<f64> {
    (count > 0 && !elapsed.is_zero()).then(|| count as f64 / elapsed.as_secs_f64())
}

/// A small deterministic generator (splitmix64): picks which seeded person
/// a query asks for, with no dependency and the same choice every run.
pub struct Pick(u64);

impl Pick {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut samples = Samples::default();
        for ms in 1..=1000 {
            samples.record(Duration::from_millis(ms));
        }
        let summary = samples.summarize(Duration::from_secs(2));
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.rate, Some(500.0));
        assert_eq!(summary.p50_ms, Some(500.0));
        assert_eq!(summary.p99_ms, Some(990.0));
        assert_eq!(summary.p999_ms, Some(999.0));
    }

    #[test]
    fn no_samples_give_no_figures() {
        let summary = Samples::default().summarize(Duration::from_secs(1));
        assert_eq!(
            (summary.count, summary.rate, summary.p50_ms),
            (0, None, None)
        );
    }
}
