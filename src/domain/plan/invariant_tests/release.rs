//! How the world's case starts: an optional pre-release notice, perhaps
//! revised, and an earlier open case of the person, planned as the
//! gateway plans them.

use time::{Date, Duration, OffsetDateTime};

use super::*;
use crate::domain::agency::AgencyKind;
use crate::domain::case::{ClosureReason, EarlierCase};
use crate::domain::deadline::DeadlineKind;
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::notice::Notice;
use crate::domain::plan::{Context, Planned, plan};
use crate::domain::region::RegionCode;
use crate::domain::routing::{RecipientRole, route};
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
/// the first of `households`, and a revised notice a day later for each
/// other one, each planning the release for `planned`, as the gateway
/// plans them; `None` where the gateway refuses the first (no agency can
/// receive it). A revision no agency can receive is refused and leaves
/// the notice as it was.
pub(super) fn announce(
    agencies: &[Agency],
    policy: &DeadlinePolicy,
    case_id: &CaseId,
    households: &[usize],
    earlier: &[EarlierCase],
    discharge_at: OffsetDateTime,
    planned: Date,
) -> Option<Planned> {
    let mut announced: Option<Planned> = None;
    for (day, household) in (0i64..).zip(households) {
        let person = person(REGIONS[*household], None, false);
        let route = route(&person, region("140100"), agencies);
        if route.recipients.is_empty() {
            // The first notice refused: no case; a revision refused: the
            // notice stands.
            announced.as_ref()?;
            continue;
        }
        let case = announced.as_ref().map(|planned| planned.case.clone());
        let route = route
            .with_earlier_cases(earlier, agencies)
            .with_announced_before(case.as_ref(), agencies);
        let event = CaseEvent::ReleaseAnnounced {
            decision_number: DecisionNumber::parse("D-1").unwrap(),
            person,
            planned_release_date: planned,
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
            now: discharge_at - Duration::days(4 - day),
        };
        let detox = id("taiyuan-detox");
        let planned = plan(case, case_id, &detox, vec![event], &context).unwrap();
        let mut notices = announced.map(|before| before.notices).unwrap_or_default();
        notices.extend(planned.notices);
        announced = Some(Planned {
            case: planned.case,
            notices,
        });
    }
    announced
}

/// (v) a release, a notice sent again, its withdrawal or its overdue
/// discharge reaches everyone the latest notice before it named (not
/// those it only told of a move): nobody waits at the gate.
pub(super) fn check_nobody_waits(
    notices: &[(AgencyId, Notice)],
    before: Option<&Case>,
    recorded: &RecordedEvent,
) -> Result<(), TestCaseError> {
    let intake = matches!(
        recorded.event,
        CaseEvent::ReleaseAnnounced { .. }
            | CaseEvent::Discharged { .. }
            | CaseEvent::Closed {
                reason: ClosureReason::ReleaseWithdrawn,
                ..
            }
            | CaseEvent::DeadlineMissed {
                kind: DeadlineKind::Discharge,
                ..
            }
    );
    let latest_notice = before.and_then(|before| {
        (before.history.iter().rev())
            .find(|e| matches!(e.event, CaseEvent::ReleaseAnnounced { .. }))
    });
    let (true, Some(latest_notice)) = (intake, latest_notice) else {
        return Ok(());
    };
    let delivered = |to: &AgencyId| {
        (notices.iter()).any(|(agency, notice)| agency == to && &notice.event == recorded)
    };
    for (agency, told) in notices {
        let named = &told.event == latest_notice && told.role != RecipientRole::AnnouncedBefore;
        prop_assert!(
            !named || delivered(agency),
            "{} heard the notice but not the {}",
            agency,
            recorded.event.name()
        );
    }
    Ok(())
}
