//! Discharge submissions, closed loop: `concurrency` callers each send the
//! next discharge as soon as the last one is answered. Each detox center
//! has one connection (HTTP/2 carries its concurrent calls), as a real
//! center's client would.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use tonic::transport::Channel;

use super::Limit;
use super::closed_loop;
use super::province::{Province, detox_of};
use super::spawn::Target;
use super::stats::Summary;
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
    let province = province.clone();
    closed_loop::run(concurrency, limit, move |_| {
        let (clients, province) = (clients.clone(), province.clone());
        async move {
            let n = province.fresh();
            let (detox, request) = province.discharge(n, time::OffsetDateTime::now_utc());
            let mut client = clients
                .get(&detox)
                .cloned()
                .ok_or_else(|| format!("no connection for {detox}"))?;
            client
                .submit_discharge(request)
                .await
                .map(drop)
                .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
        }
    })
    .await
}
