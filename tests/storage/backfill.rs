//! The deadline rows an earlier version could not write: an announcement
//! stored before the `discharge` deadline existed gets its row at the
//! next start, and its overdue discharge is escalated like any other.

use handover_gateway::api::pb;
use handover_gateway::bootstrap;
use handover_gateway::config::Config;
use time::macros::datetime;

use crate::app::{self, App, START};
use crate::support::Db;

conformance!(an_announcement_stored_before_the_discharge_deadline_gets_it_at_the_next_start);

async fn start(db: &Db, dir: tempfile::TempDir, now: time::OffsetDateTime) -> App {
    let config = Config {
        database: db.setting.clone(),
        ..app::config(dir.path())
    };
    app::start_with(dir, now, config).await
}

async fn announced(app: &App) -> String {
    let request = pb::AnnounceReleaseRequest {
        request_id: "a-1".into(),
        decision_number: "D-1".into(),
        person: Some(app::person(&app::id_number("19900307", 1), "140106", None)),
        planned_release_date: "2026-12-08".into(),
        term_months: 12,
    };
    let mut intake = app.intake("taiyuan-detox").await;
    let receipt = intake.announce_release(request).await.unwrap().into_inner();
    receipt.receipt.unwrap().case_id
}

async fn settled(db: &Db) -> (i64, i64) {
    let listed = db.raw_count("SELECT COUNT(*) FROM deadline_backfill").await;
    let rows = db
        .raw_count("SELECT COUNT(*) FROM deadlines WHERE kind = 'discharge'")
        .await;
    (listed, rows)
}

async fn an_announcement_stored_before_the_discharge_deadline_gets_it_at_the_next_start(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let backend = db.unsealed().await;
    bootstrap::development(&app::certs_dir(dir.path()), backend.storage())
        .await
        .unwrap();
    backend.storage().close().await;
    let app = start(&db, dir, START).await;
    let case_id = announced(&app).await;
    assert_eq!(settled(&db).await, (0, 1));
    let dir = app.stop().await;

    // As the upgrade finds an announcement an earlier version stored.
    db.raw_execute("DELETE FROM deadlines").await.unwrap();
    let listed = format!("INSERT INTO deadline_backfill (case_id) VALUES ('{case_id}')");
    db.raw_execute(&listed).await.unwrap();
    assert_eq!(settled(&db).await, (1, 0));

    // Started after the planned day's deadline (the end of 2026-12-09,
    // China time), the gateway writes the row and escalates at once.
    let app = start(&db, dir, datetime!(2026-12-09 17:00 UTC)).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while settled(&db).await != (0, 1) {
        assert!(tokio::time::Instant::now() < deadline, "not backfilled");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let case = app.case_for_office(&case_id).await;
    let missed: Vec<_> = (case.history.iter())
        .filter_map(|event| match &event.detail {
            Some(pb::case_event::Detail::DeadlineMissed(missed)) => Some(missed.kind()),
            _ => None,
        })
        .collect();
    assert_eq!(missed, [pb::DeadlineKind::Discharge]);
    assert_eq!(app.gateway.backfill_deadlines().await.unwrap(), 0);
    app.stop().await;
}
