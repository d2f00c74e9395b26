//! The Prometheus endpoint: a real gateway with its metrics port on
//! 127.0.0.1:0, real calls over mutual TLS, then `GET /metrics` over plain
//! HTTP, read the way a scraper reads it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::domain::clock::ManualClock;
use handover_gateway::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

use crate::support::*;

mod tls;

const PROJECT_LAG: &str = r#"handover_inbox_lag{agency="yingze-project",kind="county-project"}"#;
const PROJECT_STREAMS: &str =
    r#"handover_inbox_streams_open{agency="yingze-project",kind="county-project"}"#;

/// `spawn_app()` with the metrics port on, read afresh at every scrape.
pub(super) async fn spawn_app_with_metrics() -> (App, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path()).await;
    let config = handover_gateway::config::Config {
        metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        metrics_refresh: Duration::ZERO,
        ..config(dir.path())
    };
    let clock = Arc::new(ManualClock::new(START));
    let server = Server::build(config, clock.clone()).await.unwrap();
    let metrics = server.metrics_addr().expect("the metrics port is on");
    let app = App {
        addr: server.local_addr(),
        stop: server.shutdown_token(),
        gateway: server.gateway().clone(),
        tls: server.tls().clone(),
        server: tokio::spawn(server.run(std::future::pending())),
        dir,
        clock,
    };
    (app, metrics)
}

/// One HTTP/1.1 request; the status line, the headers and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

pub(super) async fn scrape(addr: SocketAddr) -> String {
    let (status, headers, body) = get(addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    body
}

/// The value of the sample named exactly `series` (name and labels), if
/// the scrape has it.
pub(super) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// Scrapes until `series` reads `expected`: some values move in a task
/// that runs after the call answered. Fails after 10 s.
pub(super) async fn eventually(addr: SocketAddr, series: &str, expected: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(addr).await;
        if value(&text, series) == Some(expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} is not {expected} after 10 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn discharge_of(n: u32) -> pb::SubmitDischargeRequest {
    let person = person(&id_number("19900307", n), "140106", None);
    discharge(&format!("r-{n}"), &format!("D-{n}"), person)
}

#[tokio::test]
async fn a_live_stream_takes_what_this_process_wrote_from_memory() {
    let (app, metrics) = spawn_app_with_metrics().await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, Some(0)).await;
    submit_as_detox(&app, discharge_of(1)).await;
    submit_as_detox(&app, discharge_of(2)).await;
    for position in 1..=2 {
        assert_eq!(next_message(&mut stream).await.position, position);
    }
    let text = scrape(metrics).await;
    assert_eq!(
        value(
            &text,
            r#"handover_streamed_messages_total{source="memory"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            r#"handover_streamed_messages_total{source="storage"}"#
        )
        .unwrap_or(0.0),
        0.0,
        "nothing was read back"
    );
}

#[tokio::test]
async fn submissions_refusals_deliveries_and_commits_are_counted() {
    let (app, metrics) = spawn_app_with_metrics().await;
    let before = scrape(metrics).await;
    assert_eq!(
        value(&before, r#"handover_build_info{version="0.1.0"}"#),
        Some(1.0)
    );
    assert!(value(&before, "handover_process_start_time_seconds").unwrap() > 1.7e9);
    assert_eq!(
        value(
            &before,
            r#"handover_submissions_total{call="SubmitDischarge"}"#
        ),
        None
    );

    submit_as_detox(&app, discharge_of(1)).await;
    let mut bad = discharge_of(2);
    let number = &mut bad.person.as_mut().unwrap().id_number;
    let wrong_check = if number.ends_with('0') { "1" } else { "0" };
    number.replace_range(17.., wrong_check);
    let refused = app
        .intake("taiyuan-detox")
        .await
        .submit_discharge(bad)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    let text = scrape(metrics).await;
    assert_eq!(
        value(
            &text,
            r#"handover_submissions_total{call="SubmitDischarge"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"handover_refusals_total{call="SubmitDischarge",code="INVALID_ARGUMENT"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"handover_deliveries_total{role="responsible-project"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"handover_commit_seconds_count{outcome="committed"}"#
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("张三") && !text.contains("19900307"),
        "no person data"
    );
    app.stop().await;
}

#[tokio::test]
async fn open_streams_and_inbox_lag_follow_the_subscriber() {
    let (app, metrics) = spawn_app_with_metrics().await;
    assert_eq!(value(&scrape(metrics).await, PROJECT_LAG), Some(0.0));
    submit_as_detox(&app, discharge_of(1)).await;
    assert_eq!(value(&scrape(metrics).await, PROJECT_LAG), Some(1.0));

    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, None).await;
    let message = next_message(&mut stream).await;
    assert_eq!(value(&scrape(metrics).await, PROJECT_STREAMS), Some(1.0));
    inbox
        .acknowledge(pb::AcknowledgeRequest {
            position: message.position,
        })
        .await
        .unwrap();
    assert_eq!(value(&scrape(metrics).await, PROJECT_LAG), Some(0.0));

    drop(stream);
    eventually(metrics, PROJECT_STREAMS, 0.0).await;
    app.stop().await;
}

#[tokio::test]
async fn a_case_past_its_pickup_deadline_is_overdue() {
    let (app, metrics) = spawn_app_with_metrics().await;
    submit_as_detox(&app, discharge_of(1)).await;
    assert_eq!(
        value(&scrape(metrics).await, "handover_overdue_cases"),
        Some(0.0)
    );
    app.clock.advance(time::Duration::hours(25));
    assert_eq!(
        value(&scrape(metrics).await, "handover_overdue_cases"),
        Some(1.0)
    );
    // Escalated, it stays overdue until the pickup is confirmed.
    app.gateway.escalate_due().await.unwrap();
    assert_eq!(
        value(&scrape(metrics).await, "handover_overdue_cases"),
        Some(1.0)
    );
    app.stop().await;
}

/// Unroutable cases wait for a person at the oversight office: the gauge
/// shows them until the office assigns them.
#[tokio::test]
async fn an_unroutable_case_is_counted_until_the_office_assigns_it() {
    let (app, metrics) = spawn_app_with_metrics().await;
    submit_as_detox(&app, discharge_of(1)).await;
    let nowhere = person(&id_number("19900307", 2), "140108", None);
    let case_id = submit_as_detox(&app, discharge("r-2", "D-2", nowhere))
        .await
        .case_id;
    assert_eq!(
        value(&scrape(metrics).await, "handover_unroutable_cases"),
        Some(1.0)
    );
    app.supervision("shanxi-office")
        .await
        .assign_case(pb::AssignCaseRequest {
            request_id: "assign-1".into(),
            case_id,
            expected_version: None,
            to_region: "140106".into(),
            reason: "lives in Yingze".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        value(&scrape(metrics).await, "handover_unroutable_cases"),
        Some(0.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn the_metrics_port_answers_only_metrics_and_is_off_by_default() {
    let (app, metrics) = spawn_app_with_metrics().await;
    let (status, _, _) = get(metrics, "/").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _, _) = get(metrics, "/metrics/../secrets").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    app.stop().await;
    assert!(
        TcpStream::connect(metrics).await.is_err(),
        "the port closes with the gateway"
    );

    assert_eq!(
        handover_gateway::config::Config::default().metrics_listen,
        None,
        "off unless asked for"
    );
}
