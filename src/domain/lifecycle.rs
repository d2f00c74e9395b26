//! What county projects do to a case after discharge, oversight offices
//! to a case no project could take, and detox centers to a release they
//! announced: each command is checked against the case's state and the
//! caller, and yields one event or a typed refusal.

use time::Date;

use super::agency::{Agency, AgencyId, AgencyKind, AgencyRef};
use super::case::{Case, CaseEvent, CaseState, ClosureReason};
use super::policy::{Call, Denial, Relation, authorize_on_case, relation};
use super::region::RegionCode;
use super::validation::Invalid;

mod draft;

pub use draft::CommandDraft;
#[cfg(test)]
use draft::REASON_CHARS;

/// A validated command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    ConfirmPickup,
    ConfirmReport,
    RequestTransfer {
        to_region: RegionCode,
        reason: String,
    },
    AcceptTransfer,
    RejectTransfer {
        reason: String,
    },
    WithdrawTransfer {
        reason: String,
    },
    ConfirmArrival,
    NotifyAbsence {
        host_region: RegionCode,
        from: Date,
        until: Date,
        reason: String,
    },
    ReportLostContact {
        note: String,
    },
    RestoreContact {
        note: String,
    },
    Suspend {
        reason: String,
    },
    Resume,
    Close {
        reason: ClosureReason,
        note: String,
    },
    Assign {
        to_region: RegionCode,
        reason: String,
    },
    /// The announced release will not take place under this decision.
    WithdrawAnnouncement {
        reason: String,
    },
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller may not see the case: the same answer as no case at all.
    #[error("no such case")]
    NotFound,
    #[error("{0}")]
    NotPermitted(String),
    /// The command does not fit the case's current state.
    #[error("{message}")]
    WrongState { state: CaseState, message: String },
    /// The command names a county no project can serve.
    #[error("{field}: {message}")]
    Unroutable {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl Command {
    /// The call of the policy table this command is.
    pub fn call(&self) -> Call {
        match self {
            Command::ConfirmPickup => Call::ConfirmPickup,
            Command::ConfirmReport => Call::ConfirmReport,
            Command::RequestTransfer { .. } => Call::RequestTransfer,
            Command::AcceptTransfer => Call::AcceptTransfer,
            Command::RejectTransfer { .. } => Call::RejectTransfer,
            Command::WithdrawTransfer { .. } => Call::WithdrawTransfer,
            Command::ConfirmArrival => Call::ConfirmArrival,
            Command::NotifyAbsence { .. } => Call::NotifyAbsence,
            Command::ReportLostContact { .. } => Call::ReportLostContact,
            Command::RestoreContact { .. } => Call::RestoreContact,
            Command::Suspend { .. } => Call::SuspendCase,
            Command::Resume => Call::ResumeCase,
            Command::Close { .. } => Call::CloseCase,
            Command::Assign { .. } => Call::AssignCase,
            Command::WithdrawAnnouncement { .. } => Call::WithdrawAnnouncement,
        }
    }
}

impl Command {
    /// Checks the command's dates against `today` (China): an absence
    /// notified once it is over gives the host county nothing to act on,
    /// and one starting more than a year ahead is not planned yet.
    ///
    /// # Errors
    /// [`Invalid`] naming the date.
    pub fn check_dates(&self, today: Date) -> Result<(), Invalid> {
        if let Command::NotifyAbsence { from, until, .. } = self {
            if *until < today {
                return Err(Invalid::field(
                    "until",
                    "is before today: the absence is over",
                ));
            }
            if (*from - today).whole_days() > 366 {
                return Err(Invalid::field("from", "is more than a year ahead"));
            }
        }
        Ok(())
    }
}

/// The state as a user reads it, with the transfer's phase.
pub fn describe_state(case: &Case) -> String {
    match (&case.state, &case.transfer) {
        (CaseState::TransferPending, Some(transfer)) if transfer.accepted.is_some() => {
            format!("transfer-pending (accepted by {})", transfer.to_project)
        }
        (CaseState::TransferPending, Some(transfer)) => {
            format!("transfer-pending (awaiting {})", transfer.to_project)
        }
        (state, _) => state.as_str().to_owned(),
    }
}

fn project_of(agencies: &[Agency], county: RegionCode) -> Option<&Agency> {
    agencies
        .iter()
        .filter(|a| a.enabled && a.agency.kind == AgencyKind::CountyProject)
        .filter(|a| a.agency.region == county)
        .min_by(|a, b| a.agency.id.cmp(&b.agency.id))
}

/// The project that takes a case over in `to_region`, by transfer or
/// assignment.
fn project_taking_over(agencies: &[Agency], to_region: RegionCode) -> Result<AgencyId, Refusal> {
    project_of(agencies, to_region)
        .map(|project| project.agency.id.clone())
        .ok_or_else(|| Refusal::Unroutable {
            field: "to_region",
            message: format!("no county project is registered for {to_region}"),
        })
}

/// Checks `command` by `caller` against `case` and the registry, and
/// yields the event it causes.
///
/// # Errors
/// [`Refusal`] when the caller may not see the case or give this command,
/// the case's state does not allow it, or its fields do not fit the case.
pub fn decide(
    case: &Case,
    caller: &AgencyRef,
    command: &Command,
    agencies: &[Agency],
) -> Result<CaseEvent, Refusal> {
    let wrong_state = || Refusal::WrongState {
        state: case.state,
        message: format!(
            "cannot {} while the case is {}",
            command.call().action(),
            describe_state(case)
        ),
    };
    match authorize_on_case(caller, command.call(), case) {
        Ok(()) => {}
        Err(Denial::Unseen) => return Err(Refusal::NotFound),
        // Answering a transfer that is not pending is a matter of state,
        // not of who asks.
        Err(Denial::Denied(_))
            if caller.kind == AgencyKind::CountyProject
                && case.transfer.is_none()
                && relation(command.call(), caller.kind) == Some(Relation::TransferReceiver) =>
        {
            return Err(wrong_state());
        }
        // Before the discharge nobody is responsible yet: the project the
        // notice went to may act once it comes, so its refusal is the
        // state's, which a retry after the discharge can pass. Another
        // project told of the release (the person's earlier case's) never
        // may.
        Err(Denial::Denied(_))
            if case.state == CaseState::Announced
                && case.announced_to.as_ref() == Some(&caller.id)
                && relation(command.call(), caller.kind) == Some(Relation::Responsible) =>
        {
            return Err(wrong_state());
        }
        Err(Denial::Denied(message)) => return Err(Refusal::NotPermitted(message)),
    }
    let event = match command {
        Command::ConfirmPickup => CaseEvent::PickedUp,
        Command::ConfirmReport => CaseEvent::Reported,
        Command::RequestTransfer { to_region, reason } => {
            if *to_region == case.executing_region {
                return Err(
                    Invalid::field("to_region", "is the county the case is already in").into(),
                );
            }
            CaseEvent::TransferRequested {
                to_region: *to_region,
                to_project: project_taking_over(agencies, *to_region)?,
                reason: reason.clone(),
            }
        }
        Command::AcceptTransfer => CaseEvent::TransferAccepted,
        Command::RejectTransfer { reason } => CaseEvent::TransferRejected {
            reason: reason.clone(),
        },
        Command::WithdrawTransfer { reason } => CaseEvent::TransferWithdrawn {
            reason: reason.clone(),
        },
        Command::ConfirmArrival => CaseEvent::Arrived,
        Command::NotifyAbsence {
            host_region,
            from,
            until,
            reason,
        } => {
            if *host_region == case.executing_region {
                return Err(Invalid::field("host_region", "is the county the case is in").into());
            }
            CaseEvent::AbsenceNotified {
                host_region: *host_region,
                host_project: project_of(agencies, *host_region).map(|a| a.agency.id.clone()),
                from: *from,
                until: *until,
                reason: reason.clone(),
            }
        }
        Command::ReportLostContact { note } => CaseEvent::ContactLost { note: note.clone() },
        Command::RestoreContact { note } => CaseEvent::ContactRestored { note: note.clone() },
        Command::Suspend { reason } => CaseEvent::Suspended {
            reason: reason.clone(),
        },
        Command::Resume => CaseEvent::Resumed,
        Command::Close { reason, note } => CaseEvent::Closed {
            reason: *reason,
            note: note.clone(),
        },
        Command::Assign { to_region, reason } => {
            assign::assign(case, caller, agencies, *to_region, reason)?
        }
        Command::WithdrawAnnouncement { reason } => CaseEvent::Closed {
            reason: ClosureReason::ReleaseWithdrawn,
            note: reason.clone(),
        },
    };
    if case.allows(&event) {
        Ok(event)
    } else {
        Err(wrong_state())
    }
}

mod assign;

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod assign_tests;

#[cfg(test)]
mod draft_tests;

#[cfg(test)]
mod transfer_tests;

#[cfg(test)]
mod announcement_tests;

#[cfg(test)]
mod proptests;
