//! `handover-gateway serve`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::bootstrap;
use crate::config::{Config, LogFormat};
use crate::domain::clock::SystemClock;
use crate::pki::authority::CA_CERT_FILE;
use crate::server::{Server, shutdown_signal};
use crate::storage::{Backend, Database};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TOML config file; flags and environment variables override it.
    #[arg(long, env = "HANDOVER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "HANDOVER_LISTEN")]
    listen: Option<SocketAddr>,
    /// SQLite database file, or a postgres:// URL [default: data/gateway.db].
    #[arg(long, env = "HANDOVER_DATABASE")]
    database: Option<PathBuf>,
    /// Certificate folder [default: certs].
    #[arg(long, env = "HANDOVER_CERTS_DIR")]
    certs_dir: Option<PathBuf>,
    /// Master key file [default: data/master.key].
    #[arg(long, env = "HANDOVER_MASTER_KEY")]
    master_key: Option<PathBuf>,
    /// Heartbeat interval of idle inbox streams, e.g. 15s.
    #[arg(long, env = "HANDOVER_HEARTBEAT", value_parser = humantime::parse_duration)]
    heartbeat: Option<std::time::Duration>,
    /// How often to look for new certificates and revocations, e.g. 5s.
    #[arg(long, env = "HANDOVER_TLS_RELOAD", value_parser = humantime::parse_duration)]
    tls_reload: Option<std::time::Duration>,
    /// How often to look for deadlines that passed unmet, e.g. 5s.
    #[arg(long, env = "HANDOVER_ESCALATION_SCAN", value_parser = humantime::parse_duration)]
    escalation_scan: Option<std::time::Duration>,
    /// How often to check that the database answers, e.g. 2s.
    #[arg(long, env = "HANDOVER_HEALTH_CHECK", value_parser = humantime::parse_duration)]
    health_check: Option<std::time::Duration>,
    /// Address of the Prometheus endpoint (plain HTTP, GET /metrics), or
    /// `off` [default: off].
    #[arg(long, env = "HANDOVER_METRICS_LISTEN", value_parser = parse_listen_or_off)]
    metrics_listen: Option<MetricsListen>,
    /// Log format.
    #[arg(long, env = "HANDOVER_LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(database) = &self.database {
            config.database.clone_from(database);
        }
        if let Some(dir) = &self.certs_dir {
            config.certs_dir.clone_from(dir);
        }
        if let Some(key) = &self.master_key {
            config.master_key.clone_from(key);
        }
        if let Some(heartbeat) = self.heartbeat {
            config.heartbeat = heartbeat;
        }
        if let Some(every) = self.tls_reload {
            config.tls_reload = every;
        }
        if let Some(scan) = self.escalation_scan {
            config.escalation_scan = scan;
        }
        if let Some(every) = self.health_check {
            config.health_check = every;
        }
        if let Some(MetricsListen(listen)) = self.metrics_listen {
            config.metrics_listen = listen;
        }
        if let Some(format) = self.log_format {
            config.log_format = format;
        }
        Ok(config)
    }
}

/// `--metrics-listen`: an address or `off` (clap reads a bare
/// `Option<Option<_>>` as a flag with an optional value, hence the type).
#[derive(Clone, Copy, Debug)]
struct MetricsListen(Option<SocketAddr>);

fn parse_listen_or_off(text: &str) -> Result<MetricsListen, String> {
    crate::config::parse_listen_or_off(text).map(MetricsListen)
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_env("HANDOVER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal who has not asked for
    // none (NO_COLOR): journald, a log file or a collector would store them
    // as part of every line.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    init_logs(config.log_format);
    if !config.certs_dir.join(CA_CERT_FILE).exists() {
        let database = Database::from_setting(&config.database);
        let backend = Backend::open(&database)
            .await
            .with_context(|| format!("opening database {database}"))?;
        let storage = backend.storage();
        if !storage.agencies().await?.is_empty() {
            anyhow::bail!(
                "{} has no {CA_CERT_FILE} but the registry in {} already holds agencies: \
                 point --certs-dir at the gateway's CA instead of making development certificates",
                config.certs_dir.display(),
                database
            );
        }
        bootstrap::development(&config.certs_dir, storage)
            .await
            .context("making development certificates")?;
        storage.close().await;
        announce_development(&config);
    }
    let server = Server::build(config, Arc::new(SystemClock)).await?;
    println!("handover-gateway listening on {}", server.local_addr());
    server.run(shutdown_signal()).await
}

fn announce_development(config: &Config) {
    let dir = config.certs_dir.display();
    eprintln!(
        "\n=== DEVELOPMENT CERTIFICATES ===\n\
         {dir}/ had no CA, so a development CA, a server certificate for localhost and\n\
         certificates for an example registry were made there. They are for trying the\n\
         gateway on this machine ONLY: never use them in production.\n\
         Try, in another terminal:\n  \
           handover-gateway watch --as yingze-project --server https://localhost:{port}\n  \
           handover-gateway discharge --as taiyuan-detox --file examples/discharge.json --server https://localhost:{port}\n  \
           handover-gateway case --as yingze-police --id-number 140106199003071230 --purpose 'check' --server https://localhost:{port}\n\
         Agencies: {}\n",
        bootstrap::EXAMPLE_AGENCIES.map(|a| a.0).join(", "),
        port = config.listen.port(),
    );
}
