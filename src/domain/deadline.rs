//! Legal time limits, as durations an operator may shorten or lengthen.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

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
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            notice_ahead: Duration::days(3),
            pickup: Duration::hours(24),
            report: Duration::days(15),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadlineKind {
    Pickup,
    Report,
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Pickup => "pickup",
            DeadlineKind::Report => "report",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
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
mod human {
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
