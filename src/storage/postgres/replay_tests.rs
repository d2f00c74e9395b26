//! Backlog reads take turns, so that replaying streams cannot hold the
//! whole pool.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection};

use super::{PostgresStorage, REPLAY_CONNECTIONS};
use crate::domain::agency::AgencyId;
use crate::storage::Storage;
use crate::storage::seal::Sealer;

fn server() -> String {
    std::env::var("HANDOVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn admin(statement: &str) {
    let mut admin = PgConnection::connect(&server()).await.unwrap();
    sqlx::query(statement).execute(&mut admin).await.unwrap();
}

/// A database of the test's own, dropped when the test ends, passed or not.
struct Scratch(String);

impl Scratch {
    async fn create() -> Self {
        let name = format!("hg_test_{}", uuid::Uuid::new_v4().simple());
        admin(&format!("CREATE DATABASE {name}")).await;
        Self(name)
    }

    fn url(&self) -> String {
        match server().rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.0),
            None => panic!("a server URL names a database"),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0);
        // A runtime of its own: the test's may be ending with a panic.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(admin(&statement)))
        })
        .join();
    }
}

#[tokio::test]
async fn a_backlog_read_waits_for_a_turn_while_other_reads_go_on() {
    let scratch = Scratch::create().await;
    let url = scratch.url();
    let storage = PostgresStorage::open(&url)
        .await
        .unwrap()
        .sealed(Sealer::new([7; 32]));
    let police = AgencyId::parse("yingze-police").unwrap();
    let turns = Arc::clone(&storage.replay)
        .acquire_many_owned(u32::try_from(REPLAY_CONNECTIONS).unwrap())
        .await
        .unwrap();

    let mut reading = tokio::spawn({
        let (storage, police) = (storage.clone(), police.clone());
        async move { storage.inbox_after(&police, 0, 10).await }
    });
    storage.inbox_state(&police).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut reading)
            .await
            .is_err(),
        "every turn is taken"
    );
    drop(turns);
    assert!(reading.await.unwrap().unwrap().is_empty());

    storage.close().await;
}
