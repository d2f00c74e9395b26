//! `spawn_app()`: the real server on an ephemeral port, with real
//! certificates made for the test, a real SQLite file and a clock the test
//! moves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::api::pb::audit_service_client::AuditServiceClient;
use handover_gateway::api::pb::case_service_client::CaseServiceClient;
use handover_gateway::api::pb::inbox_service_client::InboxServiceClient;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::api::pb::supervision_service_client::SupervisionServiceClient;
use handover_gateway::bootstrap;
use handover_gateway::config::Config;
use handover_gateway::domain::agency::{Agency, AgencyId};
use handover_gateway::domain::audit::{AuditCaller, AuditEntry};
use handover_gateway::domain::clock::ManualClock;
use handover_gateway::domain::id_number::with_check_character;
use handover_gateway::gateway::{Gateway, Limits};
use handover_gateway::pki::{CertificateAuthority, ServerConfigHandle, client_tls};
use handover_gateway::server::Server;
use handover_gateway::storage::SqliteStorage;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

pub const START: time::OffsetDateTime = time::macros::datetime!(2026-11-28 02:00 UTC);

pub struct App {
    pub dir: TempDir,
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub stop: CancellationToken,
    pub server: JoinHandle<anyhow::Result<()>>,
    /// The running gateway, for calling a scan directly.
    pub gateway: Gateway,
    /// Its TLS configuration, to see reloads.
    pub tls: ServerConfigHandle,
}

pub fn certs_dir(dir: &Path) -> PathBuf {
    dir.join("certs")
}

pub fn config(dir: &Path) -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: dir.join("data/gateway.db"),
        certs_dir: certs_dir(dir),
        master_key: dir.join("data/master.key"),
        heartbeat: Duration::from_millis(300),
        shutdown_grace: Duration::from_secs(5),
        escalation_scan: Duration::from_millis(50),
        tls_reload: Duration::from_millis(100),
        // The test clock stands still, so buckets would never refill, and
        // a slow moment of a busy machine must not refuse a submission;
        // tests/gateway/limits.rs sets its own.
        limits: Limits {
            calls_per_second: 1e6,
            burst: 1_000_000,
            police_queries_per_day: 0,
            pending_latency: Duration::ZERO,
            ..Limits::default()
        },
        ..Config::default()
    }
}

/// The example registry of the development bootstrap: taiyuan-detox,
/// yingze-project/police (140106), xiaodian-project/police (140105),
/// taiyuan-police (140100) and shanxi-office (140000).
pub async fn prepare(dir: &Path) {
    let storage = SqliteStorage::open(&dir.join("data/gateway.db"))
        .await
        .unwrap();
    bootstrap::development(&certs_dir(dir), &storage)
        .await
        .unwrap();
    storage.close().await;
}

pub async fn spawn_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    start(dir).await
}

/// Starts a gateway on the files in `dir`.
pub async fn start(dir: TempDir) -> App {
    start_at(dir, START).await
}

/// Starts a gateway on the files in `dir` with its clock at `now`.
pub async fn start_at(dir: TempDir, now: time::OffsetDateTime) -> App {
    let config = config(dir.path());
    start_with(dir, now, config).await
}

/// Starts a gateway on the files in `dir` with `config`.
pub async fn start_with(dir: TempDir, now: time::OffsetDateTime, config: Config) -> App {
    let clock = Arc::new(ManualClock::new(now));
    let server = Server::build(config, clock.clone()).await.unwrap();
    let addr = server.local_addr();
    let stop = server.shutdown_token();
    let gateway = server.gateway().clone();
    let tls = server.tls().clone();
    let server = tokio::spawn(server.run(std::future::pending()));
    App {
        dir,
        addr,
        clock,
        stop,
        server,
        gateway,
        tls,
    }
}

