//! Who may make which call: one table of role × call × relation to the case
//! or region, consulted by every call of the gateway. The README's
//! authorization table is printed from it ([`markdown_table`]) and a test
//! keeps the two equal.
//!
//! A call is answered in this order, so that an agency learns nothing about
//! a case it may not see:
//!
//! 1. a call on a case the caller may not see ([`can_view`]) is `NotFound`,
//!    the same answer as for no case at all;
//! 2. a caller of a kind the table does not list is `PermissionDenied`;
//! 3. a caller of the right kind without the relation the call needs is
//!    `PermissionDenied`.

use std::fmt;

use super::access::can_view;
use super::agency::{AgencyKind, AgencyRef};
use super::case::Case;

/// Every call of the gateway's services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    AnnounceRelease,
    SubmitDischarge,
    WithdrawAnnouncement,
    Subscribe,
    Acknowledge,
    GetCase,
    ListCases,
    ConfirmPickup,
    ConfirmReport,
    RequestTransfer,
    AcceptTransfer,
    RejectTransfer,
    WithdrawTransfer,
    ConfirmArrival,
    NotifyAbsence,
    ReportLostContact,
    RestoreContact,
    SuspendCase,
    ResumeCase,
    CloseCase,
    AssignCase,
    GetAuditHead,
}

impl Call {
    /// Every call, in the order of the services.
    pub const ALL: [Call; 22] = [
        Call::AnnounceRelease,
        Call::SubmitDischarge,
        Call::WithdrawAnnouncement,
        Call::Subscribe,
        Call::Acknowledge,
        Call::GetCase,
        Call::ListCases,
        Call::ConfirmPickup,
        Call::ConfirmReport,
        Call::RequestTransfer,
        Call::AcceptTransfer,
        Call::RejectTransfer,
        Call::WithdrawTransfer,
        Call::ConfirmArrival,
        Call::NotifyAbsence,
        Call::ReportLostContact,
        Call::RestoreContact,
        Call::SuspendCase,
        Call::ResumeCase,
        Call::CloseCase,
        Call::AssignCase,
        Call::GetAuditHead,
    ];

    /// The RPC's name in its service.
    pub fn rpc(self) -> &'static str {
        match self {
            Call::AnnounceRelease => "AnnounceRelease",
            Call::SubmitDischarge => "SubmitDischarge",
            Call::WithdrawAnnouncement => "WithdrawAnnouncement",
            Call::Subscribe => "Subscribe",
            Call::Acknowledge => "Acknowledge",
            Call::GetCase => "GetCase",
            Call::ListCases => "ListCases",
            Call::ConfirmPickup => "ConfirmPickup",
            Call::ConfirmReport => "ConfirmReport",
            Call::RequestTransfer => "RequestTransfer",
            Call::AcceptTransfer => "AcceptTransfer",
            Call::RejectTransfer => "RejectTransfer",
            Call::WithdrawTransfer => "WithdrawTransfer",
            Call::ConfirmArrival => "ConfirmArrival",
            Call::NotifyAbsence => "NotifyAbsence",
            Call::ReportLostContact => "ReportLostContact",
            Call::RestoreContact => "RestoreContact",
            Call::SuspendCase => "SuspendCase",
            Call::ResumeCase => "ResumeCase",
            Call::CloseCase => "CloseCase",
            Call::AssignCase => "AssignCase",
            Call::GetAuditHead => "GetAuditHead",
        }
    }

    /// What the call does, as refusals say it ("may not ...").
    pub fn action(self) -> &'static str {
        match self {
            Call::AnnounceRelease => "announce releases",
            Call::SubmitDischarge => "submit discharges",
            Call::WithdrawAnnouncement => "withdraw the announcement",
            Call::Subscribe => "read an inbox",
            Call::Acknowledge => "acknowledge inbox messages",
            Call::GetCase => "read a case",
            Call::ListCases => "list cases",
            Call::ConfirmPickup => "confirm the pickup",
            Call::ConfirmReport => "confirm the report",
            Call::RequestTransfer => "request a transfer",
            Call::AcceptTransfer => "accept the transfer",
            Call::RejectTransfer => "reject the transfer",
            Call::WithdrawTransfer => "withdraw the transfer",
            Call::ConfirmArrival => "confirm the arrival",
            Call::NotifyAbsence => "notify an absence",
            Call::ReportLostContact => "report loss of contact",
            Call::RestoreContact => "report contact restored",
            Call::SuspendCase => "suspend the case",
            Call::ResumeCase => "resume the case",
            Call::CloseCase => "close the case",
            Call::AssignCase => "assign the case to a project",
            Call::GetAuditHead => "fetch the audit log's signed head",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rpc())
    }
}

