//! Resident memory with many open subscriptions: each on its own mutual-TLS
//! connection (as separate agency systems would hold them), spread over
//! every agency of the province, opened after the inbox head so they sit
//! idle. Reports VmRSS with them open; the note gives the resident memory
//! before they were opened and the process's peak (VmHWM) so far.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::province::Province;
use super::spawn::Target;
use super::stats::{Samples, Summary};
use crate::api::pb;
use crate::api::pb::inbox_service_client::InboxServiceClient;

/// Connections being set up at once.
const OPENING: usize = 32;
/// Settling time before memory is read.
const SETTLE: Duration = Duration::from_secs(1);

pub struct MemoryFigures {
    pub summary: Summary,
    pub before_mb: f64,
    pub peak_mb: f64,
}

pub async fn run(
    target: &Target,
    province: &Province,
    subscriptions: usize,
) -> anyhow::Result<MemoryFigures> {
    let agencies: Vec<String> = province
        .agencies()?
        .into_iter()
        .map(|(agency, _)| agency.id.to_string())
        .collect();
    // The heads, so that every stream opens idle.
    let mut heads = HashMap::new();
    for agency in agencies.iter().take(subscriptions) {
        let mut inbox = InboxServiceClient::new(target.channel(agency).await?);
        let state = inbox
            .acknowledge(pb::AcknowledgeRequest { position: 0 })
            .await?
            .into_inner();
        heads.insert(agency.clone(), state.head_position);
    }
    tokio::time::sleep(SETTLE).await;
    let before = target.memory()?;
    let permits = Arc::new(Semaphore::new(OPENING));
    let mut opening = tokio::task::JoinSet::new();
    for i in 0..subscriptions {
        let agency = agencies[i % agencies.len()].clone();
        let head = heads.get(&agency).copied().unwrap_or(0);
        let (permits, connector) = (permits.clone(), target.connector());
        opening.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let mut inbox = InboxServiceClient::new(connector.channel(&agency).await?);
            let stream = inbox
                .subscribe(pb::SubscribeRequest {
                    after_position: Some(head),
                })
                .await?
                .into_inner();
            anyhow::Ok((inbox, stream))
        });
    }
    let mut open = Vec::with_capacity(subscriptions);
    let mut failures = Samples::default();
    while let Some(opened) = opening.join_next().await {
        match opened? {
            Ok(subscription) => open.push(subscription),
            Err(error) => failures.fail(format!("{error:#}")),
        }
    }
    tokio::time::sleep(SETTLE).await;
    let with = target.memory()?;
    let count = open.len() as u64;
    drop(open);
    let mut summary = failures.summarize(Duration::ZERO);
    summary.count = count;
    summary.value = Some(with.rss_mb);
    Ok(MemoryFigures {
        summary,
        before_mb: before.rss_mb,
        peak_mb: with.peak_mb,
    })
}
