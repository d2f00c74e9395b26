//! Losing a replica: two real gateway processes on one PostgreSQL
//! database, sharing the certificates and the master key. Replica A is
//! killed with SIGKILL while detox-center clients submit and a county
//! project reads and acknowledges its inbox on it; they all move to
//! replica B. Every discharge ends up stored exactly once, a retry under
//! the same request id replays the first answer, and the inbox runs from 1
//! to its head with no gap, repeating only what was not acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::api::pb::case_service_client::CaseServiceClient;
use handover_gateway::api::pb::inbox_service_client::InboxServiceClient;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::bootstrap;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::app;
use crate::replica::{Replica, Shared};
use crate::support::{Kind, run};

const CLIENTS: usize = 6;
/// Answers and inbox messages A must have given before it is killed.
const ANSWERED_BEFORE_KILL: usize = 40;
const RECEIVED_BEFORE_KILL: usize = 10;
/// The county project acknowledges every this many messages, so that the
/// kill finds some received but not acknowledged.
const ACK_EVERY: u64 = 4;
const PROJECT: &str = "yingze-project";

/// What the detox-center clients were told.
#[derive(Default)]
struct Ledger {
    /// Discharge number to the case id of its answer.
    answered: Mutex<BTreeMap<u32, String>>,
    /// Sent, but the call failed: stored or not, the client cannot know.
    unanswered: Mutex<BTreeSet<u32>>,
}

/// What the county project saw of its inbox, in order.
#[derive(Default)]
struct Reader {
    received: Vec<(u64, String)>,
    /// The highest position whose acknowledgement was answered.
    acknowledged: u64,
    /// The highest position it asked to acknowledge, answered or not.
    acknowledging: u64,
}

/// Discharge `n`, always the same request, so that a retry is a true one.
fn discharge(n: u32, released_at: prost_types::Timestamp) -> pb::SubmitDischargeRequest {
    let birth = format!("{}0307", 1950 + n / 1000);
    let person = app::person(&app::id_number(&birth, n % 1000), "140106", None);
    let mut request = app::discharge(&format!("fo-{n}"), &format!("D-FO-{n}"), person);
    request.released_at = Some(released_at);
    request
}

/// Submits fresh discharges until a call fails, as a client whose replica
/// went away does.
async fn submit_until_failure(
    mut intake: IntakeServiceClient<Channel>,
    next: Arc<AtomicU32>,
    ledger: Arc<Ledger>,
    released_at: prost_types::Timestamp,
) {
    loop {
        let n = next.fetch_add(1, Ordering::SeqCst);
        match intake.submit_discharge(discharge(n, released_at)).await {
            Ok(answer) => {
                let case_id = answer.into_inner().receipt.unwrap().case_id;
                ledger.answered.lock().unwrap().insert(n, case_id);
            }
            Err(_) => {
                ledger.unanswered.lock().unwrap().insert(n);
                return;
            }
        }
    }
}

/// Reads the inbox from its acknowledged position, acknowledging every
/// [`ACK_EVERY`] messages, until the stream or a call fails, or until
/// `head` has been read and a heartbeat confirms it is the head.
async fn read_inbox(channel: Channel, reader: Arc<Mutex<Reader>>, head: Option<u64>) {
    let mut inbox = InboxServiceClient::new(channel);
    let Ok(stream) = inbox
        .subscribe(pb::SubscribeRequest {
            after_position: None,
        })
        .await
    else {
        return;
    };
    let mut stream = stream.into_inner();
    while let Ok(Some(item)) = stream.message().await {
        match item.event {
            Some(pb::subscribe_response::Event::Message(message)) => {
                let position = message.position;
                let case_id = message.case.unwrap().case_id;
                reader.lock().unwrap().received.push((position, case_id));
                if position % ACK_EVERY == 0 {
                    reader.lock().unwrap().acknowledging = position;
                    let acknowledged = inbox.acknowledge(pb::AcknowledgeRequest { position }).await;
                    if acknowledged.is_err() {
                        return;
                    }
                    reader.lock().unwrap().acknowledged = position;
                }
            }
            Some(pb::subscribe_response::Event::Heartbeat(beat)) => {
                let last = reader.lock().unwrap().received.last().map(|(p, _)| *p);
                if head.is_some() && last == head && beat.head_position == head.unwrap() {
                    return;
                }
            }
            None => {}
        }
    }
}

