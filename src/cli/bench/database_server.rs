//! The PostgreSQL server's own work, on a server on this machine: what all
//! its processes (the postmaster, every backend, the WAL writer, the
//! checkpointer, autovacuum) spent in CPU and wrote to storage while a
//! scenario ran. The gateway's own figures leave out what it hands to the
//! server, which on PostgreSQL is most of a write. The figures are the whole
//! server's, so another database's sessions on it count too.

use super::procfs::{children_cpu_seconds, cpu_seconds, disk_bytes, parent_of, read};

/// A local server, found through the postmaster that forked a backend.
#[derive(Debug)]
pub struct DatabaseServer {
    postmaster: u32,
}

/// What the server's processes have used so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    /// `None` where the processes' `io` files may not be read (another
    /// user's processes, without the right to trace them).
    pub disk_bytes: Option<u64>,
}

/// Readings tried before giving up on one that no child's exit disturbed.
const ATTEMPTS: usize = 5;

impl DatabaseServer {
    /// The server whose backend `backend` is, serving `database`: when that
    /// process and its parent are PostgreSQL's on this machine. A remote
    /// server's backend id names no process here, or another one; the
    /// database's name, unique to the run, is on its backend's command line.
    pub fn of_backend(backend: u32, database: &str) -> Option<Self> {
        let serves = read(backend, "cmdline").is_some_and(|line| line.contains(database));
        let parent = parent_of(&read(backend, "stat")?)?;
        let postgres = |pid: u32| {
            read(pid, "comm")
                .is_some_and(|name| name.starts_with("postgres") || name.starts_with("postmaster"))
        };
        (serves && postgres(backend) && postgres(parent)).then_some(Self { postmaster: parent })
    }

    pub fn postmaster(&self) -> u32 {
        self.postmaster
    }

    /// The postmaster's CPU and writes (with what its finished children
    /// left it: the kernel adds both to the parent's when it reaps a child)
    /// and those of its live children. A child that ends during a reading
    /// would be missed by the walk over the live ones, or counted twice,
    /// so a reading is taken again until the postmaster's figures did not
    /// move across it.
    pub fn usage(&self) -> Option<Usage> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let before = self.own()?;
            let children = self.children();
            let after = self.own()?;
            let usage = Usage {
                cpu_seconds: after.cpu_seconds + children.cpu_seconds,
                disk_bytes: after
                    .disk_bytes
                    .zip(children.disk_bytes)
                    .map(|(a, b)| a + b),
            };
            if before == after {
                return Some(usage);
            }
            last = Some(usage);
        }
        last
    }

    /// The postmaster's own figures, with its reaped children's.
    fn own(&self) -> Option<Usage> {
        let stat = read(self.postmaster, "stat")?;
        Some(Usage {
            cpu_seconds: cpu_seconds(&stat)? + children_cpu_seconds(&stat)?,
            disk_bytes: read(self.postmaster, "io").as_deref().and_then(disk_bytes),
        })
    }

    /// The live children's own figures, summed. A child gone before its
    /// `io` was read is left out of both sums (its exit moves it into the
    /// postmaster's, which the caller sees move); one whose `io` may not be
    /// read makes the writes unknown.
    fn children(&self) -> Usage {
        let mut sum = Usage {
            cpu_seconds: 0.0,
            disk_bytes: Some(0),
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return sum;
        };
        let pids = entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok());
        for pid in pids {
            let Some(stat) = read(pid, "stat") else {
                continue;
            };
            if parent_of(&stat) != Some(self.postmaster) {
                continue;
            }
            let io = std::fs::read_to_string(format!("/proc/{pid}/io"));
            let written = match &io {
                Ok(io) => disk_bytes(io),
                Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => None,
                Err(_) => continue,
            };
            sum.cpu_seconds += cpu_seconds(&stat).unwrap_or(0.0);
            sum.disk_bytes = sum.disk_bytes.zip(written).map(|(a, b)| a + b);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use super::DatabaseServer;

    #[test]
    fn a_process_that_is_not_postgresql_is_not_taken_for_its_server() {
        assert!(DatabaseServer::of_backend(std::process::id(), "").is_none());
        assert!(DatabaseServer::of_backend(u32::MAX, "").is_none());
    }

    /// What a child used stays counted after it ends, as a backend's does
    /// when its connection closes during a scenario: here a shell stands
    /// for the postmaster, and a child of it busy for a moment for the
    /// backend.
    #[test]
    fn the_work_of_a_child_that_ended_is_still_counted() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let busy = "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done";
        let mut parent = Command::new("sh")
            .args(["-c", &format!("sh -c '{busy}'; echo ended; exec sleep 60")])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let server = DatabaseServer {
            postmaster: parent.id(),
        };
        let before = server.usage().unwrap();
        let mut ended = String::new();
        BufReader::new(parent.stdout.take().unwrap())
            .read_line(&mut ended)
            .unwrap();
        let after = server.usage().unwrap();
        parent.kill().unwrap();
        parent.wait().unwrap();
        assert_eq!(ended.trim(), "ended");
        assert!(
            after.cpu_seconds - before.cpu_seconds >= 0.1,
            "{before:?} then {after:?}"
        );
    }
}
