//! Per-agency limits: a token bucket of calls for every agency, and a daily
//! quota of case queries for police, so that one agency's flood or a
//! police bulk search cannot slow the others.
//!
//! Hand-written rather than `governor`: the buckets read the gateway's
//! [`Clock`](crate::domain::clock::Clock), so tests move time instead of
//! sleeping, and the whole thing is some fifty lines. Buckets are kept only
//! for authenticated agencies, so their number is bounded by the registry.
//! Each replica counts calls on its own: with `n` replicas an agency gets
//! up to `n` times the rate, which is the intent (the limit protects a
//! replica). The police quota guards people's data, not a replica: where
//! replicas share a database it is counted there
//! ([`crate::storage::Storage::count_police_query`]), and only a gateway
//! with a database of its own counts it here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use crate::domain::clock::CHINA;
use crate::domain::policy::Call;

/// The `[limits]` table of the configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Calls each agency may make per second, on average.
    pub calls_per_second: f64,
    /// Calls an agency may make at once after a quiet spell.
    pub burst: u32,
    /// Case queries (`GetCase`, `ListCases`) each police agency may make per
    /// calendar day, China time. 0 means no quota.
    pub police_queries_per_day: u32,
    /// Submissions being planned and committed at once, by all agencies
    /// together; see [`super::admission`].
    pub pending_writes: u32,
    /// How long a submission waits for one of those places before it is
    /// refused `RESOURCE_EXHAUSTED`.
    #[serde(with = "crate::config::humantime_serde")]
    pub pending_wait: Duration,
    /// When even the quickest of the writes that finished in the last
    /// interval (100 ms) took longer than this, from admission to the end
    /// of the write, new submissions are refused at once until that is no
    /// longer so; zero turns this off. See [`super::admission`].
    #[serde(with = "crate::config::humantime_serde")]
    pub pending_latency: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            calls_per_second: 100.0,
            burst: 500,
            police_queries_per_day: 2000,
            pending_writes: 1024,
            pending_wait: Duration::from_secs(1),
            pending_latency: Duration::from_millis(500),
        }
    }
}

impl Limits {
    /// Refuses limits that would shut agencies out: a rate of zero (there
    /// is no setting that turns the rate off; a high one does), no burst,
    /// no place for a submission.
    ///
    /// # Errors
    /// Naming the first setting that is out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.calls_per_second.is_finite() && self.calls_per_second > 0.0,
            "limits.calls_per_second must be a number above zero"
        );
        anyhow::ensure!(self.burst >= 1, "limits.burst must be at least 1");
        anyhow::ensure!(
            self.pending_writes >= 1,
            "limits.pending_writes must be at least 1"
        );
        Ok(())
    }
}

/// A refusal for now, with when to try again.
#[derive(Clone, Debug, PartialEq)]
pub struct Exhausted {
    pub message: String,
    pub retry_after: Duration,
    /// The quota that ran out, for `QuotaFailure` details.
    pub subject: String,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
}

/// The counters behind [`Limits`].
#[derive(Debug, Default)]
pub struct Limiter {
    limits: Limits,
    buckets: Mutex<HashMap<AgencyId, Bucket>>,
    queries: Mutex<HashMap<AgencyId, (time::Date, u32)>>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Counts one call by `agency` at `now` against its bucket.
    ///
    /// # Errors
    /// [`Exhausted`] when the agency's bucket is empty.
    pub fn admit(&self, agency: &AgencyRef, now: OffsetDateTime) -> Result<(), Exhausted> {
        self.take_token(&agency.id, now)
    }

    /// The daily quota `call` by `agency` counts against: police case
    /// queries, unless the quota is off.
    pub fn query_quota(&self, agency: &AgencyRef, call: Call) -> Option<u32> {
        (agency.kind == AgencyKind::Police
            && matches!(call, Call::GetCase | Call::ListCases)
            && self.limits.police_queries_per_day > 0)
            .then_some(self.limits.police_queries_per_day)
    }

