//! The audit log: appends seal onto one linear chain, also when several
//! writers, in one process or several, append at once.

use std::sync::Arc;
use std::time::Duration;

use handover_gateway::domain::audit::{AuditRecord, AuditText, Chain, verify};

use handover_gateway::storage::{Conflict, StorageError};

use sqlx::{Connection, PgConnection};

use crate::support::{Db, Kind, audit_positions, audit_record, discharged, person, run, write};

conformance!(
    appended_records_read_back_as_one_chain,
    a_case_write_commits_its_entry_and_a_refused_one_leaves_none,
    concurrent_appends_from_two_openings_keep_the_chain_linear,
    the_database_refuses_to_change_or_delete_audit_rows,
);

fn record(n: u64) -> AuditRecord {
    let mut record = audit_record(n);
    // Quotes, a backslash and Chinese: PostgreSQL seals entries from the
    // record's JSON itself, and must hash the bytes Rust would.
    record.details.purpose = Some(AuditText::new(&format!("复核 \"{n}\" \\ 线索")));
    record
}

async fn appended_records_read_back_as_one_chain(db: Db) {
    let storage = db.open().await;
    assert!(storage.audit_entries(0, 10).await.unwrap().is_empty());
    let mut expected = Chain::new();
    let mut sealed = Vec::new();
    for n in 1..=5 {
        sealed.push(expected.seal(&record(n)).unwrap());
    }

    storage
        .append_audit(&[record(1), record(2), record(3)])
        .await
        .unwrap();
    let end = storage.append_audit(&[record(4), record(5)]).await.unwrap();

    assert_eq!(end, expected);
    let entries = storage.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries, sealed);
    assert_eq!(storage.audit_entries(2, 2).await.unwrap(), sealed[2..4]);
    let head = verify(entries).unwrap();
    assert_eq!(head.entries, 5);
    assert_eq!(head.hash, sealed[4].hash);
    assert_eq!(storage.append_audit(&[]).await.unwrap(), expected);
    storage.close().await;
}

async fn a_case_write_commits_its_entry_and_a_refused_one_leaves_none(db: Db) {
    let storage = db.open().await;
    storage.append_audit(&[record(1)]).await.unwrap();
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let mut first = write(&case, 0, "r-1", &["yingze-project"]);
    first.audit = Some(record(2));
    storage.write_case(first).await.unwrap();
    let twin = discharged("D-1", "140106", person(2, "140106"), Some("yingze-project"));
    let mut refused = write(&twin, 0, "r-2", &["yingze-project"]);
    refused.audit = Some(record(3));

    let conflict = storage.write_case(refused).await.unwrap_err();
    assert!(
        matches!(conflict, StorageError::Conflict(Conflict::DecisionNumber)),
        "{conflict:?}"
    );
    storage.append_audit(&[record(4)]).await.unwrap();

    let entries = storage.audit_entries(0, 100).await.unwrap();
    assert_eq!(audit_positions(&entries), [Some(1), Some(2), Some(4)]);
    assert_eq!(verify(entries).unwrap().entries, 3);
    storage.close().await;
}

async fn concurrent_appends_from_two_openings_keep_the_chain_linear(db: Db) {
    // Two openings stand for two gateway processes on one database.
    let openings = [db.open().await, db.open().await];
    let appenders: Vec<_> = (0..16u64)
        .map(|n| {
            let storage = Arc::clone(&openings[(n % 2) as usize]);
            let batch = [record(n * 3), record(n * 3 + 1), record(n * 3 + 2)];
            tokio::spawn(async move { storage.append_audit(&batch).await })
        })
        .collect();
    for appender in appenders {
        appender.await.unwrap().unwrap();
    }

    let entries = openings[0].audit_entries(0, 1000).await.unwrap();
    assert_eq!(verify(entries.clone()).unwrap().entries, 48);
    let mut positions: Vec<_> = entries
        .iter()
        .map(|e| e.parse().unwrap().record.details.position.unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (0..48).collect::<Vec<_>>());
    for storage in openings {
        storage.close().await;
    }
}

async fn the_database_refuses_to_change_or_delete_audit_rows(db: Db) {
    let storage = db.open().await;
    storage.append_audit(&[record(1), record(2)]).await.unwrap();
    storage.close().await;

    for sql in [
        "UPDATE audit_log SET entry = 'forged' WHERE sequence = 1",
        "DELETE FROM audit_log WHERE sequence = 2",
    ] {
        let refused = db.raw_execute(sql).await.unwrap_err();
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    let storage = db.open().await;
    assert_eq!(
        verify(storage.audit_entries(0, 10).await.unwrap())
            .unwrap()
            .entries,
        2
    );
    storage.close().await;
}

/// VACUUM, and so autovacuum, holds SHARE UPDATE EXCLUSIVE on the table it
/// works on. An append must not wait for it: under steady appends the
/// log's autovacuum would stall every audited call and then be cancelled,
/// or, against wraparound, stall them for as long as it runs. A transaction
/// holding that lock stands for the vacuum; it is held until both writes
/// have answered, so under a lock that conflicts they would never answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_appends_and_case_writes_do_not_wait_for_a_vacuum_of_the_log() {
    run(Kind::Postgres, |db| async move {
        let storage = db.open().await;
        storage.append_audit(&[record(1)]).await.unwrap();
        let mut vacuum = PgConnection::connect(db.setting.to_str().unwrap())
            .await
            .unwrap();
        let mut held = vacuum.begin().await.unwrap();
        sqlx::query("LOCK TABLE audit_log IN SHARE UPDATE EXCLUSIVE MODE")
            .execute(&mut *held)
            .await
            .unwrap();

        let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
        let mut written = write(&case, 0, "r-1", &["yingze-project"]);
        written.audit = Some(record(2));
        let both = async {
            storage.append_audit(&[record(3)]).await.unwrap();
            storage.write_case(written).await.unwrap();
        };
        // Not a measure of speed: a bound on a wait that, under a lock
        // that conflicts, has no end.
        tokio::time::timeout(Duration::from_secs(60), both)
            .await
            .expect("an append waited for the vacuum's lock");
        held.commit().await.unwrap();
        vacuum.close().await.unwrap();

        let entries = storage.audit_entries(0, 10).await.unwrap();
        assert_eq!(audit_positions(&entries), [Some(1), Some(3), Some(2)]);
        assert_eq!(verify(entries).unwrap().entries, 3);
        storage.close().await;
    })
    .await;
}
