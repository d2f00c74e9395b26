//! WAL checkpoints on a thread of their own.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past
//! a thousand pages: the writer then copies those pages into the database
//! file and flushes it before it can answer the jobs of that batch or start
//! the next one. That was a tenth of the writer's time, and a stall of a
//! whole batch each time. Here the writer turns automatic checkpoints off
//! and nudges this thread after its commits; the thread runs `PASSIVE`
//! checkpoints on its own connection, which copy what no reader still needs
//! while the writer goes on committing. Durability is unchanged: a commit
//! is durable once it is in the WAL, which the writer flushes itself.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Checkpoints start at most this often: each one flushes the database
/// file, and a busy writer commits hundreds of times in between.
const PAUSE: Duration = Duration::from_millis(100);

/// The writer's side: tells the thread that the WAL grew. Dropping it
/// ends the thread after its checkpoint in progress.
#[derive(Debug)]
pub(super) struct Checkpointer {
    nudges: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`.
    ///
    /// # Errors
    /// When the connection cannot be opened or the thread cannot start.
    pub(super) fn start(path: &Path) -> std::io::Result<Self> {
        let db = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|db| {
            db.busy_timeout(Duration::from_secs(5))?;
            db.execute_batch("PRAGMA synchronous = FULL;")?;
            Ok(db)
        })
        .map_err(std::io::Error::other)?;
        // One pending nudge is enough: it means "the WAL grew since the
        // last checkpoint", however many commits sent it.
        let (nudges, pending) = sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&db, &pending))?;
        Ok(Self { nudges })
    }

    /// The WAL grew; never blocks the writer.
    pub(super) fn nudge(&self) {
        match self.nudges.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                tracing::warn!("the checkpoint thread has stopped; the WAL is not checkpointed");
            }
        }
    }
}

fn run(db: &Connection, pending: &Receiver<()>) {
    while pending.recv().is_ok() {
        // (busy, frames in the WAL, frames checkpointed); a checkpoint
        // that could not finish (a reader still needs old frames) is
        // simply tried again after the next commit.
        let checkpointed = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match checkpointed {
            Ok((frames, copied)) => tracing::trace!(frames, copied, "checkpointed"),
            Err(error) => tracing::warn!(%error, "a WAL checkpoint failed"),
        }
        std::thread::sleep(PAUSE);
    }
}
