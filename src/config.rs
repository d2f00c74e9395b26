//! Configuration in layers: defaults, then a TOML file, then environment
//! variables and flags (the command line applies those last).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::access::AccessPolicy;
use crate::domain::deadline::DeadlinePolicy;
use crate::gateway::Limits;

/// Everything `serve` needs. Every field has a default, so `serve` with no
/// flags runs on the embedded default.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the gRPC port (mutual TLS).
    pub listen: SocketAddr,
    /// Address of the Prometheus endpoint (`GET /metrics`, plain HTTP, no
    /// person data: keep it on an internal network); `"off"` or absent
    /// disables it. Off by default: a fixed default port would collide
    /// when several gateways share a host, and whether to open one is the
    /// operator's call.
    #[serde(with = "listen_or_off")]
    pub metrics_listen: Option<SocketAddr>,
    /// Inbox lag and overdue cases are read from storage at a scrape only
    /// when the last read is older than this, however often scrapers ask;
    /// `0s` reads at every scrape.
    #[serde(with = "humantime_serde")]
    pub metrics_refresh: Duration,
    /// SQLite database file, or a `postgres://` / `postgresql://` URL
    /// (see [`crate::storage::Database`]).
    pub database: PathBuf,
    /// Folder with `ca.pem`, `server.pem`, `server-key.pem` and `ca.crl`.
    pub certs_dir: PathBuf,
    /// The master key file, outside the database.
    pub master_key: PathBuf,
    /// Heartbeat interval of idle inbox streams.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// A TLS handshake that takes longer is dropped.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// How often to look for new files in `certs_dir` (SIGHUP also does).
    #[serde(with = "humantime_serde")]
    pub tls_reload: Duration,
    /// How long open calls get to finish on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often to look for deadlines that passed unmet.
    #[serde(with = "humantime_serde")]
    pub escalation_scan: Duration,
    /// How often to ask the database whether it answers; health reports
    /// NOT_SERVING while it does not.
    #[serde(with = "humantime_serde")]
    pub health_check: Duration,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    pub deadlines: DeadlinePolicy,
    /// How long police see a closed case.
    pub access: AccessPolicy,
    /// Per-agency call rate and the police query quota.
    pub limits: Limits,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Written out so that the database URL's password never reaches a log.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("metrics_refresh", &self.metrics_refresh)
            .field(
                "database",
                &crate::storage::Database::from_setting(&self.database),
            )
            .field("certs_dir", &self.certs_dir)
            .field("master_key", &self.master_key)
            .field("heartbeat", &self.heartbeat)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("tls_reload", &self.tls_reload)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("escalation_scan", &self.escalation_scan)
            .field("health_check", &self.health_check)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("log_format", &self.log_format)
            .field("deadlines", &self.deadlines)
            .field("access", &self.access)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics_listen: None,
            metrics_refresh: Duration::from_secs(5),
            database: PathBuf::from("data/gateway.db"),
            certs_dir: PathBuf::from("certs"),
            master_key: PathBuf::from("data/master.key"),
            heartbeat: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(10),
            tls_reload: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
            escalation_scan: Duration::from_secs(5),
            health_check: Duration::from_secs(2),
            max_message_bytes: 256 * 1024,
            log_format: LogFormat::Text,
            deadlines: DeadlinePolicy::default(),
            access: AccessPolicy::default(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// The defaults, overlaid with `file` when given.
    ///
    /// # Errors
    /// When the file cannot be read or holds an unknown or ill-typed key.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let Some(file) = file else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", file.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", file.display()))
    }

    /// Refuses values the gateway cannot run with.
    ///
    /// # Errors
    /// Naming the first setting that is out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        let positive = [
            ("heartbeat", self.heartbeat),
            ("handshake_timeout", self.handshake_timeout),
            ("tls_reload", self.tls_reload),
            ("escalation_scan", self.escalation_scan),
            ("health_check", self.health_check),
        ];
        for (name, value) in positive {
            anyhow::ensure!(!value.is_zero(), "{name} must be longer than zero");
        }
        anyhow::ensure!(
            self.metrics_listen != Some(self.listen) || self.listen.port() == 0,
            "metrics_listen must differ from listen"
        );
        anyhow::ensure!(
            self.max_message_bytes >= 4096,
            "max_message_bytes must be at least 4096"
        );
        self.limits.validate()?;
        let ten_years = time::Duration::days(3653);
        let deadlines = &self.deadlines;
        for (name, value) in [
            ("deadlines.notice_ahead", deadlines.notice_ahead),
            ("deadlines.pickup", deadlines.pickup),
            ("deadlines.transfer_reply", deadlines.transfer_reply),
            ("deadlines.arrival", deadlines.arrival),
            ("deadlines.report", deadlines.report),
            ("deadlines.discharge", deadlines.discharge),
        ] {
            anyhow::ensure!(
                value.is_positive() && value <= ten_years,
                "{name} must be between one second and ten years"
            );
        }
        for (name, value) in [
            (
                "access.police_see_closed_cases_for",
                self.access.police_see_closed_cases_for,
            ),
            (
                "access.passing_parts_read_for",
                self.access.passing_parts_read_for,
            ),
        ] {
            anyhow::ensure!(
                !value.is_negative() && value <= ten_years,
                "{name} must be between zero and ten years"
            );
        }
        Ok(())
    }
}

