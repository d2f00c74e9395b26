//! Real `handover-gateway serve` processes as replicas on one database: the
//! built binary, started from one configuration file that names the shared
//! certificates and master key, each bound to a port of its own.
//! (tests/gateway/process.rs does the same on SQLite, but leans on that
//! suite's helpers.)

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

/// The files every replica shares: certificates, master key and the
/// configuration that names them and the database.
pub struct Shared {
    dir: TempDir,
}

impl Shared {
    /// A configuration for the database at `url`, on port 0, with inbox
    /// heartbeats short enough for a test and limits no test reaches (the
    /// real clock refills them, but a burst of retries should not wait; on
    /// a loaded machine a write can take longer than the default
    /// `pending_latency`, and a refusal would stop the failover test's
    /// clients, which stop at their first failed call).
    pub fn new(url: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "listen = \"127.0.0.1:0\"\n\
             database = {database:?}\n\
             certs_dir = {certs:?}\n\
             master_key = {key:?}\n\
             heartbeat = \"200ms\"\n\
             health_check = \"200ms\"\n\
             [limits]\n\
             calls_per_second = 1000000.0\n\
             burst = 1000000\n\
             police_queries_per_day = 0\n\
             pending_wait = \"30s\"\n\
             pending_latency = \"0s\"\n",
            database = url.to_str().unwrap(),
            certs = dir.path().join("certs").to_str().unwrap(),
            key = dir.path().join("master.key").to_str().unwrap(),
        );
        std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
        Self { dir }
    }

    pub fn certs_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("gateway.toml")
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.certs_dir().join(name)).unwrap()
    }
}

/// A running replica; killed when dropped, so that a failing test leaves no
/// process behind.
pub struct Replica {
    child: Option<Child>,
    port: u16,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl Replica {
    /// Starts the binary and waits for the line that reports its port, by
    /// which time it has opened the database and the master key.
    pub fn spawn(shared: &Shared) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
            .arg("serve")
            .arg("--config")
            .arg(shared.config())
            .env("HANDOVER_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let logs = std::thread::spawn(move || {
            let mut logs = String::new();
            let _ = stderr.read_to_string(&mut logs);
            logs
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(port) = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the replica did not start: {line:?}\n{}",
                logs.join().unwrap()
            );
        };
        Self {
            child: Some(child),
            port,
            logs: Some(logs),
        }
    }

    /// A mutual-TLS channel to this replica as `agency`.
    pub async fn channel(&self, shared: &Shared, agency: &str) -> Channel {
        let tls = handover_gateway::pki::client_tls(
            &shared.read("ca.pem"),
            &shared.read(&format!("{agency}.pem")),
            &shared.read(&format!("{agency}-key.pem")),
            "localhost",
        );
        Endpoint::from_shared(format!("https://localhost:{}", self.port))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// SIGKILL: no shutdown path runs. The logs written until then.
    pub fn kill(mut self) -> String {
        self.stop(false)
    }

    /// SIGTERM, and the clean exit it must bring.
    pub fn terminate(mut self) -> String {
        self.stop(true)
    }

    fn stop(&mut self, gracefully: bool) -> String {
        let Some(mut child) = self.child.take() else {
            return String::new();
        };
        if gracefully {
            let pid = child.id().to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            assert!(sent.success());
        } else {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        let logs = self
            .logs
            .take()
            .map(|l| l.join().unwrap())
            .unwrap_or_default();
        if gracefully {
            assert!(status.success(), "exit on SIGTERM: {status}\n{logs}");
        }
        logs
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
