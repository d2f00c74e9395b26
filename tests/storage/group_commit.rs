//! Many writers at once, as group commit sees them: writes that share a
//! commit still each get their own answer, a conflicting write is refused
//! alone, inbox positions stay gapless in commit order, the audit chain
//! stays linear, and nothing is answered before it is durable.

use std::collections::BTreeMap;
use std::sync::Arc;

use handover_gateway::domain::audit::verify;
use handover_gateway::domain::case::CaseEvent;
use handover_gateway::domain::submission::SubmissionOutcome;
use handover_gateway::storage::{Conflict, Storage, StorageError};

use sqlx::{Connection, PgConnection};

use crate::support::{Db, Kind, Opened, audit_record, discharged, id, next, person, run, write};

conformance!(
    many_concurrent_writes_all_commit_with_gapless_inboxes,
    a_conflicting_write_among_concurrent_ones_is_refused_alone,
    concurrent_audit_appends_and_writes_keep_one_verifiable_chain,
    an_answered_write_is_seen_by_another_opening_at_once,
    a_closed_storage_refuses_writes_instead_of_hanging,
);

/// Recipients the concurrent writes spread over, so that they share inboxes.
const PROJECTS: usize = 5;

fn project(n: usize) -> String {
    format!("project-{}", n % PROJECTS)
}

