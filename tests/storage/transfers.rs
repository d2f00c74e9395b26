//! The transfers a county project is receiving: storage finds the cases
//! whose transfer is pending, and each case says where it goes.

use handover_gateway::domain::case::{CaseEvent, CaseId};
use handover_gateway::storage::{CaseFilter, Party};

use crate::support::{Db, discharged, filter, id, next, person, region, write};

conformance!(a_receiving_partys_list_holds_the_cases_whose_transfer_is_pending);

async fn a_receiving_partys_list_holds_the_cases_whose_transfer_is_pending(db: Db) {
    let storage = db.open().await;
    let mut pending = Vec::new();
    for n in 1..=3 {
        let case = discharged(
            &format!("D-{n}"),
            "140106",
            person(n, "140106"),
            Some("yingze-project"),
        );
        storage
            .write_case(write(&case, 0, &format!("r-{n}"), &[]))
            .await
            .unwrap();
        if n == 3 {
            continue;
        }
        let picked_up = next(&case, "yingze-project", CaseEvent::PickedUp);
        let reported = next(&picked_up, "yingze-project", CaseEvent::Reported);
        for (version, step) in [(1, &picked_up), (2, &reported)] {
            storage
                .write_case(write(step, version, &format!("s-{n}-{version}"), &[]))
                .await
                .unwrap();
        }
        let requested = next(
            &reported,
            "yingze-project",
            CaseEvent::TransferRequested {
                to_region: region("140105"),
                to_project: id("xiaodian-project"),
                reason: "moved".into(),
            },
        );
        storage
            .write_case(write(&requested, 3, &format!("t-{n}"), &[]))
            .await
            .unwrap();
        pending.push(requested);
    }
    let receiving = Party::Receiving(id("xiaodian-project"));
    let listing = CaseFilter {
        party: Some(receiving.clone()),
        ..filter("140105")
    };
    let found = storage.list_cases(&listing).await.unwrap().found;
    let ids: Vec<&CaseId> = found.iter().map(|case| &case.id).collect();
    assert_eq!(ids, [&pending[0].id, &pending[1].id]);
    assert!(found.iter().all(|case| receiving.admits(case)));
    assert!(!Party::Receiving(id("datong-project")).admits(&found[0]));

    let after_first = CaseFilter {
        after: Some(pending[0].id.clone()),
        ..listing
    };
    let rest = storage.list_cases(&after_first).await.unwrap().found;
    assert_eq!(rest, [pending[1].clone()]);
    storage.close().await;
}
