//! When the writer copies the WAL into the database file.
//!
//! SQLite checkpoints inside the commit that takes the WAL past a length
//! in pages, and that commit's callers wait for the copy and its `fsync`;
//! the length trades the tail latency of a light load against the work
//! per write of a heavy one. The writer also checkpoints after a batch
//! when no write waits (at most every [`IDLE_CHECKPOINT_EVERY`]), so that
//! under a light load the threshold is seldom met.

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
}