fn conflict(result: Result<SubmissionOutcome, StorageError>) -> Conflict {
    match result {
        Err(StorageError::Conflict(conflict)) => conflict,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Writes new case `n` (decision `D-n`, request `r-n`) to its project and
/// the police, each in its own task, all at once.
async fn write_concurrently(
    storage: &Arc<dyn Storage>,
    numbers: std::ops::Range<usize>,
) -> Vec<SubmissionOutcome> {
    let writers: Vec<_> = numbers
        .map(|n| {
            let storage = Arc::clone(storage);
            let project = project(n);
            let case = discharged(
                &format!("D-{n}"),
                "140106",
                person(u32::try_from(n % 1000).unwrap(), "140106"),
                Some(&project),
            );
            let written = write(&case, 0, &format!("r-{n}"), &[&project, "yingze-police"]);
            tokio::spawn(async move { storage.write_case(written).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.push(writer.await.unwrap().unwrap());
    }
    outcomes
}

async fn many_concurrent_writes_all_commit_with_gapless_inboxes(db: Db) {
    let storage = db.open().await;

    let outcomes = write_concurrently(&storage, 0..200).await;

    // Every recipient's positions are 1..=n, and each answer names the
    // position that holds its own case's notice.
    let mut given: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
    for outcome in &outcomes {
        assert_eq!(outcome.deliveries.len(), 2);
        for delivery in &outcome.deliveries {
            let previous = given
                .entry(delivery.agency.as_str().to_owned())
                .or_default()
                .insert(delivery.position, outcome.case_id.as_str().to_owned());
            assert_eq!(previous, None, "a position was given twice");
        }
    }
    assert_eq!(given.len(), PROJECTS + 1);
    for (agency, positions) in given {
        let inbox = storage
            .inbox_after(&id(&agency), 0, 1000)
            .await
            .unwrap()
            .opened();
        let stored: Vec<_> = inbox
            .iter()
            .map(|m| (m.position, m.notice.case.id.as_str().to_owned()))
            .collect();
        assert_eq!(
            stored,
            positions.into_iter().collect::<Vec<_>>(),
            "{agency}"
        );
        let expected: Vec<u64> = (1..=stored.len() as u64).collect();
        let found: Vec<u64> = stored.iter().map(|(position, _)| *position).collect();
        assert_eq!(found, expected, "{agency}'s positions have a gap");
        let state = storage.inbox_state(&id(&agency)).await.unwrap();
        assert_eq!(state.head, expected.len() as u64);
    }
    assert_eq!(
        storage
            .inbox_state(&id("yingze-police"))
            .await
            .unwrap()
            .head,
        200
    );
    storage.close().await;
}

async fn a_conflicting_write_among_concurrent_ones_is_refused_alone(db: Db) {
    let storage = db.open().await;
    let opened = discharged(
        "D-open",
        "140106",
        person(900, "140106"),
        Some("yingze-project"),
    );
    storage
        .write_case(write(&opened, 0, "r-open", &[]))
        .await
        .unwrap();
    let picked_up = next(&opened, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&picked_up, 1, "r-pick", &[]))
        .await
        .unwrap();
    let twin = |decision: &str, n: u32, request: &str| {
        let case = discharged(
            decision,
            "140106",
            person(n, "140106"),
            Some("yingze-project"),
        );
        write(&case, 0, request, &["yingze-project"])
    };
    // Two writes under one request id, two cases for one decision number,
    // two writers from the same version, and one from a version long gone.
    let contested = vec![
        ("request", twin("D-a", 901, "r-same")),
        ("request", twin("D-b", 902, "r-same")),
        ("decision", twin("D-same", 903, "r-d1")),
        ("decision", twin("D-same", 904, "r-d2")),
        (
            "version",
            write(
                &next(&picked_up, "yingze-project", CaseEvent::Reported),
                2,
                "r-v1",
                &["yingze-project"],
            ),
        ),
        (
            "version",
            write(
                &next(&picked_up, "yingze-project", CaseEvent::Reported),
                2,
                "r-v2",
                &["yingze-project"],
            ),
        ),
        (
            "stale",
            write(
                &next(&opened, "yingze-project", CaseEvent::Reported),
                1,
                "r-stale",
                &["yingze-project"],
            ),
        ),
    ];
    let racers: Vec<_> = contested
        .into_iter()
        .map(|(group, written)| {
            let storage = Arc::clone(&storage);
            tokio::spawn(async move { (group, storage.write_case(written).await) })
        })
        .collect();
    let innocent = write_concurrently(&storage, 0..60);

    let innocent = innocent.await;
    let mut won: BTreeMap<&str, usize> = BTreeMap::new();
    for racer in racers {
        let (group, result) = racer.await.unwrap();
        match (group, result) {
            (_, Ok(_)) => *won.entry(group).or_default() += 1,
            ("request", refused) => assert_eq!(conflict(refused), Conflict::RequestId),
            ("decision", refused) => assert_eq!(conflict(refused), Conflict::DecisionNumber),
            (_, refused) => assert_eq!(conflict(refused), Conflict::Version),
        }
    }

    assert_eq!(innocent.len(), 60);
    let won: Vec<_> = won.into_iter().collect();
    assert_eq!(won, [("decision", 1), ("request", 1), ("version", 1)]);
    // The refused writes left nothing: the project got one notice per
    // winner, gapless.
    let project = storage.inbox_state(&id("yingze-project")).await.unwrap();
    assert_eq!(project.head, 3);
    let positions: Vec<u64> = storage
        .inbox_after(&id("yingze-project"), 0, 100)
        .await
        .unwrap()
        .opened()
        .iter()
        .map(|m| m.position)
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    assert!(
        storage
            .answer(&id("taiyuan-detox"), "r-stale")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        storage.case(&opened.id).await.unwrap().unwrap().version(),
        3
    );
    storage.close().await;
}

async fn concurrent_audit_appends_and_writes_keep_one_verifiable_chain(db: Db) {
    let storage = db.open().await;
    // Appends of one to three records each, interleaved with case writes
    // that share their commits.
    let appenders: Vec<_> = (0..120u64)
        .map(|n| {
            let storage = Arc::clone(&storage);
            let batch: Vec<_> = (0..=n % 3).map(|k| audit_record(n * 3 + k)).collect();
            tokio::spawn(async move { storage.append_audit(&batch).await })
        })
        .collect();
    let writes = write_concurrently(&storage, 0..40);

    writes.await;
    let mut ends = Vec::new();
    for appender in appenders {
        ends.push(appender.await.unwrap().unwrap());
    }

    let entries = storage.audit_entries(0, 10_000).await.unwrap();
    let expected: usize = (0..120u64).map(|n| (n % 3 + 1) as usize).sum();
    let head = verify(entries.clone()).unwrap();
    assert_eq!(head.entries as usize, expected);
    let mut positions: Vec<u64> = entries
        .iter()
        .map(|e| e.parse().unwrap().record.details.position.unwrap())
        .collect();
    positions.sort_unstable();
    let mut sent: Vec<u64> = (0..120u64)
        .flat_map(|n| (0..=n % 3).map(move |k| n * 3 + k))
        .collect();
    sent.sort_unstable();
    assert_eq!(positions, sent);
    // Each append's answer is the chain right after its own records: all
    // different, and one of them is the head.
    ends.sort_by_key(|chain| format!("{chain:?}"));
    ends.dedup();
    assert_eq!(ends.len(), 120);
    storage.close().await;
}

/// The writes read the audit log's tail and the case versions at READ
/// COMMITTED; a database whose default is stricter must not change that
/// (at SERIALIZABLE the tail read after the lock would be the snapshot's,
/// and appenders would fork the chain or fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_database_that_defaults_to_serializable_keeps_one_chain() {
    run(Kind::Postgres, |db| async move {
        let mut admin = PgConnection::connect(db.setting.to_str().unwrap())
            .await
            .unwrap();
        sqlx::query(
            "DO $$ BEGIN
                 EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L',
                     current_database(), 'serializable');
             END $$",
        )
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
        concurrent_audit_appends_and_writes_keep_one_verifiable_chain(db).await;
    })
    .await;
}

async fn an_answered_write_is_seen_by_another_opening_at_once(db: Db) {
    let storage = db.open().await;
    // Its own connections: it sees only what was committed.
    let other = db.open().await;
    let checkers: Vec<_> = (0..50usize)
        .map(|n| {
            let (storage, other) = (Arc::clone(&storage), Arc::clone(&other));
            let case = discharged(
                &format!("D-{n}"),
                "140106",
                person(u32::try_from(n).unwrap(), "140106"),
                Some("yingze-project"),
            );
            let written = write(&case, 0, &format!("r-{n}"), &["yingze-project"]);
            tokio::spawn(async move {
                storage.write_case(written).await.unwrap();
                let seen = other.case(&case.id).await.unwrap();
                assert_eq!(seen, Some(case), "answered before it was committed");
            })
        })
        .collect();
    for checker in checkers {
        checker.await.unwrap();
    }
    storage.close().await;
    other.close().await;

    let reopened = db.open().await;
    assert_eq!(
        reopened
            .inbox_state(&id("yingze-project"))
            .await
            .unwrap()
            .head,
        50
    );
    reopened.close().await;
}

async fn a_closed_storage_refuses_writes_instead_of_hanging(db: Db) {
    let storage = db.open().await;
    write_concurrently(&storage, 0..3).await;

    storage.close().await;

    let case = discharged(
        "D-late",
        "140106",
        person(77, "140106"),
        Some("yingze-project"),
    );
    let refused = storage
        .write_case(write(&case, 0, "r-late", &["yingze-project"]))
        .await;
    assert!(
        matches!(refused, Err(StorageError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(matches!(
        storage.append_audit(&[audit_record(1)]).await,
        Err(StorageError::Unavailable(_))
    ));
    let reopened = db.open().await;
    assert_eq!(
        reopened
            .inbox_state(&id("yingze-police"))
            .await
            .unwrap()
            .head,
        3
    );
    reopened.close().await;
}

/// A lone write is copied from the WAL into the database file once the
/// writer is idle, not later in the commit of a write whose caller waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_writer_copies_a_lone_write_into_the_database_file() {
    run(Kind::Sqlite, |db| async move {
        let storage = db.open().await;
        // `immutable` reads the database file alone, never the WAL.
        let in_file = || {
            let uri = format!("file:{}?immutable=1", db.setting.display());
            let flags =
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
            let file = rusqlite::Connection::open_with_flags(uri, flags).unwrap();
            file.query_row(
                "SELECT count(*) FROM requests WHERE request_id = 'r-1'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .unwrap_or(0)
        };
        assert_eq!(in_file(), 0);
        let case = discharged("D-1", "140106", person(1, "140106"), Some("project-1"));
        storage
            .write_case(write(&case, 0, "r-1", &["project-1"]))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while in_file() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the write is still only in the WAL"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        storage.close().await;
    })
    .await;
}
