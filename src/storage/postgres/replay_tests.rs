//! Backlog reads take turns, so that replaying streams cannot hold the
//! whole pool.

use std::sync::Arc;
use std::time::Duration;

use super::PostgresStorage;
use super::connect::REPLAY_CONNECTIONS;
use super::scratch_tests::Scratch;
use crate::domain::agency::AgencyId;
use crate::storage::Storage;
use crate::storage::seal::Sealer;

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
