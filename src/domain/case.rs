//! A case: one supervision episode of one person, derived from its events.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::agency::AgencyId;
use super::deadline::DeadlineKind;
pub use super::event::{CaseEvent, ClosureReason, EarlierCase, RecordedEvent};
use super::intake::{DecisionNumber, TermMonths};
use super::person::Person;
use super::region::RegionCode;

/// The gateway's id for a case (a UUID v7, so ids sort by creation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaseId(String);

impl CaseId {
    pub fn new(id: uuid::Uuid) -> Self {
        Self(id.to_string())
    }

    /// # Errors
    /// When the text is not a UUID.
    pub fn parse(text: &str) -> Result<Self, String> {
        uuid::Uuid::try_parse(text)
            .map(|id| Self(id.to_string()))
            .map_err(|_| "must be a case id (a UUID)".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a case stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseState {
    Announced,
    AwaitingPickup,
    PickedUp,
    UnderSupervision,
    TransferPending,
    LostContact,
    Suspended,
    Closed,
}

impl CaseState {
    pub const ALL: [CaseState; 8] = [
        CaseState::Announced,
        CaseState::AwaitingPickup,
        CaseState::PickedUp,
        CaseState::UnderSupervision,
        CaseState::TransferPending,
        CaseState::LostContact,
        CaseState::Suspended,
        CaseState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Announced => "announced",
            CaseState::AwaitingPickup => "awaiting-pickup",
            CaseState::PickedUp => "picked-up",
            CaseState::UnderSupervision => "under-supervision",
            CaseState::TransferPending => "transfer-pending",
            CaseState::LostContact => "lost-contact",
            CaseState::Suspended => "suspended",
            CaseState::Closed => "closed",
        }
    }

    /// Discharged and not yet closed: some project must be responsible.
    pub fn is_supervised(self) -> bool {
        !matches!(self, CaseState::Announced | CaseState::Closed)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseState {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CaseState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| format!("unknown case state {text:?}"))
    }
}

/// An event that starts a clock: its sequence names the deadline, its time
/// starts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub sequence: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A transfer to another county, from request until arrival or its end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub requested: Anchor,
    pub to_region: RegionCode,
    pub to_project: AgencyId,
    pub reason: String,
    /// `None` while the receiving project has not answered.
    pub accepted: Option<Anchor>,
}

/// A case's current picture, folded from its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub decision_number: DecisionNumber,
    pub person: Person,
    pub detox_center: AgencyId,
    pub state: CaseState,
    pub executing_region: RegionCode,
    /// The county project responsible now; `None` before discharge or when
    /// the discharge was unroutable.
    pub responsible: Option<AgencyId>,
    /// Every project that has been responsible, in order.
    pub responsible_history: Vec<AgencyId>,
    /// The project a pre-release notice went to.
    pub announced_to: Option<AgencyId>,
    /// The oversight office that received the case as unroutable.
    pub oversight: Option<AgencyId>,
    pub term: TermMonths,
    pub planned_release_date: Option<Date>,
    /// The latest pre-release notice: the discharge it promises is due
    /// from its planned day, and its sequence names that deadline. Kept
    /// here, not only in the history, so that a case without its history
    /// (a message's, a list's) still shows the deadline.
    #[serde(default)]
    pub notice: Option<Anchor>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub released_at: Option<OffsetDateTime>,
    pub late_notice: bool,
    /// Pickup and report are due from here: the release, or the last
    /// resumption after a suspension.
    #[serde(default)]
    pub clock: Option<Anchor>,
    /// When the person reported and the term started.
    #[serde(default)]
    pub supervision_started: Option<Anchor>,
    #[serde(default)]
    pub transfer: Option<Transfer>,
    /// Where a lost contact or a suspension returns to.
    #[serde(default)]
    pub resume_to: Option<CaseState>,
    #[serde(default)]
    pub closure: Option<ClosureReason>,
    /// Deadlines already escalated, by kind and the event that started them.
    #[serde(default)]
    pub escalated: Vec<(DeadlineKind, u32)>,
    /// Every county project told of the case.
    #[serde(default)]
    pub projects_told: Vec<AgencyId>,
    /// Every county the case has touched: executing, household, transfer
    /// targets, hosts of an absence, counties of the person's earlier open
    /// cases.
    #[serde(default)]
    pub counties: Vec<RegionCode>,
    pub history: Vec<RecordedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error("a case history must start with an announcement or a discharge")]
    Empty,
    #[error("event {0} does not follow from the state before it")]
    OutOfOrder(u32),
}