    /// Counts one police case query by `agency` at `now` in memory;
    /// `false`, and nothing counted, when the day's quota is used up.
    pub fn count_query(&self, agency: &AgencyId, now: OffsetDateTime) -> bool {
        let today = now.to_offset(CHINA).date();
        let mut queries = self.queries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = queries.entry(agency.clone()).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        if entry.1 >= self.limits.police_queries_per_day {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// The refusal of a police case query once `agency`'s quota of the day
    /// is used up, with the wait until midnight China time.
    pub fn quota_used_up(&self, agency: &AgencyId, now: OffsetDateTime) -> Exhausted {
        let local = now.to_offset(CHINA);
        let midnight = local
            .date()
            .next_day()
            .map_or(local, |next| next.midnight().assume_offset(CHINA));
        Exhausted {
            message: format!(
                "{agency} used its {} case queries of today; the quota renews at midnight China time",
                self.limits.police_queries_per_day
            ),
            retry_after: (midnight - local).try_into().unwrap_or(Duration::ZERO),
            subject: format!("agency:{agency}/case-queries-per-day"),
        }
    }

    fn take_token(&self, agency: &AgencyId, now: OffsetDateTime) -> Result<(), Exhausted> {
        let rate = self.limits.calls_per_second.max(f64::MIN_POSITIVE);
        let burst = f64::from(self.limits.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(agency.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        // A clock that steps back must not mint tokens.
        let elapsed = (now - bucket.at).as_seconds_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = bucket.at.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64(((1.0 - bucket.tokens) / rate).min(86_400.0));
        Err(Exhausted {
            message: format!(
                "{agency} made more than {} calls per second (burst {}); retry in {} ms",
                self.limits.calls_per_second,
                self.limits.burst,
                wait.as_millis().max(1)
            ),
            retry_after: wait,
            subject: format!("agency:{agency}/calls"),
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::domain::testing::agency;

    #[test]
    fn limits_that_would_shut_agencies_out_are_refused() {
        assert!(Limits::default().validate().is_ok());
        for (limits, name) in [
            (
                Limits {
                    calls_per_second: 0.0,
                    ..Limits::default()
                },
                "calls_per_second",
            ),
            (
                Limits {
                    calls_per_second: f64::NAN,
                    ..Limits::default()
                },
                "calls_per_second",
            ),
            (
                Limits {
                    burst: 0,
                    ..Limits::default()
                },
                "burst",
            ),
            (
                Limits {
                    pending_writes: 0,
                    ..Limits::default()
                },
                "pending_writes",
            ),
        ] {
            let refused = limits.validate().unwrap_err().to_string();
            assert!(refused.contains(name), "{refused}");
        }
    }

    fn limiter(rate: f64, burst: u32, quota: u32) -> Limiter {
        Limiter::new(Limits {
            calls_per_second: rate,
            burst,
            police_queries_per_day: quota,
            ..Limits::default()
        })
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait_then_refilled() {
        let limiter = limiter(2.0, 3, 0);
        let project = agency("county-project", "140106", "yingze-project");
        let t = datetime!(2026-11-28 02:00 UTC);
        for _ in 0..3 {
            limiter.admit(&project, t).unwrap();
        }
        let refused = limiter.admit(&project, t).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        let later = t + time::Duration::milliseconds(500);
        limiter.admit(&project, later).unwrap();
        assert!(limiter.admit(&project, later).is_err());
    }

    #[test]
    fn one_agency_flooding_leaves_the_others_their_calls() {
        let limiter = limiter(1.0, 1, 0);
        let t = datetime!(2026-11-28 02:00 UTC);
        let flood = agency("detox-center", "140100", "taiyuan-detox");
        limiter.admit(&flood, t).unwrap();
        assert!(limiter.admit(&flood, t).is_err());
        let other = agency("county-project", "140106", "yingze-project");
        limiter.admit(&other, t).unwrap();
    }

    #[test]
    fn police_queries_stop_at_the_daily_quota_until_midnight_china_time() {
        let limiter = limiter(1000.0, 1000, 2);
        let police = agency("police", "140106", "yingze-police");
        let office = agency("oversight", "140000", "shanxi-office");
        assert_eq!(limiter.query_quota(&police, Call::GetCase), Some(2));
        assert_eq!(limiter.query_quota(&police, Call::ListCases), Some(2));
        assert_eq!(limiter.query_quota(&police, Call::Subscribe), None);
        assert_eq!(limiter.query_quota(&office, Call::GetCase), None);
        assert_eq!(limiter.query_quota(&police, Call::GetAuditHead), None);
        // 22:00 China time.
        let t = datetime!(2026-11-28 14:00 UTC);
        assert!(limiter.count_query(&police.id, t));
        assert!(limiter.count_query(&police.id, t));
        assert!(!limiter.count_query(&police.id, t));
        let refused = limiter.quota_used_up(&police.id, t);
        assert_eq!(refused.retry_after, Duration::from_secs(2 * 3600));
        assert!(refused.subject.ends_with("case-queries-per-day"));
        assert!(limiter.count_query(&police.id, t + time::Duration::hours(2)));
        let off = Limiter::new(Limits {
            police_queries_per_day: 0,
            ..Limits::default()
        });
        assert_eq!(off.query_quota(&police, Call::GetCase), None);
    }

    #[test]
    fn a_clock_that_steps_back_mints_no_tokens() {
        let limiter = limiter(1.0, 1, 0);
        let project = agency("county-project", "140106", "yingze-project");
        let t = datetime!(2026-11-28 02:00 UTC);
        limiter.admit(&project, t).unwrap();
        let earlier = t - time::Duration::hours(1);
        assert!(limiter.admit(&project, earlier).is_err());
        assert!(limiter.admit(&project, t).is_err());
    }
}
