//! Turning accepted events into what gets written: the case after them and
//! one notice per recipient and event. Escalations that are due come
//! first (a deadline that passed before the command arrived was missed,
//! even if the command now meets it), and those the events make due come
//! last, so a missed deadline is recorded whichever write sees it first.

use time::OffsetDateTime;

use super::agency::{Agency, AgencyId};
use super::case::{Case, CaseEvent, CaseId, HistoryError, RecordedEvent};
use super::deadline::DeadlinePolicy;
use super::notice::Notice;
use super::recipients::recipients;
use super::routing::Route;

/// The outcome of planning: the case after every new event, and the
/// notices to deliver.
#[derive(Debug, Clone)]
pub struct Planned {
    pub case: Case,
    pub notices: Vec<(AgencyId, Notice)>,
}

/// Everything a plan needs besides the events.
pub struct Context<'a> {
    pub agencies: &'a [Agency],
    /// Where an announcement or a discharge goes.
    pub route: Option<&'a Route>,
    pub policy: &'a DeadlinePolicy,
    pub now: OffsetDateTime,
}

/// Plans `events` by `by` on `existing` (or on a new case with `id`).
///
/// # Errors
/// [`HistoryError`] when an event does not follow from the state, or an
/// intake event comes without a route.
pub fn plan(
    existing: Option<Case>,
    id: &CaseId,
    by: &AgencyId,
    events: Vec<CaseEvent>,
    context: &Context<'_>,
) -> Result<Planned, HistoryError> {
    let mut case = existing;
    let mut planned: Vec<(AgencyId, CaseEvent)> = case
        .iter()
        .flat_map(|case| case.due_escalations(context.policy, context.now))
        .map(|event| (AgencyId::gateway(), event))
        .collect();
    planned.extend(events.into_iter().map(|event| (by.clone(), event)));
    let mut notices = Vec::new();
    let mut index = 0;
    while index < planned.len() {
        let (by, event) = planned[index].clone();
        index += 1;
        let recorded = RecordedEvent {
            sequence: case.as_ref().map_or(0, Case::version) + 1,
            at: context.now,
            by,
            event,
        };
        let after = match &case {
            None => Case::from_history(id.clone(), vec![recorded.clone()])?,
            Some(before) => {
                let mut after = before.clone();
                after.apply(recorded.clone())?;
                after
            }
        };
        let intake = matches!(
            recorded.event,
            CaseEvent::ReleaseAnnounced { .. } | CaseEvent::Discharged { .. }
        );
        let to = match (intake, context.route, &case) {
            (true, Some(route), _) => route.recipients.clone(),
            (false, _, Some(before)) => recipients(before, &after, &recorded, context.agencies),
            _ => return Err(HistoryError::OutOfOrder(recorded.sequence)),
        };
        let summary = after.summary();
        notices.extend(to.into_iter().map(|recipient| {
            let notice = Notice {
                role: recipient.role,
                event: recorded.clone(),
                case: summary.clone(),
            };
            (recipient.agency, notice)
        }));
        if index == planned.len() {
            planned.extend(
                after
                    .due_escalations(context.policy, context.now)
                    .into_iter()
                    .map(|event| (AgencyId::gateway(), event)),
            );
        }
        case = Some(after);
    }
    let case = case.ok_or(HistoryError::Empty)?;
    Ok(Planned { case, notices })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod invariant_tests;

#[cfg(test)]
mod discharge_tests;
