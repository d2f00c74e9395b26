//! The PostgreSQL server's own work, on a server on this machine: what all
//! its processes (the postmaster, the gateway's backends, the WAL writer,
//! the checkpointer) spent in CPU and wrote to storage while a scenario
//! ran. The gateway's own figures leave out what it hands to the server,
//! which on PostgreSQL is most of a write.

use super::spawn::{cpu_seconds, disk_bytes};

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

impl DatabaseServer {
    /// The server whose backend `backend` is, when that process and its
    /// parent are PostgreSQL's on this machine (a remote server's backend
    /// id names no process here, or someone else's).
    pub fn of_backend(backend: u32) -> Option<Self> {
        let parent = parent_of(&read(backend, "stat")?)?;
        let postgres =
            |pid: u32| read(pid, "comm").is_some_and(|name| name.starts_with("postgres"));
        (postgres(backend) && postgres(parent)).then_some(Self { postmaster: parent })
    }

    pub fn postmaster(&self) -> u32 {
        self.postmaster
    }

    /// The postmaster's CPU (with what its finished children left it) and
    /// that of its live children; what they wrote. A backend that ends
    /// between two readings moves its CPU into the postmaster's children
    /// figures, so nothing is lost, but its writes are not counted.
    pub fn usage(&self) -> Option<Usage> {
        let stat = read(self.postmaster, "stat")?;
        let mut cpu = cpu_seconds(&stat)? + children_cpu_seconds(&stat)?;
        let mut disk = read(self.postmaster, "io").as_deref().and_then(disk_bytes);
        for child in self.children() {
            let Some(stat) = read(child, "stat") else {
                continue;
            };
            cpu += cpu_seconds(&stat).unwrap_or(0.0);
            let written = read(child, "io").as_deref().and_then(disk_bytes);
            disk = disk.zip(written).map(|(sum, bytes)| sum + bytes);
        }
        Some(Usage {
            cpu_seconds: cpu,
            disk_bytes: disk,
        })
    }

    fn children(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| {
                read(pid, "stat")
                    .as_deref()
                    .and_then(parent_of)
                    .is_some_and(|parent| parent == self.postmaster)
            })
            .collect()
    }
}

fn read(pid: u32, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()
}

/// The fields of a `/proc/<pid>/stat` line after the command name, which
/// is in parentheses and may hold spaces: the state is the first.
fn after_name(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace())
}

fn parent_of(stat: &str) -> Option<u32> {
    after_name(stat)?.nth(1)?.parse().ok()
}

/// `cutime + cstime`: the CPU of children the process has waited for.
fn children_cpu_seconds(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let mut fields = after_name(stat)?.skip(13);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::{DatabaseServer, children_cpu_seconds, parent_of};

    const STAT: &str =
        "4242 (postgres: x (y)) S 17 4242 4242 0 -1 4194560 2013 0 0 0 250 31 70 5 20 0 9 0";

    #[test]
    fn the_parent_and_the_childrens_cpu_are_read_after_the_name() {
        assert_eq!(parent_of(STAT), Some(17));
        assert_eq!(children_cpu_seconds(STAT), Some(0.75));
        assert_eq!(parent_of("4242 (postgres)"), None);
        assert_eq!(
            children_cpu_seconds("4242 (postgres) S 17 1 1 0 -1 0 0 0 0 0 250 31"),
            None
        );
    }

    #[test]
    fn a_process_that_is_not_postgresql_is_not_taken_for_its_server() {
        assert!(DatabaseServer::of_backend(std::process::id()).is_none());
        assert!(DatabaseServer::of_backend(u32::MAX).is_none());
    }
}