/// What must hold between the caller and the case or region a call is
/// about, beyond the caller's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Nothing at all: the answer concerns no case and no agency.
    Anyone,
    /// Nothing beyond the kind: the caller acts on its own behalf (its
    /// submissions, its own inbox).
    Own,
    /// The caller may see the case ([`can_view`]).
    Sees,
    /// The caller may see the case and must state a purpose.
    SeesWithPurpose,
    /// A county asked for lies in the caller's jurisdiction.
    Jurisdiction,
    /// The caller is the detox center that submitted the case.
    Submitter,
    /// The caller is the case's responsible project.
    Responsible,
    /// The caller is the project a pending transfer goes to.
    TransferReceiver,
    /// The caller is an office over the case's executing county, or the
    /// one that received it as unroutable: not one that sees it only
    /// through the household county, which would override the county the
    /// person chose.
    Oversees,
}

impl Relation {
    fn describe(self) -> &'static str {
        match self {
            Relation::Anyone => "yes",
            Relation::Own => "yes (its own)",
            Relation::Sees => "a case it sees",
            Relation::SeesWithPurpose => "a case it sees, stating a purpose",
            Relation::Jurisdiction => "in its jurisdiction",
            Relation::Submitter => "as the detox center that announced it",
            Relation::Responsible => "as responsible project",
            Relation::TransferReceiver => "as receiver of the transfer",
            Relation::Oversees => "a case it oversees",
        }
    }
}

/// One row of the table: who may make `call`, and in what relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub call: Call,
    pub kind: AgencyKind,
    pub relation: Relation,
}

const fn rule(call: Call, kind: AgencyKind, relation: Relation) -> Rule {
    Rule {
        call,
        kind,
        relation,
    }
}

use AgencyKind::{CountyProject, DetoxCenter, Oversight, Police};
use Relation::{
    Anyone, Jurisdiction, Oversees, Own, Responsible, Sees, SeesWithPurpose, Submitter,
    TransferReceiver,
};

/// The policy. A kind that has no row for a call may not make it.
pub const POLICY: &[Rule] = &[
    rule(Call::AnnounceRelease, DetoxCenter, Own),
    rule(Call::SubmitDischarge, DetoxCenter, Own),
    rule(Call::WithdrawAnnouncement, DetoxCenter, Submitter),
    rule(Call::Subscribe, DetoxCenter, Own),
    rule(Call::Subscribe, CountyProject, Own),
    rule(Call::Subscribe, Police, Own),
    rule(Call::Subscribe, Oversight, Own),
    rule(Call::Acknowledge, DetoxCenter, Own),
    rule(Call::Acknowledge, CountyProject, Own),
    rule(Call::Acknowledge, Police, Own),
    rule(Call::Acknowledge, Oversight, Own),
    rule(Call::GetCase, DetoxCenter, Sees),
    rule(Call::GetCase, CountyProject, Sees),
    rule(Call::GetCase, Police, SeesWithPurpose),
    rule(Call::GetCase, Oversight, Sees),
    // The cases a detox center submitted, those a project is responsible
    // for.
    rule(Call::ListCases, DetoxCenter, Own),
    rule(Call::ListCases, CountyProject, Own),
    rule(Call::ListCases, Police, Jurisdiction),
    rule(Call::ListCases, Oversight, Jurisdiction),
    rule(Call::ConfirmPickup, CountyProject, Responsible),
    rule(Call::ConfirmReport, CountyProject, Responsible),
    rule(Call::RequestTransfer, CountyProject, Responsible),
    rule(Call::AcceptTransfer, CountyProject, TransferReceiver),
    rule(Call::RejectTransfer, CountyProject, TransferReceiver),
    rule(Call::WithdrawTransfer, CountyProject, Responsible),
    rule(Call::ConfirmArrival, CountyProject, TransferReceiver),
    rule(Call::NotifyAbsence, CountyProject, Responsible),
    rule(Call::ReportLostContact, CountyProject, Responsible),
    rule(Call::RestoreContact, CountyProject, Responsible),
    rule(Call::SuspendCase, CountyProject, Responsible),
    rule(Call::ResumeCase, CountyProject, Responsible),
    rule(Call::CloseCase, CountyProject, Responsible),
    // An unroutable case, to a county of the office's jurisdiction.
    rule(Call::AssignCase, Oversight, Oversees),
    // A head names no case and no person, and the more agencies keep one,
    // the less a rewrite of the log can hide.
    rule(Call::GetAuditHead, DetoxCenter, Anyone),
    rule(Call::GetAuditHead, CountyProject, Anyone),
    rule(Call::GetAuditHead, Police, Anyone),
    rule(Call::GetAuditHead, Oversight, Anyone),
];

