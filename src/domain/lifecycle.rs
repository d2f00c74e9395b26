//! What county projects do to a case after discharge, and oversight
//! offices to a case no project could take: each command is checked
//! against the case's state and the caller, and yields one event or a
//! typed refusal.

use serde::Serialize;
use time::Date;

use super::agency::{Agency, AgencyKind, AgencyRef};
use super::case::{Case, CaseEvent, CaseState, ClosureReason};
use super::policy::{Call, Denial, Relation, authorize_on_case, relation};
use super::region::RegionCode;
use super::validation::{self, Invalid};

const REASON_CHARS: usize = 500;

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
}

/// A command as a client sent it, before validation. Its serialized form is
/// what a request id's digest covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum CommandDraft {
    ConfirmPickup,
    ConfirmReport,
    RequestTransfer {
        to_region: String,
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
        host_region: String,
        from: String,
        until: String,
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
        reason: String,
        note: String,
    },
    Assign {
        to_region: String,
        reason: String,
    },
}

fn required(invalid: &mut Invalid, field: &str, value: &str) -> Option<String> {
    invalid.check(field, validation::text(value, REASON_CHARS))
}

fn optional(invalid: &mut Invalid, field: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        Some(String::new())
    } else {
        required(invalid, field, value)
    }
}

fn date(invalid: &mut Invalid, field: &str, value: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    invalid.check(
        field,
        Date::parse(value, format).map_err(|_| "must be a date, YYYY-MM-DD"),
    )
}

impl CommandDraft {
    /// The call of the policy table this command is.
    pub fn call(&self) -> Call {
        match self {
            CommandDraft::ConfirmPickup => Call::ConfirmPickup,
            CommandDraft::ConfirmReport => Call::ConfirmReport,
            CommandDraft::RequestTransfer { .. } => Call::RequestTransfer,
            CommandDraft::AcceptTransfer => Call::AcceptTransfer,
            CommandDraft::RejectTransfer { .. } => Call::RejectTransfer,
            CommandDraft::WithdrawTransfer { .. } => Call::WithdrawTransfer,
            CommandDraft::ConfirmArrival => Call::ConfirmArrival,
            CommandDraft::NotifyAbsence { .. } => Call::NotifyAbsence,
            CommandDraft::ReportLostContact { .. } => Call::ReportLostContact,
            CommandDraft::RestoreContact { .. } => Call::RestoreContact,
            CommandDraft::Suspend { .. } => Call::SuspendCase,
            CommandDraft::Resume => Call::ResumeCase,
            CommandDraft::Close { .. } => Call::CloseCase,
            CommandDraft::Assign { .. } => Call::AssignCase,
        }
    }

    /// The command's name, as the API and the audit know it.
    pub fn name(&self) -> &'static str {
        match self {
            CommandDraft::ConfirmPickup => "confirm-pickup",
            CommandDraft::ConfirmReport => "confirm-report",
            CommandDraft::RequestTransfer { .. } => "request-transfer",
            CommandDraft::AcceptTransfer => "accept-transfer",
            CommandDraft::RejectTransfer { .. } => "reject-transfer",
            CommandDraft::WithdrawTransfer { .. } => "withdraw-transfer",
            CommandDraft::ConfirmArrival => "confirm-arrival",
            CommandDraft::NotifyAbsence { .. } => "notify-absence",
            CommandDraft::ReportLostContact { .. } => "report-lost-contact",
            CommandDraft::RestoreContact { .. } => "restore-contact",
            CommandDraft::Suspend { .. } => "suspend",
            CommandDraft::Resume => "resume",
            CommandDraft::Close { .. } => "close",
            CommandDraft::Assign { .. } => "assign",
        }
    }

    /// # Errors
    /// [`Invalid`] naming every wrong field.
    pub fn parse(&self) -> Result<Command, Invalid> {
        let mut invalid = Invalid::default();
        let command = match self {
            CommandDraft::ConfirmPickup => Some(Command::ConfirmPickup),
            CommandDraft::ConfirmReport => Some(Command::ConfirmReport),
            CommandDraft::AcceptTransfer => Some(Command::AcceptTransfer),
            CommandDraft::ConfirmArrival => Some(Command::ConfirmArrival),
            CommandDraft::Resume => Some(Command::Resume),
            CommandDraft::RequestTransfer { to_region, reason } => {
                let to_region = invalid.check("to_region", RegionCode::parse_county(to_region));
                let reason = required(&mut invalid, "reason", reason);
                to_region
                    .zip(reason)
                    .map(|(to_region, reason)| Command::RequestTransfer { to_region, reason })
            }
            CommandDraft::Assign { to_region, reason } => {
                let to_region = invalid.check("to_region", RegionCode::parse_county(to_region));
                let reason = required(&mut invalid, "reason", reason);
                to_region
                    .zip(reason)
                    .map(|(to_region, reason)| Command::Assign { to_region, reason })
            }
            CommandDraft::RejectTransfer { reason } => required(&mut invalid, "reason", reason)
                .map(|reason| Command::RejectTransfer { reason }),
            CommandDraft::WithdrawTransfer { reason } => optional(&mut invalid, "reason", reason)
                .map(|reason| Command::WithdrawTransfer { reason }),
            CommandDraft::NotifyAbsence {
                host_region,
                from,
                until,
                reason,
            } => {
                let host_region =
                    invalid.check("host_region", RegionCode::parse_county(host_region));
                let from = date(&mut invalid, "from", from);
                let until = date(&mut invalid, "until", until);
                let reason = optional(&mut invalid, "reason", reason);
                if let (Some(from), Some(until)) = (from, until) {
                    if until < from {
                        invalid.push("until", "is before from");
                    } else if (until - from).whole_days() > 366 {
                        invalid.push("until", "an absence is at most a year; request a transfer");
                    }
                }
                match (host_region, from, until, reason) {
                    (Some(host_region), Some(from), Some(until), Some(reason)) => {
                        Some(Command::NotifyAbsence {
                            host_region,
                            from,
                            until,
                            reason,
                        })
                    }
                    _ => None,
                }
            }
            CommandDraft::ReportLostContact { note } => {
                optional(&mut invalid, "note", note).map(|note| Command::ReportLostContact { note })
            }
            CommandDraft::RestoreContact { note } => {
                optional(&mut invalid, "note", note).map(|note| Command::RestoreContact { note })
            }
            CommandDraft::Suspend { reason } => {
                required(&mut invalid, "reason", reason).map(|reason| Command::Suspend { reason })
            }
            CommandDraft::Close { reason, note } => {
                let reason = invalid.check("reason", reason.parse::<ClosureReason>());
                let note = if reason == Some(ClosureReason::Other) {
                    required(&mut invalid, "note", note)
                } else {
                    optional(&mut invalid, "note", note)
                };
                reason
                    .zip(note)
                    .map(|(reason, note)| Command::Close { reason, note })
            }
        };
        invalid.finish(|| command)
    }
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
        }
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
            let project = project_of(agencies, *to_region).ok_or_else(|| Refusal::Unroutable {
                field: "to_region",
                message: format!("no county project is registered for {to_region}"),
            })?;
            CaseEvent::TransferRequested {
                to_region: *to_region,
                to_project: project.agency.id.clone(),
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
    };
    if case.allows(&event) {
        Ok(event)
    } else {
        Err(wrong_state())
    }
}

mod assign;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod assign_tests;

#[cfg(test)]
mod proptests;
