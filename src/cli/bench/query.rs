//! Status queries: police ask for a seeded person's case by identity
//! number, each through its own county police connection, picking people
//! at random among all stored cases, closed loop at `concurrency`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tonic::transport::Channel;

use super::Limit;
use super::province::{Province, police};
use super::spawn::Target;
use super::stats::{Pick, Samples, Summary};
use crate::api::pb;
use crate::api::pb::case_service_client::CaseServiceClient;
use crate::domain::region::RegionCode;

pub async fn run(
    target: &Target,
    province: &Arc<Province>,
    concurrency: usize,
    limit: Limit,
) -> anyhow::Result<Summary> {
    let seeded = province.seeded_count();
    anyhow::ensure!(seeded > 0, "no cases are stored to query");
    let mut clients: HashMap<RegionCode, CaseServiceClient<Channel>> = HashMap::new();
    for &county in province.counties() {
        clients.insert(
            county,
            CaseServiceClient::new(target.channel(&police(county)).await?),
        );
    }
    let clients = Arc::new(clients);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + limit.duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (clients, province, issued) = (clients.clone(), province.clone(), issued.clone());
        workers.spawn(async move {
            let mut pick = Pick::new(worker as u64 + 1);
            let mut samples = Samples::with_capacity(1024);
            while Instant::now() < deadline
                && limit
                    .calls
                    .is_none_or(|max| issued.fetch_add(1, Ordering::Relaxed) < max)
            {
                let n = pick.below(seeded);
                let county = province.county_of(n);
                let Some(mut client) = clients.get(&county).cloned() else {
                    samples.fail(format!("no connection for the police of {county}"));
                    continue;
                };
                let request = pb::GetCaseRequest {
                    key: Some(pb::get_case_request::Key::IdNumber(
                        province.id_number_of(n),
                    )),
                    purpose: "benchmark: supervision status check".into(),
                };
                let sent = Instant::now();
                match client.get_case(request).await {
                    Ok(answer) if answer.get_ref().case.is_some() => samples.record(sent.elapsed()),
                    Ok(_) => samples.fail("an answer without a case"),
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
