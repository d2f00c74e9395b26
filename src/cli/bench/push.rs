//! End-to-end push latency: discharges sent open loop at a steady rate,
//! each timed from the moment its submit call starts to the moment the
//! county project's open inbox stream delivers it. Every county project
//! of the spread counties holds one stream, opened after its inbox head.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Limit;
use super::province::{Province, project};
use super::spawn::Target;
use super::stats::{Samples, Summary};
use super::submit::intake_clients;
use crate::api::pb;
use crate::api::pb::inbox_service_client::InboxServiceClient;

/// How long to wait for the last messages after the last submission.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Flight {
    /// Decision number → when its submit call started.
    sent: Mutex<HashMap<String, Instant>>,
    samples: Mutex<Samples>,
    received: AtomicU64,
}

pub async fn run(
    target: &Target,
    province: &Arc<Province>,
    rate: u32,
    limit: Limit,
) -> anyhow::Result<Summary> {
    let flight = Arc::new(Flight::default());
    let mut readers = tokio::task::JoinSet::new();
    for &county in province.spread_counties() {
        let mut inbox = InboxServiceClient::new(target.channel(&project(county)).await?);
        let head = inbox
            .acknowledge(pb::AcknowledgeRequest { position: 0 })
            .await?
            .into_inner()
            .head_position;
        let mut stream = inbox
            .subscribe(pb::SubscribeRequest {
                after_position: Some(head),
            })
            .await?
            .into_inner();
        let flight = flight.clone();
        readers.spawn(async move {
            while let Ok(Some(item)) = stream.message().await {
                let Some(pb::subscribe_response::Event::Message(message)) = item.event else {
                    continue;
                };
                let decision = message
                    .case
                    .map(|case| case.decision_number)
                    .unwrap_or_default();
                let sent = flight
                    .sent
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&decision);
                if let Some(sent) = sent {
                    flight
                        .samples
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .record(sent.elapsed());
                    flight.received.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let clients = intake_clients(target, province).await?;
    let total = limit
        .calls
        .unwrap_or((f64::from(rate) * limit.duration.as_secs_f64()) as u64);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..total {
        ticks.tick().await;
        let n = province.fresh();
        let (detox, request) = province.discharge(n, time::OffsetDateTime::now_utc());
        let mut client = clients.get(&detox).cloned();
        let flight = flight.clone();
        calls.spawn(async move {
            let client = client
                .as_mut()
                .ok_or_else(|| format!("no connection for {detox}"))?;
            flight
                .sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(request.decision_number.clone(), Instant::now());
            client
                .submit_discharge(request)
                .await
                .map(drop)
                .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
        });
    }
    let mut accepted = 0;
    let mut failures = Samples::default();
    while let Some(call) = calls.join_next().await {
        match call? {
            Ok(()) => accepted += 1,
            Err(error) => failures.fail(error),
        }
    }
    let sending = started.elapsed();
    let drained = Instant::now() + DRAIN;
    while flight.received.load(Ordering::Relaxed) < accepted && Instant::now() < drained {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    readers.abort_all();
    let mut samples =
        std::mem::take(&mut *flight.samples.lock().unwrap_or_else(|e| e.into_inner()));
    let missing = accepted.saturating_sub(samples.len() as u64);
    for _ in 0..missing {
        samples.fail(format!("accepted but not pushed within {DRAIN:?}"));
    }
    samples.merge(failures);
    Ok(samples.summarize(sending))
}
