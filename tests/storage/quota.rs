//! The police query quota on PostgreSQL: one count for every replica,
//! kept across restarts, in the database they share.

use handover_gateway::api::pb;
use handover_gateway::gateway::Limits;
use tonic::Code;

use crate::app::{self, App};
use crate::replicas::{NO_HEARTBEAT, discharge, replica_with, two_replicas};
use crate::support::{Kind, run};

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