/// Serde for `std::time::Duration` written as `15s` or `2m`.
pub(crate) mod humantime_serde {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// An address to listen on, or `off`.
///
/// # Errors
/// When `text` is neither.
pub fn parse_listen_or_off(text: &str) -> Result<Option<SocketAddr>, String> {
    match text.trim() {
        "off" | "" => Ok(None),
        address => address
            .parse()
            .map(Some)
            .map_err(|e| format!("{address:?} is neither an address (host:port) nor \"off\": {e}")),
    }
}

/// Serde for an optional listen address written as `"127.0.0.1:9464"` or
/// `"off"` (TOML has no null).
mod listen_or_off {
    use serde::{Deserialize, Deserializer};
    use std::net::SocketAddr;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_listen_or_off(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_config_hides_the_database_password() {
        let config = Config {
            database: PathBuf::from("postgres://gateway:s3cret@db/handover"),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("gateway:***@db/handover"), "{printed}");
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:6000\"\nheartbeat = \"2s\"\n[deadlines]\npickup = \"1h\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.heartbeat, Duration::from_secs(2));
        assert_eq!(config.deadlines.pickup, time::Duration::hours(1));
        assert_eq!(config.database, PathBuf::from("data/gateway.db"));
        assert_eq!(config.metrics_listen, None);
    }

    #[test]
    fn the_metrics_port_is_an_address_or_off() {
        let on: Config = toml::from_str("metrics_listen = \"0.0.0.0:9464\"").unwrap();
        assert_eq!(
            on.metrics_listen,
            Some(SocketAddr::from(([0, 0, 0, 0], 9464)))
        );
        let off: Config = toml::from_str("metrics_listen = \"off\"").unwrap();
        assert_eq!(off.metrics_listen, None);
        assert!(toml::from_str::<Config>("metrics_listen = \"9464\"").is_err());
        let clash = Config {
            metrics_listen: Some(Config::default().listen),
            ..Config::default()
        };
        assert!(clash.validate().is_err());
    }

    #[test]
    fn settings_the_gateway_cannot_run_with_are_refused() {
        assert!(Config::default().validate().is_ok());
        let zero = Config {
            heartbeat: Duration::ZERO,
            ..Config::default()
        };
        assert!(
            zero.validate()
                .unwrap_err()
                .to_string()
                .contains("heartbeat")
        );
        let too_long = time::Duration::days(4000);
        let mut report = Config::default();
        report.deadlines.report = too_long;
        let mut passing = Config::default();
        passing.access.passing_parts_read_for = too_long;
        for (forever, name) in [
            (report, "deadlines.report"),
            (passing, "access.passing_parts_read_for"),
        ] {
            let refused = forever.validate().unwrap_err().to_string();
            assert!(refused.contains(name), "{refused}");
        }
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, "listne = \"0.0.0.0:6000\"\n").unwrap();
        assert!(
            Config::load(Some(&path))
                .unwrap_err()
                .to_string()
                .contains("listne")
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "\"[0-9]{1,21}(ms|s|m|h|d|y)\"",
            "\"\\PC{0,20}\"",
            "[0-9]{1,21}",
            Just("\"127.0.0.1:0\"".to_owned()),
            Just("\"json\"".to_owned()),
            Just("true".to_owned()),
        ]
    }

    fn key() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "listen",
            "database",
            "heartbeat",
            "handshake_timeout",
            "shutdown_grace",
            "escalation_scan",
            "max_message_bytes",
            "log_format",
            "metrics_listen",
            "metrics_refresh",
            "deadlines.pickup",
            "deadlines.report",
            "access.passing_parts_read_for",
            "unknown",
        ])
    }

    proptest! {
        #[test]
        fn any_text_is_a_config_or_an_error(text in "\\PC{0,200}") {
            if let Ok(config) = toml::from_str::<Config>(&text) {
                let _ = config.validate();
            }
        }

        #[test]
        fn any_setting_is_read_and_checked_or_refused(
            settings in proptest::collection::vec((key(), value()), 0..6)
        ) {
            let text: String = settings
                .iter()
                .map(|(key, value)| format!("{key} = {value}\n"))
                .collect();
            if let Ok(config) = toml::from_str::<Config>(&text)
                && config.validate().is_ok()
            {
                prop_assert!(!config.heartbeat.is_zero() && !config.escalation_scan.is_zero());
                prop_assert!(config.max_message_bytes >= 4096);
                let written = serde_json::to_value(&config.deadlines).unwrap();
                let read: DeadlinePolicy = serde_json::from_value(written).unwrap();
                prop_assert_eq!(read, config.deadlines);
            }
        }
    }
}
