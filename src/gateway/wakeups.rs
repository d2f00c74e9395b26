//! Wakes the streams of one recipient when its inbox grows, and hands them
//! the newest messages this process wrote to it, so that a live stream
//! takes a new message from memory instead of reading it back from
//! storage. Both are shortcuts only: a stream reads storage whenever what
//! is held here does not continue its position without a gap (a message
//! another replica wrote, a wake-up that came before the write it is
//! about, a burst longer than [`RECENT`]), so a lost wake-up costs at most
//! one heartbeat interval of delay and never a message.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::domain::agency::AgencyId;
use crate::domain::notice::InboxMessage;

/// Messages held per watched inbox: a stream that fell further behind
/// reads storage, as it would without them.
const RECENT: usize = 16;

/// What a stream of one inbox watches: the newest position this process
/// knows of, and the last messages it wrote there, in position order.
#[derive(Debug, Default)]
pub struct Tail {
    head: u64,
    recent: VecDeque<Arc<InboxMessage>>,
}

impl Tail {
    /// The messages after `cursor` up to the newest known, when every one
    /// of them is held here; `None` when there are none or one is missing.
    pub fn after(&self, cursor: u64) -> Option<Vec<Arc<InboxMessage>>> {
        if self.head <= cursor {
            return None;
        }
        let start = self.recent.partition_point(|m| m.position <= cursor);
        let held: Vec<_> = self.recent.range(start..).cloned().collect();
        let gapless = held
            .iter()
            .zip(cursor + 1..)
            .all(|(message, position)| message.position == position);
        let complete = held.last().is_some_and(|last| last.position == self.head);
        (gapless && complete).then_some(held)
    }

    fn moved_to(&mut self, head: u64) -> bool {
        let moved = head > self.head;
        self.head = self.head.max(head);
        moved
    }

    /// Writes of one inbox commit in position order, but their callers may
    /// hand the messages over in another: each goes to its place. True when
    /// the head moved.
    fn hold(&mut self, message: Arc<InboxMessage>) -> bool {
        let place = self
            .recent
            .partition_point(|m| m.position < message.position);
        if self
            .recent
            .get(place)
            .is_some_and(|m| m.position == message.position)
        {
            return false;
        }
        let moved = self.moved_to(message.position);
        self.recent.insert(place, message);
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
        moved
    }
}

#[derive(Clone, Default)]
pub struct Wakeups {
    inboxes: Arc<Mutex<HashMap<AgencyId, watch::Sender<Tail>>>>,
}

impl Wakeups {
    fn inboxes(&self) -> MutexGuard<'_, HashMap<AgencyId, watch::Sender<Tail>>> {
        self.inboxes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// A receiver that changes whenever `agency`'s inbox head moves.
    pub fn watch(&self, agency: &AgencyId) -> watch::Receiver<Tail> {
        self.inboxes()
            .entry(agency.clone())
            .or_insert_with(|| watch::channel(Tail::default()).0)
            .subscribe()
    }

    /// Whether a stream of `agency` is open in this process: only then are
    /// its messages worth holding.
    pub fn watched(&self, agency: &AgencyId) -> bool {
        self.inboxes()
            .get(agency)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }

    /// Wakes every stream to read storage, for when hints may have been
    /// lost: what is held here may end below messages other replicas wrote.
    pub fn notify_all(&self) {
        for sender in self.inboxes().values() {
            sender.send_modify(|tail| tail.recent.clear());
        }
    }

    /// Wakes the streams of `agency`, whose head is now `head`.
    pub fn notify(&self, agency: &AgencyId, head: u64) {
        if let Some(sender) = self.inboxes().get(agency) {
            sender.send_if_modified(|tail| tail.moved_to(head));
        }
    }

