//! What can happen to a case. A case's state is nothing but the fold of
//! these events, in order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::agency::AgencyId;
use super::case::CaseId;
use super::deadline::DeadlineKind;
use super::intake::{DecisionNumber, TermMonths};
use super::person::Person;
use super::region::RegionCode;

mod decode;

/// Something that happened to a case. Written with its tag first; read by
/// a reader of its own (`event/decode.rs`), fastest when the tag is first,
/// whose copy of these variants carries the attributes that matter for
/// reading (`default`, `with`): a change here must be made there too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum CaseEvent {
    ReleaseAnnounced {
        decision_number: DecisionNumber,
        person: Person,
        planned_release_date: Date,
        term: TermMonths,
        executing_region: RegionCode,
        project: Option<AgencyId>,
        /// The oversight office told of an announcement no project can
        /// receive.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oversight: Option<AgencyId>,
        /// The person's other cases still open when the release was
        /// announced; their projects and police are told in advance.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        earlier_open_cases: Vec<EarlierCase>,
    },
    Discharged {
        decision_number: DecisionNumber,
        person: Person,
        #[serde(with = "time::serde::rfc3339")]
        released_at: OffsetDateTime,
        term: TermMonths,
        executing_region: RegionCode,
        /// `None` when the executing county has no registered project.
        project: Option<AgencyId>,
        /// The oversight office told of an unroutable discharge.
        #[serde(default)]
        oversight: Option<AgencyId>,
        /// No pre-release notice arrived at least three days before release.
        late_notice: bool,
        /// The person's other cases that were still open when this one was
        /// discharged: a relapse their project has not recorded, or a
        /// mistaken identity. Their projects and police are told.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        earlier_open_cases: Vec<EarlierCase>,
    },
    /// The county project took the person over at the gate.
    PickedUp,
    /// The person reported and signed the agreement: the term starts.
    Reported,
    /// The responsible project asks another county's project to take over.
    TransferRequested {
        to_region: RegionCode,
        to_project: AgencyId,
        reason: String,
    },
    TransferAccepted,
    TransferRejected {
        reason: String,
    },
    TransferWithdrawn {
        reason: String,
    },
    /// The person reported in the receiving county: responsibility moves.
    Arrived,
    /// The oversight office handed an unroutable case to a county's
    /// project, which is responsible from now on.
    Assigned {
        executing_region: RegionCode,
        project: AgencyId,
        reason: String,
    },
    /// The person stays in another county for a while; the case stays.
    AbsenceNotified {
        host_region: RegionCode,
        host_project: Option<AgencyId>,
        from: Date,
        until: Date,
        reason: String,
    },
    /// Ends a pending transfer: the sending county keeps the case.
    ContactLost {
        note: String,
    },
    ContactRestored {
        note: String,
    },
    /// Detained or arrested; ends a pending transfer.
    Suspended {
        reason: String,
    },
    Resumed,
    Closed {
        reason: ClosureReason,
        note: String,
    },
    /// A deadline passed unmet; recorded by the gateway itself, once per
    /// deadline (its kind and the event that started it).
    DeadlineMissed {
        kind: DeadlineKind,
        anchor: u32,
        #[serde(with = "time::serde::rfc3339")]
        due_at: OffsetDateTime,
    },
}

impl CaseEvent {
    pub fn name(&self) -> &'static str {
        match self {
            CaseEvent::ReleaseAnnounced { .. } => "release-announced",
            CaseEvent::Discharged { .. } => "discharged",
            CaseEvent::PickedUp => "picked-up",
            CaseEvent::Reported => "reported",
            CaseEvent::TransferRequested { .. } => "transfer-requested",
            CaseEvent::TransferAccepted => "transfer-accepted",
            CaseEvent::TransferRejected { .. } => "transfer-rejected",
            CaseEvent::TransferWithdrawn { .. } => "transfer-withdrawn",
            CaseEvent::Arrived => "arrived",
            CaseEvent::Assigned { .. } => "assigned",
            CaseEvent::AbsenceNotified { .. } => "absence-notified",
            CaseEvent::ContactLost { .. } => "contact-lost",
            CaseEvent::ContactRestored { .. } => "contact-restored",
            CaseEvent::Suspended { .. } => "suspended",
            CaseEvent::Resumed => "resumed",
            CaseEvent::Closed { .. } => "closed",
            CaseEvent::DeadlineMissed { .. } => "deadline-missed",
        }
    }
}

/// Another case of the same person, open when a release was announced or
/// discharged. The gateway never closes it itself: the new release does
/// not prove that the earlier case's person is the same (an identity
/// number can be mistyped into another valid one), so its project decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierCase {
    pub case_id: CaseId,
    pub executing_region: RegionCode,
    /// `None` while the case is unroutable.
    pub project: Option<AgencyId>,
    /// The oversight office holding the case while it is unroutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversight: Option<AgencyId>,
}

/// An event as recorded: its place in the case, when, and by whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub sequence: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: AgencyId,
    pub event: CaseEvent,
}

/// Why supervision ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClosureReason {
    /// The term ran out.
    Completed,
    /// Sent back to compulsory detox.
    Redetained,
    Imprisoned,
    Deceased,
    MovedOutOfProvince,
    /// Anything else; the note says what.
    Other,
    /// The detox center withdrew its pre-release notice before any
    /// discharge: the release it announced will not take place under
    /// this decision. Only `WithdrawAnnouncement` closes with it.
    ReleaseWithdrawn,
}

impl ClosureReason {
    pub const ALL: [ClosureReason; 7] = [
        ClosureReason::Completed,
        ClosureReason::Redetained,
        ClosureReason::Imprisoned,
        ClosureReason::Deceased,
        ClosureReason::MovedOutOfProvince,
        ClosureReason::Other,
        ClosureReason::ReleaseWithdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClosureReason::Completed => "completed",
            ClosureReason::Redetained => "redetained",
            ClosureReason::Imprisoned => "imprisoned",
            ClosureReason::Deceased => "deceased",
            ClosureReason::MovedOutOfProvince => "moved-out-of-province",
            ClosureReason::Other => "other",
            ClosureReason::ReleaseWithdrawn => "release-withdrawn",
        }
    }
}

impl fmt::Display for ClosureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClosureReason {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ClosureReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown closure reason {text:?}; expected one of {}",
                    ClosureReason::ALL.map(ClosureReason::as_str).join(", ")
                )
            })
    }
}
