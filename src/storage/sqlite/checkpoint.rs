//! When the writer copies the WAL into the database file.
//!
//! SQLite checkpoints inside the commit that takes the WAL past a length
//! in pages, and that commit's callers wait for the copy and its `fsync`;
//! the length trades the tail latency of a light load against the work
//! per write of a heavy one. The writer also checkpoints after a batch
//! when no write waits (at most every [`IDLE_CHECKPOINT_EVERY`]), so that
//! under a light load the threshold is seldom met, and under load has a
//! thread of its own copy beside it ([`Copier`]), so that the commit that
//! meets the threshold finds little left to copy.

use std::time::Duration;

use rusqlite::Connection;

/// The WAL's length, in pages, at which the commit that passes it copies
/// the WAL into the database (SQLite's default is 1,000). That commit's
/// callers wait for the copy and its fsync, so it sets the tail latency:
/// measured at 250, 500, 1,000 and 4,000 pages (BENCHMARKS.md), push
/// latency p99 was 3.7, 4.6, 6.2 and 13.8 ms, while throughput at
/// concurrency 64 moved within the runs' noise; 400 lies between the two
/// best, and measured 4.3-4.7 ms.
pub(super) const CHECKPOINT_PAGES: i64 = 400;

/// Under load the threshold grows with the batch, to about this many
/// pages per write of the batch. A write lands on about six pages at
/// random keys, so a batch of 64 makes about 400 pages: with the fixed
/// threshold nearly every such commit also checkpointed, writing each page
/// twice and syncing the database file once per batch. At 32 pages per
/// write the checkpoint comes every five batches or so. Measured at
/// concurrency 64 against the fixed threshold (BENCHMARKS.md): p99 lower
/// in each of three pairs, the rate within the runs' noise; the small
/// batches of a lighter load keep [`CHECKPOINT_PAGES`] and its short
/// stalls.
const CHECKPOINT_PAGES_PER_WRITE: i64 = 32;

/// The threshold never grows past this, which bounds one checkpoint's
/// stall and keeps the WAL (about 16 MiB then) well within the size it is
/// cut back to.
const CHECKPOINT_PAGES_MAX: i64 = 4000;

/// The WAL length that checkpoints, for a batch of `writes` jobs.
pub(super) fn checkpoint_pages(writes: usize) -> i64 {
    let scaled = i64::try_from(writes)
        .unwrap_or(i64::MAX)
        .saturating_mul(CHECKPOINT_PAGES_PER_WRITE);
    scaled.clamp(CHECKPOINT_PAGES, CHECKPOINT_PAGES_MAX)
}

/// After a batch, when no write waits, the writer checkpoints (`PASSIVE`:
/// it never waits for readers) at most this often. Measured at 1,000 writes a
/// second against checkpoints in commits only (BENCHMARKS.md): push p99
/// lower in five of six pairs, c=1 p99 lower in each of three, c=64
/// unchanged, since under load the queue is never empty.
pub(super) const IDLE_CHECKPOINT_EVERY: Duration = Duration::from_millis(10);

/// Wakes the copier thread after a commit: one wake-up stands for any
/// number of commits, since a copy takes everything committed before it.
#[derive(Debug)]
pub(super) struct Copier {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Copier {
    /// Starts a thread that copies the WAL into the database on a
    /// connection of its own, after each commit it hears of, so that most
    /// of the copying is done beside the writer instead of in a commit its
    /// callers wait for. The writer still checkpoints at its threshold:
    /// against a writer that never pauses a copy never reaches the WAL's
    /// end, and the WAL starts over only once a checkpoint has copied it
    /// all, which the writer's does, by then with little left to copy.
    /// Ends when the copier is dropped, which waits for it (and so for
    /// its connection to close), as the writer's close waits for the
    /// writer.
    pub(super) fn start(db: Connection) -> std::io::Result<Self> {
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-copier".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    checkpoint(&db);
                }
            })?;
        Ok(Self {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// After a commit: a copy is due.
    pub(super) fn wake(&self) {
        // Full: a wake-up is pending already, and covers this commit too.
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Copier {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies what it can of the WAL into the database without waiting for
/// readers (`PASSIVE`); whether that was all of it.
pub(super) fn checkpoint(db: &Connection) -> bool {
    let copied = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        let (busy, frames, copied): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
        Ok(busy == 0 && frames == copied)
    });
    copied.unwrap_or_else(|error| {
        tracing::warn!(%error, "an idle checkpoint failed");
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_threshold_grows_with_the_batch_within_its_bounds() {
        assert_eq!(checkpoint_pages(0), CHECKPOINT_PAGES);
        assert_eq!(checkpoint_pages(1), CHECKPOINT_PAGES);
        assert_eq!(checkpoint_pages(12), CHECKPOINT_PAGES);
        assert_eq!(checkpoint_pages(64), 64 * CHECKPOINT_PAGES_PER_WRITE);
        assert_eq!(checkpoint_pages(256), CHECKPOINT_PAGES_MAX);
        assert_eq!(checkpoint_pages(usize::MAX), CHECKPOINT_PAGES_MAX);
    }

    /// The copier copies a commit into the database file once woken,
    /// beside the connection that committed it.
    #[test]
    fn the_copier_copies_what_was_committed_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copier.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x INTEGER);",
            )
            .unwrap();
        // `immutable` reads the database file alone, never the WAL.
        let in_file = || {
            let uri = format!("file:{}?immutable=1", path.display());
            let flags =
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
            let file = Connection::open_with_flags(uri, flags).unwrap();
            file.query_row("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0))
                .unwrap_or(0)
        };
        let copier = Copier::start(Connection::open(&path).unwrap()).unwrap();
        writer
            .execute_batch(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100)
                 INSERT INTO t SELECT x FROM n;",
            )
            .unwrap();
        assert_eq!(in_file(), 0, "committed to the WAL only");
        copier.wake();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while in_file() < 100 {
            assert!(std::time::Instant::now() < deadline, "never copied");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
