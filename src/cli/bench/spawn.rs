//! The processes under test: the gateway (`serve`) and the echo ceiling
//! (`bench --echo-server`), each a child of this binary, so that its
//! resident memory is its own and can be read from `/proc`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::server::{DatabaseServer, Usage};
use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

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
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        cpu_seconds(&stat)
    }

    /// Bytes the process has written to storage so far (`/proc/<pid>/io`);
    /// `None` where there is no such file.
    pub fn disk_bytes(&self) -> Option<u64> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).ok()?;
        disk_bytes(&io)
    }

    /// Counts `server`'s work beside this process's own.
    pub fn watch(&mut self, server: DatabaseServer) {
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

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The fields
/// are counted after the command name, which is in parentheses and may
/// hold spaces; the unit is `USER_HZ`, which Linux fixes at 100 for what it
/// reports to user space.
pub(super) fn cpu_seconds(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / USER_HZ)
}

/// `write_bytes` less `cancelled_write_bytes` of a `/proc/<pid>/io` file:
/// what reached the page cache to be written, less what was truncated
/// before it was (a WAL cut back when it starts over).
pub(super) fn disk_bytes(io: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = io.lines().find(|line| line.starts_with(name))?;
        line[name.len()..].trim().parse().ok()
    };
    let written = field("write_bytes:")?;
    Some(written.saturating_sub(field("cancelled_write_bytes:").unwrap_or(0)))
}

#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub rss_mb: f64,
    pub peak_mb: f64,
}

#[cfg(test)]
mod tests {
    use super::{cpu_seconds, disk_bytes};

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (serve (x) y) S 1 4242 4242 0 -1 4194560 2013 0 0 0 250 31 0 0 20 0 9 0";
        assert_eq!(cpu_seconds(stat), Some(2.81));
        assert_eq!(cpu_seconds("4242 (serve) S 1"), None);
        assert_eq!(cpu_seconds("no name here"), None);
    }

    #[test]
    fn bytes_written_are_those_not_cancelled_by_a_truncation() {
        let io = "rchar: 6976\nwchar: 90\nsyscr: 10\nsyscw: 3\nread_bytes: 0\n\
                  write_bytes: 8765440\ncancelled_write_bytes: 4096\n";
        assert_eq!(disk_bytes(io), Some(8_761_344));
        assert_eq!(disk_bytes("write_bytes: 4096\n"), Some(4096));
        assert_eq!(disk_bytes("cancelled_write_bytes: 4096\n"), None);
        assert_eq!(disk_bytes("write_bytes: many\n"), None);
    }
}
