//! The keys a PostgreSQL write batch shares with another replica's batch
//! are taken in one order in every batch, so that two batches wait for
//! each other instead of deadlocking (PostgreSQL would break the deadlock
//! only after `deadlock_timeout`, refusing one batch). New cases take
//! their decision numbers in order: the same discharge sent to two
//! replicas at once has one decision number and two case ids.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::support::{Kind, discharged, person, run, waiting_for_locks, write};

/// Inserts a case row with `decision`, as another replica's batch does
/// before it commits.
async fn insert_case(connection: &mut PgConnection, id: &str, decision: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cases (id, decision_number, person_key, version, state,
             executing_region, household_region, detox_center, opened_at, updated_at)
         VALUES ($1, $2, '\\x00', 1, 'announced', '140106', '140106', 'taiyuan-detox', 0, 0)",
    )
    .bind(id)
    .bind(decision)
    .execute(connection)
    .await
    .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_batch_takes_the_decision_numbers_of_its_new_cases_in_order() {
    run(Kind::Postgres, |db| async move {
        let storage = db.open().await;
        let url = db.setting.to_str().unwrap().to_owned();
        let mut other = PgConnection::connect(&url).await.unwrap();
        let mut other_batch = other.begin().await.unwrap();
        insert_case(&mut other_batch, "other-1", "D-1")
            .await
            .unwrap();

        // In the batch's order, D-2 would be taken before the batch waits
        // for D-1.
        let cases = [
            discharged("D-2", "140106", person(2, "140106"), Some("yingze-project")),
            discharged("D-1", "140106", person(1, "140106"), Some("yingze-project")),
        ];
        let writes = vec![
            write(&cases[0], 0, "r-2", &["yingze-project"]),
            write(&cases[1], 0, "r-1", &["yingze-project"]),
        ];
        let writing = tokio::spawn({
            let storage = storage.clone();
            async move { storage.write_cases(writes).await }
        });
        let mut third = PgConnection::connect(&url).await.unwrap();
        let waiting = async {
            // Polls the server's state, which no clock of the test's decides.
            while waiting_for_locks(&mut third).await == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .expect("the batch never waited for D-1");

        // A third writer of D-2 would wait for the batch had it taken D-2:
        // the lock timeout makes that wait an error instead.
        let mut third_batch = third.begin().await.unwrap();
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *third_batch)
            .await
            .unwrap();
        insert_case(&mut third_batch, "other-2", "D-2")
            .await
            .expect("the batch took D-2 before it waited for D-1");
        third_batch.rollback().await.unwrap();

        other_batch.rollback().await.unwrap();
        let answers = writing.await.unwrap();
        assert_eq!(answers[0].as_ref().unwrap().case_id, cases[0].id);
        assert_eq!(answers[1].as_ref().unwrap().case_id, cases[1].id);
        storage.close().await;
    })
    .await;
}
