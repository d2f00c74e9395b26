//! Stores the cases that the replay and query scenarios need before the
//! gateway starts: in this process, through the gateway's own write path
//! (`Gateway::submit_discharge` on storage sealed with the run's master
//! key), many at a time. It skips what only the network adds (TLS, the
//! audit entry of each call, the receipt signature), which is why it is
//! faster than a client could be.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::province::Province;
use super::workspace::Workspace;
use crate::domain::agency::AgencyId;
use crate::domain::clock::SystemClock;
use crate::gateway::{Gateway, Limits, MasterKey, Settings};
use crate::storage::{self, Sealer};

/// Discharges being written at once: enough to keep a batching writer busy.
const WRITERS: usize = 128;

/// Writes the discharges of people `0..total` (the province says which
/// county each lives in); returns how long it took.
pub async fn seed(
    workspace: &Workspace,
    province: &Province,
    total: u64,
) -> anyhow::Result<Duration> {
    let key = MasterKey::load_or_create(&workspace.master_key)?;
    let storage = storage::open(&workspace.backend(), Sealer::new(key.data_key())).await?;
    let mut agencies = std::collections::HashMap::new();
    for agency in storage.agencies().await? {
        agencies.insert(agency.agency.id.clone(), agency.agency);
    }
    let settings = Settings {
        limits: Limits {
            calls_per_second: 1e9,
            burst: u32::MAX,
            police_queries_per_day: 0,
            // Off: the seed measures nothing, and one slow moment would end it.
            pending_latency: Duration::ZERO,
            ..Limits::default()
        },
        ..Settings::default()
    };
    let gateway = Gateway::new(
        storage.clone(),
        Arc::new(SystemClock),
        &key,
        settings,
        CancellationToken::new(),
    );
    let agencies = Arc::new(agencies);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(next.clone(), total, started));
    let mut writers = tokio::task::JoinSet::new();
    // `Province` is borrowed, so this task builds the requests and the
    // writers take them from a channel.
    let (sender, receiver) = shared_channel(WRITERS * 4);
    for _ in 0..WRITERS {
        let gateway = gateway.clone();
        let agencies = agencies.clone();
        let receiver = receiver.clone();
        writers.spawn(async move {
            while let Some((detox, request)) = next_request(&receiver).await {
                let caller = AgencyId::parse(&detox)
                    .ok()
                    .and_then(|id| agencies.get(&id).cloned())
                    .with_context(|| format!("{detox} is not registered"))?;
                let request_id = request.request_id.clone();
                gateway
                    .submit_discharge(&caller, &request_id, &request.into())
                    .await
                    .with_context(|| format!("seeding {request_id}"))?;
            }
            anyhow::Ok(())
        });
    }
    drop(receiver);
    let now = time::OffsetDateTime::now_utc();
    for n in 0..total {
        let request = province.discharge(n, now);
        if sender.send(request).await.is_err() {
            break;
        }
        next.store(n, Ordering::Relaxed);
    }
    drop(sender);
    let mut result = Ok(());
    while let Some(joined) = writers.join_next().await {
        if let Err(error) = joined.context("a seeding task panicked").and_then(|r| r)
            && result.is_ok()
        {
            result = Err(error);
        }
    }
    progress.abort();
    storage.close().await;
    result.map(|()| started.elapsed())
}

type Receiver = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Request>>>;
type Request = (String, crate::api::pb::SubmitDischargeRequest);

/// A channel many writers take from (tokio's mpsc has one receiver).
fn shared_channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Request>, Receiver) {
    let (sender, receiver) = tokio::sync::mpsc::channel(capacity);
    (sender, Arc::new(tokio::sync::Mutex::new(receiver)))
}

async fn next_request(receiver: &Receiver) -> Option<Request> {
    receiver.lock().await.recv().await
}

async fn report_progress(next: Arc<AtomicU64>, total: u64, started: Instant) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    every.tick().await;
    loop {
        every.tick().await;
        let done = next.load(Ordering::Relaxed);
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "seeding: {done} of {total} cases queued in {seconds:.0} s ({:.0}/s)",
            done as f64 / seconds
        );
    }
}
