//! The real gateway on PostgreSQL: a few representative journeys of the
//! gateway suite (tests/gateway, which runs on SQLite), over mutual TLS,
//! with the database chosen by the `database` setting as in production.

use std::sync::Arc;

use handover_gateway::api::pb;
use handover_gateway::bootstrap;
use handover_gateway::config::Config;
use handover_gateway::domain::agency::AgencyId;
use handover_gateway::domain::clock::ManualClock;
use handover_gateway::domain::intake::DecisionNumber;
use handover_gateway::server::Server;
use handover_gateway::storage::{Backend, CaseKey, Lookup, StorageError};
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;
use tonic::Code;

use crate::app::{self, App, START};
use crate::support::{Db, Kind, run};

/// The gateway's configuration for the files in `dir` and the database
/// `db` names.
pub(crate) fn config(dir: &TempDir, db: &Db) -> Config {
    Config {
        database: db.setting.clone(),
        ..app::config(dir.path())
    }
}

/// A gateway with the example registry, on `db`.
async fn spawn_on(db: &Db) -> App {
    spawn_at(db, START).await
}

/// As [`spawn_on`], with the gateway's clock at `now`.
pub(crate) async fn spawn_at(db: &Db, now: time::OffsetDateTime) -> App {
    let dir = tempfile::tempdir().unwrap();
    let backend = db.unsealed().await;
    bootstrap::development(&app::certs_dir(dir.path()), backend.storage())
        .await
        .unwrap();
    backend.storage().close().await;
    let config = config(&dir, db);
    app::start_with(dir, now, config).await
}

async fn submit(app: &App, n: u32) -> String {
    let person = app::person(&app::id_number("19900307", n), "140106", None);
    let request = app::discharge(&format!("r-{n}"), &format!("D-{n}"), person);
    app::submit_as_detox(app, request).await.case_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_discharge_reaches_the_project_and_the_police() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        let case_id = submit(&app, 1).await;
        for agency in ["yingze-project", "yingze-police"] {
            let mut inbox = app.inbox(agency).await;
            let mut stream = app::subscribe(&mut inbox, Some(0)).await;
            let message = app::next_message(&mut stream).await;
            assert_eq!(message.position, 1, "{agency}");
            assert_eq!(message.case.unwrap().case_id, case_id, "{agency}");
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_retry_gets_the_first_answer_and_a_reused_decision_is_refused() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        let person = app::person(&app::id_number("19900307", 1), "140106", None);
        let request = app::discharge("r-1", "D-1", person);
        let first = app::submit_as_detox(&app, request.clone()).await;
        let again = app::submit_as_detox(&app, request.clone()).await;
        assert_eq!(again, first);

        let same_decision = pb::SubmitDischargeRequest {
            request_id: "r-2".into(),
            ..request
        };
        let mut intake = app.intake("taiyuan-detox").await;
        let refused = intake.submit_discharge(same_decision).await.unwrap_err();
        assert_eq!(refused.code(), Code::AlreadyExists);
        let case = app.case_for_office(&first.case_id).await;
        assert_eq!(case.history.len(), 1, "written once");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_restarted_gateway_resumes_every_inbox_without_a_gap() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        let mut cases = vec![submit(&app, 1).await, submit(&app, 2).await];
        let dir = app.stop().await;

        let config = config(&dir, &db);
        let app = app::start_with(dir, START, config).await;
        cases.push(submit(&app, 3).await);
        let mut inbox = app.inbox("yingze-project").await;
        let mut stream = app::subscribe(&mut inbox, Some(0)).await;
        for (position, case_id) in (1..=3).zip(&cases) {
            let message = app::next_message(&mut stream).await;
            assert_eq!(message.position, position);
            assert_eq!(&message.case.unwrap().case_id, case_id);
        }
        app.stop().await;
    })
    .await;
}

