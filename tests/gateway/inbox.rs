use handover_gateway::api::pb;
use handover_gateway::config::Config;
use tonic::Code;

use crate::support::*;

async fn submit(app: &App, n: u32) -> String {
    let person = person(&id_number("19900307", n), "140106", None);
    submit_as_detox(app, discharge(&format!("r-{n}"), &format!("D-{n}"), person))
        .await
        .case_id
}

#[tokio::test]
async fn a_subscriber_that_reconnects_gets_every_unacknowledged_message_in_order() {
    let app = spawn_app().await;
    let mut cases = Vec::new();
    for n in 1..=5 {
        cases.push(submit(&app, n).await);
    }
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, None).await;
    for expected in 1..=3 {
        assert_eq!(next_message(&mut stream).await.position, expected);
    }
    inbox
        .acknowledge(pb::AcknowledgeRequest { position: 2 })
        .await
        .unwrap();
    drop(stream);

    for n in 6..=8 {
        cases.push(submit(&app, n).await);
    }
    let mut again = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut again, None).await;
    for (position, case_id) in (3..=8).zip(&cases[2..]) {
        let message = next_message(&mut stream).await;
        assert_eq!(
            message.position, position,
            "no gap, no repeat beyond the unacknowledged"
        );
        assert_eq!(&message.case.unwrap().case_id, case_id);
    }
}

#[tokio::test]
async fn live_messages_follow_the_backlog_on_one_stream() {
    let app = spawn_app().await;
    submit(&app, 1).await;
    let mut inbox = app.inbox("yingze-police").await;
    let mut stream = subscribe(&mut inbox, Some(0)).await;
    assert_eq!(next_message(&mut stream).await.position, 1);
    submit(&app, 2).await;
    assert_eq!(next_message(&mut stream).await.position, 2);
}

#[tokio::test]
async fn an_idle_stream_gets_heartbeats_with_the_inbox_positions() {
    let app = spawn_app().await;
    submit(&app, 1).await;
    let mut inbox = app.inbox("yingze-project").await;
    inbox
        .acknowledge(pb::AcknowledgeRequest { position: 1 })
        .await
        .unwrap();
    let mut stream = subscribe(&mut inbox, None).await;
    let item = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("a heartbeat within 10 s")
        .unwrap()
        .unwrap();
    let Some(pb::subscribe_response::Event::Heartbeat(beat)) = item.event else {
        panic!("expected a heartbeat, got {item:?}");
    };
    assert_eq!((beat.head_position, beat.acknowledged_position), (1, 1));
}

