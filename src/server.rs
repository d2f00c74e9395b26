//! Assembling the gateway and running it: bind first (port 0 allowed, the
//! address is reported), then serve until one shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::transport::Server as TonicServer;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::pb::audit_service_server::AuditServiceServer;
use crate::api::pb::case_service_server::CaseServiceServer;
use crate::api::pb::inbox_service_server::InboxServiceServer;
use crate::api::pb::intake_service_server::IntakeServiceServer;
use crate::api::pb::supervision_service_server::SupervisionServiceServer;
use crate::api::{AuditApi, CaseApi, InboxApi, IntakeApi, SupervisionApi, pb};
use crate::config::Config;
use crate::domain::clock::Clock;
use crate::gateway::{Gateway, MasterKey, Settings};
use crate::metrics::MetricsServer;
use crate::pki::accept::incoming_observed;
use crate::pki::{CRL_FILE, ServerConfigHandle, ServerFiles, TlsReloader};
use crate::storage::{Backend, Database, Sealer, Storage};

mod crl_floor;

/// A gateway bound to its port, ready to serve.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: ServerConfigHandle,
    reloader: TlsReloader,
    gateway: Gateway,
    storage: Arc<dyn Storage>,
    config: Config,
    shutdown: CancellationToken,
    /// The Prometheus port, when `metrics_listen` opens one.
    metrics: Option<MetricsServer>,
}

impl Server {
    /// Opens storage, loads the master key and certificates, and binds the
    /// listener.
    ///
    /// # Errors
    /// When any of these cannot be loaded or the address cannot be bound.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.validate()?;
        // Displayed without the password a PostgreSQL URL may carry.
        let database = Database::from_setting(&config.database);
        let backend = Backend::open(&database)
            .await
            .with_context(|| format!("opening database {database}"))?;
        // Lookups by identity number go through a key derived from the
        // master key: a fresh key over existing cases would make every one
        // of them unfindable, so a missing key is only made for a new
        // database.
        anyhow::ensure!(
            config.master_key.exists()
                || !(backend.storage().holds_cases().await? || backend.holds_key_check().await?),
            "the master key {} is missing but the database {} was sealed with one; restore the key file",
            config.master_key.display(),
            database
        );
        let master_key = MasterKey::load_or_create(&config.master_key)
            .with_context(|| format!("master key {}", config.master_key.display()))?;
        let storage = backend
            .sealed(Sealer::new(master_key.data_key()))
            .await
            .with_context(|| {
                format!(
                    "master key {} on database {database}",
                    config.master_key.display()
                )
            })?;
        anyhow::ensure!(
            config.certs_dir.join(CRL_FILE).exists(),
            "{} has no revocation list {CRL_FILE}: copy the CA's (or another replica's), or, where the CA's key is, `handover-gateway certs crl --dir {0}` writes one",
            config.certs_dir.display()
        );
        let files = ServerFiles::load(&config.certs_dir)?;
        publish_receipt_key(&master_key, &config.certs_dir);
        let tls = ServerConfigHandle::load(&files)
            .with_context(|| format!("TLS files in {}", config.certs_dir.display()))?;
        crl_floor::check_at_start(storage.as_ref(), &tls, &config.certs_dir).await?;
        let reloader = TlsReloader::new(config.certs_dir.clone(), tls.clone(), files);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let metrics = match config.metrics_listen {
            Some(addr) => Some(
                MetricsServer::bind(addr)
                    .await
                    .with_context(|| format!("binding the metrics port {addr}"))?,
            ),
            None => None,
        };
        let shutdown = CancellationToken::new();
        let settings = Settings {
            deadlines: config.deadlines.clone(),
            access: config.access.clone(),
            heartbeat: config.heartbeat,
            escalation_scan: config.escalation_scan,
            limits: config.limits.clone(),
            ..Settings::default()
        };
        let gateway = Gateway::new(
            storage.clone(),
            clock,
            &master_key,
            settings,
            shutdown.clone(),
        );
        Ok(Self {
            listener,
            local_addr,
            tls,
            reloader,
            gateway,
            storage,
            config,
            shutdown,
            metrics,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound address of the Prometheus endpoint, when it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsServer::local_addr)
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The TLS configuration in force, which the reloader replaces.
    pub fn tls(&self) -> &ServerConfigHandle {
        &self.tls
    }

    /// Serves until `signal` completes, then stops accepting, ends open
    /// inbox streams, and waits up to the grace period for calls in flight.
    ///
    /// # Errors
    /// When the transport fails.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Server {
            listener,
            local_addr,
            tls,
            reloader,
            gateway,
            storage,
            config,
            shutdown,
            metrics,
        } = self;
        let limit = config.max_message_bytes;
        macro_rules! limited {
            ($service:expr) => {
                $service
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit)
            };
        }
        let (health_reporter, health) = tonic_health::server::health_reporter();
        set_health(&health_reporter, ServingStatus::Serving).await;
        let health_checking = tokio::spawn(follow_database(
            storage.clone(),
            health_reporter,
            config.health_check,
            shutdown.clone(),
        ));
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let router = TonicServer::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .max_connection_age(Duration::from_secs(3600))
            .add_service(health)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .add_service(limited!(IntakeServiceServer::new(IntakeApi::new(
                gateway.clone()
            ))))
            .add_service(limited!(InboxServiceServer::new(InboxApi::new(
                gateway.clone()
            ))))
            .add_service(limited!(CaseServiceServer::new(CaseApi::new(
                gateway.clone()
            ))))
            .add_service(limited!(SupervisionServiceServer::new(
                SupervisionApi::new(gateway.clone())
            )))
            .add_service(limited!(AuditServiceServer::new(AuditApi::new(
                gateway.clone()
            ))));
        tokio::spawn(gateway.clone().run_escalations());
        tokio::spawn(gateway.clone().follow_other_replicas());
        let reloading = tokio::spawn(reloader.run(config.tls_reload, shutdown.clone()));
        let keeping_floor = tokio::spawn(crl_floor::keep(
            storage.clone(),
            tls.clone(),
            gateway.metrics().clone(),
            config.tls_reload,
            shutdown.clone(),
        ));
        let scraping = metrics.map(|metrics| {
            let refresh = Arc::new(gateway.clone());
            let counters = gateway.metrics().clone();
            tokio::spawn(metrics.run(counters, refresh, config.metrics_refresh, shutdown.clone()))
        });
        let handshakes = gateway.metrics().clone();
        let connections = incoming_observed(
            listener,
            tls,
            config.handshake_timeout,
            shutdown.clone(),
            Arc::new(move |failure| handshakes.handshake_failed(failure.as_str())),
        );
        let stopping = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = signal => tracing::info!("shutdown requested"),
                () = stopping.cancelled() => {}
            }
            stopping.cancel();
        });
        tracing::info!(%local_addr, "serving");
        let serve =
            router.serve_with_incoming_shutdown(connections, shutdown.clone().cancelled_owned());
        tokio::pin!(serve);
        let served = tokio::select! {
            served = &mut serve => served,
            () = async {
                shutdown.cancelled().await;
                tokio::time::sleep(config.shutdown_grace).await;
            } => {
                tracing::warn!(grace = ?config.shutdown_grace, "calls still open after the grace period; closing them");
                Ok(())
            }
        };
        // The transport may also stop on its own, with an error.
        shutdown.cancel();
        if let Err(error) = reloading.await {
            tracing::error!(%error, "TLS reloader failed");
        }
        if let Err(error) = keeping_floor.await {
            tracing::error!(%error, "revocation list floor task failed");
        }
        if let Err(error) = health_checking.await {
            tracing::error!(%error, "health check failed");
        }
        if let Some(scraping) = scraping
            && let Err(error) = scraping.await
        {
            tracing::error!(%error, "metrics server failed");
        }
        storage.close().await;
        tracing::info!("stopped");
        served.context("serving gRPC")
    }

    /// A token that stops the server when cancelled, for embedding.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Writes the public key that checks receipts next to the CA certificate,
