//! Status queries: police ask for a seeded person's case by identity
//! number, each through its own county police connection, picking people
//! at random among all stored cases, closed loop at `concurrency`.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::transport::Channel;

use super::Limit;
use super::closed_loop;
use super::province::{Province, police};
use super::spawn::Target;
use super::stats::{Pick, Summary};
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
    let province = province.clone();
    closed_loop::run(concurrency, limit, move |call| {
        let (clients, province) = (clients.clone(), province.clone());
        async move {
            // A fresh hash of the call's number: random people, repeatable.
            let n = Pick::new(call + 1).below(seeded);
            let county = province.county_of(n);
            let mut client = clients
                .get(&county)
                .cloned()
                .ok_or_else(|| format!("no connection for the police of {county}"))?;
            let request = pb::GetCaseRequest {
                key: Some(pb::get_case_request::Key::IdNumber(
                    province.id_number_of(n),
                )),
                purpose: "benchmark: supervision status check".into(),
            };
            match client.get_case(request).await {
                Ok(answer) if answer.get_ref().case.is_some() => Ok(()),
                Ok(_) => Err("an answer without a case".to_owned()),
                Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
            }
        }
    })
    .await
}
