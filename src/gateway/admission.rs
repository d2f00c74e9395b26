//! Backpressure on the write path, by count and by time.
//!
//! - At most `pending_writes` submissions are being planned and committed
//!   at once; one more waits up to `pending_wait` for a place and is then
//!   refused `RESOURCE_EXHAUSTED` with a time to retry.
//! - A count alone lets admitted calls wait as long as that many writes
//!   take: 1,024 places at 400 writes a second is two and a half seconds.
//!   So the time writes take is watched too: when even the quickest write
//!   that finished in the last [`INTERVAL`] took longer than
//!   `pending_latency`, writes are queueing faster than they commit, and
//!   new submissions are refused at once until one interval's quickest
//!   write is back under it. The quickest rather than the average, as in
//!   CoDel: a burst that drains within an interval is not refused, a
//!   standing queue is. Nothing is measured as a rate, so a burst after an
//!   idle hour is not mistaken for the write path's capacity.
//!
//! Without backpressure an overload queues without bound: every waiting
//! call holds its request and connection in memory, all of them
//! eventually time out in the client with nothing known, and the gateway
//! stays slow long after the burst. A quick refusal is safe to retry (a
//! request id replays its answer), tells the client to back off, and keeps
//! the writes that were admitted at their usual latency.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Exhausted, GatewayError, Result};

/// How long the quickest write must stay above `pending_latency` before
/// submissions are refused, and how often that is looked at again.
const INTERVAL: Duration = Duration::from_millis(100);

/// Places for writes in progress, and how long they take.
#[derive(Debug)]
pub(super) struct Admission {
    places: Arc<Semaphore>,
    wait: Duration,
    /// `pending_latency`, also the time a refused caller is told to wait.
    latency: Duration,
    queue: Arc<Mutex<Queue>>,
}

/// A place for one write; gives it back, and notes how long the write
/// took, when dropped.
#[derive(Debug)]
pub(super) struct Place {
    _permit: OwnedSemaphorePermit,
    entered: Instant,
    queue: Arc<Mutex<Queue>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let now = Instant::now();
        lock(&self.queue).finished(now.saturating_duration_since(self.entered), now);
    }
}

impl Admission {
    pub(super) fn new(pending_writes: u32, wait: Duration, latency: Duration) -> Self {
        let places = usize::try_from(pending_writes.max(1)).unwrap_or(usize::MAX);
        Self {
            places: Arc::new(Semaphore::new(places.min(Semaphore::MAX_PERMITS))),
            wait,
            latency,
            queue: Arc::new(Mutex::new(Queue::new(latency, Instant::now()))),
        }
    }

    /// A place for one write, held until it is dropped.
    ///
    /// # Errors
    /// [`GatewayError::Exhausted`] when writes are queueing (see the module
    /// documentation), or no place came free within the wait.
    pub(super) async fn enter(&self) -> Result<Place> {
        let entered = Instant::now();
        if lock(&self.queue).queueing(entered) {
            let retry_after = self.latency.max(Duration::from_millis(100));
            return Err(self.refusal("pending_latency", retry_after));
        }
        let place = Arc::clone(&self.places).acquire_owned();
        match tokio::time::timeout(self.wait, place).await {
            Ok(Ok(permit)) => Ok(Place {
                _permit: permit,
                entered,
                queue: Arc::clone(&self.queue),
            }),
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => {
                Err(self.refusal("pending_writes", self.wait.max(Duration::from_millis(100))))
            }
        }
    }

    fn refusal(&self, subject: &str, retry_after: Duration) -> GatewayError {
        GatewayError::Exhausted(Exhausted {
            message: "the gateway is writing as fast as it can; retry the same request later"
                .into(),
            retry_after,
            subject: subject.into(),
        })
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Whether writes are queueing, judged one interval at a time from the
/// quickest write of the interval.
#[derive(Debug)]
struct Queue {
    latency: Duration,
    interval_started: Instant,
    quickest: Option<Duration>,
    queueing: bool,
}

impl Queue {
    fn new(latency: Duration, now: Instant) -> Self {
        Self {
            latency,
            interval_started: now,
            quickest: None,
            queueing: false,
        }
    }

    fn finished(&mut self, took: Duration, now: Instant) {
        self.quickest = Some(self.quickest.map_or(took, |quickest| quickest.min(took)));
        self.look(now);
    }

    fn queueing(&mut self, now: Instant) -> bool {
        self.look(now);
        self.queueing
    }

    /// Closes the interval once it is over. An interval in which no write
    /// finished says nothing is queued behind a slow write (the count
    /// bounds that case), so it ends the refusals.
    fn look(&mut self, now: Instant) {
        if now.saturating_duration_since(self.interval_started) < INTERVAL {
            return;
        }
        self.queueing = self
            .quickest
            .is_some_and(|quickest| quickest > self.latency);
        self.quickest = None;
        self.interval_started = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATENCY: Duration = Duration::from_millis(250);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn writes_slower_than_the_latency_for_a_whole_interval_mean_queueing() {
        let start = Instant::now();
        let mut queue = Queue::new(LATENCY, start);
        queue.finished(ms(300), start + ms(10));
        queue.finished(ms(400), start + ms(60));
        assert!(!queue.queueing(start + ms(90)), "the interval is not over");

        assert!(queue.queueing(start + ms(100)));
        assert!(queue.queueing(start + ms(150)), "until the next look");
    }

    #[test]
    fn one_quick_write_in_the_interval_means_a_burst_not_a_queue() {
        let start = Instant::now();
        let mut queue = Queue::new(LATENCY, start);
        queue.finished(ms(900), start + ms(10));
        queue.finished(ms(40), start + ms(50));
        queue.finished(ms(700), start + ms(80));

        assert!(!queue.queueing(start + ms(120)));
    }

    #[test]
    fn refusals_end_when_the_quickest_write_is_back_under_the_latency() {
        let start = Instant::now();
        let mut queue = Queue::new(LATENCY, start);
        queue.finished(ms(500), start + ms(20));
        assert!(queue.queueing(start + ms(100)));

        queue.finished(ms(260), start + ms(130));
        queue.finished(ms(120), start + ms(170));

        assert!(!queue.queueing(start + ms(200)));
    }

    #[test]
    fn an_interval_without_a_finished_write_ends_the_refusals() {
        let start = Instant::now();
        let mut queue = Queue::new(LATENCY, start);
        queue.finished(ms(500), start + ms(20));
        assert!(queue.queueing(start + ms(100)));

        assert!(!queue.queueing(start + ms(250)));
    }

    #[tokio::test]
    async fn a_queueing_write_path_refuses_at_once_and_names_the_latency() {
        let admission = Admission::new(8, Duration::from_secs(5), LATENCY);
        {
            let mut queue = lock(&admission.queue);
            let long_ago = Instant::now() - ms(1000);
            *queue = Queue::new(LATENCY, long_ago);
            queue.quickest = Some(ms(400));
        }

        let refused = admission.enter().await.unwrap_err();

        match refused {
            GatewayError::Exhausted(exhausted) => assert_eq!(exhausted.subject, "pending_latency"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_place_records_how_long_its_write_took() {
        let admission = Admission::new(8, Duration::from_secs(5), LATENCY);
        let place = admission.enter().await.unwrap();
        drop(place);
        assert!(lock(&admission.queue).quickest.is_some());
    }
}
