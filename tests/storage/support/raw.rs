//! Reads and writes past the storage interface, for tests that check
//! what is at rest or store what an older version would have.

use handover_gateway::domain::notice::Notice;
use handover_gateway::storage::Sealer;
use sqlx::Connection;

use super::{Db, KEY, Kind, RELEASED};

impl Db {
    /// Runs `sql` past the storage interface; the database's error text on
    /// failure.
    pub async fn raw_execute(&self, sql: &str) -> Result<(), String> {
        let result = match self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", self.setting.display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&mut connection).await.map(drop)
            }
            Kind::Postgres => {
                let url = self.setting.to_str().unwrap();
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sql).execute(&mut connection).await.map(drop)
            }
        };
        result.map_err(|e| e.to_string())
    }

    /// The one number `sql` selects, read past the storage interface.
    pub async fn raw_count(&self, sql: &str) -> i64 {
        match self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}?mode=ro", self.setting.display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(sql)
                    .fetch_one(&mut connection)
                    .await
                    .unwrap()
            }
            Kind::Postgres => {
                let url = self.setting.to_str().unwrap();
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sql)
                    .fetch_one(&mut connection)
                    .await
                    .unwrap()
            }
        }
    }

    /// Every stored event and inbox body, read past the storage interface.
    pub async fn raw_bodies(&self) -> Vec<Vec<u8>> {
        const SQL: &str = "SELECT body FROM case_events
            UNION ALL SELECT body FROM inbox_messages WHERE body IS NOT NULL";
        match self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}?mode=ro", self.setting.display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(SQL)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
            }
            Kind::Postgres => {
                let url = self.setting.to_str().unwrap();
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(SQL)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
            }
        }
    }

    /// In how many transactions the answers to `requests` were stored, on
    /// PostgreSQL (`xmin`); `None` on SQLite, which does not say.
    pub async fn transactions_of(&self, requests: &[&str]) -> Option<i64> {
        let Kind::Postgres = self.kind else {
            return None;
        };
        let url = self.setting.to_str().unwrap();
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        let sql = "SELECT count(DISTINCT xmin::text) FROM requests WHERE request_id = ANY($1)";
        let count = sqlx::query_scalar(sql)
            .bind(requests)
            .fetch_one(&mut connection)
            .await
            .unwrap();
        Some(count)
    }

    /// Stores an inbox message the way versions before messages by
    /// reference did: the whole notice, sealed with [`KEY`] for its
    /// address, and the recipient's head moved to it.
    pub async fn store_copied_message(&self, agency: &str, position: i64, notice: &Notice) {
        let address = format!("inbox_messages/{agency}/{position}");
        let body = Sealer::new(KEY)
            .seal(&address, &serde_json::to_vec(notice).unwrap())
            .unwrap();
        let case = notice.case.id.as_str();
        let at = RELEASED.unix_timestamp() * 1000;
        // The same two statements in each dialect.
        macro_rules! store {
            ($connection:expr, $insert:literal, $head:literal) => {{
                sqlx::query($insert)
                    .bind(agency)
                    .bind(position)
                    .bind(case)
                    .bind(at)
                    .bind(&body)
                    .execute(&mut $connection)
                    .await
                    .unwrap();
                sqlx::query($head)
                    .bind(position)
                    .bind(agency)
                    .execute(&mut $connection)
                    .await
                    .unwrap();
            }};
        }
        match self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", self.setting.display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                store!(
                    connection,
                    "INSERT INTO inbox_messages (agency_id, position, case_id, created_at, body)
                     VALUES (?, ?, ?, ?, ?)",
                    "UPDATE inboxes SET head = ? WHERE agency_id = ?"
                );
            }
            Kind::Postgres => {
                let url = self.setting.to_str().unwrap();
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                store!(
                    connection,
                    "INSERT INTO inbox_messages (agency_id, position, case_id, created_at, body)
                     VALUES ($1, $2, $3, $4, $5)",
                    "UPDATE inboxes SET head = $1 WHERE agency_id = $2"
                );
            }
        }
    }
}
