//! The agency registry.

use crate::support::{Db, agency, id};

conformance!(the_registry_adds_updates_and_lists_agencies);

async fn the_registry_adds_updates_and_lists_agencies(db: Db) {
    let storage = db.open().await;
    assert!(storage.agencies().await.unwrap().is_empty());
    assert!(
        storage
            .agency(&id("yingze-project"))
            .await
            .unwrap()
            .is_none()
    );

    let project = agency("county-project", "140106", "yingze-project");
    let police = agency("police", "140106", "yingze-police");
    storage.register_agency(&project).await.unwrap();
    storage.register_agency(&police).await.unwrap();
    let mut renamed = project.clone();
    renamed.name = "迎泽区社区康复办公室".into();
    renamed.enabled = false;
    storage.register_agency(&renamed).await.unwrap();

    assert_eq!(
        storage.agency(&id("yingze-project")).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(storage.agencies().await.unwrap(), vec![police, renamed]);
    storage.close().await;
}
