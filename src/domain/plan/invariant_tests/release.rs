//! How the world's case starts: an optional pre-release notice and an
//! earlier open case of the person, planned as the gateway plans them.

use time::{Duration, OffsetDateTime};

use super::*;
use crate::domain::agency::AgencyKind;
use crate::domain::case::EarlierCase;
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::plan::{Context, Planned, plan};
use crate::domain::region::RegionCode;
use crate::domain::routing::route;
use crate::domain::testing::{id, person, region};

/// The person's earlier open case in `county`: with its project, or held
/// by the office above the detox center when no project covers it.
pub(super) fn earlier_case(agencies: &[Agency], county: RegionCode) -> EarlierCase {
    let project = county.with_ancestors().find_map(|r| {
        agencies
            .iter()
            .find(|a| a.agency.kind == AgencyKind::CountyProject && a.agency.region == r)
    });
    let project = project.map(|a| a.agency.id.clone());
    EarlierCase {
        case_id: CaseId::new(uuid::Uuid::max()),
        executing_region: county,
        oversight: project.is_none().then(|| id("taiyuan-office")),
        project,
    }
}

/// A pre-release notice four days before the discharge, for a person of
/// `household`, planned as the gateway plans one; `None` where the
/// gateway refuses it (no agency can receive it).
pub(super) fn announce(
    agencies: &[Agency],
    policy: &DeadlinePolicy,
    case_id: &CaseId,
    household: usize,
    earlier: &[EarlierCase],
    discharge_at: OffsetDateTime,
) -> Option<Planned> {
    let person = person(REGIONS[household], None, false);
    let route = route(&person, region("140100"), agencies).with_earlier_cases(earlier, agencies);
    if route.recipients.is_empty() {
        return None;
    }
    let event = CaseEvent::ReleaseAnnounced {
        decision_number: DecisionNumber::parse("D-1").unwrap(),
        person,
        planned_release_date: discharge_at.date(),
        term: TermMonths::new(12).unwrap(),
        executing_region: route.executing_region,
        project: route.project.clone(),
        oversight: route.oversight.clone(),
        earlier_open_cases: earlier.to_vec(),
    };
    let context = Context {
        agencies,
        route: Some(&route),
        policy,
        now: discharge_at - Duration::days(4),
    };
    Some(plan(None, case_id, &id("taiyuan-detox"), vec![event], &context).unwrap())
}
