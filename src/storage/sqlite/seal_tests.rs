//! Bodies a version before sealing stored in plain text are sealed when
//! the storage first gets its key, and then read back like any other.

use super::*;
use crate::domain::testing::discharged_case;
use crate::storage::Storage;

#[tokio::test]
async fn plain_bodies_of_an_older_database_are_sealed_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    let storage = SqliteStorage::open(&path).await.unwrap();
    sqlx::query(
        "INSERT INTO cases (id, decision_number, person_key, version, state, executing_region,
         household_region, responsible, detox_center, opened_at, updated_at)
         VALUES (?, 'D-1', x'00', 1, 'awaiting-pickup', '140106', '140106', 'yingze-project',
         'taiyuan-detox', 0, 0)",
    )
    .bind(case.id.as_str())
    .execute(&storage.writer)
    .await
    .unwrap();
    let plain = serde_json::to_string(&case.history[0]).unwrap();
    sqlx::query(
        "INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body)
         VALUES (?, 1, 0, 'taiyuan-detox', ?)",
    )
    .bind(case.id.as_str())
    .bind(&plain)
    .execute(&storage.writer)
    .await
    .unwrap();
    assert!(
        storage.case(&case.id).await.is_err(),
        "no key, no case data"
    );

    let storage = storage.sealed(Sealer::new([5; 32])).await.unwrap();
    let kind: String = sqlx::query_scalar("SELECT typeof(body) FROM case_events")
        .fetch_one(&storage.readers)
        .await
        .unwrap();
    assert_eq!(kind, "blob");
    let read = storage.case(&case.id).await.unwrap().unwrap();
    assert_eq!(read.history, case.history);
    storage.close().await;

    let other_key = SqliteStorage::open(&path)
        .await
        .unwrap()
        .sealed(Sealer::new([6; 32]))
        .await
        .unwrap();
    assert!(matches!(
        other_key.case(&case.id).await,
        Err(StorageError::Corrupt(_))
    ));
}