/// As `tests/gateway/inbox.rs a_message_pushed_as_written_is_the_one_read_back_later`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_message_pushed_as_written_is_the_one_read_back_later() {
    run(Kind::Postgres, |db| async move {
        let now = START + time::Duration::nanoseconds(1_234_567);
        let app = spawn_at(&db, now).await;
        let mut inbox = app.inbox("yingze-police").await;
        let mut stream = app::subscribe(&mut inbox, Some(0)).await;
        submit(&app, 1).await;
        submit(&app, 2).await;
        let pushed = [
            app::next_message(&mut stream).await,
            app::next_message(&mut stream).await,
        ];
        drop(stream);
        let dir = app.stop().await;

        let config = config(&dir, &db);
        let app = app::start_with(dir, now, config).await;
        let mut inbox = app.inbox("yingze-police").await;
        let mut read_back = app::subscribe(&mut inbox, Some(0)).await;
        for message in pushed {
            assert_eq!(app::next_message(&mut read_back).await, message);
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_gateway_without_its_master_key_refuses_existing_cases() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        submit(&app, 1).await;
        let dir = app.stop().await;
        std::fs::remove_file(dir.path().join("data/master.key")).unwrap();

        let clock = Arc::new(ManualClock::new(START));
        let refused = Server::build(config(&dir, &db), clock)
            .await
            .err()
            .expect("started without its master key");

        assert!(format!("{refused:#}").contains("master key"), "{refused:#}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_audit_verify_reads_the_chain_the_gateway_wrote() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        submit(&app, 1).await;
        submit(&app, 2).await;
        app.stop().await;

        let verify = |setting: std::path::PathBuf| {
            std::process::Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
                .args(["audit", "verify", "--database"])
                .arg(setting)
                .output()
                .unwrap()
        };
        let intact = verify(db.setting.clone());
        let said = String::from_utf8_lossy(&intact.stdout);
        assert!(
            intact.status.success(),
            "{said} {}",
            String::from_utf8_lossy(&intact.stderr)
        );
        assert!(said.starts_with("audit log intact: "), "{said}");
        assert!(!said.contains("intact: 0 entries"), "{said}");

        db.raw_execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
            .await
            .unwrap();
        db.raw_execute("UPDATE audit_log SET entry = entry || ' ' WHERE sequence = 2")
            .await
            .unwrap();
        let broken = verify(db.setting.clone());
        assert!(!broken.status.success(), "a changed entry went unnoticed");
        assert!(String::from_utf8_lossy(&broken.stderr).contains("audit log broken"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_the_gateway_reaches_the_database_over_verified_tls() {
    run(Kind::Postgres, |db| async move {
        // The test server's certificate (Debian's self-signed one, for
        // "localhost") is its own root.
        let mut admin = PgConnection::connect(db.setting.to_str().unwrap())
            .await
            .unwrap();
        let (ssl, root): (String, String) =
            sqlx::query_as("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
                .fetch_one(&mut admin)
                .await
                .unwrap();
        assert_eq!(ssl, "on", "the test PostgreSQL server must offer TLS");
        let tls = db
            .on_localhost()
            .with_parameters(&format!("sslmode=verify-full&sslrootcert={root}"));
        let app = spawn_on(&tls).await;
        submit(&app, 1).await;
        let encrypted: Vec<bool> = sqlx::query_scalar(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'handover-gateway' AND a.datname = current_database()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!encrypted.is_empty(), "no gateway connection found");
        assert!(encrypted.iter().all(|ssl| *ssl), "{encrypted:?}");

        // A server whose certificate the root does not vouch for is refused.
        let other_root = app::certs_dir(app.dir.path()).join("ca.pem");
        let untrusted = db.on_localhost().with_parameters(&format!(
            "sslmode=verify-full&sslrootcert={}",
            other_root.display()
        ));
        let refused = Backend::open(&untrusted.database()).await;
        assert!(
            matches!(&refused, Err(StorageError::Unavailable(why)) if why.contains("certificate")),
            "{refused:?}"
        );
        app.stop().await;
    })
    .await;
}

/// The deployment guide's URL for a PostgreSQL server on the same host:
/// its Unix socket, no TCP and no TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_the_gateway_reaches_the_database_over_its_unix_socket() {
    run(Kind::Postgres, |db| async move {
        let mut admin = PgConnection::connect(db.setting.to_str().unwrap())
            .await
            .unwrap();
        let directories: String =
            sqlx::query_scalar("SELECT current_setting('unix_socket_directories')")
                .fetch_one(&mut admin)
                .await
                .unwrap();
        let socket = directories.split(',').next().unwrap_or_default().trim();
        assert!(
            !socket.is_empty(),
            "the test PostgreSQL server must listen on a Unix socket"
        );
        let app = spawn_on(&db.over_socket(socket)).await;
        submit(&app, 1).await;
        let over_tcp: Vec<bool> = sqlx::query_scalar(
            "SELECT client_addr IS NOT NULL FROM pg_stat_activity
             WHERE application_name = 'handover-gateway' AND datname = current_database()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!over_tcp.is_empty(), "no gateway connection found");
        assert!(over_tcp.iter().all(|tcp| !*tcp), "{over_tcp:?}");
        app.stop().await;
    })
    .await;
}

/// On PostgreSQL too, a submission's audit entry commits in the write's
/// own transaction: when the entry cannot be written, neither is the case
/// nor its answer, and the caller hears `UNAVAILABLE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_write_whose_audit_entry_cannot_be_written_is_not_written_either() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        db.raw_execute(
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'the test refuses audit entries'; END; $$",
        )
        .await
        .unwrap();
        let refuse = "CREATE TRIGGER audit_log_refuses BEFORE INSERT ON audit_log
             FOR EACH ROW EXECUTE FUNCTION refuse_audit()";
        db.raw_execute(refuse).await.unwrap();
        let person = app::person(&app::id_number("19900307", 1), "140106", None);
        let request = app::discharge("r-1", "D-1", person);

        let refused = app
            .intake("taiyuan-detox")
            .await
            .submit_discharge(request.clone())
            .await
            .unwrap_err();

        assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
        let storage = app.gateway.storage();
        let decision = CaseKey::Decision(DecisionNumber::parse("D-1").unwrap(), [0; 32]);
        let detox = AgencyId::parse("taiyuan-detox").unwrap();
        let found = storage
            .answer_or_case(&detox, "r-1", &decision)
            .await
            .map(|looked| looked.found);
        assert!(
            matches!(found, Ok(Lookup::Unanswered(None, _))),
            "neither the answer nor the case: {found:?}"
        );
        let drop = "DROP TRIGGER audit_log_refuses ON audit_log";
        db.raw_execute(drop).await.unwrap();
        let receipt = app::submit_as_detox(&app, request).await;
        let found = storage
            .answer_or_case(&detox, "r-2", &decision)
            .await
            .map(|looked| looked.found);
        match found {
            Ok(Lookup::Unanswered(Some(stored), _)) => {
                assert_eq!(stored.id.as_str(), receipt.case_id)
            }
            other => panic!("the case: {other:?}"),
        }
        app.stop().await;
    })
    .await;
}

/// As tests/gateway/revocation.rs on SQLite: an agency disabled since the
/// gateway held the registry is refused, recorded as unauthenticated, and
/// nothing of its submission is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_caller_disabled_since_the_registry_was_held_writes_nothing() {
    run(Kind::Postgres, |db| async move {
        let app = spawn_on(&db).await;
        submit(&app, 1).await;
        app::disable(&app, "taiyuan-detox").await;

        let person = app::person(&app::id_number("19900307", 2), "140106", None);
        let refused = app
            .intake("taiyuan-detox")
            .await
            .submit_discharge(app::discharge("r-2", "D-2", person))
            .await
            .unwrap_err();

        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        let detox = AgencyId::parse("taiyuan-detox").unwrap();
        let decision = CaseKey::Decision(DecisionNumber::parse("D-2").unwrap(), [0; 32]);
        let storage = app.gateway.storage();
        let looked = storage
            .answer_or_case(&detox, "r-2", &decision)
            .await
            .unwrap();
        assert!(
            matches!(looked.found, Lookup::Unanswered(None, _)),
            "{looked:?}"
        );
        app::assert_last_call_unauthenticated(&app, "taiyuan-detox").await;
        app.stop().await;
    })
    .await;
}
