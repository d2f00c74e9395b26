//! The session settings every connection is opened with, read back from
//! the server on the pool and on each held set.

use sqlx::PgConnection;

use super::PostgresStorage;
use super::scratch_tests::{Scratch, server as url};

/// Each setting and where it came from: `client` when the connection's
/// startup options set it, whatever the server's own configuration says.
async fn settings(connection: &mut PgConnection) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT name, setting, source FROM pg_settings
         WHERE name IN ('synchronous_commit', 'default_transaction_isolation', 'jit')
         ORDER BY name",
    )
    .fetch_all(connection)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_connection_commits_synchronously_at_read_committed_without_jit() {
    let storage = PostgresStorage::connect(&url()).await.unwrap();
    let expected: Vec<_> = [
        ("default_transaction_isolation", "read committed"),
        ("jit", "off"),
        ("synchronous_commit", "on"),
    ]
    .into_iter()
    .map(|(name, setting)| (name.to_owned(), setting.to_owned(), "client".to_owned()))
    .collect();

    let mut pooled = storage.pool.acquire().await.unwrap();
    assert_eq!(settings(&mut pooled).await, expected);
    drop(pooled);
    for held in [
        &storage.hot,
        &storage.status,
        storage.writer.held(),
        storage.auditor.held(),
    ] {
        let mut taken = held.take().await.unwrap();
        assert_eq!(settings(taken.connection()).await, expected);
        taken.give_back();
    }
    storage.close().await;
}

/// `migrations/postgres/0006`: the write functions' statements keep one
/// plan, however large the tables grow.
#[tokio::test]
async fn the_write_functions_are_planned_once_for_every_batch() {
    let scratch = Scratch::create().await;
    let storage = PostgresStorage::open(&scratch.url()).await.unwrap();
    let mut pooled = storage.pool.acquire().await.unwrap();
    let configs: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT proname::TEXT, coalesce(proconfig, '{}') FROM pg_proc
         WHERE proname IN ('write_batch', 'audit_append') ORDER BY proname",
    )
    .fetch_all(&mut *pooled)
    .await
    .unwrap();
    drop(pooled);
    let generic = vec!["plan_cache_mode=force_generic_plan".to_owned()];
    assert_eq!(
        configs,
        [
            ("audit_append".to_owned(), generic.clone()),
            ("write_batch".to_owned(), generic),
        ]
    );
    storage.close().await;
}
