//! Backpressure on the write path: at most `pending_writes` submissions
//! are being planned and committed at once; one more waits up to
//! `pending_wait` for a place and is then refused `RESOURCE_EXHAUSTED`
//! with a time to retry.
//!
//! Without it an overload queues without bound: every waiting call holds
//! its request and connection in memory, all of them eventually time out
//! in the client with nothing known, and the gateway stays slow long after
//! the burst. A quick refusal is safe to retry (a request id replays its
//! answer), tells the client to back off, and keeps the writes that were
//! admitted at their usual latency.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Exhausted, GatewayError, Result};

/// Places for writes in progress.
#[derive(Debug)]
pub(super) struct Admission {
    places: Arc<Semaphore>,
    wait: Duration,
}

impl Admission {
    pub(super) fn new(pending_writes: u32, wait: Duration) -> Self {
        let places = usize::try_from(pending_writes.max(1)).unwrap_or(usize::MAX);
        Self {
            places: Arc::new(Semaphore::new(places.min(Semaphore::MAX_PERMITS))),
            wait,
        }
    }

    /// A place for one write, held until the permit is dropped.
    ///
    /// # Errors
    /// [`GatewayError::Exhausted`] when none came free within the wait.
    pub(super) async fn enter(&self) -> Result<OwnedSemaphorePermit> {
        let place = Arc::clone(&self.places).acquire_owned();
        match tokio::time::timeout(self.wait, place).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => Err(GatewayError::Exhausted(Exhausted {
                message: "the gateway is writing as fast as it can; retry the same request later"
                    .into(),
                retry_after: self.wait.max(Duration::from_millis(100)),
                subject: "pending_writes".into(),
            })),
        }
    }
}
