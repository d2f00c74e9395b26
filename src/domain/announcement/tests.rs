use time::macros::date;

use super::*;
use crate::domain::routing::RecipientRole;
use crate::domain::testing::{announced_case, region, renoticed, shanxi};

fn yingze_notice() -> Case {
    announced_case("140106", Some("yingze-project"), None)
}

fn names(told: &[Recipient]) -> Vec<(&str, RecipientRole)> {
    told.iter().map(|r| (r.agency.as_str(), r.role)).collect()
}

#[test]
fn only_the_latest_notice_counts_for_who_was_told() {
    let moved = renoticed(&yingze_notice(), "140105", date!(2026 - 12 - 05));
    assert_eq!(
        names(&told_of_latest_notice(&moved, &shanxi())),
        [
            ("xiaodian-project", RecipientRole::ResponsibleProject),
            ("xiaodian-police", RecipientRole::ExecutingPolice),
            ("yingze-police", RecipientRole::HouseholdPolice),
        ]
    );
    let discharged = crate::domain::testing::discharged_case("140106", "140106", None);
    assert!(told_of_latest_notice(&discharged, &shanxi()).is_empty());
}

#[test]
fn a_county_has_known_since_the_first_of_the_latest_notices_naming_it() {
    let first = yingze_notice();
    let first_at = first.history[0].at;
    assert_eq!(known_since(&first, region("140106")), Some(first_at));
    assert_eq!(known_since(&first, region("140105")), None);

    // Another day, the same county: still since the first notice.
    let later = renoticed(&first, "140106", date!(2026 - 12 - 05));
    assert_eq!(known_since(&later, region("140106")), Some(first_at));

    // Moved to Xiaodian: since that notice; Yingze no longer knows.
    let moved = renoticed(&later, "140105", date!(2026 - 12 - 05));
    let moved_at = moved.history.last().unwrap().at;
    assert_eq!(known_since(&moved, region("140105")), Some(moved_at));
    assert_eq!(known_since(&moved, region("140106")), None);

    // And back: Yingze knows again from the notice that named it again.
    let back = renoticed(&moved, "140106", date!(2026 - 12 - 06));
    let back_at = back.history.last().unwrap().at;
    assert_eq!(known_since(&back, region("140106")), Some(back_at));
}

#[test]
fn a_day_brought_forward_counts_from_the_notice_that_brought_it() {
    let first = yingze_notice(); // for 2026-11-28
    let put_off = renoticed(&first, "140106", date!(2026 - 12 - 05));
    let first_at = first.history[0].at;
    assert_eq!(known_since(&put_off, region("140106")), Some(first_at));
    let forward = renoticed(&put_off, "140106", date!(2026 - 12 - 01));
    let forward_at = forward.history.last().unwrap().at;
    assert_eq!(known_since(&forward, region("140106")), Some(forward_at));
}
