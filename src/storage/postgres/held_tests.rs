use std::str::FromStr;

use super::*;

fn options() -> PgConnectOptions {
    let url = std::env::var("HANDOVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    PgConnectOptions::from_str(&url).unwrap()
}

async fn backend(taken: &mut Taken) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(taken.connection())
        .await
}

/// Has `taken`'s backend sleep `seconds`, and stops waiting for it
/// after `after`, as a caller's deadline does: the statement goes on
/// running on the server.
async fn cancel_a_sleep(taken: &mut Taken, seconds: f64, after: Duration) {
    let sleep = sqlx::query("SELECT pg_sleep($1)")
        .bind(seconds)
        .execute(taken.connection());
    assert!(
        tokio::time::timeout(after, sleep).await.is_err(),
        "cancelled while the server runs it"
    );
}

#[tokio::test]
async fn a_connection_given_back_is_used_again_and_one_discarded_is_not() {
    let held = Arc::new(Held::new(options(), 1));
    let mut first = held.take().await.unwrap();
    let pid = backend(&mut first).await.unwrap();
    assert_eq!(first.backend().pid, pid, "a connection knows its backend");
    assert!(held.try_take().is_none(), "its one connection is taken");
    first.give_back();

    let mut again = held.take().await.unwrap();
    assert_eq!(backend(&mut again).await.unwrap(), pid);
    assert_eq!(again.backend().pid, pid);
    // As a statement that failed on the connection leaves it.
    again.discard();
    let mut fresh = held.take().await.unwrap();
    assert_ne!(backend(&mut fresh).await.unwrap(), pid);
    assert_eq!(fresh.backend().pid, backend(&mut fresh).await.unwrap());
    fresh.give_back();
    assert!(held.try_take().is_some(), "an idle one is there");

    held.close().await;
    assert!(held.take().await.is_err());
    assert!(held.try_take().is_none());
}

#[tokio::test]
async fn a_connection_the_server_closed_fails_one_statement_and_is_replaced() {
    let held = Arc::new(Held::new(options(), 2));
    let mut taken = held.take().await.unwrap();
    let pid = backend(&mut taken).await.unwrap();
    taken.give_back();
    let mut admin = PgConnection::connect_with(&options()).await.unwrap();
    // Waits until the backend has ended (PostgreSQL 14 or later).
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 10000)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended);

    // Not tested before use: it was idle for less than PING_IDLE.
    let mut broken = held.take().await.unwrap();
    let failed = backend(&mut broken).await.map(drop);
    assert!(broken.settle(failed).is_err());
    let mut replaced = held.take().await.unwrap();
    assert_ne!(backend(&mut replaced).await.unwrap(), pid);
}

/// A connection made while the server (here, the session) was read-only
/// refuses every write; it is dropped at the first refusal, and kept
/// after any other statement's error.
#[tokio::test]
async fn a_connection_that_cannot_write_is_replaced() {
    let held = Arc::new(Held::new(options(), 1));
    let mut taken = held.take().await.unwrap();
    let pid = backend(&mut taken).await.unwrap();
    sqlx::query("SET default_transaction_read_only = on")
        .execute(taken.connection())
        .await
        .unwrap();
    let refused = sqlx::query("SELECT 1 / 0")
        .execute(taken.connection())
        .await
        .map(drop);
    assert!(taken.settle(refused).is_err());

    let mut kept = held.take().await.unwrap();
    assert_eq!(backend(&mut kept).await.unwrap(), pid, "a division by zero");
    let write = sqlx::query("CREATE TABLE held_read_only (x int)")
        .execute(kept.connection())
        .await
        .map(drop);
    let code = match &write {
        Err(sqlx::Error::Database(error)) => error.code().map(|code| code.into_owned()),
        other => panic!("a write on a read-only session: {other:?}"),
    };
    assert_eq!(code.as_deref(), Some("25006"));
    assert!(kept.settle(write).is_err());

    let mut replaced = held.take().await.unwrap();
    assert_ne!(backend(&mut replaced).await.unwrap(), pid);
    let read_only: String = sqlx::query_scalar("SHOW default_transaction_read_only")
        .fetch_one(replaced.connection())
        .await
        .unwrap();
    assert_eq!(read_only, "off");
}

#[tokio::test]
async fn a_connection_whose_statement_was_cancelled_is_kept_once_it_ended() {
    let held = Arc::new(Held::new(options(), 1));
    let mut taken = held.take().await.unwrap();
    let pid = backend(&mut taken).await.unwrap();
    cancel_a_sleep(&mut taken, 0.3, Duration::from_millis(50)).await;
    drop(taken);

    // The one slot is the rescue's until the statement has ended.
    let mut again = held.take().await.unwrap();
    assert_eq!(backend(&mut again).await.unwrap(), pid);
    assert_eq!(
        sqlx::query_scalar::<_, i32>("SELECT 7")
            .fetch_one(again.connection())
            .await
            .unwrap(),
        7,
        "the protocol is where it should be"
    );
}

#[tokio::test]
async fn a_cancelled_statement_that_runs_on_loses_its_connection_and_frees_its_slot() {
    let held = Arc::new(Held {
        rescue_timeout: Duration::from_millis(200),
        ..Held::new(options(), 1)
    });
    let mut taken = held.take().await.unwrap();
    let pid = backend(&mut taken).await.unwrap();
    // Long enough to outlast the rescue's timeout and this test's
    // wait, short enough that a failed run leaves no backend for long.
    cancel_a_sleep(&mut taken, 5.0, Duration::from_millis(500)).await;
    drop(taken);

    // Had the rescue waited for the statement to end, this would time
    // out, or get the same backend back.
    let mut next = tokio::time::timeout(Duration::from_secs(2), held.take())
        .await
        .expect("the rescue gives up its slot after its timeout")
        .unwrap();
    assert_ne!(backend(&mut next).await.unwrap(), pid);
    next.give_back();
    assert_eq!(held.lock().connections.len(), 1, "only the new one is kept");

    let mut admin = PgConnection::connect_with(&options()).await.unwrap();
    sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_connection_rescued_after_close_is_not_kept() {
    let held = Arc::new(Held::new(options(), 1));
    let mut taken = held.take().await.unwrap();
    cancel_a_sleep(&mut taken, 0.3, Duration::from_millis(50)).await;
    drop(taken);
    held.close().await;

    // The rescue gives its slot back once it has ended.
    while held.slots.available_permits() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(held.lock().connections.is_empty());
}
