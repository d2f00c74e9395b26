//! What lands in an agency's inbox.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::case::{Case, CaseId, RecordedEvent};
use super::routing::RecipientRole;

/// One message to one recipient: the event that happened and the case as
/// it stood right after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub role: RecipientRole,
    pub event: RecordedEvent,
    pub case: Case,
}

impl Notice {
    pub fn case_id(&self) -> &CaseId {
        &self.case.id
    }
}

/// A notice at its place in a recipient's inbox. Positions start at 1 and
/// have no gaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxMessage {
    pub position: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub notice: Notice,
    /// When the message's case closed, as known when the message was read
    /// (the notice's case is as it stood at the event, often still open):
    /// police stop reading a case some time after ([`super::access`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub case_closed_at: Option<OffsetDateTime>,
}

/// A message whose stored notice does not open: its body or its case's
/// events are damaged or missing. It keeps its place, so that the
/// recipient's inbox goes on past it (one damaged row must not hold up
/// every later handover of the county), and says nothing of the case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub position: u64,
    pub created_at: OffsetDateTime,
    pub case: CaseId,
    /// Known without opening for messages that refer to their event.
    pub role: Option<RecipientRole>,
    /// Why it does not open, for the operators' log; names no person.
    pub detail: String,
}

/// One place of an inbox as read back from storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboxEntry {
    Message(std::sync::Arc<InboxMessage>),
    Unreadable(Unreadable),
}

impl InboxEntry {
    pub fn position(&self) -> u64 {
        match self {
            Self::Message(message) => message.position,
            Self::Unreadable(unreadable) => unreadable.position,
        }
    }

    pub fn message(&self) -> Option<&InboxMessage> {
        match self {
            Self::Message(message) => Some(message),
            Self::Unreadable(_) => None,
        }
    }
}
