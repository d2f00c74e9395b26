//! Inbox messages as both backends store them: a reference to the case
//! event a notice announces, turned back into the notice when read.
//!
//! A notice is the event and the case as it stood right after it, and the
//! case's events are stored anyway, so a message holds only the case, the
//! event's sequence and the recipient's role. Copying the notice cost
//! about 1.3 KB sealed per recipient (three or more per discharge), most of
//! a write's disk traffic, and a sealed copy of the person's data per
//! recipient. Messages written before this keep their sealed copy and are
//! read as they were.
//!
//! The price: a notice is rebuilt by the running version's
//! `Case::from_history` and `apply`, not by the one that planned it, so
//! those are part of the stored format. A later change to how a case
//! folds its events must still rebuild every stored history as it was
//! (the domain's history tests), or an unacknowledged message would read
//! back different or not at all. An older version cannot read references
//! (docs/deployment.md says to stop every replica before upgrading).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::seal::{Sealer, message_address, open_json};
use super::{Result, StorageError};
use crate::domain::access::closed_at_of_history;
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId, CaseState, RecordedEvent};
use crate::domain::notice::{InboxMessage, Notice};
use crate::domain::routing::RecipientRole;

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

/// How a recipient's role is stored: its name in the API's JSON.
fn role_name(role: RecipientRole) -> String {
    match serde_json::to_value(role) {
        Ok(serde_json::Value::String(name)) => name,
        _ => unreachable!("a recipient role serialises as its name"),
    }
}

fn parse_role(name: &str) -> Result<RecipientRole> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|e| corrupt(format_args!("recipient role {name:?}: {e}")))
}

/// What a message of `notice` about `case` stores: the sequence of the
/// event it announces and the recipient's role.
///
/// # Errors
/// `Corrupt` when the notice's event is not one of the case's: such a
/// notice could not be read back as it was written (a bug in the caller).
pub(crate) fn reference(case: &Case, notice: &Notice) -> Result<(i64, String)> {
    let event = &notice.event;
    if !case.history.iter().any(|recorded| recorded == event) {
        return Err(corrupt(format_args!(
            "a notice of event {} that case {} does not hold",
            event.sequence, case.id
        )));
    }
    Ok((i64::from(event.sequence), role_name(notice.role)))
}

/// A time as both backends store it: whole milliseconds since the epoch.
pub(crate) fn millis(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored time read back (UTC).
fn from_millis(millis: i64) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).map_err(corrupt)
}

/// `at` as it reads once stored, so that a message handed to a stream as
/// written says what a later read of it says.
pub(crate) fn as_stored(at: time::OffsetDateTime) -> time::OffsetDateTime {
    from_millis(millis(at)).unwrap_or(at)
}

/// What a row of `inbox_messages` holds, before it is opened.
pub(crate) struct StoredMessage {
    position: i64,
    created_at: i64,
    case: CaseId,
    notice: StoredNotice,
}

enum StoredNotice {
    /// Written by a version that copied notices: sealed for the message's
    /// address.
    Copy(Vec<u8>),
    Reference {
        case: CaseId,
        sequence: u32,
        role: RecipientRole,
    },
}