impl Case {
    /// Opens a case from its first event.
    ///
    /// # Errors
    /// [`HistoryError`] when the history is empty or an event cannot follow
    /// the one before it.
    pub fn from_history(id: CaseId, history: Vec<RecordedEvent>) -> Result<Case, HistoryError> {
        let mut events = history.into_iter();
        let first = events.next().ok_or(HistoryError::Empty)?;
        let mut case = Case::open(id, first)?;
        for event in events {
            case.apply(event)?;
        }
        Ok(case)
    }

    fn open(id: CaseId, first: RecordedEvent) -> Result<Case, HistoryError> {
        let (decision_number, person, term, executing_region) = match &first.event {
            CaseEvent::ReleaseAnnounced {
                decision_number,
                person,
                term,
                executing_region,
                ..
            }
            | CaseEvent::Discharged {
                decision_number,
                person,
                term,
                executing_region,
                ..
            } => (
                decision_number.clone(),
                person.clone(),
                *term,
                *executing_region,
            ),
            _ => return Err(HistoryError::OutOfOrder(first.sequence)),
        };
        if first.sequence != 1 {
            return Err(HistoryError::OutOfOrder(first.sequence));
        }
        let mut case = Case {
            id,
            decision_number,
            person,
            detox_center: first.by.clone(),
            state: CaseState::Announced,
            executing_region,
            responsible: None,
            responsible_history: Vec::new(),
            announced_to: None,
            oversight: None,
            term,
            planned_release_date: None,
            notice: None,
            released_at: None,
            late_notice: false,
            clock: None,
            supervision_started: None,
            transfer: None,
            resume_to: None,
            closure: None,
            escalated: Vec::new(),
            projects_told: Vec::new(),
            counties: Vec::new(),
            history: Vec::new(),
        };
        case.fold(first);
        Ok(case)
    }

    /// Whether `event` may follow the current state.
    pub fn allows(&self, event: &CaseEvent) -> bool {
        use CaseState as S;
        let awaiting_reply = self.transfer.as_ref().is_some_and(|t| t.accepted.is_none());
        match event {
            // A revision of the notice, before the discharge, of the same
            // decision and person.
            CaseEvent::ReleaseAnnounced {
                decision_number,
                person,
                ..
            } => {
                self.state == S::Announced
                    && decision_number == &self.decision_number
                    && person.id_number == self.person.id_number
            }
            CaseEvent::Discharged { .. } => self.state == S::Announced,
            CaseEvent::PickedUp => self.state == S::AwaitingPickup,
            CaseEvent::Reported => matches!(self.state, S::AwaitingPickup | S::PickedUp),
            CaseEvent::TransferRequested { .. } => self.state == S::UnderSupervision,
            CaseEvent::TransferAccepted
            | CaseEvent::TransferRejected { .. }
            | CaseEvent::TransferWithdrawn { .. } => {
                self.state == S::TransferPending && awaiting_reply
            }
            CaseEvent::Arrived => self.state == S::TransferPending && !awaiting_reply,
            // Unroutable, or its project disabled: the registry decides
            // which (`lifecycle::assign`); neither while a transfer waits.
            CaseEvent::Assigned { .. } => self.state.is_supervised() && self.transfer.is_none(),
            CaseEvent::AbsenceNotified { .. } => matches!(
                self.state,
                S::PickedUp | S::UnderSupervision | S::TransferPending
            ),
            CaseEvent::ContactLost { .. } => matches!(
                self.state,
                S::AwaitingPickup | S::PickedUp | S::UnderSupervision | S::TransferPending
            ),
            CaseEvent::ContactRestored { .. } => self.state == S::LostContact,
            CaseEvent::Suspended { .. } => self.state.is_supervised() && self.state != S::Suspended,
            CaseEvent::Resumed => self.state == S::Suspended,
            CaseEvent::Closed {
                reason: ClosureReason::ReleaseWithdrawn,
                ..
            } => self.state == S::Announced,
            CaseEvent::Closed { .. } => self.state.is_supervised(),
            CaseEvent::DeadlineMissed { kind, anchor, .. } => {
                !self.escalated.contains(&(*kind, *anchor))
            }
        }
    }

    /// Appends an event that follows from the current state.
    ///
    /// # Errors
    /// [`HistoryError::OutOfOrder`] when it does not.
    pub fn apply(&mut self, event: RecordedEvent) -> Result<(), HistoryError> {
        if event.sequence != self.version() + 1 || !self.allows(&event.event) {
            return Err(HistoryError::OutOfOrder(event.sequence));
        }
        self.fold(event);
        Ok(())
    }

    /// The number of events recorded; the next event's sequence is one more.
    pub fn version(&self) -> u32 {
        self.history.last().map_or(0, |event| event.sequence)
    }

    /// A discharge whose executing county has no registered project.
    pub fn is_unroutable(&self) -> bool {
        self.released_at.is_some() && self.responsible.is_none()
    }
}

mod fold;
mod summary;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
