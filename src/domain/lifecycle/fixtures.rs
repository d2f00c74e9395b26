//! Cases in each state and commands of each kind, for the lifecycle's
//! tests.

use super::*;
use crate::domain::agency::AgencyRef;
use crate::domain::testing::{agency, discharged_case, region, shanxi, then};
use time::macros::date;

/// Answered by the county a transfer goes to, not the responsible one.
pub(super) fn is_receivers(command: &Command) -> bool {
    relation(command.call(), AgencyKind::CountyProject) == Some(Relation::TransferReceiver)
}

pub(super) fn yingze() -> AgencyRef {
    agency("county-project", "140106", "yingze-project")
}

pub(super) fn xiaodian() -> AgencyRef {
    agency("county-project", "140105", "xiaodian-project")
}

pub(super) fn xinghualing() -> AgencyRef {
    agency("county-project", "140107", "xinghualing-project")
}

pub(super) fn fields(invalid: &Invalid) -> Vec<&str> {
    invalid
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect()
}

pub(super) fn refused_fields(draft: &CommandDraft) -> Vec<String> {
    match draft.parse() {
        Ok(command) => panic!("{draft:?} parsed as {command:?}"),
        Err(invalid) => fields(&invalid).into_iter().map(str::to_owned).collect(),
    }
}

/// `case` after `command` by `by`, which must be accepted.
pub(super) fn act(case: &Case, by: &AgencyRef, command: &Command) -> Case {
    let event = decide(case, by, command, &shanxi())
        .unwrap_or_else(|refusal| panic!("{command:?} by {by} refused: {refusal}"));
    then(case, &by.id, event)
}

pub(super) fn decided(
    case: &Case,
    by: &AgencyRef,
    command: &Command,
) -> Result<CaseEvent, Refusal> {
    decide(case, by, command, &shanxi())
}

pub(super) fn transfer_to_xiaodian() -> Command {
    Command::RequestTransfer {
        to_region: region("140105"),
        reason: "moved for work".into(),
    }
}

pub(super) fn text(value: &str) -> String {
    value.to_owned()
}

// The case executes in Yingze (140106), household there too.
pub(super) fn awaiting_pickup() -> Case {
    discharged_case("140106", "140106", Some("yingze-project"))
}

pub(super) fn picked_up() -> Case {
    act(&awaiting_pickup(), &yingze(), &Command::ConfirmPickup)
}

pub(super) fn supervised() -> Case {
    act(&picked_up(), &yingze(), &Command::ConfirmReport)
}

pub(super) fn transfer_requested() -> Case {
    act(&supervised(), &yingze(), &transfer_to_xiaodian())
}

pub(super) fn transfer_accepted() -> Case {
    act(&transfer_requested(), &xiaodian(), &Command::AcceptTransfer)
}

pub(super) fn lost_contact() -> Case {
    act(
        &supervised(),
        &yingze(),
        &Command::ReportLostContact { note: text("") },
    )
}

pub(super) fn suspended() -> Case {
    act(
        &supervised(),
        &yingze(),
        &Command::Suspend {
            reason: text("detained"),
        },
    )
}

pub(super) fn closed() -> Case {
    act(
        &supervised(),
        &yingze(),
        &Command::Close {
            reason: ClosureReason::Deceased,
            note: String::new(),
        },
    )
}

/// One valid command of each kind.
pub(super) fn every_command() -> Vec<Command> {
    vec![
        Command::ConfirmPickup,
        Command::ConfirmReport,
        transfer_to_xiaodian(),
        Command::AcceptTransfer,
        Command::RejectTransfer {
            reason: text("no housing"),
        },
        Command::WithdrawTransfer {
            reason: String::new(),
        },
        Command::ConfirmArrival,
        Command::NotifyAbsence {
            host_region: region("140108"),
            from: date!(2026 - 12 - 01),
            until: date!(2026 - 12 - 09),
            reason: text("visiting family"),
        },
        Command::ReportLostContact {
            note: String::new(),
        },
        Command::RestoreContact {
            note: text("came back"),
        },
        Command::Suspend {
            reason: text("detained"),
        },
        Command::Resume,
        Command::Close {
            reason: ClosureReason::Completed,
            note: String::new(),
        },
    ]
}