impl StoredMessage {
    /// The row's columns as stored; a row with a sequence is a reference.
    ///
    /// # Errors
    /// `Corrupt` when the row is neither a reference nor a copy.
    pub(crate) fn from_columns(
        position: i64,
        created_at: i64,
        case_id: &str,
        sequence: Option<i64>,
        role: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Self> {
        let case = CaseId::parse(case_id).map_err(corrupt)?;
        let notice = match (sequence, role, body) {
            (Some(sequence), Some(role), _) => StoredNotice::Reference {
                case: case.clone(),
                sequence: u32::try_from(sequence).map_err(corrupt)?,
                role: parse_role(role)?,
            },
            (_, _, Some(body)) => StoredNotice::Copy(body),
            _ => {
                return Err(corrupt(
                    "an inbox message with neither notice nor reference",
                ));
            }
        };
        Ok(Self {
            position,
            created_at,
            case,
            notice,
        })
    }
}

/// The cases of `messages`, whose events opening them reads: a
/// reference's to rebuild its notice, and every one's to tell whether its
/// case has closed since.
pub(crate) fn referenced_cases(messages: &[StoredMessage]) -> BTreeSet<CaseId> {
    messages
        .iter()
        .map(|message| message.case.clone())
        .collect()
}

/// Opens `messages` of `agency`'s inbox; `histories` holds the events of
/// every case in [`referenced_cases`], in sequence order.
///
/// # Errors
/// `Corrupt` when a copy does not open or a referenced event is missing.
pub(crate) fn open_messages(
    sealer: &Sealer,
    agency: &AgencyId,
    messages: Vec<StoredMessage>,
    histories: &HashMap<CaseId, Vec<RecordedEvent>>,
) -> Result<Vec<InboxMessage>> {
    let mut snapshots = snapshots(&messages, histories)?;
    let closed: HashMap<&CaseId, time::OffsetDateTime> = histories
        .iter()
        .filter_map(|(case, history)| Some((case, closed_at_of_history(history)?)))
        .collect();
    messages
        .into_iter()
        .map(|message| {
            let mut case_closed_at = closed.get(&message.case).copied();
            let notice = match message.notice {
                StoredNotice::Copy(body) => {
                    let notice: Notice =
                        open_json(sealer, &message_address(agency, message.position), &body)?;
                    // A copy closes its own case at least, should the
                    // case's events be missing.
                    let closure = notice.case.state == CaseState::Closed;
                    case_closed_at = case_closed_at.or(closure.then_some(notice.event.at));
                    notice
                }
                StoredNotice::Reference {
                    case,
                    sequence,
                    role,
                } => {
                    let Entry::Occupied(mut stored) = snapshots.entry((case, sequence)) else {
                        return Err(corrupt(format_args!(
                            "an inbox message refers to an event that is not stored \
                             (event {sequence} of its case)"
                        )));
                    };
                    stored.get_mut().readers -= 1;
                    let (event, case) = if stored.get().readers == 0 {
                        let last = stored.remove();
                        (last.event, last.case)
                    } else {
                        (stored.get().event.clone(), stored.get().case.clone())
                    };
                    Notice { role, event, case }
                }
            };
            Ok(InboxMessage {
                position: u64::try_from(message.position).map_err(corrupt)?,
                created_at: from_millis(message.created_at)?,
                notice,
                case_closed_at,
            })
        })
        .collect()
}

/// An event a page of messages refers to, and the case (without its
/// history) as it stood right after it.
struct Snapshot {
    event: RecordedEvent,
    case: Case,
    /// The messages of the page still to be given it: the last one takes
    /// it instead of a copy (in a replay, nearly every event has one).
    readers: usize,
}

/// Each event the references of `messages` name, with the case as it stood
/// right after it, as the write that recorded the event planned it: one
/// pass over each case's history, however many of its events a page of
/// messages names.
fn snapshots(
    messages: &[StoredMessage],
    histories: &HashMap<CaseId, Vec<RecordedEvent>>,
) -> Result<HashMap<(CaseId, u32), Snapshot>> {
    // Sequence → how many messages name it, per case.
    let mut wanted: HashMap<&CaseId, BTreeMap<u32, usize>> = HashMap::with_capacity(messages.len());
    for message in messages {
        if let StoredNotice::Reference { case, sequence, .. } = &message.notice {
            *wanted
                .entry(case)
                .or_default()
                .entry(*sequence)
                .or_default() += 1;
        }
    }
    let mut snapshots = HashMap::with_capacity(messages.len());
    for (id, sequences) in wanted {
        let history = histories
            .get(id)
            .ok_or_else(|| corrupt(format_args!("no events of case {id}")))?;
        let last = sequences.keys().next_back().copied().unwrap_or(0);
        let mut case: Option<Case> = None;
        for event in history.iter().take_while(|event| event.sequence <= last) {
            let after = match case.take() {
                None => Case::from_history(id.clone(), vec![event.clone()]),
                Some(mut before) => before.apply(event.clone()).map(|()| before),
            }
            .map_err(corrupt)?;
            let Some(&readers) = sequences.get(&event.sequence) else {
                case = Some(after);
                continue;
            };
            // Nothing after the last event wanted needs the case, so its
            // snapshot can take it instead of a copy.
            let (summary, rest) = if event.sequence == last {
                (after.into_summary(), None)
            } else {
                (after.summary(), Some(after))
            };
            let snapshot = Snapshot {
                event: event.clone(),
                case: summary,
                readers,
            };
            snapshots.insert((id.clone(), event.sequence), snapshot);
            case = rest;
        }
    }
    Ok(snapshots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::CaseEvent;
    use crate::domain::testing::{discharged_case, id, then};

    fn reference_to(case: &Case, position: i64, sequence: i64) -> StoredMessage {
        StoredMessage::from_columns(
            position,
            0,
            case.id.as_str(),
            Some(sequence),
            Some("responsible-project"),
            None,
        )
        .unwrap()
    }

    #[test]
    fn each_reference_opens_as_the_case_stood_right_after_its_event() {
        let opened = discharged_case("140106", "140106", Some("yingze-project"));
        let project = id("yingze-project");
        let picked_up = then(&opened, &project, CaseEvent::PickedUp);
        let reported = then(&picked_up, &project, CaseEvent::Reported);
        let messages = vec![
            reference_to(&reported, 1, 2),
            reference_to(&reported, 2, 1),
            reference_to(&reported, 3, 2),
        ];
        assert_eq!(referenced_cases(&messages).len(), 1);
        let histories = HashMap::from([(reported.id.clone(), reported.history.clone())]);
        let opened_messages =
            open_messages(&Sealer::new([7; 32]), &project, messages, &histories).unwrap();
        let cases: Vec<_> = opened_messages.iter().map(|m| &m.notice.case).collect();
        assert_eq!(
            cases,
            [
                &picked_up.summary(),
                &opened.summary(),
                &picked_up.summary()
            ]
        );
        assert_eq!(opened_messages[0].notice.event, reported.history[1]);
        assert_eq!(
            opened_messages[0].notice.role,
            RecipientRole::ResponsibleProject
        );
    }

    #[test]
    fn a_reference_to_a_missing_event_or_case_is_corrupt() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let sealer = Sealer::new([7; 32]);
        let project = id("yingze-project");
        let histories = HashMap::from([(case.id.clone(), case.history.clone())]);
        let beyond = vec![reference_to(&case, 1, 2)];
        assert!(matches!(
            open_messages(&sealer, &project, beyond, &histories),
            Err(StorageError::Corrupt(_))
        ));
        let unknown = vec![reference_to(&case, 1, 1)];
        assert!(matches!(
            open_messages(&sealer, &project, unknown, &HashMap::new()),
            Err(StorageError::Corrupt(_))
        ));
        let neither = StoredMessage::from_columns(1, 0, case.id.as_str(), None, None, None);
        assert!(matches!(neither, Err(StorageError::Corrupt(_))));
        let bad_role =
            StoredMessage::from_columns(1, 0, case.id.as_str(), Some(1), Some("mayor"), None);
        assert!(matches!(bad_role, Err(StorageError::Corrupt(_))));
    }

    #[test]
    fn every_role_is_stored_under_a_name_that_reads_back() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let event = case.history[0].clone();
        for role in [
            RecipientRole::ResponsibleProject,
            RecipientRole::HostPolice,
            RecipientRole::UnroutableOversight,
        ] {
            let notice = Notice {
                role,
                event: event.clone(),
                case: case.summary(),
            };
            let (sequence, name) = reference(&case, &notice).unwrap();
            assert_eq!(sequence, 1);
            assert_eq!(parse_role(&name).unwrap(), role);
        }
    }
}
