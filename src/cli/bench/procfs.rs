//! What Linux's `/proc` tells of a process: its CPU time, its parent, and
//! what it wrote to storage. Elsewhere every reading is `None`.

/// `USER_HZ`, the unit of the CPU times in `stat`, which Linux fixes at
/// 100 for what it reports to user space.
const USER_HZ: f64 = 100.0;

/// `/proc/<pid>/<file>`, or `None` when the process is gone or the file
/// may not be read.
pub fn read(pid: u32, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()
}

/// The fields of a `stat` line after the command name, which is in
/// parentheses and may hold spaces: the state first.
fn after_name(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace())
}

/// The sum of the two CPU-time fields that follow the first `skip` fields
/// after the name, in seconds.
fn seconds_at(stat: &str, skip: usize) -> Option<f64> {
    let mut fields = after_name(stat)?.skip(skip);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / USER_HZ)
}

/// `utime + stime` of a `stat` line: the process's own CPU, all threads.
pub fn cpu_seconds(stat: &str) -> Option<f64> {
    seconds_at(stat, 11)
}

/// `cutime + cstime`: the CPU of the children it has waited for.
pub fn children_cpu_seconds(stat: &str) -> Option<f64> {
    seconds_at(stat, 13)
}

pub fn parent_of(stat: &str) -> Option<u32> {
    after_name(stat)?.nth(1)?.parse().ok()
}

/// `write_bytes` less `cancelled_write_bytes` of an `io` file: what reached
/// the page cache to be written, less what was truncated before it was (a
/// WAL cut back when it starts over). Includes what the children it has
/// waited for wrote.
pub fn disk_bytes(io: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = io.lines().find(|line| line.starts_with(name))?;
        line[name.len()..].trim().parse().ok()
    };
    let written = field("write_bytes:")?;
    Some(written.saturating_sub(field("cancelled_write_bytes:").unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::{children_cpu_seconds, cpu_seconds, disk_bytes, parent_of};

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (serve (x) y) S 1 4242 4242 0 -1 4194560 2013 0 0 0 250 31 0 0 20 0 9 0";
        assert_eq!(cpu_seconds(stat), Some(2.81));
        assert_eq!(cpu_seconds("4242 (serve) S 1"), None);
        assert_eq!(cpu_seconds("no name here"), None);
    }

    #[test]
    fn the_parent_and_the_childrens_cpu_are_read_after_the_name() {
        let stat = "4242 (postgres: x (y)) S 17 4242 4242 0 -1 4194560 2013 0 0 0 250 31 70 5 20 0";
        assert_eq!(parent_of(stat), Some(17));
        assert_eq!(children_cpu_seconds(stat), Some(0.75));
        assert_eq!(parent_of("4242 (postgres)"), None);
        let short = "4242 (postgres) S 17 1 1 0 -1 0 0 0 0 0 250 31";
        assert_eq!(children_cpu_seconds(short), None);
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
