//! The real process killed in the middle of writes, and stopped while
//! streams are open: whatever it answered survives, nothing is stored
//! twice, inboxes have no gap, the database stays whole.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::api::pb::inbox_service_client::InboxServiceClient;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::storage::SqliteStorage;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::process::{ProcessClient, spawn_process_with};
use crate::support::*;

const CLIENTS: usize = 16;
const KILLS: usize = 5;
/// Answers a round must have had before its process is killed.
const ACCEPTED_PER_ROUND: usize = 12;

/// Every discharge the clients sent: the answered ones and the ones whose
/// answer was an error (stored or not, the client cannot know).
#[derive(Default)]
struct Ledger {
    accepted: Mutex<BTreeMap<u32, pb::Receipt>>,
    failed: Mutex<BTreeSet<u32>>,
}

impl Ledger {
    fn accepted(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

/// Discharge `n`, always the same request, so a retry is a true retry.
fn submission(n: u32, released_at: &prost_types::Timestamp) -> pb::SubmitDischargeRequest {
    let birth = format!("{}0307", 1950 + n / 1000);
    let person = person(&id_number(&birth, n % 1000), "140106", None);
    let mut request = discharge(&format!("crash-{n}"), &format!("D-CRASH-{n}"), person);
    request.released_at = Some(*released_at);
    request
}

fn an_hour_ago() -> prost_types::Timestamp {
    handover_gateway::api::timestamp(time::OffsetDateTime::now_utc() - time::Duration::hours(1))
}

/// A client that submits fresh discharges until `stop`, or until a call
/// fails (the process went away under it).
async fn submit_until(
    mut intake: IntakeServiceClient<Channel>,
    next: Arc<AtomicU32>,
    ledger: Arc<Ledger>,
    released_at: prost_types::Timestamp,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let n = next.fetch_add(1, Ordering::SeqCst);
        match intake.submit_discharge(submission(n, &released_at)).await {
            Ok(answer) => {
                let receipt = answer.into_inner().receipt.unwrap();
                ledger.accepted.lock().unwrap().insert(n, receipt);
            }
            Err(_) => {
                ledger.failed.lock().unwrap().insert(n);
                return;
            }
        }
    }
}

async fn start_clients(
    client: &ProcessClient,
    next: &Arc<AtomicU32>,
    ledger: &Arc<Ledger>,
    released_at: prost_types::Timestamp,
    stop: &CancellationToken,
    count: usize,
) -> JoinSet<()> {
    let mut clients = JoinSet::new();
    for _ in 0..count {
        let intake = IntakeServiceClient::new(client.channel("taiyuan-detox").await);
        clients.spawn(submit_until(
            intake,
            next.clone(),
            ledger.clone(),
            released_at,
            stop.clone(),
        ));
    }
    clients
}

/// Polls until the ledger holds `count` answers; fails after 20 s.
async fn until_accepted(ledger: &Ledger, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ledger.accepted() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} discharges answered within 20 s",
            ledger.accepted()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The whole inbox of `agency` from position 1: read until an idle
/// heartbeat says the last message read is the head.
async fn whole_inbox(client: &ProcessClient, agency: &str) -> Vec<(u64, String)> {
    let mut inbox = InboxServiceClient::new(client.channel(agency).await);
    let mut stream = subscribe(&mut inbox, Some(0)).await;
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let item = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("the inbox was not read to its head within 20 s")
            .unwrap()
            .expect("the stream ended");
        match item.event {
            Some(pb::subscribe_response::Event::Message(message)) => {
                messages.push((message.position, message.case.unwrap().case_id));
            }
            Some(pb::subscribe_response::Event::Heartbeat(beat)) => {
                let last = messages.last().map_or(0, |(position, _)| *position);
                if beat.head_position == last {
                    return messages;
                }
            }
            None => {}
        }
    }
}

