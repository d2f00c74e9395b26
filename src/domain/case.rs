//! A case: one supervision episode of one person, derived from its events.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::agency::AgencyId;
use super::deadline::{Deadline, DeadlineKind, DeadlinePolicy};
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

/// Where a case stands. Later states come with the case lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseState {
    Announced,
    AwaitingPickup,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Announced => "announced",
            CaseState::AwaitingPickup => "awaiting-pickup",
        }
    }
}

/// Something that happened to a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum CaseEvent {
    ReleaseAnnounced {
        decision_number: DecisionNumber,
        person: Person,
        planned_release_date: Date,
        term: TermMonths,
        executing_region: RegionCode,
        project: Option<AgencyId>,
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
    },
}

impl CaseEvent {
    pub fn name(&self) -> &'static str {
        match self {
            CaseEvent::ReleaseAnnounced { .. } => "release-announced",
            CaseEvent::Discharged { .. } => "discharged",
        }
    }
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
    #[serde(with = "time::serde::rfc3339::option")]
    pub released_at: Option<OffsetDateTime>,
    pub late_notice: bool,
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
        let mut case = Case::open(id, first);
        for event in events {
            case.apply(event)?;
        }
        Ok(case)
    }

    fn open(id: CaseId, first: RecordedEvent) -> Case {
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
        };
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
            released_at: None,
            late_notice: false,
            history: Vec::new(),
        };
        case.fold(first);
        case
    }

    /// Appends an event that follows from the current state.
    ///
    /// # Errors
    /// [`HistoryError::OutOfOrder`] when it does not.
    pub fn apply(&mut self, event: RecordedEvent) -> Result<(), HistoryError> {
        let follows = matches!(
            (self.state, &event.event),
            (CaseState::Announced, CaseEvent::Discharged { .. })
        ) && event.sequence == self.version() + 1;
        if !follows {
            return Err(HistoryError::OutOfOrder(event.sequence));
        }
        self.fold(event);
        Ok(())
    }

    fn fold(&mut self, recorded: RecordedEvent) {
        match &recorded.event {
            CaseEvent::ReleaseAnnounced {
                planned_release_date,
                executing_region,
                project,
                ..
            } => {
                self.state = CaseState::Announced;
                self.announced_to.clone_from(project);
                self.planned_release_date = Some(*planned_release_date);
                self.executing_region = *executing_region;
            }
            CaseEvent::Discharged {
                person,
                released_at,
                term,
                executing_region,
                project,
                oversight,
                late_notice,
                ..
            } => {
                self.state = CaseState::AwaitingPickup;
                self.oversight.clone_from(oversight);
                self.person = person.clone();
                self.term = *term;
                self.released_at = Some(*released_at);
                self.executing_region = *executing_region;
                self.late_notice = *late_notice;
                self.set_responsible(project.clone());
            }
        }
        self.history.push(recorded);
    }

    fn set_responsible(&mut self, project: Option<AgencyId>) {
        if let Some(project) = &project
            && !self.responsible_history.contains(project)
        {
            self.responsible_history.push(project.clone());
        }
        self.responsible = project;
    }

    /// The number of events recorded; the next event's sequence is one more.
    pub fn version(&self) -> u32 {
        self.history.last().map_or(0, |event| event.sequence)
    }

    /// A discharge whose executing county has no registered project.
    pub fn is_unroutable(&self) -> bool {
        self.released_at.is_some() && self.responsible.is_none()
    }

    /// The deadlines that apply in the current state.
    pub fn deadlines(&self, policy: &DeadlinePolicy) -> Vec<Deadline> {
        let Some(released_at) = self.released_at else {
            return Vec::new();
        };
        match self.state {
            CaseState::AwaitingPickup => vec![
                Deadline {
                    kind: DeadlineKind::Pickup,
                    due_at: released_at + policy.pickup,
                },
                Deadline {
                    kind: DeadlineKind::Report,
                    due_at: released_at + policy.report,
                },
            ],
            CaseState::Announced => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
