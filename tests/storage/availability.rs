//! The PostgreSQL database going away under a running gateway, for real:
//! the database refuses connections and its sessions are ended. Writes are
//! refused with UNAVAILABLE, health turns NOT_SERVING, and once the
//! database is back the gateway serves again, the refused request lands
//! under its request id, and nothing acknowledged before was lost.

use std::future::Future;
use std::time::Duration;

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::api::pb::intake_service_server::SERVICE_NAME as INTAKE;
use handover_gateway::bootstrap;
use handover_gateway::config::Config;
use sqlx::Connection;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::app::{self, App, START};
use crate::support::{self, Db, Kind, run};

/// How long health may take to follow the database: many checks at the
/// test's interval, and still short.
const HEALTH_FOLLOWS_WITHIN: Duration = Duration::from_secs(10);

/// A gateway on `db` that checks the database every 100 ms.
async fn spawn_on(db: &Db) -> App {
    let dir = tempfile::tempdir().unwrap();
    let backend = db.unsealed().await;
    bootstrap::development(&app::certs_dir(dir.path()), backend.storage())
        .await
        .unwrap();
    backend.storage().close().await;
    let config = Config {
        database: db.setting.clone(),
        health_check: Duration::from_millis(100),
        ..app::config(dir.path())
    };
    app::start_with(dir, START, config).await
}

/// The database name in `db`'s URL.
fn name_of(db: &Db) -> String {
    let url = db.setting.to_str().unwrap();
    let path = url.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_owned()
}

async fn admin(sql: &str) {
    let mut connection = sqlx::PgConnection::connect(&support::admin_url())
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
}

/// Runs `during` while database `name` refuses connections and has none
/// open, then lets connections in again, also when `during` panics, so
/// that the database can be dropped afterwards.
async fn while_unreachable<T, Fut>(name: &str, during: Fut) -> T
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .await;
    let outcome = tokio::spawn(during).await;
    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    outcome.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
}

/// The health of the whole server and of the intake service.
async fn health(client: &mut HealthClient<Channel>) -> [ServingStatus; 2] {
    let mut statuses = [ServingStatus::Unknown; 2];
    for (status, service) in statuses.iter_mut().zip(["", INTAKE]) {
        let answer = client
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|status| panic!("health check of {service:?}: {status:?}"));
        *status = answer.into_inner().status();
    }
    statuses
}

/// Polls until both report `wanted`.
async fn until_health(client: &mut HealthClient<Channel>, wanted: ServingStatus) {
    let deadline = tokio::time::Instant::now() + HEALTH_FOLLOWS_WITHIN;
    loop {
        let statuses = health(client).await;
        if statuses == [wanted; 2] {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health still {statuses:?}, not {wanted:?}, after {HEALTH_FOLLOWS_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn discharge(n: u32) -> pb::SubmitDischargeRequest {
    let person = app::person(&app::id_number("19900307", n), "140106", None);
    app::discharge(&format!("r-{n}"), &format!("D-{n}"), person)
}

/// Each acknowledged discharge `n` is found under its case id, with its
/// decision number.
async fn assert_still_stored(app: &App, acknowledged: &[(u32, String)]) {
    let mut cases = app.cases("shanxi-office").await;
    for (n, case_id) in acknowledged {
        let case = cases
            .get_case(pb::GetCaseRequest {
                key: Some(Key::CaseId(case_id.clone())),
                purpose: String::new(),
            })
            .await
            .unwrap_or_else(|status| panic!("acknowledged case {n} is gone: {status:?}"))
            .into_inner()
            .case
            .unwrap();
        assert_eq!(case.decision_number, format!("D-{n}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_refuses_writes_turns_health_off_and_loses_nothing() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        // One connection for writes and health, as a detox center would
        // hold it across the outage.
        let channel = app.channel("taiyuan-detox").await;
        let mut intake = pb::intake_service_client::IntakeServiceClient::new(channel.clone());
        let mut health_client = HealthClient::new(channel);
        let mut before = Vec::new();
        for n in 1..=5 {
            let receipt = intake
                .submit_discharge(discharge(n))
                .await
                .unwrap()
                .into_inner()
                .receipt
                .unwrap();
            before.push((n, receipt.case_id));
        }
        assert_eq!(
            health(&mut health_client).await,
            [ServingStatus::Serving; 2]
        );

        let (mut intake, mut health_client) = while_unreachable(&name_of(&db), async move {
            let refused = intake
                .submit_discharge(discharge(6))
                .await
                .expect_err("a write was acknowledged while the database was unreachable");
            assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
            until_health(&mut health_client, ServingStatus::NotServing).await;
            let again = intake.submit_discharge(discharge(6)).await.unwrap_err();
            assert_eq!(again.code(), Code::Unavailable, "{again:?}");
            (intake, health_client)
        })
        .await;

        until_health(&mut health_client, ServingStatus::Serving).await;
        let landed = intake
            .submit_discharge(discharge(6))
            .await
            .expect("the refused request, sent again, lands once the database is back")
            .into_inner()
            .receipt
            .unwrap();
        let replayed = intake
            .submit_discharge(discharge(6))
            .await
            .unwrap()
            .into_inner()
            .receipt
            .unwrap();
        assert_eq!(replayed, landed, "the same request id replays its answer");
        let case = app.case_for_office(&landed.case_id).await;
        assert_eq!(
            (case.decision_number.as_str(), case.history.len()),
            ("D-6", 1)
        );

        assert_still_stored(&app, &before).await;
        app.stop().await;
    })
    .await;
}
