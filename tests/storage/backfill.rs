//! The deadline rows an earlier version could not write: an announcement
//! stored before the `discharge` deadline existed gets its row at the
//! next start, and its overdue discharge is escalated like any other.

use handover_gateway::api::pb;
use time::macros::datetime;

use crate::app::{self, App, START};
use crate::gateway;
use crate::support::Db;

conformance!(an_announcement_stored_before_the_discharge_deadline_gets_it_at_the_next_start);

async fn start(db: &Db, dir: tempfile::TempDir, now: time::OffsetDateTime) -> App {
    let config = gateway::config(&dir, db);
    app::start_with(dir, now, config).await
}

async fn announced(app: &App, n: u32) -> String {
    let request = pb::AnnounceReleaseRequest {
        request_id: format!("a-{n}"),
        decision_number: format!("D-{n}"),
        person: Some(app::person(&app::id_number("19900307", n), "140106", None)),
        planned_release_date: "2026-12-08".into(),
        term_months: 12,
    };
    let mut intake = app.intake("taiyuan-detox").await;
    let receipt = intake.announce_release(request).await.unwrap().into_inner();
    receipt.receipt.unwrap().case_id
}

/// As the upgrade finds announcements an earlier version stored: no
/// deadline row, and on the list.
async fn as_stored_before(db: &Db, cases: &[&str]) {
    for case_id in cases {
        let rows = format!("DELETE FROM deadlines WHERE case_id = '{case_id}'");
        db.raw_execute(&rows).await.unwrap();
        let listed = format!("INSERT INTO deadline_backfill (case_id) VALUES ('{case_id}')");
        db.raw_execute(&listed).await.unwrap();
    }
}

/// (listed, discharge deadline rows), once nothing is listed any more.
async fn settled(db: &Db) -> (i64, i64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = db.raw_count("SELECT COUNT(*) FROM deadline_backfill").await;
        let rows = db
            .raw_count("SELECT COUNT(*) FROM deadlines WHERE kind = 'discharge'")
            .await;
        if listed == 0 || tokio::time::Instant::now() > deadline {
            return (listed, rows);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

async fn missed(app: &App, case_id: &str) -> Vec<pb::DeadlineKind> {
    let case = app.case_for_office(case_id).await;
    (case.history.iter())
        .filter_map(|event| match &event.detail {
            Some(pb::case_event::Detail::DeadlineMissed(missed)) => Some(missed.kind()),
            _ => None,
        })
        .collect()
}

async fn an_announcement_stored_before_the_discharge_deadline_gets_it_at_the_next_start(db: Db) {
    let app = gateway::spawn_at(&db, START).await;
    let (early, late) = (announced(&app, 1).await, announced(&app, 2).await);
    let dir = app.stop().await;
    as_stored_before(&db, &[&early]).await;
    let rows = "SELECT COUNT(*) FROM deadlines WHERE kind = 'discharge'";
    assert_eq!(db.raw_count(rows).await, 1, "only the other one's");

    // Not due yet: the row is written by a write of no new event.
    let app = start(&db, dir, START).await;
    assert_eq!(settled(&db).await, (0, 2));
    assert!(missed(&app, &early).await.is_empty());
    assert_eq!(app.gateway.backfill_deadlines().await.unwrap(), (0, false));
    let dir = app.stop().await;
    as_stored_before(&db, &[&late]).await;

    // Started after the planned day's deadline (the end of 2026-12-09,
    // China time): the scan finds the row written at the last start, and
    // the backfill records the one it writes now at once.
    let app = start(&db, dir, datetime!(2026-12-09 17:00 UTC)).await;
    assert_eq!(settled(&db).await, (0, 2));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while missed(&app, &early).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "not escalated");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    for case_id in [&early, &late] {
        assert_eq!(missed(&app, case_id).await, [pb::DeadlineKind::Discharge]);
    }
    app.stop().await;
}
