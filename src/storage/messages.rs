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
use std::sync::Arc;

use super::seal::{Sealer, message_address, open_json};
use super::{Result, StorageError};
use crate::domain::access::closed_at_of_history;
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId, CaseState, RecordedEvent};
use crate::domain::notice::{InboxEntry, InboxMessage, Notice, Unreadable};
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
    position: u64,
    created_at: time::OffsetDateTime,
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
    /// `Corrupt` when the row is neither a reference nor a copy, or its
    /// place does not read.
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
            position: u64::try_from(position).map_err(corrupt)?,
            created_at: from_millis(created_at)?,
            case,
            notice,
        })
    }

    fn role(&self) -> Option<RecipientRole> {
        match &self.notice {
            StoredNotice::Reference { role, .. } => Some(*role),
            StoredNotice::Copy(_) => None,
        }
    }
}

/// Each case's events in sequence order, or why they do not open.
pub(crate) type Histories = HashMap<CaseId, Result<Vec<RecordedEvent>>>;

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
/// every case in [`referenced_cases`]. A message that does not open (its
/// copy, or its case's events, damaged or missing) keeps its place as
/// [`InboxEntry::Unreadable`], so that one damaged row holds up no other
/// message.
pub(crate) fn open_messages(
    sealer: &Sealer,
    agency: &AgencyId,
    messages: Vec<StoredMessage>,
    histories: &Histories,
) -> Vec<InboxEntry> {
    let mut opened = Opened {
        snapshots: snapshots(&messages, histories),
        closed: histories
            .iter()
            .filter_map(|(case, history)| {
                let history = history.as_ref().ok()?;
                Some((case.clone(), closed_at_of_history(history)?))
            })
            .collect(),
    };
    messages
        .into_iter()
        .map(|message| {
            let position = message.position;
            let created_at = message.created_at;
            let case = message.case.clone();
            let role = message.role();
            match opened.message(sealer, agency, message) {
                Ok(message) => InboxEntry::Message(Arc::new(message)),
                Err(error) => InboxEntry::Unreadable(Unreadable {
                    position,
                    created_at,
                    case,
                    role,
                    detail: error.to_string(),
                }),
            }
        })
        .collect()
}

/// What a page's messages are opened from.
struct Opened {
    snapshots: HashMap<(CaseId, u32), Result<Snapshot>>,
    /// When each case that opened has closed, if it has.
    closed: HashMap<CaseId, time::OffsetDateTime>,
}

impl Opened {
    fn message(
        &mut self,
        sealer: &Sealer,
        agency: &AgencyId,
        message: StoredMessage,
    ) -> Result<InboxMessage> {
        let mut case_closed_at = self.closed.get(&message.case).copied();
        let notice = match message.notice {
            StoredNotice::Copy(body) => {
                let address = message_address(agency, to_i64(message.position));
                let notice: Notice = open_json(sealer, &address, &body)?;
                // A copy closes its own case at least, should the case's
                // events be missing.
                let closure = notice.case.state == CaseState::Closed;
                case_closed_at = case_closed_at.or(closure.then_some(notice.event.at));
                notice
            }
            StoredNotice::Reference {
                case,
                sequence,
                role,
            } => {
                let Entry::Occupied(mut stored) = self.snapshots.entry((case, sequence)) else {
                    return Err(corrupt(format_args!(
                        "an inbox message refers to an event that is not stored \
                         (event {sequence} of its case)"
                    )));
                };
                let snapshot = match stored.get_mut() {
                    Ok(snapshot) => snapshot,
                    Err(error) => return Err(error.clone()),
                };
                snapshot.readers -= 1;
                let (event, case) = if snapshot.readers == 0 {
                    match stored.remove() {
                        Ok(last) => (last.event, last.case),
                        Err(error) => return Err(error),
                    }
                } else {
                    (snapshot.event.clone(), snapshot.case.clone())
                };
                Notice { role, event, case }
            }
        };
        Ok(InboxMessage {
            position: message.position,
            created_at: message.created_at,
            notice,
            case_closed_at,
        })
    }
}

fn to_i64(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
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
/// messages names. Every event named of a case whose history does not
/// open or fold is there as the error.
fn snapshots(
    messages: &[StoredMessage],
    histories: &Histories,
) -> HashMap<(CaseId, u32), Result<Snapshot>> {
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
        if let Err(error) = case_snapshots(id, &sequences, histories, &mut snapshots) {
            for &sequence in sequences.keys() {
                snapshots.insert((id.clone(), sequence), Err(error.clone()));
            }
        }
    }
    snapshots
}