impl App {
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(certs_dir(self.dir.path()).join(name)).unwrap()
    }

    pub fn ca(&self) -> CertificateAuthority {
        CertificateAuthority::load(&certs_dir(self.dir.path())).unwrap()
    }

    pub async fn channel_with(
        &self,
        tls: ClientTlsConfig,
    ) -> Result<Channel, tonic::transport::Error> {
        Endpoint::from_shared(format!("https://localhost:{}", self.addr.port()))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
    }

    /// Whether a new connection with this certificate gets through the
    /// TLS handshake. The health service asks for no registered agency,
    /// so only TLS decides; with TLS 1.3 a refused client may learn it at
    /// connect or on its first call.
    pub async fn handshake_passes(&self, cert_pem: &str, key_pem: &str) -> bool {
        let tls = client_tls(&self.read("ca.pem"), cert_pem, key_pem, "localhost");
        let Ok(channel) = self.channel_with(tls).await else {
            return false;
        };
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .is_ok()
    }

    pub async fn channel(&self, agency: &str) -> Channel {
        let tls = client_tls(
            &self.read("ca.pem"),
            &self.read(&format!("{agency}.pem")),
            &self.read(&format!("{agency}-key.pem")),
            "localhost",
        );
        self.channel_with(tls).await.unwrap()
    }

    pub async fn intake(&self, agency: &str) -> IntakeServiceClient<Channel> {
        IntakeServiceClient::new(self.channel(agency).await)
    }

    pub async fn inbox(&self, agency: &str) -> InboxServiceClient<Channel> {
        InboxServiceClient::new(self.channel(agency).await)
    }

    pub async fn cases(&self, agency: &str) -> CaseServiceClient<Channel> {
        CaseServiceClient::new(self.channel(agency).await)
    }

    pub async fn audit_heads(&self, agency: &str) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.channel(agency).await)
    }

    pub async fn supervision(&self, agency: &str) -> SupervisionServiceClient<Channel> {
        SupervisionServiceClient::new(self.channel(agency).await)
    }

    /// The case as the province's oversight office sees it, with history.
    pub async fn case_for_office(&self, case_id: &str) -> pb::Case {
        self.cases("shanxi-office")
            .await
            .get_case(pb::GetCaseRequest {
                key: Some(pb::get_case_request::Key::CaseId(case_id.into())),
                purpose: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// Stops the server gracefully and hands back its files.
    pub async fn stop(self) -> TempDir {
        self.stop.cancel();
        self.server.await.unwrap().unwrap();
        self.dir
    }
}

/// A valid identity number born on `birth` (YYYYMMDD) with sequence `seq`.
pub fn id_number(birth: &str, seq: u32) -> String {
    with_check_character(&format!("140106{birth}{seq:03}")).unwrap()
}

pub fn person(id_number: &str, household: &str, residence: Option<&str>) -> pb::Person {
    pb::Person {
        id_number: id_number.to_owned(),
        name: "张三".into(),
        sex: pb::Sex::Unspecified.into(),
        household_region: household.into(),
        residence_region: residence.unwrap_or_default().into(),
        residence_consent: residence.is_some(),
    }
}

pub fn discharge(
    request_id: &str,
    decision: &str,
    person: pb::Person,
) -> pb::SubmitDischargeRequest {
    pb::SubmitDischargeRequest {
        request_id: request_id.into(),
        decision_number: decision.into(),
        person: Some(person),
        released_at: Some(prost_types::Timestamp {
            seconds: START.unix_timestamp() - 3600,
            nanos: 0,
        }),
        term_months: 36,
    }
}

/// Reads the next inbox message, skipping heartbeats; fails after 10 s.
pub async fn next_message(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
) -> pb::InboxMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let item = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("no inbox message within 10 s")
            .unwrap()
            .expect("the stream ended");
        if let Some(pb::subscribe_response::Event::Message(message)) = item.event {
            return message;
        }
    }
}

pub async fn subscribe(
    client: &mut InboxServiceClient<Channel>,
    after: Option<u64>,
) -> tonic::Streaming<pb::SubscribeResponse> {
    client
        .subscribe(pb::SubscribeRequest {
            after_position: after,
        })
        .await
        .unwrap()
        .into_inner()
}

pub fn violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Submits a discharge as the example detox center and returns its receipt.
pub async fn submit_as_detox(app: &App, request: pb::SubmitDischargeRequest) -> pb::Receipt {
    app.intake("taiyuan-detox")
        .await
        .submit_discharge(request)
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap()
}

/// Disables `agency` in the registry past the running gateway, as another
/// replica or an operator would.
pub async fn disable(app: &App, agency: &str) {
    let storage = app.gateway.storage();
    let id = AgencyId::parse(agency).unwrap();
    let registered = storage.agency(&id).await.unwrap().unwrap();
    storage
        .register_agency(&Agency {
            enabled: false,
            ..registered
        })
        .await
        .unwrap();
}

/// The whole audit log, read back.
pub async fn audit_log(app: &App) -> Vec<AuditEntry> {
    let rows = app
        .gateway
        .storage()
        .audit_entries(0, 10_000)
        .await
        .unwrap();
    rows.iter().map(|row| row.parse().unwrap()).collect()
}

/// The audit log's last entry, which must record a call refused as
/// unauthenticated whose certificate claimed `agency`.
pub async fn assert_last_call_unauthenticated(app: &App, agency: &str) {
    let log = audit_log(app).await;
    let last = log.last().unwrap();
    assert_eq!(
        last.record.caller,
        AuditCaller::Unauthenticated {
            claimed: Some(agency.into())
        }
    );
    assert_eq!(last.record.outcome, "UNAUTHENTICATED");
}

/// The messages of an inbox page read from storage, every one of which
/// must open.
pub trait Opened {
    fn opened(self) -> Vec<handover_gateway::domain::notice::InboxMessage>;
}

impl Opened for Vec<handover_gateway::domain::notice::InboxEntry> {
    fn opened(self) -> Vec<handover_gateway::domain::notice::InboxMessage> {
        self.into_iter()
            .map(|entry| match entry.message() {
                Some(message) => message.clone(),
                None => panic!("a stored message does not open: {entry:?}"),
            })
            .collect()
    }
}