/// Every case the oversight office can list, by decision number.
async fn decisions(mut cases: CaseServiceClient<Channel>) -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::<String, Vec<String>>::new();
    let mut page_token = String::new();
    loop {
        let page = cases
            .list_cases(pb::ListCasesRequest {
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for case in page.cases {
            found
                .entry(case.decision_number)
                .or_default()
                .push(case.case_id);
        }
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

/// Clients submitting to `a` and the county project reading its inbox
/// there, until `a` has answered and delivered enough; then SIGKILL. What
/// the clients were told, and what the reader saw.
async fn kill_under_load(
    a: Replica,
    shared: &Shared,
    released_at: prost_types::Timestamp,
) -> (Ledger, Reader) {
    let ledger = Arc::new(Ledger::default());
    let next = Arc::new(AtomicU32::new(1));
    let reader = Arc::new(Mutex::new(Reader::default()));
    let reading = tokio::spawn(read_inbox(
        a.channel(shared, PROJECT).await,
        reader.clone(),
        None,
    ));
    let mut clients = JoinSet::new();
    for _ in 0..CLIENTS {
        let intake = IntakeServiceClient::new(a.channel(shared, "taiyuan-detox").await);
        clients.spawn(submit_until_failure(
            intake,
            next.clone(),
            ledger.clone(),
            released_at,
        ));
    }
    let enough = || {
        ledger.answered.lock().unwrap().len() >= ANSWERED_BEFORE_KILL
            && reader.lock().unwrap().received.len() >= RECEIVED_BEFORE_KILL
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !enough() {
        // Which side stalled: the clients stop at their first failed call,
        // the reader at the end of its stream.
        assert!(
            tokio::time::Instant::now() < deadline,
            "A answered and delivered enough within 30 s: answered {}, failed {}, received {}, \
             reader done {}",
            ledger.answered.lock().unwrap().len(),
            ledger.unanswered.lock().unwrap().len(),
            reader.lock().unwrap().received.len(),
            reading.is_finished(),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = a.kill();
    tokio::time::timeout(Duration::from_secs(20), async {
        while clients.join_next().await.is_some() {}
        reading.await.unwrap();
    })
    .await
    .unwrap_or_else(|_| panic!("clients of A still waiting 20 s after the kill\n{logs}"));
    let ledger = Arc::into_inner(ledger).unwrap();
    let reader = std::mem::take(&mut *reader.lock().unwrap());
    (ledger, reader)
}

/// On `b`: every unanswered discharge again under its request id, and
/// every answered one once more, whose answer must be replayed. Every
/// discharge's case id.
async fn resubmit_on(
    b: &Replica,
    shared: &Shared,
    ledger: Ledger,
    released_at: prost_types::Timestamp,
) -> BTreeMap<u32, String> {
    let answered = ledger.answered.into_inner().unwrap();
    let unanswered = ledger.unanswered.into_inner().unwrap();
    assert_eq!(unanswered.len(), CLIENTS, "each client lost one call");
    let mut intake = IntakeServiceClient::new(b.channel(shared, "taiyuan-detox").await);
    let mut all = answered.clone();
    for &n in &unanswered {
        let answer = intake
            .submit_discharge(discharge(n, released_at))
            .await
            .unwrap_or_else(|status| panic!("retry of {n} on B: {status:?}"));
        all.insert(n, answer.into_inner().receipt.unwrap().case_id);
    }
    for (n, case_id) in &answered {
        let replayed = intake
            .submit_discharge(discharge(*n, released_at))
            .await
            .unwrap()
            .into_inner()
            .receipt
            .unwrap();
        assert_eq!(&replayed.case_id, case_id, "discharge {n} replays on B");
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_replica_loses_nothing_and_clients_resume_on_the_other() {
    run(Kind::Postgres, |db| async move {
        let shared = Shared::new(&db.setting);
        let backend = db.unsealed().await;
        bootstrap::development(&shared.certs_dir(), backend.storage())
            .await
            .unwrap();
        backend.storage().close().await;
        // A makes the master key on its first start; B then shares it.
        let a = Replica::spawn(&shared);
        let b = Replica::spawn(&shared);
        let released_at = handover_gateway::api::timestamp(
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        );

        let (ledger, on_a) = kill_under_load(a, &shared, released_at).await;
        let all = resubmit_on(&b, &shared, ledger, released_at).await;
        let head = all.len() as u64;
        let on_b = Arc::new(Mutex::new(Reader::default()));
        let reading = read_inbox(b.channel(&shared, PROJECT).await, on_b.clone(), Some(head));
        tokio::time::timeout(Duration::from_secs(30), reading)
            .await
            .expect("the inbox was not read to its head on B within 30 s");
        let on_b = std::mem::take(&mut *on_b.lock().unwrap());

        let office = CaseServiceClient::new(b.channel(&shared, "shanxi-office").await);
        let expected: BTreeMap<String, Vec<String>> = all
            .iter()
            .map(|(n, case_id)| (format!("D-FO-{n}"), vec![case_id.clone()]))
            .collect();
        assert_eq!(
            decisions(office).await,
            expected,
            "one case per discharge, none other"
        );
        assert_resumed(&on_a, &on_b, head);
        let delivered: BTreeSet<&String> = on_a
            .received
            .iter()
            .chain(&on_b.received)
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            delivered,
            all.values().collect(),
            "the inbox holds every case"
        );
        b.terminate();
    })
    .await;
}

/// The reader saw 1..=head with no gap; on B it started right after a
/// position it had asked to acknowledge on A, so only positions not yet
/// acknowledged came twice, and each carried the same case both times.
fn assert_resumed(on_a: &Reader, on_b: &Reader, head: u64) {
    let positions =
        |reader: &Reader| -> Vec<u64> { reader.received.iter().map(|(p, _)| *p).collect() };
    let (a, b) = (positions(on_a), positions(on_b));
    assert_eq!(
        a,
        (1..=a.len() as u64).collect::<Vec<_>>(),
        "A: a gap or a repeat"
    );
    let resumed_after = b.first().map_or(head, |first| first - 1);
    assert_eq!(
        b,
        ((resumed_after + 1)..=head).collect::<Vec<_>>(),
        "B: a gap or a repeat"
    );
    assert!(
        (on_a.acknowledged..=on_a.acknowledging).contains(&resumed_after),
        "B resumed after {resumed_after}; acknowledged on A: {} answered, {} asked",
        on_a.acknowledged,
        on_a.acknowledging
    );
    assert!(
        resumed_after <= a.len() as u64,
        "B skipped positions {}..={resumed_after}",
        a.len() + 1
    );
    let twice: BTreeMap<u64, &String> = on_b
        .received
        .iter()
        .filter(|(p, _)| *p <= a.len() as u64)
        .map(|(p, c)| (*p, c))
        .collect();
    for (position, case_id) in twice {
        assert!(
            position > on_a.acknowledged,
            "acknowledged {position} came again"
        );
        assert_eq!(
            &on_a.received[position as usize - 1].1,
            case_id,
            "position {position}"
        );
    }
}
