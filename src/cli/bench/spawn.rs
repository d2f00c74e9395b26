//! The processes under test: the gateway (`serve`) and the echo ceiling
//! (`bench --echo-server`), each a child of this binary, so that its
//! resident memory is its own and can be read from `/proc`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

use super::database_server::{DatabaseServer, Usage};
use super::procfs;
use super::workspace::Workspace;
use crate::pki::client_tls;

/// `serve --config` on the workspace's config.
pub fn gateway(workspace: &Workspace) -> anyhow::Result<Target> {
    let args = [
        OsStr::new("serve"),
        OsStr::new("--config"),
        workspace.config.as_os_str(),
    ];
    Target::spawn(
        "gateway",
        &args,
        &workspace.certs,
        &workspace.dir.join("gateway.log"),
    )
}

/// `bench --echo-server` on the workspace's certificates, every inbox
/// holding `backlog` messages.
pub fn echo(workspace: &Workspace, backlog: u64) -> anyhow::Result<Target> {
    let backlog = backlog.to_string();
    let args = [
        OsStr::new("bench"),
        OsStr::new("--echo-server"),
        workspace.certs.as_os_str(),
        OsStr::new("--echo-backlog"),
        OsStr::new(&backlog),
    ];
    Target::spawn(
        "echo",
        &args,
        &workspace.certs,
        &workspace.dir.join("echo.log"),
    )
}

/// A running server process and how to reach it as any agency.
pub struct Target {
    /// `gateway` or `echo`.
    pub name: &'static str,
    connector: Connector,
    child: Child,
    /// The database server the gateway writes to, when it runs here.
    server: Option<DatabaseServer>,
}

/// How to open a connection to a target, apart from the process, so that
/// spawned tasks can hold it.
#[derive(Clone, Debug)]
pub struct Connector {
    name: &'static str,
    port: u16,
    certs: PathBuf,
}

impl Target {
    /// Starts `current_exe() args…`, with stderr going to `log`, and waits
    /// for the line on stdout that ends with the bound address.
    pub fn spawn(
        name: &'static str,
        args: &[&OsStr],
        certs: &Path,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this binary")?;
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let logs = std::fs::read_to_string(log).unwrap_or_default();
                anyhow::bail!("the {name} did not start:\n{logs}");
            }
        };
        // Whatever else it prints must not fill the pipe and block it.
        std::thread::spawn(move || lines.for_each(drop));
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the {name} printed no port: {line}"))?;
        Ok(Self {
            name,
            server: None,
            connector: Connector {
                name,
                port,
                certs: certs.to_owned(),
            },
            child,
        })
    }

    /// A new mutual-TLS connection as `agency`.
    pub async fn channel(&self, agency: &str) -> anyhow::Result<Channel> {
        self.connector.channel(agency).await
    }

    pub fn connector(&self) -> Connector {
        self.connector.clone()
    }
}

impl Connector {
    /// A new mutual-TLS connection as `agency`.
    pub async fn channel(&self, agency: &str) -> anyhow::Result<Channel> {
        let read = |name: String| {
            let path = self.certs.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let tls = client_tls(
            &read("ca.pem".into())?,
            &read(format!("{agency}.pem"))?,
            &read(format!("{agency}-key.pem"))?,
            "localhost",
        );
        Endpoint::from_shared(format!("https://localhost:{}", self.port))?
            .tls_config(tls)?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to the {} as {agency}", self.name))
    }
}

impl Target {
    /// Resident memory now and at its peak, in MB.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| -> Option<f64> {
            let line = status.lines().find(|line| line.starts_with(name))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        };
        Ok(Memory {
            rss_mb: field("VmRSS:").context("no VmRSS")?,
            peak_mb: field("VmHWM:").context("no VmHWM")?,
        })
    }

    /// CPU time the process has used so far, user and system, all threads
    /// (`/proc/<pid>/stat`); `None` where there is no such file.
    pub fn cpu_seconds(&self) -> Option<f64> {
        procfs::cpu_seconds(&procfs::read(self.child.id(), "stat")?)
    }

    /// Bytes the process has written to storage so far (`/proc/<pid>/io`);
    /// `None` where there is no such file.
    pub fn disk_bytes(&self) -> Option<u64> {
        procfs::disk_bytes(&procfs::read(self.child.id(), "io")?)
    }

    /// Counts the work of `server`, the database server this process
    /// writes to, beside its own.
    pub fn count_server_work(&mut self, server: DatabaseServer) {
        self.server = Some(server);
    }

    pub fn server_usage(&self) -> Option<Usage> {
        self.server.as_ref()?.usage()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `grace`).
    pub async fn stop(mut self, grace: Duration) {
        // The exit status is taken here; `Drop` then finds nothing to kill.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        eprintln!("warning: the {} exited with {status}", self.name);
                    }
                    return;
                }
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => {
                    eprintln!(
                        "warning: the {} did not stop within {grace:?}; killed",
                        self.name
                    );
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

/// A run that fails or is interrupted must not leave servers behind.
impl Drop for Target {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub rss_mb: f64,
    pub peak_mb: f64,
}
