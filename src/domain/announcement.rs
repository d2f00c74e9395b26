//! What a case's pre-release notices told, and since when: a notice may be
//! sent again before the discharge, to another day or county.

use time::{Date, OffsetDateTime};

use super::agency::{Agency, AgencyId};
use super::case::{Case, CaseEvent};
use super::region::RegionCode;
use super::routing::{Recipient, Route, enabled};

/// Everyone `case`'s latest pre-release notice reached, in the roles it
/// reached them in, as the registry stands now; empty when it has none.
pub fn told_of_latest_notice(case: &Case, agencies: &[Agency]) -> Vec<Recipient> {
    let latest = case
        .history
        .iter()
        .rev()
        .find_map(|recorded| match &recorded.event {
            CaseEvent::ReleaseAnnounced {
                person,
                executing_region,
                project,
                oversight,
                earlier_open_cases,
                ..
            } => Some((
                person,
                *executing_region,
                project,
                oversight,
                earlier_open_cases,
            )),
            _ => None,
        });
    let Some((person, county, project, oversight, earlier)) = latest else {
        return Vec::new();
    };
    let enabled = |id: &Option<AgencyId>| id.as_ref().and_then(|id| enabled(agencies, id)).cloned();
    Route::reaching(
        county,
        person.household_region,
        enabled(project),
        enabled(oversight),
        agencies,
    )
    .with_earlier_cases(earlier, agencies)
    .recipients
}

/// Since when `county` has known of `case`'s release as it stands: the
/// first of the latest notices that all named it as the executing county
/// and none of which moved the day earlier; `None` when the latest notice
/// named another county, or there was none. A revision that puts the day
/// off keeps the time the county has known; one that moves the county,
/// or brings the day forward, starts it again.
pub fn known_since(case: &Case, county: RegionCode) -> Option<OffsetDateTime> {
    let mut since = None;
    let mut day_after: Option<Date> = None;
    for recorded in case.history.iter().rev() {
        let CaseEvent::ReleaseAnnounced {
            executing_region,
            planned_release_date,
            ..
        } = &recorded.event
        else {
            continue;
        };
        let brought_forward = day_after.is_some_and(|after| after < *planned_release_date);
        if *executing_region != county || brought_forward {
            break;
        }
        since = Some(recorded.at);
        day_after = Some(*planned_release_date);
    }
    since
}

#[cfg(test)]
mod tests;
