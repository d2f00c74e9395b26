//! A PostgreSQL server that is alive but does not finish a write: a lock
//! the write needs is held by a transaction that does not end (a stalled
//! synchronous standby has the same effect). The write times out, and its
//! statement goes on waiting on the server, which does not notice that
//! its client went away. The writer must not add another waiting backend
//! with each timeout (they would use up the server's connections), and
//! must write again once the stall is over.

use std::time::Duration;

use handover_gateway::domain::audit::verify;
use handover_gateway::storage::{PostgresStorage, Sealer, Storage, StorageError};
use sqlx::{Connection, PgConnection};

use crate::support::{
    Db, KEY, Kind, Opened, audit_positions, audit_record, discharged, id, person, run,
    waiting_for_locks, write,
};

/// The storage's answer timeout here: short, so that the test is quick,
/// but long enough for a first statement on a new connection (planned
/// then) on a loaded machine.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// Not a measure of speed: a bound on waits that, were the writer to
/// wait for the stalled write, would last as long as the stall.
const HANG: Duration = Duration::from_secs(30);

fn reason<T: std::fmt::Debug>(result: Result<T, StorageError>) -> String {
    match result {
        Err(StorageError::Unavailable(reason)) => reason,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// `call`'s answer once the writer no longer holds it back: the stalled
/// statement has ended (committed, its client gone), which no clock of
/// the test's decides, so it is polled.
async fn once_the_stall_ended<T, F, Fut>(mut call: F) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StorageError>>,
{
    let answer = async {
        loop {
            match call().await {
                Err(StorageError::Unavailable(reason)) if reason.contains("still runs") => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    };
    tokio::time::timeout(HANG, answer)
        .await
        .expect("the writer kept holding back after the stall ended")
}

/// The recipient whose inbox head the case-write tests hold.
const PROJECT: &str = "yingze-project";

/// A connection whose transaction holds the lock `statement` takes, as a
/// transaction that does not end would, until [`ended`].
async fn holding(db: &Db, statement: &str) -> PgConnection {
    let mut stall = PgConnection::connect(db.setting.to_str().unwrap())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut stall).await.unwrap();
    sqlx::query(statement).execute(&mut stall).await.unwrap();
    stall
}

/// A storage that wrote case D-1 with a notice to [`PROJECT`], and a
/// connection [`holding`] that inbox's head, which every later write to
/// it waits for.
async fn with_the_inbox_head_held(db: &Db) -> (PostgresStorage, PgConnection) {
    let storage = open(db).await;
    let first = discharged("D-1", "140106", person(1, "140106"), Some(PROJECT));
    storage
        .write_case(write(&first, 0, "r-1", &[PROJECT]))
        .await
        .unwrap();
    let head = format!("SELECT head FROM inboxes WHERE agency_id = '{PROJECT}' FOR UPDATE");
    (storage, holding(db, &head).await)
}

async fn ended(stall: &mut PgConnection) {
    sqlx::query("COMMIT").execute(stall).await.unwrap();
}

/// Checks the answers to two writes sent one after the other during a
/// stall: the first given up on, the second held back; and that one
/// gateway backend waits for the lock, the first write's. Returns a
/// connection that watches the server.
async fn given_up_then_held_back<T: std::fmt::Debug>(
    db: &Db,
    gave_up: Result<T, StorageError>,
    held_back: Result<T, StorageError>,
) -> PgConnection {
    assert!(reason(gave_up).contains("not known"));
    assert!(reason(held_back).contains("still runs"));
    let mut observer = PgConnection::connect(db.setting.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(waiting_for_locks(&mut observer).await, 1);
    observer
}

async fn open(db: &Db) -> PostgresStorage {
    PostgresStorage::open_answering_within(db.setting.to_str().unwrap(), ANSWER_TIMEOUT)
        .await
        .unwrap()
        .sealed(Sealer::new(KEY))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_write_left_waiting_on_a_stalled_database_is_not_joined_by_another() {
    run(Kind::Postgres, |db| async move {
        let (storage, mut stall) = with_the_inbox_head_held(&db).await;
        let project = PROJECT;

        let second = discharged("D-2", "140106", person(2, "140106"), Some(project));
        let third = discharged("D-3", "140106", person(3, "140106"), Some(project));
        let (second_write, third_write) = (
            write(&second, 0, "r-2", &[project]),
            write(&third, 0, "r-3", &[project]),
        );
        let (gave_up, held_back) = tokio::time::timeout(HANG, async {
            (
                storage.write_case(second_write.clone()).await,
                storage.write_case(third_write.clone()).await,
            )
        })
        .await
        .expect("a write waited for the stalled database beyond its answer timeout");
        let mut observer = given_up_then_held_back(&db, gave_up, held_back).await;

        // The write given up on commits once its lock comes free; its
        // backend then finds its client gone and ends, and the writer
        // writes again.
        ended(&mut stall).await;
        let written = once_the_stall_ended(|| storage.write_case(third_write.clone()))
            .await
            .unwrap();
        assert_eq!(written.case_id, third.id);
        assert_eq!(
            storage.case(&second.id).await.unwrap(),
            Some(second.clone())
        );
        // Its answer is stored, for its client's retry to replay.
        let stored = storage
            .answer(&id("taiyuan-detox"), &second_write.request.request_id)
            .await
            .unwrap()
            .expect("the answer of the write given up on");
        assert_eq!(stored.outcome.case_id, second.id);
        assert_eq!(stored.outcome.deliveries[0].position, 2);
        let positions: Vec<u64> = storage
            .inbox_after(&id(project), 0, 10)
            .await
            .unwrap()
            .opened()
            .iter()
            .map(|message| message.position)
            .collect();
        assert_eq!(positions, [1, 2, 3], "the inbox has no gap");
        assert_eq!(waiting_for_locks(&mut observer).await, 0);
        storage.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_an_append_left_waiting_on_a_stalled_log_is_not_joined_by_another() {
    run(Kind::Postgres, |db| async move {
        let storage = open(&db).await;
        storage.append_audit(&[audit_record(1)]).await.unwrap();
        // The lock every append takes (`migrations/postgres/0008`).
        let mut stall = holding(
            &db,
            "SELECT pg_advisory_xact_lock(0, 'audit_log'::regclass::oid::int)",
        )
        .await;

        let (gave_up, held_back) = tokio::time::timeout(HANG, async {
            (
                storage.append_audit(&[audit_record(2)]).await,
                storage.append_audit(&[audit_record(3)]).await,
            )
        })
        .await
        .expect("an append waited for the stalled log beyond its answer timeout");
        let mut observer = given_up_then_held_back(&db, gave_up, held_back).await;

        ended(&mut stall).await;
        let third = [audit_record(3)];
        once_the_stall_ended(|| storage.append_audit(&third))
            .await
            .unwrap();
        let entries = storage.audit_entries(0, 10).await.unwrap();
        assert_eq!(audit_positions(&entries), [Some(1), Some(2), Some(3)]);
        assert_eq!(verify(entries).unwrap().entries, 3);
        assert_eq!(waiting_for_locks(&mut observer).await, 0);
        storage.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_write_whose_stall_ends_soon_after_its_timeout_leaves_the_writer_writing() {
    run(Kind::Postgres, |db| async move {
        let (storage, mut stall) = with_the_inbox_head_held(&db).await;
        let project = PROJECT;
        let second = discharged("D-2", "140106", person(2, "140106"), Some(project));
        let gave_up = tokio::time::timeout(
            HANG,
            storage.write_case(write(&second, 0, "r-2", &[project])),
        )
        .await
        .expect("a write waited for the stalled database beyond its answer timeout");
        assert!(reason(gave_up).contains("not known"));

        // Ended well within the 5 s that the timed-out connection is kept
        // waiting for its statement's end: the connection is kept, and
        // the writer writes on it again, as on the backend it watches.
        ended(&mut stall).await;
        let third = discharged("D-3", "140106", person(3, "140106"), Some(project));
        let written = storage
            .write_case(write(&third, 0, "r-3", &[project]))
            .await
            .expect("the writer held back for the backend it writes on");
        assert_eq!(written.deliveries[0].position, 3);
        assert_eq!(storage.case(&second.id).await.unwrap(), Some(second));
        storage.close().await;
    })
    .await;
}
