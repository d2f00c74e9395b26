//! The police query quota on PostgreSQL: one count for every replica,
//! kept across restarts, in the database they share, and only for the
//! days that still count.

use handover_gateway::api::pb;
use handover_gateway::domain::agency::AgencyId;
use handover_gateway::gateway::Limits;
use sqlx::{Connection, PgConnection};
use time::macros::date;
use tonic::Code;

use crate::app::{self, App};
use crate::replicas::{NO_HEARTBEAT, discharge, replica_with, two_replicas};
use crate::support::{Db, Kind, run};

async fn query(replica: &App, n: u32) -> Result<(), tonic::Status> {
    let number = app::id_number("19900307", n);
    let request = pb::GetCaseRequest {
        key: Some(pb::get_case_request::Key::IdNumber(number)),
        purpose: "quota".into(),
    };
    let cases = replica.cases("yingze-police").await;
    cases.clone().get_case(request).await.map(drop)
}

/// A police agency's daily quota holds across the replicas and across a
/// restart: they count in the database they share.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_police_quota_is_one_count_across_replicas_and_restarts() {
    run(Kind::Postgres, |db| async move {
        let limits = Limits {
            police_queries_per_day: 3,
            ..Limits::default()
        };
        let (a, b) = two_replicas(&db, NO_HEARTBEAT).await;
        app::submit_as_detox(&a, discharge(1)).await;
        let b_dir = b.stop().await;
        let a_dir = a.stop().await;
        let a = replica_with(&db, a_dir.path(), NO_HEARTBEAT, limits.clone()).await;
        let b = replica_with(&db, b_dir.path(), NO_HEARTBEAT, limits.clone()).await;

        query(&a, 1).await.unwrap();
        query(&b, 1).await.unwrap();
        query(&a, 2).await.unwrap_err(); // no such person: counted all the same
        let refused = query(&b, 1).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(
            refused
                .message()
                .contains("used its 3 case queries of today")
        );

        let a_dir = a.stop().await;
        let restarted = replica_with(&db, a_dir.path(), NO_HEARTBEAT, limits).await;
        let refused = query(&restarted, 1).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        let office = restarted.cases("shanxi-office").await;
        let number = app::id_number("19900307", 1);
        let request = pb::GetCaseRequest {
            key: Some(pb::get_case_request::Key::IdNumber(number)),
            purpose: String::new(),
        };
        office.clone().get_case(request).await.unwrap();
    })
    .await;
}

/// The counts of past days are dropped as the agency queries again: the
/// table keeps today's and yesterday's, not every day's for ever.
#[tokio::test]
async fn a_police_agencys_counts_of_past_days_are_dropped() {
    run(Kind::Postgres, |db| async move {
        let storage = db.open().await;
        let police = AgencyId::parse("yingze-police").unwrap();
        let other = AgencyId::parse("xiaodian-police").unwrap();
        let day = date!(2026 - 12 - 01);
        for (agency, day) in [
            (&police, day),
            (&other, day),
            (&police, day.next_day().unwrap()),
        ] {
            let counted = storage.count_police_query(agency, day, 10).await.unwrap();
            assert_eq!(counted, Some(true));
        }
        assert_eq!(days(&db).await, ["2026-12-01", "2026-12-01", "2026-12-02"]);
        let later = day + time::Duration::days(3);
        let counted = storage.count_police_query(&police, later, 10).await;
        assert_eq!(counted.unwrap(), Some(true));
        assert_eq!(
            days(&db).await,
            ["2026-12-01", "2026-12-04"],
            "the other agency's stays until it queries"
        );
        storage.close().await;
    })
    .await;
}

/// The days counted, oldest first.
async fn days(db: &Db) -> Vec<String> {
    let mut connection = PgConnection::connect(db.setting.to_str().unwrap())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT day::text FROM police_queries ORDER BY day, agency_id")
        .fetch_all(&mut connection)
        .await
        .unwrap()
}
