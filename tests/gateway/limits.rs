//! Limits on the real server: an agency over its call rate, police over
//! their daily query quota and a message over the size limit are refused
//! with a retry hint, and nobody else notices.

use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::gateway::Limits;
use tonic::Code;
use tonic_types::StatusExt;

use crate::steps::*;
use crate::support::*;

async fn start_limited(limits: Limits) -> App {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let mut config = config(dir.path());
    config.limits = limits;
    start_with(dir, START, config).await
}

async fn read(app: &App, agency: &str, case_id: &str) -> Result<(), tonic::Status> {
    app.cases(agency)
        .await
        .get_case(pb::GetCaseRequest {
            key: Some(Key::CaseId(case_id.into())),
            purpose: "limits".into(),
        })
        .await
        .map(drop)
}

#[tokio::test]
async fn an_agency_over_its_rate_is_told_when_to_retry_and_the_others_go_on() {
    let app = start_limited(Limits {
        calls_per_second: 1.0,
        burst: 3,
        police_queries_per_day: 0,
        ..Limits::default()
    })
    .await;
    let case_id = discharged_in_yingze(&app, 1).await.case_id;
    for _ in 0..3 {
        read(&app, "yingze-project", &case_id).await.unwrap();
    }
    let refused = read(&app, "yingze-project", &case_id).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let hint = refused
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("a retry hint");
    assert_eq!(hint, Duration::from_secs(1));
    assert!(refused.message().contains("yingze-project"), "{refused:?}");

    read(&app, "yingze-police", &case_id).await.unwrap();
    read(&app, "shanxi-office", &case_id).await.unwrap();

    app.clock.advance(time::Duration::seconds(1));
    read(&app, "yingze-project", &case_id).await.unwrap();
}

