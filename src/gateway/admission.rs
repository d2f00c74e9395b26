//! Backpressure on the write path, by count and by time.
//!
//! - At most `pending_writes` submissions are being planned and committed
//!   at once; one more waits up to `pending_wait` for a place and is then
//!   refused `RESOURCE_EXHAUSTED` with a time to retry.
//! - A count alone lets admitted calls wait as long as that many writes
//!   take: 1,024 places at 400 writes a second is two and a half seconds.
//!   So the time writes take is watched too, from admission to the end of
//!   the write: when even the quickest write of an interval of at least
//!   [`INTERVAL`], the last of them finished less than [`INTERVAL`] ago,
//!   took longer than `pending_latency`, writes are queueing faster than
//!   they commit, and new submissions are refused at once until an
//!   interval's quickest write is back under it (or an interval passes with
//!   none). The quickest rather than the average, as in CoDel: a burst
//!   that drains within an interval is not refused, a standing queue is.
//!   Nothing is measured as a rate, so a burst after an idle hour is not
//!   mistaken for the write path's capacity. `pending_latency = "0s"`
//!   turns this off.
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

/// How often the quickest write is looked at, and how recent the writes
/// looked at must be.
const INTERVAL: Duration = Duration::from_millis(100);

/// Places for writes in progress, and how long they take.
#[derive(Debug)]
pub(super) struct Admission {
    places: Arc<Semaphore>,
    wait: Duration,
    queue: Arc<Mutex<Queue>>,
}

/// A place for one write; gives it back when dropped, and notes how long
/// the write took if it was made ([`Place::wrote`]). A call that ends
/// without its write (a plan refused after reads only, a client that hung
/// up) is noted only when it already took longer than `pending_latency`:
/// that much is known to be slow, while its quickness would say nothing
/// about the writes.
#[derive(Debug)]
pub(super) struct Place {
    _permit: OwnedSemaphorePermit,
    entered: Instant,
    wrote: bool,
    queue: Arc<Mutex<Queue>>,
}

impl Place {
    /// The write was made (or refused by the database itself).
    pub(super) fn wrote(&mut self) {
        self.wrote = true;
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.entered);
        let mut queue = lock(&self.queue);
        if self.wrote || took > queue.latency {
            queue.finished(took, now);
        }
    }
}

impl Admission {
    pub(super) fn new(pending_writes: u32, wait: Duration, latency: Duration) -> Self {
        let places = usize::try_from(pending_writes.max(1)).unwrap_or(usize::MAX);
        Self {
            places: Arc::new(Semaphore::new(places.min(Semaphore::MAX_PERMITS))),
            wait,
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
        let queueing = {
            let mut queue = lock(&self.queue);
            queue.queueing(entered).then_some(queue.latency)
        };
        if let Some(latency) = queueing {
            let retry_after = latency.clamp(Duration::from_millis(100), Duration::from_secs(1));
            return Err(self.refusal("pending_latency", retry_after));
        }
        let place = Arc::clone(&self.places).acquire_owned();
        match tokio::time::timeout(self.wait, place).await {
            Ok(Ok(permit)) => Ok(Place {
                _permit: permit,
                entered,
                wrote: false,
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
    /// `pending_latency`, also the time a refused caller is told to wait
    /// (within 0.1-1 s); zero: never queueing.
    latency: Duration,
    interval_started: Instant,
    quickest: Option<Duration>,
    last_finished: Option<Instant>,
    queueing: bool,
}

impl Queue {
    fn new(latency: Duration, now: Instant) -> Self {
        Self {
            latency,
            interval_started: now,
            quickest: None,
            last_finished: None,
            queueing: false,
        }
    }

    fn finished(&mut self, took: Duration, now: Instant) {
        self.quickest = Some(self.quickest.map_or(took, |quickest| quickest.min(took)));
        self.last_finished = Some(now);
        self.look(now);
    }

    fn queueing(&mut self, now: Instant) -> bool {
        self.look(now);
        self.queueing
    }

    /// Closes the interval once it is over. Only recent writes count: an
    /// interval whose last write finished long ago (the gateway was idle
    /// since) says nothing about now, and neither does one in which no
    /// write finished (the count bounds a write path that is stuck).
    fn look(&mut self, now: Instant) {
        if now.saturating_duration_since(self.interval_started) < INTERVAL {
            return;
        }
        let recent = self
            .last_finished
            .is_some_and(|at| now.saturating_duration_since(at) < INTERVAL);
        self.queueing = !self.latency.is_zero()
            && recent
            && self
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
            queue.last_finished = Some(Instant::now());
        }

        let refused = admission.enter().await.unwrap_err();

        match refused {
            GatewayError::Exhausted(exhausted) => assert_eq!(exhausted.subject, "pending_latency"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn slow_writes_long_ago_say_nothing_about_now() {
        let start = Instant::now();
        let mut queue = Queue::new(LATENCY, start);
        queue.finished(ms(600), start + ms(50));

        assert!(!queue.queueing(start + Duration::from_secs(3600)));
    }

    #[test]
    fn a_zero_latency_turns_the_rule_off() {
        let start = Instant::now();
        let mut queue = Queue::new(Duration::ZERO, start);
        queue.finished(ms(900), start + ms(120));

        assert!(!queue.queueing(start + ms(130)));
    }

    #[tokio::test]
    async fn a_place_notes_its_write_and_a_quick_call_without_one_is_not_noted() {
        let admission = Admission::new(8, Duration::from_secs(5), LATENCY);
        drop(admission.enter().await.unwrap());
        assert!(lock(&admission.queue).last_finished.is_none());

        let mut place = admission.enter().await.unwrap();
        place.wrote();
        drop(place);

        assert!(lock(&admission.queue).last_finished.is_some());
    }
}
