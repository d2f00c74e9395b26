//! The session settings every connection is opened with, read back from
//! the server on the pool and on each held set.

use sqlx::PgConnection;

use super::PostgresStorage;

fn url() -> String {
    std::env::var("HANDOVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn settings(connection: &mut PgConnection) -> (String, String, String) {
    sqlx::query_as(
        "SELECT current_setting('synchronous_commit'),
                current_setting('default_transaction_isolation'),
                current_setting('jit')",
    )
    .fetch_one(connection)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_connection_commits_synchronously_at_read_committed_without_jit() {
    let storage = PostgresStorage::connect(&url()).await.unwrap();
    let expected = (
        "on".to_owned(),
        "read committed".to_owned(),
        "off".to_owned(),
    );

    let mut pooled = storage.pool.acquire().await.unwrap();
    assert_eq!(settings(&mut pooled).await, expected);
    drop(pooled);
    for held in [&storage.hot, &storage.writer] {
        let mut taken = held.take().await.unwrap();
        assert_eq!(settings(taken.connection()).await, expected);
        held.give_back(taken);
    }
    storage.close().await;
}
