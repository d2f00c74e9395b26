//! The storage conformance suite: every test runs once on SQLite and once
//! on PostgreSQL, each on a fresh database, through the `Storage`
//! interface alone (and raw reads where it checks what is at rest).
//! PostgreSQL must be reachable (see `support::admin_url`).

/// For each named `async fn(Db)`, a module with one test per backend:
/// `cases::a_stale_version_is_a_conflict::on_postgres`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_sqlite() {
                    crate::support::run(crate::support::Kind::Sqlite, super::$name).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_postgres() {
                    crate::support::run(crate::support::Kind::Postgres, super::$name).await;
                }
            }
        )*
    };
}

mod support;

/// The gateway suite's `spawn_app()` helpers, for the journeys in
/// `gateway.rs`; not all of them are used here.
#[allow(dead_code)]
#[path = "../gateway/support.rs"]
mod app;

mod audit;
mod availability;
mod backfill;
mod batches;
mod cases;
mod crl_floor;
mod failover;
mod gateway;
mod group_commit;
mod inbox;
mod lists;
mod lock_order;
mod open_cases;
mod quota;
mod registry;
mod replica;
mod replicas;
mod sealing;
mod silence;
mod stall;
mod transfers;
