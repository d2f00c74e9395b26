//! What operators watch: Prometheus metric families kept by one gateway and
//! served on their own plain-HTTP port ([`MetricsServer`]).
//!
//! Every family lives in a registry owned by one [`Metrics`] value, made
//! once per gateway (no process-global registry), so several gateways in
//! one process, as in the integration tests, count apart. Labels carry
//! agency ids, agency kinds, recipient roles, call names and gRPC codes:
//! never anything about a person.

mod labels;
mod server;

pub use server::{MetricsServer, Refresh};

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::domain::agency::AgencyRef;
use labels::{
    AgencyLabels, CallLabels, OutcomeLabels, ReasonLabels, RefusalLabels, RoleLabels, SourceLabels,
};

/// How a commit attempt ended, for the latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Another writer got there first; the write is planned again.
    Conflict,
    Failed,
}

impl CommitOutcome {
    fn as_str(self) -> &'static str {
        match self {
            CommitOutcome::Committed => "committed",
            CommitOutcome::Conflict => "conflict",
            CommitOutcome::Failed => "failed",
        }
    }
}

/// A histogram made fresh for each label set: a plain function, so the
/// family's type can be named.
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn commit_histogram() -> Histogram {
    // 1 ms to about 8 s: an SQLite fsync is a few milliseconds, a slow
    // PostgreSQL commit under load can take seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

struct Families {
    registry: Registry,
    submissions: Family<CallLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    deliveries: Family<RoleLabels, Counter>,
    streamed: Family<SourceLabels, Counter>,
    unreadable: Counter,
    commits: HistogramFamily<OutcomeLabels>,
    open_streams: Family<AgencyLabels, Gauge>,
    inbox_lag: Family<AgencyLabels, Gauge>,
    /// The agencies `inbox_lag` holds, to drop those that left.
    lag_listed: Mutex<HashSet<AgencyLabels>>,
    handshake_failures: Family<ReasonLabels, Counter>,
    overdue_cases: Gauge,
    unroutable_cases: Gauge,
    crl_number: Gauge,
    crl_floor_number: Gauge,
    crl_behind: Gauge,
    crl_compared: Gauge<f64, AtomicU64>,
}

/// The gateway's metric families; cheap to clone, all clones count
/// together.
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every family registered, named `handover_*`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("handover");
        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        registry.register("build", "The gateway's version", build);
        let started = Gauge::<f64, AtomicU64>::default();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        started.set(since_epoch.as_secs_f64());
        registry.register_with_unit(
            "process_start_time",
            "When this gateway process started, in seconds since the Unix epoch",
            Unit::Seconds,
            started,
        );
        let mut f = Families {
            submissions: Family::default(),
            refusals: Family::default(),
            deliveries: Family::default(),
            streamed: Family::default(),
            unreadable: Counter::default(),
            commits: Family::new_with_constructor(commit_histogram),
            open_streams: Family::default(),
            inbox_lag: Family::default(),
            lag_listed: Mutex::default(),
            handshake_failures: Family::default(),
            overdue_cases: Gauge::default(),
            unroutable_cases: Gauge::default(),
            crl_number: Gauge::default(),
            crl_floor_number: Gauge::default(),
            crl_behind: Gauge::default(),
            crl_compared: Gauge::default(),
            registry,
        };
        f.registry.register(
            "submissions",
            "Submissions answered OK, by call (a replayed request id counts again)",
            f.submissions.clone(),
        );
        f.registry.register(
            "refusals",
            "Calls answered with an error, by call and gRPC code",
            f.refusals.clone(),
        );
        f.registry.register(
            "deliveries",
            "Messages written to inboxes, by the recipient's role in the case",
            f.deliveries.clone(),
        );
        f.registry.register(
            "streamed_messages",
            "Messages handed to inbox streams, by where the stream took them from: memory (as this process wrote them) or storage",
            f.streamed.clone(),
        );
        f.registry.register(
            "unreadable_messages",
            "Inbox messages handed to streams in their place only, since their stored body or case does not open (each is logged at error level with agency, position and case)",
            f.unreadable.clone(),
        );
        f.registry.register_with_unit(
            "commit",
            "Time to write one case change to storage, by outcome",
            Unit::Seconds,
            f.commits.clone(),
        );
        f.registry.register(
            "inbox_streams_open",
            "Inbox streams open now, by agency",
            f.open_streams.clone(),
        );
        f.registry.register(
            "inbox_lag",
            "Messages written to an agency's inbox and not yet acknowledged (refreshed at scrape, at most every metrics_refresh)",
            f.inbox_lag.clone(),
        );
        f.registry.register(
            "tls_handshake_failures",
            "TLS handshakes on the gRPC port that did not complete, by reason",
            f.handshake_failures.clone(),
        );
        f.registry.register(
            "overdue_cases",
            "Cases with at least one deadline passed unmet (refreshed at scrape, at most every metrics_refresh)",
            f.overdue_cases.clone(),
        );
        f.registry.register(
            "unroutable_cases",
            "Cases discharged to a county with no registered project and not yet assigned to one by an oversight office (refreshed at scrape, at most every metrics_refresh)",
            f.unroutable_cases.clone(),
        );
        f.registry.register(
            "crl_number",
            "The number of the certificate revocation list this gateway has in force",
            f.crl_number.clone(),
        );
        f.registry.register(
            "crl_floor_number",
            "The highest number of a revocation list of this CA that any gateway of the deployment put in force, as this one last read it from the database",
            f.crl_floor_number.clone(),
        );
        f.registry.register(
            "crl_behind",
            "1 while this gateway's revocation list is older than the deployment's newest, or lacks one of its revocations: copy the newest ca.crl to it",
            f.crl_behind.clone(),
        );
        f.registry.register_with_unit(
            "crl_compared_time",
            "When this gateway last compared its revocation list with the deployment's newest, in seconds since the Unix epoch: the two numbers above are as of then",
            Unit::Seconds,
            f.crl_compared.clone(),
        );
        Self {
            families: Arc::new(f),
        }
    }

    /// Counts one answered call: an accepted submission, or a refusal by
    /// its code. `call` is the full method name; only its last part is
    /// kept. `code` is the canonical name (`OK`, `INVALID_ARGUMENT`...).
    pub fn answered(&self, call: &'static str, submission: bool, code: &'static str) {
        let call = call.rsplit('/').next().unwrap_or(call);
        if code != "OK" {
            self.families
                .refusals
                .get_or_create(&RefusalLabels { call, code })
                .inc();
        } else if submission {
            self.families
                .submissions
                .get_or_create(&CallLabels { call })
                .inc();
        }
    }

    /// Counts messages written to inboxes, by recipient role.
    pub fn delivered(&self, role: &'static str) {
        self.families
            .deliveries
            .get_or_create(&RoleLabels { role })
            .inc();
    }

    /// Counts `count` messages handed to inbox streams from `source`
    /// (`memory` or `storage`).
    pub fn streamed(&self, source: &'static str, count: usize) {
        self.families
            .streamed
            .get_or_create(&SourceLabels { source })
            .inc_by(count as u64);
    }

    /// Counts a message handed to a stream that does not open.
    pub fn unreadable(&self) {
        self.families.unreadable.inc();
    }

    /// Records how long one commit attempt took.
    pub fn committed(&self, outcome: CommitOutcome, took: Duration) {
        self.families
            .commits
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts an open inbox stream until the returned guard is dropped.
    pub fn stream_opened(&self, agency: &AgencyRef) -> OpenStream {
        let gauge = self
            .families
            .open_streams
            .get_or_create_owned(&AgencyLabels::of(agency));
        gauge.inc();
        OpenStream { gauge }
    }

    /// Counts a TLS handshake that did not complete.
    pub fn handshake_failed(&self, reason: &'static str) {
        self.families
            .handshake_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Replaces every agency's inbox lag; agencies no longer listed drop
    /// out of the family.
    pub fn set_inbox_lag(&self, lags: &[(AgencyRef, u64)]) {
        let family = &self.families.inbox_lag;
        let fresh: HashSet<AgencyLabels> = lags
            .iter()
            .map(|(agency, lag)| {
                let labels = AgencyLabels::of(agency);
                family
                    .get_or_create(&labels)
                    .set(i64::try_from(*lag).unwrap_or(i64::MAX));
                labels
            })
            .collect();
        let mut listed = self
            .families
            .lag_listed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for gone in listed.difference(&fresh) {
            family.remove(gone);
        }
        *listed = fresh;
    }

    pub fn set_overdue_cases(&self, count: u64) {
        self.families
            .overdue_cases
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn set_unroutable_cases(&self, count: u64) {
        self.families
            .unroutable_cases
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The revocation list in force here, the deployment's newest number
    /// and whether this one is behind it.
    pub fn set_crl(&self, in_force: u64, floor: u64, behind: bool) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.families.crl_number.set(gauge(in_force));
        self.families.crl_floor_number.set(gauge(floor));
        self.families.crl_behind.set(i64::from(behind));
        self.crl_compared();
    }

    /// Notes that the revocation list was just compared with the
    /// deployment's newest, and nothing changed.
    pub fn crl_compared(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        self.families.crl_compared.set(now.as_secs_f64());
    }

    /// The OpenMetrics text exposition of every family.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.families.registry);
        text
    }
}

/// An open inbox stream, counted until dropped.
#[derive(Debug)]
pub struct OpenStream {
    gauge: Gauge,
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests;
