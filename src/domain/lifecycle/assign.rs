//! A case with no project that may act on it, handed on by the oversight
//! office: an unroutable one (no project was registered for its county at
//! discharge, so the office holds it until it names a county whose project
//! takes it), or one whose project was disabled in the registry (only the
//! responsible project may act on a case, so its cases would otherwise
//! wait for it for ever).

use super::{Refusal, project_taking_over};
use crate::domain::agency::{Agency, AgencyRef};
use crate::domain::case::{Case, CaseEvent};
use crate::domain::region::RegionCode;

/// The event of `caller`'s assignment of `case` to the project of
/// `to_region`. The policy has checked that the caller oversees the case;
/// the county comes next, as a list's county does, then the case's state.
pub(super) fn assign(
    case: &Case,
    caller: &AgencyRef,
    agencies: &[Agency],
    to_region: RegionCode,
    reason: &str,
) -> Result<CaseEvent, Refusal> {
    if !caller.region.covers(to_region) {
        return Err(Refusal::NotPermitted(format!(
            "county {to_region} is outside the jurisdiction of {}",
            caller.region
        )));
    }
    let nobody_may_act = case.is_unroutable()
        || case.responsible.as_ref().is_some_and(|project| {
            !agencies
                .iter()
                .any(|a| a.enabled && &a.agency.id == project)
        });
    let refusal = match &case.responsible {
        _ if !case.state.is_supervised() => Some(format!(
            "cannot assign the case to a project while the case is {}",
            case.state
        )),
        Some(project) if !nobody_may_act => Some(format!(
            "only an unroutable case, or one whose project is disabled, is assigned; \
             {project} is responsible for this one"
        )),
        // The receiving project's answer, or the arrival, ends it.
        _ if case.transfer.is_some() => Some(format!(
            "cannot assign the case while its transfer to {} is pending",
            case.transfer.as_ref().map_or("", |t| t.to_project.as_str())
        )),
        _ => None,
    };
    if let Some(message) = refusal {
        return Err(Refusal::WrongState {
            state: case.state,
            message,
        });
    }
    Ok(CaseEvent::Assigned {
        executing_region: to_region,
        project: project_taking_over(agencies, to_region)?,
        reason: reason.to_owned(),
    })
}
