//! Backlog replay: a fresh connection of the replay county's police, which
//! never acknowledged anything, subscribes and reads `backlog` messages.
//! The rate counts from the subscribe call to the last message; the
//! latency column gives the wait for the first message.

use std::time::{Duration, Instant};

use super::province::{Province, police};
use super::spawn::Target;
use super::stats::{Samples, Summary, rate};
use crate::api::pb;
use crate::api::pb::inbox_service_client::InboxServiceClient;

/// A replay that stalls this long is reported as failed.
const STALL: Duration = Duration::from_secs(30);

pub async fn run(target: &Target, province: &Province, backlog: u64) -> anyhow::Result<Summary> {
    let mut inbox =
        InboxServiceClient::new(target.channel(&police(province.replay_county())).await?);
    let started = Instant::now();
    let mut stream = inbox
        .subscribe(pb::SubscribeRequest {
            after_position: None,
        })
        .await?
        .into_inner();
    let mut first = Samples::default();
    let mut count = 0;
    let mut failure = None;
    while count < backlog {
        match tokio::time::timeout(STALL, stream.message()).await {
            Ok(Ok(Some(item))) => {
                if let Some(pb::subscribe_response::Event::Message(_)) = item.event {
                    if count == 0 {
                        first.record(started.elapsed());
                    }
                    count += 1;
                }
            }
            Ok(Ok(None)) => {
                failure = Some(format!("the stream ended after {count} messages"));
                break;
            }
            Ok(Err(status)) => {
                failure = Some(format!("{:?}: {}", status.code(), status.message()));
                break;
            }
            Err(_) => {
                failure = Some(format!("no message for {STALL:?} after {count}"));
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    let mut summary = first.summarize(elapsed);
    summary.count = count;
    summary.rate = rate(count, elapsed);
    if let Some(failure) = failure {
        summary.errors = 1;
        summary.first_error = Some(failure);
    }
    Ok(summary)
}
