//! The real `handover-gateway` process, stopped and started again.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;

use crate::support::*;

/// A running `handover-gateway serve` on the files of a test directory.
pub(crate) struct Process {
    child: Child,
    port: u16,
    logs: std::thread::JoinHandle<String>,
}

pub(crate) fn spawn_process(dir: &Path) -> Process {
    spawn_process_with(dir, &[])
}

/// Starts the binary on port 0 with `extra` flags and waits for the line
/// that reports the port it bound.
pub(crate) fn spawn_process_with(dir: &Path, extra: &[OsString]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--database")
        .arg(dir.join("data/gateway.db"))
        .arg("--certs-dir")
        .arg(certs_dir(dir))
        .arg("--master-key")
        .arg(dir.join("data/master.key"))
        .args(extra)
        .env("HANDOVER_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut logs);
        logs
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect(&line);
    Process { child, port, logs }
}

impl Process {
    /// SIGTERM, then the logs the process wrote.
    pub(crate) fn terminate(mut self) -> String {
        self.signal_terminate();
        let status = self.child.wait().unwrap();
        let logs = self.logs.join().unwrap();
        assert!(
            status.success(),
            "the gateway exits cleanly on SIGTERM: {status}\n{logs}"
        );
        logs
    }

    /// Sends SIGTERM and returns at once.
    pub(crate) fn signal_terminate(&self) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success());
    }

    /// SIGKILL: no shutdown path runs. Returns the logs written until then.
    pub(crate) fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.logs.join().unwrap()
    }

    /// Polls until the process has exited or `limit` has passed; `None`
    /// (after killing it) when it was still running.
    pub(crate) async fn exit_within(mut self, limit: Duration) -> (Option<ExitStatus>, String) {
        let deadline = tokio::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        (status, self.logs.join().unwrap())
    }

    pub(crate) async fn app(&self, dir: &Path) -> ProcessClient {
        ProcessClient {
            certs: certs_dir(dir),
            port: self.port,
        }
    }
}

pub(crate) struct ProcessClient {
    certs: std::path::PathBuf,
    port: u16,
}

impl ProcessClient {
    pub(crate) async fn channel(&self, agency: &str) -> tonic::transport::Channel {
        let read = |name: &str| std::fs::read_to_string(self.certs.join(name)).unwrap();
        let tls = handover_gateway::pki::client_tls(
            &read("ca.pem"),
            &read(&format!("{agency}.pem")),
            &read(&format!("{agency}-key.pem")),
            "localhost",
        );
        tonic::transport::Endpoint::from_shared(format!("https://localhost:{}", self.port))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

// Multi-threaded: `terminate` blocks its thread while the clients'
// connections must still answer the server's GOAWAY.
#[tokio::test(flavor = "multi_thread")]
async fn cases_and_inboxes_survive_a_restart_of_the_process_and_logs_hold_no_identity_number() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let number = id_number("19900307", 401);

    let process = spawn_process(dir.path());
    let client = process.app(dir.path()).await;
    let mut request = discharge("r-1", "D-restart", person(&number, "140106", None));
    request.released_at = Some(handover_gateway::api::timestamp(
        time::OffsetDateTime::now_utc(),
    ));
    let mut intake =
        pb::intake_service_client::IntakeServiceClient::new(client.channel("taiyuan-detox").await);
    let receipt = intake
        .submit_discharge(request.clone())
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    let mut logs = process.terminate();

    let process = spawn_process(dir.path());
    let client = process.app(dir.path()).await;
    let mut intake =
        pb::intake_service_client::IntakeServiceClient::new(client.channel("taiyuan-detox").await);
    let replayed = intake
        .submit_discharge(request)
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap();
    assert_eq!(replayed, receipt, "the stored answer survived");

    let mut cases =
        pb::case_service_client::CaseServiceClient::new(client.channel("yingze-police").await);
    let case = cases
        .get_case(pb::GetCaseRequest {
            key: Some(Key::IdNumber(number.clone())),
            purpose: "restart check".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.case_id, receipt.case_id);

    let mut inbox =
        pb::inbox_service_client::InboxServiceClient::new(client.channel("yingze-project").await);
    let mut stream = subscribe(&mut inbox, None).await;
    let message = next_message(&mut stream).await;
    assert_eq!(
        (message.position, message.case.unwrap().case_id),
        (1, receipt.case_id)
    );
    drop(stream);
    logs.push_str(&process.terminate());

    assert!(logs.contains("accepted"), "debug logs were captured");
    assert!(
        !logs.contains(&number),
        "an identity number reached the logs"
    );
    assert!(
        !logs.contains(&number[6..14]),
        "a birth date reached the logs"
    );
    assert!(
        !logs.contains('\u{1b}'),
        "logs written to a pipe or a file carry no terminal colour codes"
    );
}

#[tokio::test]
async fn a_gateway_whose_master_key_went_missing_refuses_to_start_over_existing_cases() {
    let app = spawn_app().await;
    let person = person(&id_number("19900307", 321), "140106", None);
    submit_as_detox(&app, discharge("r-key", "D-KEY", person)).await;
    let dir = app.stop().await;
    std::fs::remove_file(dir.path().join("data/master.key")).unwrap();
    let clock = std::sync::Arc::new(handover_gateway::domain::clock::ManualClock::new(START));
    let refused = handover_gateway::server::Server::build(config(dir.path()), clock)
        .await
        .err()
        .expect("started without its master key");
    assert!(refused.to_string().contains("master key"), "{refused:#}");
    assert!(!dir.path().join("data/master.key").exists());
}

/// A gateway that started once on an empty database sealed its key check
/// there: without the key file it refuses to start rather than make a new
/// key, and with another key file it refuses too, naming the file.
#[tokio::test]
async fn a_gateway_refuses_another_or_a_missing_master_key_once_it_started_on_the_database() {
    let app = spawn_app().await;
    let dir = app.stop().await;
    let key = dir.path().join("data/master.key");
    std::fs::remove_file(&key).unwrap();
    let start = |dir: &std::path::Path| {
        let clock = std::sync::Arc::new(handover_gateway::domain::clock::ManualClock::new(START));
        handover_gateway::server::Server::build(config(dir), clock)
    };
    let refused = start(dir.path())
        .await
        .err()
        .expect("started without its key");
    assert!(refused.to_string().contains("master key"), "{refused:#}");
    assert!(!key.exists(), "no key made");

    std::fs::write(&key, "07".repeat(32)).unwrap();
    let refused = start(dir.path())
        .await
        .err()
        .expect("started with another key");
    let message = format!("{refused:#}");
    assert!(message.contains("is not the one"), "{message}");
    assert!(message.contains("master.key"), "{message}");
}