/// Positions run 1..=head with no gap and no repeat; every case in
/// `expected` appears exactly once; no case appears twice.
fn assert_inbox_holds(agency: &str, messages: &[(u64, String)], expected: &BTreeSet<String>) {
    let positions: Vec<u64> = messages.iter().map(|(position, _)| *position).collect();
    let contiguous: Vec<u64> = (1..=messages.len() as u64).collect();
    assert_eq!(positions, contiguous, "{agency}: a gap or a repeat");
    let mut seen = BTreeMap::<&str, usize>::new();
    for (_, case_id) in messages {
        *seen.entry(case_id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        twice.is_empty(),
        "{agency}: cases delivered twice: {twice:?}"
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{agency}: answered cases lost: {missing:?}"
    );
}

/// Each answered discharge replays to the same case, which the oversight
/// office finds under its decision number.
async fn assert_answers_kept(
    client: &ProcessClient,
    receipts: &BTreeMap<u32, pb::Receipt>,
    released_at: &prost_types::Timestamp,
) {
    let mut intake = IntakeServiceClient::new(client.channel("taiyuan-detox").await);
    let mut cases =
        pb::case_service_client::CaseServiceClient::new(client.channel("shanxi-office").await);
    for (n, receipt) in receipts {
        let replayed = intake
            .submit_discharge(submission(*n, released_at))
            .await
            .unwrap()
            .into_inner()
            .receipt
            .unwrap();
        assert_eq!(replayed.case_id, receipt.case_id, "discharge {n} replays");
        let case = cases
            .get_case(pb::GetCaseRequest {
                key: Some(Key::CaseId(receipt.case_id.clone())),
                purpose: "crash check".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap();
        assert_eq!(case.decision_number, format!("D-CRASH-{n}"));
    }
}

async fn assert_database_whole(dir: &Path) {
    let storage = SqliteStorage::open(&dir.join("data/gateway.db"))
        .await
        .unwrap();
    storage.integrity_check().await.unwrap();
    storage.close().await;
}

fn fast_heartbeat() -> Vec<OsString> {
    vec!["--heartbeat".into(), "200ms".into()]
}

// Multi-threaded: killing and waiting block a thread while the clients'
// tasks run on others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_process_mid_write_loses_no_answered_discharge_and_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let released_at = an_hour_ago();
    let ledger = Arc::new(Ledger::default());
    let next = Arc::new(AtomicU32::new(0));

    for round in 1..=KILLS {
        let process = spawn_process_with(dir.path(), &fast_heartbeat());
        let client = process.app(dir.path()).await;
        let stop = CancellationToken::new();
        let mut clients = start_clients(&client, &next, &ledger, released_at, &stop, CLIENTS).await;
        until_accepted(&ledger, round * ACCEPTED_PER_ROUND).await;
        process.kill();
        stop.cancel();
        while clients.join_next().await.is_some() {}
    }

    let process = spawn_process_with(dir.path(), &fast_heartbeat());
    let client = process.app(dir.path()).await;
    let originally: BTreeMap<u32, pb::Receipt> = ledger.accepted.lock().unwrap().clone();
    let failed: Vec<u32> = ledger.failed.lock().unwrap().iter().copied().collect();
    assert!(!failed.is_empty(), "the kills interrupted no call");
    let mut all = originally.clone();
    let mut intake = IntakeServiceClient::new(client.channel("taiyuan-detox").await);
    for n in failed {
        let retried = retry(&mut intake, submission(n, &released_at)).await;
        all.insert(n, retried);
    }

    let case_ids: BTreeSet<String> = all.values().map(|r| r.case_id.clone()).collect();
    assert_eq!(case_ids.len(), all.len(), "two discharges share a case");
    for agency in ["yingze-project", "yingze-police"] {
        let messages = whole_inbox(&client, agency).await;
        assert_inbox_holds(agency, &messages, &case_ids);
        assert_eq!(messages.len(), all.len(), "{agency}: one message per case");
        for receipt in all.values() {
            for delivery in receipt.deliveries.iter().filter(|d| d.agency_id == agency) {
                let at = usize::try_from(delivery.position - 1).unwrap();
                assert_eq!(
                    messages[at].1, receipt.case_id,
                    "{agency}: receipt position"
                );
            }
        }
    }
    assert_answers_kept(&client, &originally, &released_at).await;
    process.kill();
    assert_database_whole(dir.path()).await;
}

/// Sends `request` until it is answered, as a client does: a gateway that
/// is still catching up after its restart (on a slow machine) may refuse
/// new writes for a moment with `RESOURCE_EXHAUSTED`, asking for the same
/// request again later.
async fn retry(
    intake: &mut IntakeServiceClient<Channel>,
    request: pb::SubmitDischargeRequest,
) -> pb::Receipt {
    const ATTEMPTS: usize = 100;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match intake.submit_discharge(request.clone()).await {
            Ok(answer) => return answer.into_inner().receipt.unwrap(),
            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                last = Some(status);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("retry of {} refused: {status:?}", request.request_id),
        }
    }
    panic!("retry of {} still refused: {last:?}", request.request_id)
}

/// Reads a stream until it ends; the positions it saw.
async fn drain(mut stream: tonic::Streaming<pb::SubscribeResponse>) -> Vec<u64> {
    let mut positions = Vec::new();
    while let Ok(Some(item)) = stream.message().await {
        if let Some(pb::subscribe_response::Event::Message(message)) = item.event {
            positions.push(message.position);
        }
    }
    positions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_ends_open_streams_within_the_grace_period_and_keeps_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let grace = Duration::from_secs(2);
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!("shutdown_grace = \"{}s\"\n", grace.as_secs()),
    )
    .unwrap();
    let mut flags = fast_heartbeat();
    flags.extend(["--config".into(), config.into_os_string()]);
    let released_at = an_hour_ago();
    let ledger = Arc::new(Ledger::default());
    let next = Arc::new(AtomicU32::new(0));

    let process = spawn_process_with(dir.path(), &flags);
    let client = process.app(dir.path()).await;
    let mut streams = JoinSet::new();
    for agency in ["yingze-project", "yingze-police"] {
        let mut inbox = InboxServiceClient::new(client.channel(agency).await);
        streams.spawn(drain(subscribe(&mut inbox, Some(0)).await));
    }
    let stop = CancellationToken::new();
    let mut clients = start_clients(&client, &next, &ledger, released_at, &stop, 8).await;
    until_accepted(&ledger, 20).await;

    let signalled = tokio::time::Instant::now();
    process.signal_terminate();
    let (status, logs) = process.exit_within(grace * 5).await;
    let took = signalled.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running {took:?} after SIGTERM\n{logs}"));
    assert!(status.success(), "exit status {status}\n{logs}");
    assert!(
        took < grace + Duration::from_secs(1),
        "exited {took:?} after SIGTERM, grace {grace:?}"
    );
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = Vec::new();
        while let Some(positions) = streams.join_next().await {
            seen.push(positions.unwrap());
        }
        seen
    })
    .await
    .expect("an inbox stream hung after the process exited");
    for positions in ended {
        let contiguous: Vec<u64> = (1..=positions.len() as u64).collect();
        assert_eq!(positions, contiguous, "a live stream skipped or repeated");
    }
    stop.cancel();
    while clients.join_next().await.is_some() {}

    let process = spawn_process_with(dir.path(), &fast_heartbeat());
    let client = process.app(dir.path()).await;
    let answered: BTreeMap<u32, pb::Receipt> = ledger.accepted.lock().unwrap().clone();
    let case_ids: BTreeSet<String> = answered.values().map(|r| r.case_id.clone()).collect();
    for agency in ["yingze-project", "yingze-police"] {
        assert_inbox_holds(agency, &whole_inbox(&client, agency).await, &case_ids);
    }
    assert_answers_kept(&client, &answered, &released_at).await;
    process.terminate();
    assert_database_whole(dir.path()).await;
}