/// The snapshots of `sequences` of case `id` into `snapshots`.
fn case_snapshots(
    id: &CaseId,
    sequences: &BTreeMap<u32, usize>,
    histories: &Histories,
    snapshots: &mut HashMap<(CaseId, u32), Result<Snapshot>>,
) -> Result<()> {
    let history = match histories.get(id) {
        Some(Ok(history)) => history,
        Some(Err(error)) => return Err(error.clone()),
        None => return Err(corrupt(format_args!("no events of case {id}"))),
    };
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
        snapshots.insert((id.clone(), event.sequence), Ok(snapshot));
        case = rest;
    }
    Ok(())
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
        let histories = HashMap::from([(reported.id.clone(), Ok(reported.history.clone()))]);
        let entries = open_messages(&Sealer::new([7; 32]), &project, messages, &histories);
        let opened_messages: Vec<_> = entries.iter().map(|m| m.message().unwrap()).collect();
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

    fn unreadable_positions(entries: &[InboxEntry]) -> Vec<u64> {
        entries
            .iter()
            .filter(|entry| entry.message().is_none())
            .map(InboxEntry::position)
            .collect()
    }

    #[test]
    fn a_reference_to_a_missing_event_or_case_keeps_its_place_unread() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let sealer = Sealer::new([7; 32]);
        let project = id("yingze-project");
        let histories = HashMap::from([(case.id.clone(), Ok(case.history.clone()))]);
        let beyond = vec![reference_to(&case, 1, 2), reference_to(&case, 2, 1)];
        let opened = open_messages(&sealer, &project, beyond, &histories);
        assert_eq!(unreadable_positions(&opened), [1]);
        let InboxEntry::Unreadable(unreadable) = &opened[0] else {
            unreachable!()
        };
        assert_eq!(unreadable.case, case.id);
        assert_eq!(unreadable.role, Some(RecipientRole::ResponsibleProject));
        assert!(unreadable.detail.contains("not stored"), "{unreadable:?}");
        let unknown = vec![reference_to(&case, 1, 1)];
        let opened = open_messages(&sealer, &project, unknown, &HashMap::new());
        assert_eq!(unreadable_positions(&opened), [1]);
        let neither = StoredMessage::from_columns(1, 0, case.id.as_str(), None, None, None);
        assert!(matches!(neither, Err(StorageError::Corrupt(_))));
        let bad_role =
            StoredMessage::from_columns(1, 0, case.id.as_str(), Some(1), Some("mayor"), None);
        assert!(matches!(bad_role, Err(StorageError::Corrupt(_))));
    }

    #[test]
    fn a_case_that_does_not_open_or_fold_leaves_the_other_cases_messages_readable() {
        let project = id("yingze-project");
        let numbered = |n: u128| {
            let case = discharged_case("140106", "140106", Some("yingze-project"));
            Case::from_history(CaseId::new(uuid::Uuid::from_u128(n)), case.history).unwrap()
        };
        let (damaged, unfolding, sound) = (numbered(1), numbered(2), numbered(3));
        let picked_up = then(&sound, &project, CaseEvent::PickedUp);
        // A history whose second event comes first does not fold.
        let mut out_of_order = then(&unfolding, &project, CaseEvent::PickedUp).history;
        out_of_order.reverse();
        let histories = HashMap::from([
            (
                damaged.id.clone(),
                Err(StorageError::Corrupt("a stored body does not open".into())),
            ),
            (unfolding.id.clone(), Ok(out_of_order)),
            (picked_up.id.clone(), Ok(picked_up.history.clone())),
        ]);
        let messages = vec![
            reference_to(&picked_up, 1, 1),
            reference_to(&damaged, 2, 1),
            reference_to(&unfolding, 3, 1),
            reference_to(&picked_up, 4, 2),
        ];
        let opened = open_messages(&Sealer::new([7; 32]), &project, messages, &histories);
        assert_eq!(
            opened.iter().map(InboxEntry::position).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(unreadable_positions(&opened), [2, 3]);
        assert_eq!(
            opened[3].message().unwrap().notice.case,
            picked_up.summary()
        );
        let InboxEntry::Unreadable(unreadable) = &opened[1] else {
            unreachable!()
        };
        assert!(
            unreadable.detail.contains("does not open"),
            "{unreadable:?}"
        );
    }

    #[test]
    fn a_copy_that_does_not_open_keeps_its_place_unread() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let project = id("yingze-project");
        let copy = StoredMessage::from_columns(
            5,
            0,
            case.id.as_str(),
            None,
            None,
            Some(b"not sealed".to_vec()),
        )
        .unwrap();
        let histories = HashMap::from([(case.id.clone(), Ok(case.history.clone()))]);
        let opened = open_messages(&Sealer::new([7; 32]), &project, vec![copy], &histories);
        let InboxEntry::Unreadable(unreadable) = &opened[0] else {
            panic!("{opened:?}")
        };
        assert_eq!((unreadable.position, unreadable.role), (5, None));
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