#[tokio::test]
async fn police_over_their_daily_query_quota_wait_for_the_next_day() {
    let app = start_limited(Limits {
        calls_per_second: 1000.0,
        burst: 1000,
        police_queries_per_day: 2,
        ..Limits::default()
    })
    .await;
    let case_id = discharged_in_yingze(&app, 2).await.case_id;
    read(&app, "yingze-police", &case_id).await.unwrap();
    app.cases("yingze-police")
        .await
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap();
    let refused = read(&app, "yingze-police", &case_id).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let quota = refused.get_details_quota_failure().expect("quota details");
    assert!(quota.violations[0].subject.contains("yingze-police"));
    // START is 10:00 China time: the quota renews in 14 hours.
    let hint = refused.get_details_retry_info().unwrap().retry_delay;
    assert_eq!(hint, Some(Duration::from_secs(14 * 3600)));

    read(&app, "taiyuan-police", &case_id).await.unwrap();
    read(&app, "shanxi-office", &case_id).await.unwrap();
    pickup(&app, "yingze-project", &case_id).await.unwrap();

    app.clock.advance(time::Duration::hours(14));
    read(&app, "yingze-police", &case_id).await.unwrap();
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_and_the_gateway_goes_on() {
    let app = spawn_app().await;
    let mut big = person(&id_number("19850101", 3), "140106", None);
    big.name = "张".repeat(300 * 1024 / 3);
    let refused = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(discharge("big", "D-big", big))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{refused:?}"
    );
    discharged_in_yingze(&app, 4).await;
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_holds_back_nobody_and_later_gets_everything() {
    const COUNT: u64 = 400;
    let app = spawn_app().await;
    let mut project = app.inbox("yingze-project").await;
    // Opened, then not read while the backlog grows far past the gateway's
    // stream buffer and replay batch: the producer must wait, not pile up.
    let mut stalled = subscribe(&mut project, Some(0)).await;
    let mut police = app.inbox("yingze-police").await;
    let mut following = subscribe(&mut police, Some(0)).await;
    for seq in 1..=u32::try_from(COUNT).unwrap() {
        let person = person(&id_number("19700101", seq), "140106", None);
        submit_as_detox(
            &app,
            discharge(&format!("s-{seq}"), &format!("S-{seq}"), person),
        )
        .await;
    }
    for position in 1..=COUNT {
        assert_eq!(next_message(&mut following).await.position, position);
    }
    for position in 1..=COUNT {
        assert_eq!(
            next_message(&mut stalled).await.position,
            position,
            "the stalled stream resumes in order, with no gap"
        );
    }
}

#[tokio::test]
async fn submissions_beyond_the_pending_writes_are_refused_and_go_through_when_retried() {
    let app = start_limited(Limits {
        calls_per_second: 1000.0,
        burst: 1000,
        police_queries_per_day: 0,
        pending_writes: 1,
        pending_wait: Duration::from_millis(50),
        pending_latency: Duration::from_secs(60),
    })
    .await;
    let requests: Vec<_> = (1..=3)
        .map(|n| {
            let person = person(&id_number("19850101", 700 + n), "140106", None);
            discharge(&format!("p-{n}"), &format!("P-{n}"), person)
        })
        .collect();
    let mut clients = Vec::new();
    for _ in &requests {
        clients.push(app.intake("taiyuan-detox").await);
    }
    // Another connection holds SQLite's write lock, so the one write let
    // in waits in the database while the others ask for its place.
    let holder = rusqlite::Connection::open(app.dir.path().join("data/gateway.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let calls: Vec<_> = clients
        .into_iter()
        .zip(requests.clone())
        .map(|(mut client, request)| {
            tokio::spawn(async move { client.submit_discharge(request).await })
        })
        .collect();
    // Twenty times the wait: every call but one has been refused by then.
    tokio::time::sleep(Duration::from_secs(1)).await;
    holder.execute_batch("COMMIT").unwrap();

    let mut refused = Vec::new();
    for (call, request) in calls.into_iter().zip(requests) {
        match call.await.unwrap() {
            Ok(_) => {}
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let hint = status.get_details_retry_info().and_then(|i| i.retry_delay);
                assert_eq!(hint, Some(Duration::from_millis(100)));
                refused.push(request);
            }
        }
    }
    assert_eq!(refused.len(), 2, "one write at a time was let in");
    for request in refused {
        submit_as_detox(&app, request).await;
    }
    let cases = app
        .cases("shanxi-office")
        .await
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(cases.len(), 3);
}

#[tokio::test]
async fn submissions_are_refused_while_writes_take_longer_than_the_pending_latency() {
    let app = start_limited(Limits {
        calls_per_second: 1000.0,
        burst: 1000,
        police_queries_per_day: 0,
        pending_writes: 1024,
        pending_wait: Duration::from_secs(5),
        pending_latency: Duration::from_millis(50),
    })
    .await;
    let request = |n: u32| {
        let person = person(&id_number("19850101", 700 + n), "140106", None);
        discharge(&format!("q-{n}"), &format!("Q-{n}"), person)
    };
    // One write held in the database for longer than the latency allows.
    let holder = rusqlite::Connection::open(app.dir.path().join("data/gateway.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut slow = app.intake("taiyuan-detox").await;
    let first = request(1);
    let held = tokio::spawn(async move { slow.submit_discharge(first).await });
    // Connected beforehand, so that the next call follows the slow write
    // by a few milliseconds, well within the interval.
    let mut next = app.intake("taiyuan-detox").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.execute_batch("COMMIT").unwrap();
    let answered = held.await.unwrap().unwrap().into_inner();

    let refused = next.submit_discharge(request(2)).await.unwrap_err();
    // A retry of the answered write needs no place: it is replayed even now.
    let replayed = next.submit_discharge(request(1)).await.unwrap();
    assert_eq!(replayed.into_inner(), answered);

    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let hint = refused.get_details_retry_info().and_then(|i| i.retry_delay);
    assert_eq!(hint, Some(Duration::from_millis(100)));
    let subject = refused
        .get_details_quota_failure()
        .map(|failure| failure.violations[0].subject.clone());
    assert_eq!(subject.as_deref(), Some("pending_latency"));
    // Once an interval passes with no slow write, the same request goes in.
    tokio::time::sleep(Duration::from_millis(250)).await;
    submit_as_detox(&app, request(2)).await;
}
