//! Discharge submissions, closed loop: `concurrency` callers each send the
//! next discharge as soon as the last one is answered. Each detox center
//! has one connection (HTTP/2 carries its concurrent calls), as a real
//! center's client would.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tonic::transport::Channel;

use super::Limit;
use super::province::{Province, detox_of};
use super::spawn::Target;
use super::stats::{Samples, Summary};
use crate::api::pb::intake_service_client::IntakeServiceClient;

pub type IntakeClients = Arc<HashMap<String, IntakeServiceClient<Channel>>>;

/// One connection per detox center of the province.
pub async fn intake_clients(target: &Target, province: &Province) -> anyhow::Result<IntakeClients> {
    let mut clients = HashMap::new();
    for &county in province.spread_counties() {
        if let Entry::Vacant(slot) = clients.entry(detox_of(county)) {
            let channel = target.channel(slot.key()).await?;
            slot.insert(IntakeServiceClient::new(channel));
        }
    }
    Ok(Arc::new(clients))
}

pub async fn run(
    target: &Target,
    province: &Arc<Province>,
    concurrency: usize,
    limit: Limit,
) -> anyhow::Result<Summary> {
    let clients = intake_clients(target, province).await?;
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + limit.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (clients, province, issued) = (clients.clone(), province.clone(), issued.clone());
        workers.spawn(async move {
            let mut samples = Samples::with_capacity(1024);
            while Instant::now() < deadline
                && limit
                    .calls
                    .is_none_or(|max| issued.fetch_add(1, Ordering::Relaxed) < max)
            {
                let n = province.fresh();
                let (detox, request) = province.discharge(n, time::OffsetDateTime::now_utc());
                let Some(mut client) = clients.get(&detox).cloned() else {
                    samples.fail(format!("no connection for {detox}"));
                    continue;
                };
                let sent = Instant::now();
                match client.submit_discharge(request).await {
                    Ok(_) => samples.record(sent.elapsed()),
                    Err(status) => {
                        samples.fail(format!("{:?}: {}", status.code(), status.message()))
                    }
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
