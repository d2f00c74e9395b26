//! An unroutable case handed on: no project was registered for its
//! county at discharge, so the oversight office holds it until it names a
//! county whose project takes it.

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
    if !(case.is_unroutable() && case.state.is_supervised()) {
        let message = match &case.responsible {
            Some(project) if case.state.is_supervised() => {
                format!(
                    "only an unroutable case is assigned; {project} is responsible for this one"
                )
            }
            _ => format!(
                "cannot assign the case to a project while the case is {}",
                case.state
            ),
        };
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