#[tokio::test]
async fn positions_past_the_head_are_out_of_range_and_acknowledging_never_goes_back() {
    let app = spawn_app().await;
    submit(&app, 1).await;
    submit(&app, 2).await;
    let mut inbox = app.inbox("yingze-project").await;
    let refused = inbox
        .acknowledge(pb::AcknowledgeRequest { position: 3 })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange);
    let refused = inbox
        .subscribe(pb::SubscribeRequest {
            after_position: Some(9),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange);

    let state = inbox
        .acknowledge(pb::AcknowledgeRequest { position: 2 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.acknowledged_position, 2);
    let state = inbox
        .acknowledge(pb::AcknowledgeRequest { position: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.acknowledged_position, 2);
}

#[tokio::test]
async fn stopping_the_gateway_ends_open_streams_and_keeps_the_inbox() {
    let app = spawn_app().await;
    submit(&app, 1).await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, None).await;
    assert_eq!(next_message(&mut stream).await.position, 1);
    let dir = app.stop().await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.message().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended when the gateway stopped");

    let app = start(dir).await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, None).await;
    assert_eq!(
        next_message(&mut stream).await.position,
        1,
        "unacknowledged message is still there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backlog_of_several_batches_replays_in_order_and_the_stream_then_follows() {
    let app = spawn_app().await;
    // A page of 256, then two full pages read side by side, then a short
    // one: replay reads ahead, and stops where the backlog ends.
    const BACKLOG: u32 = 900;
    let mut writers = Vec::new();
    for worker in 0..8 {
        let mut intake = app.intake("taiyuan-detox").await;
        writers.push(tokio::spawn(async move {
            for n in (1..=BACKLOG).filter(|n| n % 8 == worker) {
                let person = person(&id_number("19900307", n), "140106", None);
                intake
                    .submit_discharge(discharge(&format!("r-{n}"), &format!("D-{n}"), person))
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, None).await;
    let mut seen = std::collections::HashSet::new();
    for position in 1..=u64::from(BACKLOG) {
        let message = next_message(&mut stream).await;
        assert_eq!(message.position, position);
        assert!(seen.insert(message.case.unwrap().case_id), "a case twice");
    }
    let case_id = submit(&app, BACKLOG + 1).await;
    let message = next_message(&mut stream).await;
    assert_eq!(message.position, u64::from(BACKLOG) + 1);
    assert_eq!(message.case.unwrap().case_id, case_id);
}

/// A stream takes a message this process just wrote from memory; the same
/// message read back from storage, by a later process, must be identical.
#[tokio::test]
async fn a_message_pushed_as_written_is_the_one_read_back_later() {
    // Between whole milliseconds: storage keeps milliseconds, and the
    // pushed message must already say what a later read says.
    let now = START + time::Duration::nanoseconds(1_234_567);
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let app = start_at(dir, now).await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, Some(0)).await;
    submit(&app, 1).await;
    submit(&app, 2).await;
    let pushed = [
        next_message(&mut stream).await,
        next_message(&mut stream).await,
    ];
    drop(stream);
    let dir = app.stop().await;

    let app = start_at(dir, now).await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut read_back = subscribe(&mut inbox, Some(0)).await;
    for message in pushed {
        assert_eq!(next_message(&mut read_back).await, message);
    }
}

/// Reads `stream` until it fails: its status. A message is a failure of
/// the test: the agency may no longer receive.
async fn refused(stream: &mut tonic::Streaming<pb::SubscribeResponse>) -> tonic::Status {
    loop {
        let item = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("the stream goes on");
        match item {
            Ok(Some(pb::SubscribeResponse {
                event: Some(pb::subscribe_response::Event::Message(message)),
            })) => panic!("delivered to a disabled agency: {message:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => return status,
        }
    }
}

/// A stream outlives the call that opened it: once its agency is disabled
/// (by an operator, another replica, `certs revoke`), it delivers nothing
/// more and ends `UNAUTHENTICATED`, before its next message (here a pickup
/// told to the detox center, which the case names; heartbeats a minute
/// apart) or at its next heartbeat.
#[tokio::test]
async fn an_open_stream_ends_once_its_agency_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let config = Config {
        heartbeat: std::time::Duration::from_secs(60),
        ..config(dir.path())
    };
    let app = start_with(dir, START, config).await;
    let mut center = app.inbox("taiyuan-detox").await;
    let mut stream = subscribe(&mut center, None).await;
    let case_id = submit(&app, 1).await;
    disable(&app, "taiyuan-detox").await;
    crate::steps::pickup(&app, "yingze-project", &case_id)
        .await
        .unwrap();
    let ended = refused(&mut stream).await;
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert!(ended.message().contains("disabled"), "{ended:?}");
}

/// An idle stream of an agency disabled since ends at its next heartbeat.
#[tokio::test]
async fn an_idle_stream_ends_at_its_heartbeat_once_its_agency_is_disabled() {
    let app = spawn_app().await;
    let mut project = app.inbox("xiaodian-project").await;
    let mut idle = subscribe(&mut project, None).await;
    disable(&app, "xiaodian-project").await;
    let ended = refused(&mut idle).await;
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
}

/// A message whose stored case does not open (here its event body,
/// damaged on disk while the gateway was down) goes out in its place with
/// why and nothing of the case, and the stream goes on past it; the
/// operators see it counted.
#[tokio::test]
async fn a_message_that_does_not_open_holds_up_no_later_message() {
    let app = spawn_app().await;
    let cases: Vec<_> = submitted(&app, 1..=3).await;
    let dir = app.stop().await;
    let db = rusqlite::Connection::open(dir.path().join("data/gateway.db")).unwrap();
    let damaged = db
        .execute(
            "UPDATE case_events SET body = substr(body, 2) WHERE case_id = ?1",
            [&cases[1]],
        )
        .unwrap();
    assert_eq!(damaged, 1);
    let config = config(dir.path());
    let app = start_with(dir, START, config).await;

    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, None).await;
    let first = next_message(&mut stream).await;
    assert_eq!(first.case.unwrap().case_id, cases[0]);
    let unreadable = next_message(&mut stream).await;
    assert_eq!(unreadable.position, 2);
    assert!(
        unreadable.unreadable.contains("does not open"),
        "{unreadable:?}"
    );
    assert!(unreadable.withheld.is_empty());
    assert_eq!(unreadable.role(), pb::RecipientRole::ResponsibleProject);
    assert!(unreadable.case.is_none() && unreadable.event.is_none());
    let third = next_message(&mut stream).await;
    assert_eq!(third.case.unwrap().case_id, cases[2]);
    inbox
        .acknowledge(pb::AcknowledgeRequest { position: 3 })
        .await
        .unwrap();
    assert!(
        app.gateway
            .metrics()
            .encode()
            .contains("handover_unreadable_messages_total 1"),
    );
}

async fn submitted(app: &App, numbers: std::ops::RangeInclusive<u32>) -> Vec<String> {
    let mut cases = Vec::new();
    for n in numbers {
        cases.push(submit(app, n).await);
    }
    cases
}
