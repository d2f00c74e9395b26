//! Legal time limits, as durations an operator may shorten or lengthen.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::case::{Case, CaseEvent, CaseState};
use super::clock::CHINA;

/// The time limits from the Regulations on Drug Rehabilitation; every one
/// is configurable (`24h`, `15d`, down to seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinePolicy {
    /// A pre-release notice must arrive at least this long before release.
    #[serde(with = "human")]
    pub notice_ahead: Duration,
    /// The person is picked up at the gate within this time of release.
    #[serde(with = "human")]
    pub pickup: Duration,
    /// The person reports to the executing township within this time.
    #[serde(with = "human")]
    pub report: Duration,
    /// The receiving county answers a transfer request within this time.
    #[serde(with = "human")]
    pub transfer_reply: Duration,
    /// The person reports in the receiving county within this time of the
    /// acceptance.
    #[serde(with = "human")]
    pub arrival: Duration,
    /// The discharge of an announced release is due within this time of
    /// the start (China time) of its planned day: a person the center let
    /// go without one is under nobody's supervision.
    #[serde(with = "human")]
    pub discharge: Duration,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            notice_ahead: Duration::days(3),
            pickup: Duration::hours(24),
            report: Duration::days(15),
            transfer_reply: Duration::days(7),
            arrival: Duration::days(15),
            discharge: Duration::days(2),
        }
    }
}

impl DeadlinePolicy {
    /// For each deadline kind, the latest start that makes it due at `now`.
    pub fn cutoffs(&self, now: OffsetDateTime) -> Vec<(DeadlineKind, OffsetDateTime)> {
        DeadlineKind::ALL
            .iter()
            .map(|kind| (*kind, now - self.allowance(*kind)))
            .collect()
    }

    /// How long after its start a deadline of `kind` falls due; a term's
    /// completion starts at the term's end.
    pub fn allowance(&self, kind: DeadlineKind) -> Duration {
        match kind {
            DeadlineKind::TermCompletion => Duration::ZERO,
            DeadlineKind::Pickup => self.pickup,
            DeadlineKind::Report => self.report,
            DeadlineKind::TransferReply => self.transfer_reply,
            DeadlineKind::Arrival => self.arrival,
            DeadlineKind::Discharge => self.discharge,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadlineKind {
    Pickup,
    /// Missing it counts as refusal of community rehabilitation.
    Report,
    TransferReply,
    Arrival,
    /// The term has run out: police issue the release notice.
    TermCompletion,
    /// An announced release whose discharge has not come.
    Discharge,
}

impl DeadlineKind {
    pub const ALL: [DeadlineKind; 6] = [
        DeadlineKind::Pickup,
        DeadlineKind::Report,
        DeadlineKind::TransferReply,
        DeadlineKind::Arrival,
        DeadlineKind::TermCompletion,
        DeadlineKind::Discharge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Pickup => "pickup",
            DeadlineKind::Report => "report",
            DeadlineKind::TransferReply => "transfer-reply",
            DeadlineKind::Arrival => "arrival",
            DeadlineKind::TermCompletion => "term-completion",
            DeadlineKind::Discharge => "discharge",
        }
    }

    /// # Errors
    /// When the text names no kind.
    pub fn parse(text: &str) -> Result<Self, String> {
        DeadlineKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("unknown deadline kind {text:?}"))
    }
}

/// A deadline that applies to a case now and has not been met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// The sequence of the event that started it; with the kind, its name.
    pub anchor: u32,
    /// When it started; it falls due `allowance(kind)` later.
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// Already escalated; it stays overdue until met.
    pub escalated: bool,
}

impl Case {
    /// The deadlines that apply in the current state and are not yet met.
    /// A suspended case has none: the measure itself is suspended.
    pub fn deadlines(&self, policy: &DeadlinePolicy) -> Vec<Deadline> {
        if self.state == CaseState::Announced {
            return self.discharge_deadline(policy).into_iter().collect();
        }
        if !self.state.is_supervised() {
            return Vec::new();
        }
        let mut found = Vec::new();
        let mut add = |kind, anchor: u32, starts_at: OffsetDateTime| {
            found.push(Deadline {
                kind,
                anchor,
                starts_at,
                due_at: starts_at + policy.allowance(kind),
                escalated: self.escalated.contains(&(kind, anchor)),
            });
        };
        let underlying = match self.state {
            CaseState::LostContact => self.resume_to.unwrap_or(CaseState::UnderSupervision),
            other => other,
        };
        if let Some(clock) = self.clock {
            if underlying == CaseState::AwaitingPickup {
                add(DeadlineKind::Pickup, clock.sequence, clock.at);
            }
            if matches!(underlying, CaseState::AwaitingPickup | CaseState::PickedUp) {
                add(DeadlineKind::Report, clock.sequence, clock.at);
            }
        }
        if let Some(transfer) = &self.transfer {
            match transfer.accepted {
                None => add(
                    DeadlineKind::TransferReply,
                    transfer.requested.sequence,
                    transfer.requested.at,
                ),
                Some(accepted) => add(DeadlineKind::Arrival, accepted.sequence, accepted.at),
            }
        }
        if let Some(started) = self.supervision_started
            && !matches!(self.state, CaseState::Suspended | CaseState::Closed)
        {
            add(
                DeadlineKind::TermCompletion,
                started.sequence,
                add_months(started.at, self.term.months()),
            );
        }
        found
    }

