//! Commands as clients send them, before validation: what a request id's
//! digest covers, and the parsing that names every wrong field.

use serde::Serialize;
use time::Date;

use super::Command;
use crate::domain::case::ClosureReason;
use crate::domain::region::RegionCode;
use crate::domain::validation::{self, Invalid};

pub(super) const REASON_CHARS: usize = 500;

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
    WithdrawAnnouncement {
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

/// The county a case goes to and why: a transfer's, an assignment's.
fn to_county(invalid: &mut Invalid, to_region: &str, reason: &str) -> Option<(RegionCode, String)> {
    let to_region = invalid.check("to_region", RegionCode::parse_county(to_region));
    let reason = required(invalid, "reason", reason);
    to_region.zip(reason)
}

fn date(invalid: &mut Invalid, field: &str, value: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    invalid.check(
        field,
        Date::parse(value, format).map_err(|_| "must be a date, YYYY-MM-DD"),
    )
}

/// A reason a project may close a case with: not the withdrawal of an
/// announcement, which only its detox center makes, before discharge.
fn closure_by_project(reason: &str) -> Result<ClosureReason, String> {
    match reason.parse::<ClosureReason>() {
        Ok(ClosureReason::ReleaseWithdrawn) => Err(
            "release-withdrawn is the detox center's WithdrawAnnouncement, before discharge".into(),
        ),
        Ok(reason) => Ok(reason),
        Err(_) => {
            let names = ClosureReason::ALL
                .into_iter()
                .filter(|r| *r != ClosureReason::ReleaseWithdrawn)
                .map(ClosureReason::as_str);
            let names: Vec<&str> = names.collect();
            Err(format!(
                "unknown closure reason {reason:?}; expected one of {}",
                names.join(", ")
            ))
        }
    }
}

impl CommandDraft {
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
            CommandDraft::WithdrawAnnouncement { .. } => "withdraw-announcement",
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
                to_county(&mut invalid, to_region, reason)
                    .map(|(to_region, reason)| Command::RequestTransfer { to_region, reason })
            }
            CommandDraft::Assign { to_region, reason } => {
                to_county(&mut invalid, to_region, reason)
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
            CommandDraft::WithdrawAnnouncement { reason } => {
                required(&mut invalid, "reason", reason)
                    .map(|reason| Command::WithdrawAnnouncement { reason })
            }
            CommandDraft::Close { reason, note } => {
                let reason = invalid.check("reason", closure_by_project(reason));
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
