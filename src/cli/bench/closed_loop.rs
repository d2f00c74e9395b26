//! The closed loop that submissions and status queries share:
//! `concurrency` callers, each making its next call as soon as the last one
//! is answered, until the duration or the call count runs out.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::Limit;
use super::stats::{Samples, Summary};

/// Runs `call(n)` for n = 0, 1, 2... from `concurrency` callers; each call
/// answers `Ok` (its latency is recorded) or why it failed.
pub async fn run<C, F>(concurrency: usize, limit: Limit, call: C) -> anyhow::Result<Summary>
where
    C: Fn(u64) -> F + Clone + Send + 'static,
    F: Future<Output = Result<(), String>> + Send,
{
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + limit.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (call, issued) = (call.clone(), issued.clone());
        workers.spawn(async move {
            let mut samples = Samples::with_capacity(1024);
            while Instant::now() < deadline {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if limit.calls.is_some_and(|max| n >= max) {
                    break;
                }
                let sent = Instant::now();
                match call(n).await {
                    Ok(()) => samples.record(sent.elapsed()),
                    Err(reason) => samples.fail(reason),
                }
            }
            samples
        });
    }
    let mut samples = Samples::default();
    while let Some(worker) = workers.join_next().await {
        samples.merge(worker?);
    }
    Ok(samples.summarize(started.elapsed()))
}