    /// The discharge the latest notice promised: a revision, which may move
    /// the day, starts a new one.
    fn discharge_deadline(&self, policy: &DeadlinePolicy) -> Option<Deadline> {
        let notice = self.notice?;
        let starts_at = self
            .planned_release_date?
            .with_time(time::Time::MIDNIGHT)
            .assume_offset(CHINA);
        let kind = DeadlineKind::Discharge;
        Some(Deadline {
            kind,
            anchor: notice.sequence,
            starts_at,
            due_at: starts_at + policy.allowance(kind),
            escalated: self.escalated.contains(&(kind, notice.sequence)),
        })
    }

    /// One escalation for every deadline that is due at `now` and was not
    /// escalated yet.
    pub fn due_escalations(&self, policy: &DeadlinePolicy, now: OffsetDateTime) -> Vec<CaseEvent> {
        self.deadlines(policy)
            .into_iter()
            .filter(|d| !d.escalated && d.due_at <= now)
            .map(|d| CaseEvent::DeadlineMissed {
                kind: d.kind,
                anchor: d.anchor,
                due_at: d.due_at,
            })
            .collect()
    }
}

/// `at` plus whole calendar months, the day clamped to the month's end.
pub fn add_months(at: OffsetDateTime, months: u32) -> OffsetDateTime {
    let date = at.date();
    let months = i32::try_from(months).unwrap_or(i32::MAX / 24);
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months;
    let year = index.div_euclid(12);
    let month = u8::try_from(index.rem_euclid(12) + 1)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .unwrap_or(time::Month::January);
    let day = date.day().min(time::util::days_in_month(month, year));
    time::Date::from_calendar_date(year, month, day).map_or(at, |date| at.replace_date(date))
}

/// Parses `24h`, `15d`, `90s`, `1h 30m` into a duration.
///
/// # Errors
/// When the text is not a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let std = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))?;
    Duration::try_from(std).map_err(|e| format!("{text:?}: {e}"))
}

/// Serde for durations written as `24h` or `15d`.
pub(super) mod human {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let std = std::time::Duration::try_from(*value).map_err(serde::ser::Error::custom)?;
        serializer.collect_str(&humantime::format_duration(std))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_due_for_starts_its_allowance_before_now() {
        let policy = DeadlinePolicy::default();
        let now = time::macros::datetime!(2026-11-28 08:00 UTC);
        let cutoffs = policy.cutoffs(now);
        assert_eq!(cutoffs.len(), DeadlineKind::ALL.len());
        for (kind, cutoff) in cutoffs {
            assert_eq!(cutoff + policy.allowance(kind), now, "{kind:?}");
        }
        assert!(
            policy
                .cutoffs(now)
                .contains(&(DeadlineKind::Pickup, now - policy.pickup))
        );
    }

    #[test]
    fn durations_read_as_an_operator_writes_them() {
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("15d"), Ok(Duration::days(15)));
        assert_eq!(parse_duration("2s"), Ok(Duration::seconds(2)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn a_policy_round_trips_through_toml_like_text() {
        let policy: DeadlinePolicy = serde_json::from_str(r#"{"pickup":"2s"}"#).unwrap();
        assert_eq!(policy.pickup, Duration::seconds(2));
        assert_eq!(policy.report, Duration::days(15));
        let text = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            serde_json::from_str::<DeadlinePolicy>(&text).unwrap(),
            policy
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn duration_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,24}",
            "[0-9]{1,22}(ns|us|ms|s|m|h|d|w|M|y|years|months)",
            "([0-9]{1,6}[smhd] ?){1,4}",
        ]
    }

    proptest! {
        #[test]
        fn a_duration_parses_to_what_it_formats_back_to_or_is_refused(text in duration_like()) {
            match parse_duration(&text) {
                Ok(duration) => {
                    prop_assert!(!duration.is_negative());
                    let std = std::time::Duration::try_from(duration).unwrap();
                    let again = parse_duration(&humantime::format_duration(std).to_string());
                    prop_assert_eq!(again, Ok(duration));
                }
                Err(reason) => {
                    let quoted = format!("{text:?}");
                    prop_assert!(reason.contains(&quoted));
                }
            }
        }

        #[test]
        fn any_policy_text_is_read_or_refused(
            key in proptest::sample::select(vec![
                "notice_ahead", "pickup", "report", "transfer_reply", "arrival", "discharge",
                "other",
            ]),
            value in duration_like(),
        ) {
            let json = serde_json::json!({ key: value });
            if let Ok(policy) = serde_json::from_value::<DeadlinePolicy>(json) {
                for kind in DeadlineKind::ALL {
                    prop_assert!(!policy.allowance(kind).is_negative());
                }
            }
        }
    }
}