/// The relation `kind` needs for `call`, or `None` when it may not make it.
pub fn relation(call: Call, kind: AgencyKind) -> Option<Relation> {
    POLICY
        .iter()
        .find(|rule| rule.call == call && rule.kind == kind)
        .map(|rule| rule.relation)
}

/// Why the policy refuses a call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The caller may not see the case: answered as if there were none.
    #[error("no such case")]
    Unseen,
    #[error("{0}")]
    Denied(String),
}

/// Checks the caller's kind for `call`, and yields the relation still to
/// check.
///
/// # Errors
/// [`Denial::Denied`] when the table has no row for the caller's kind.
pub fn authorize(caller: &AgencyRef, call: Call) -> Result<Relation, Denial> {
    relation(call, caller.kind).ok_or_else(|| Denial::Denied(kind_refusal(caller.kind, call)))
}

/// Checks `call` by `caller` on `case`: visibility, kind, then relation.
///
/// # Errors
/// [`Denial::Unseen`] for a case the caller may not see; otherwise
/// [`Denial::Denied`] naming who may make the call.
pub fn authorize_on_case(caller: &AgencyRef, call: Call, case: &Case) -> Result<(), Denial> {
    if !can_view(caller, case) {
        return Err(Denial::Unseen);
    }
    match authorize(caller, call)? {
        Anyone | Own | Sees | SeesWithPurpose | Jurisdiction => Ok(()),
        Submitter if case.detox_center == caller.id => Ok(()),
        Submitter => Err(Denial::Denied(format!(
            "only {}, which announced the release, may {}",
            case.detox_center,
            call.action()
        ))),
        Responsible if case.responsible.as_ref() == Some(&caller.id) => Ok(()),
        Responsible => Err(Denial::Denied(match &case.responsible {
            Some(project) => format!(
                "only {project}, the responsible project, may {}",
                call.action()
            ),
            None => format!(
                "no project is responsible for the case; none may {}",
                call.action()
            ),
        })),
        Oversees
            if case.oversight.as_ref() == Some(&caller.id)
                || caller.region.covers(case.executing_region) =>
        {
            Ok(())
        }
        Oversees => Err(Denial::Denied(match &case.oversight {
            Some(office) => format!(
                "only an oversight office over county {}, or {office}, which received the case, may {}",
                case.executing_region,
                call.action()
            ),
            None => format!(
                "only an oversight office over county {} may {}",
                case.executing_region,
                call.action()
            ),
        })),
        TransferReceiver => match &case.transfer {
            Some(transfer) if transfer.to_project == caller.id => Ok(()),
            Some(transfer) => Err(Denial::Denied(format!(
                "only {}, which the transfer goes to, may {}",
                transfer.to_project,
                call.action()
            ))),
            None => Err(Denial::Denied(format!(
                "no transfer is pending; none may {}",
                call.action()
            ))),
        },
    }
}

fn kind_refusal(kind: AgencyKind, call: Call) -> String {
    let allowed: Vec<AgencyKind> = POLICY
        .iter()
        .filter(|rule| rule.call == call)
        .map(|rule| rule.kind)
        .collect();
    let words = |kind: AgencyKind| match kind {
        Oversight => "an oversight office".to_owned(),
        other => format!("a {}", other.as_str().replace('-', " ")),
    };
    match allowed.as_slice() {
        [only] => format!("only {} may {}", words(*only), call.action()),
        _ => format!("{} may not {}", words(kind), call.action()),
    }
}

/// The table as Markdown, one row per call and one column per kind, as
/// the README shows it.
pub fn markdown_table() -> String {
    const KINDS: [AgencyKind; 4] = [DetoxCenter, CountyProject, Police, Oversight];
    let mut table = String::from("| call |");
    for kind in KINDS {
        table.push_str(&format!(" {kind} |"));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(KINDS.len()));
    table.push('\n');
    for call in Call::ALL {
        table.push_str(&format!("| `{}` |", call.rpc()));
        for kind in KINDS {
            match relation(call, kind) {
                Some(relation) => table.push_str(&format!(" {} |", relation.describe())),
                None => table.push_str(" no |"),
            }
        }
        table.push('\n');
    }
    table
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