/// where clients already look. A read-only certificate folder does not stop
/// the gateway: receipts are signed all the same, and
/// `handover-gateway receipt public-key` prints the key.
fn publish_receipt_key(master_key: &MasterKey, certs_dir: &std::path::Path) {
    let key = master_key.receipt_signer().public_key();
    match key.publish(certs_dir) {
        Ok(path) => {
            tracing::info!(key_id = %key.key_id(), path = %path.display(), "receipt public key published");
        }
        Err(error) => {
            tracing::warn!(%error, key_id = %key.key_id(), "cannot publish the receipt public key");
        }
    }
}

/// The gateway's own services, as health checks name them, and `""`, the
/// whole server, which load balancers ask by default.
const SERVICES: [&str; 6] = [
    "",
    <IntakeServiceServer<IntakeApi> as NamedService>::NAME,
    <InboxServiceServer<InboxApi> as NamedService>::NAME,
    <CaseServiceServer<CaseApi> as NamedService>::NAME,
    <SupervisionServiceServer<SupervisionApi> as NamedService>::NAME,
    <AuditServiceServer<AuditApi> as NamedService>::NAME,
];

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

/// Keeps health in step with the database: NOT_SERVING while `storage`
/// does not answer, SERVING again once it does, and NOT_SERVING for good
/// from shutdown on. The only writer of health after start, so a recovery
/// can never overwrite the shutdown's NOT_SERVING.
async fn follow_database(
    storage: Arc<dyn Storage>,
    reporter: HealthReporter,
    every: Duration,
    shutdown: CancellationToken,
) {
    // A database that hangs instead of refusing (a lost network) would
    // otherwise hold each check for the pool's whole acquire timeout.
    let patience = every.max(Duration::from_secs(1));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = true;
    loop {
        let answer = tokio::select! {
            () = shutdown.cancelled() => break,
            answer = async {
                ticks.tick().await;
                tokio::time::timeout(patience, storage.ping()).await
            } => answer,
        };
        let failure = match answer {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!("no answer within {patience:?}")),
        };
        match (failure, serving) {
            (Some(error), true) => {
                tracing::warn!(%error, "the database does not answer; not serving until it does");
                set_health(&reporter, ServingStatus::NotServing).await;
                serving = false;
            }
            (None, false) => {
                tracing::info!("the database answers again; serving");
                set_health(&reporter, ServingStatus::Serving).await;
                serving = true;
            }
            _ => {}
        }
    }
    set_health(&reporter, ServingStatus::NotServing).await;
}

/// SIGINT or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
