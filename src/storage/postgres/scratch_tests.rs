//! A PostgreSQL database of a test's own, on the server the tests use
//! (`HANDOVER_TEST_POSTGRES`), so that no test leaves a schema behind in
//! the shared one.

use sqlx::{Connection, PgConnection};

/// The URL of the tests' server and shared database.
pub(super) fn server() -> String {
    std::env::var("HANDOVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn admin(statement: &str) {
    let mut admin = PgConnection::connect(&server()).await.unwrap();
    sqlx::query(statement).execute(&mut admin).await.unwrap();
}

/// A database of the test's own, dropped when the test ends, passed or not.
pub(super) struct Scratch(String);

impl Scratch {
    pub(super) async fn create() -> Self {
        let name = format!("hg_test_{}", uuid::Uuid::new_v4().simple());
        admin(&format!("CREATE DATABASE {name}")).await;
        Self(name)
    }

    pub(super) fn url(&self) -> String {
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