    /// Hands the streams of `agency` a message this process just wrote
    /// there (and committed). They are woken only if the head moved:
    /// whoever moved it to this message or past it (a hint, a later write
    /// answered first) woke them after that commit, and a stream that
    /// read storage then has the message already.
    pub fn delivered(&self, agency: &AgencyId, message: InboxMessage) {
        if let Some(sender) = self.inboxes().get(agency) {
            sender.send_if_modified(|tail| {
                if sender.receiver_count() == 0 {
                    // Personal data is not kept for streams that closed.
                    tail.recent.clear();
                    return tail.moved_to(message.position);
                }
                tail.hold(Arc::new(message))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notice::Notice;
    use crate::domain::testing::discharged_case;

    fn message(position: u64) -> Arc<InboxMessage> {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let event = case.history[0].clone();
        Arc::new(InboxMessage {
            position,
            created_at: event.at,
            notice: Notice {
                role: crate::domain::routing::RecipientRole::ResponsibleProject,
                event,
                case: case.summary(),
            },
            case_closed_at: None,
        })
    }

    fn positions(held: Option<Vec<Arc<InboxMessage>>>) -> Option<Vec<u64>> {
        held.map(|messages| messages.iter().map(|m| m.position).collect())
    }

    #[test]
    fn a_stream_takes_what_continues_its_position_up_to_the_head() {
        let mut tail = Tail::default();
        for position in [3, 4, 5] {
            assert!(tail.hold(message(position)));
        }
        assert_eq!(positions(tail.after(2)), Some(vec![3, 4, 5]));
        assert_eq!(positions(tail.after(4)), Some(vec![5]));
        assert_eq!(positions(tail.after(5)), None, "nothing new");
    }

    #[test]
    fn a_gap_before_after_or_inside_the_held_messages_sends_the_stream_to_storage() {
        let mut tail = Tail::default();
        for position in [3, 5] {
            tail.hold(message(position));
        }
        assert_eq!(positions(tail.after(1)), None, "2 is not held");
        assert_eq!(positions(tail.after(2)), None, "4 is not held");
        assert_eq!(positions(tail.after(4)), Some(vec![5]));
        tail.moved_to(6);
        assert_eq!(
            positions(tail.after(4)),
            None,
            "6, written by another replica, is not held"
        );
    }

    #[test]
    fn messages_handed_over_out_of_order_are_held_in_order() {
        let mut tail = Tail::default();
        assert!(tail.hold(message(2)));
        assert_eq!(positions(tail.after(0)), None);
        assert!(!tail.hold(message(1)), "the head was at 2 already");
        assert!(!tail.hold(message(1)), "held already");
        assert_eq!(positions(tail.after(0)), Some(vec![1, 2]));
    }

    #[test]
    fn only_the_newest_messages_are_held() {
        let mut tail = Tail::default();
        for position in 1..=(RECENT as u64 + 4) {
            tail.hold(message(position));
        }
        assert_eq!(positions(tail.after(0)), None);
        assert_eq!(
            positions(tail.after(4)).map(|held| held.len()),
            Some(RECENT)
        );
    }

    #[test]
    fn messages_of_inboxes_nobody_watches_are_not_held() {
        let wakeups = Wakeups::default();
        let agency = AgencyId::parse("yingze-project").unwrap();
        wakeups.delivered(&agency, (*message(1)).clone());
        assert!(!wakeups.watched(&agency));
        let stream = wakeups.watch(&agency);
        assert!(wakeups.watched(&agency));
        assert_eq!(positions(stream.borrow().after(0)), None);
        wakeups.delivered(&agency, (*message(1)).clone());
        assert_eq!(positions(stream.borrow().after(0)), Some(vec![1]));
        drop(stream);
        assert!(!wakeups.watched(&agency), "the stream closed");
        wakeups.delivered(&agency, (*message(2)).clone());
        let stream = wakeups.watch(&agency);
        assert_eq!(
            positions(stream.borrow().after(0)),
            None,
            "nothing is held once the last stream closed"
        );
    }

    #[test]
    fn a_message_whose_position_a_hint_announced_wakes_nobody_again() {
        let wakeups = Wakeups::default();
        let agency = AgencyId::parse("yingze-project").unwrap();
        let mut stream = wakeups.watch(&agency);
        wakeups.notify(&agency, 1);
        assert!(stream.has_changed().unwrap());
        stream.borrow_and_update();
        wakeups.delivered(&agency, (*message(1)).clone());
        assert!(
            !stream.has_changed().unwrap(),
            "the stream read storage at the hint's wake-up"
        );
        wakeups.delivered(&agency, (*message(2)).clone());
        assert!(stream.has_changed().unwrap());
    }

    #[test]
    fn lost_hints_send_every_stream_to_storage() {
        let wakeups = Wakeups::default();
        let agency = AgencyId::parse("yingze-project").unwrap();
        let stream = wakeups.watch(&agency);
        wakeups.delivered(&agency, (*message(1)).clone());
        assert_eq!(positions(stream.borrow().after(0)), Some(vec![1]));
        wakeups.notify_all();
        assert!(stream.has_changed().unwrap());
        assert_eq!(positions(stream.borrow().after(0)), None);
    }
}
