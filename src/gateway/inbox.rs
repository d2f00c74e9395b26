//! Every agency's ordered inbox: a live stream that replays what the agency
//! has not acknowledged, then follows new messages, with heartbeats.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use super::wakeups::Tail;
use super::{Gateway, GatewayError, Result};
use crate::domain::access::police_lost_sight;
use crate::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use crate::domain::notice::{InboxEntry, InboxMessage};
use crate::domain::policy::Call;
use crate::domain::routing::RecipientRole;
use crate::storage::{InboxChange, InboxState};

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum InboxEvent {
    Message(Arc<InboxMessage>),
    /// A message to police about a case closed before their cutoff: it
    /// keeps its place, to acknowledge, and nothing of the case.
    Withheld {
        position: u64,
        created_at: OffsetDateTime,
        role: RecipientRole,
        reason: String,
    },
    /// A message whose stored body or case does not open: it keeps its
    /// place, to acknowledge, and nothing of the case; the operators are
    /// told through the log and `handover_unreadable_messages`.
    Unreadable {
        position: u64,
        created_at: OffsetDateTime,
        role: Option<RecipientRole>,
    },
    Heartbeat {
        at: OffsetDateTime,
        state: InboxState,
    },
}

/// Who an open stream serves, and until when its certificate lets it.
struct Subscriber<'a> {
    agency: &'a AgencyRef,
    valid_until: Option<OffsetDateTime>,
}

/// Messages in flight to one subscriber; a subscriber that stops reading
/// holds at most this many in memory.
const STREAM_BUFFER: usize = 32;

/// Pages of a backlog read at once, ahead of the one going out. Measured
/// on PostgreSQL and SQLite against one page ahead (BENCHMARKS.md).
const READ_AHEAD_PAGES: u64 = 2;

impl Gateway {
    /// Opens the caller's inbox stream after `after` (or after the last
    /// acknowledged message). The stream ends when the client leaves or the
    /// gateway stops, and `Unauthenticated` once the caller's certificate,
    /// `valid_until`, has expired.
    ///
    /// # Errors
    /// `OutOfRange` when `after` is past the newest message.
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn subscribe(
        &self,
        caller: &AgencyRef,
        after: Option<u64>,
        valid_until: Option<OffsetDateTime>,
    ) -> Result<mpsc::Receiver<Result<InboxEvent>>> {
        self.authorize(caller, Call::Subscribe)?;
        let state = self.storage.inbox_state(&caller.id).await?;
        let start = after.unwrap_or(state.acknowledged);
        if start > state.head {
            return Err(GatewayError::OutOfRange {
                field: "after_position",
                message: format!("is past the newest message ({})", state.head),
            });
        }
        // Watched from here, so that nothing written once this returns is
        // missed by the stream's memory (see [`super::wakeups`]).
        let wakeup = self.wakeups.watch(&caller.id);
        // What is held must reach at least as far as storage did.
        self.wakeups.notify(&caller.id, state.head);
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let gateway = self.clone();
        let subscriber = caller.clone();
        let open = self.metrics.stream_opened(caller);
        tokio::spawn(async move {
            // Counted as open until the producer ends, whatever ends it.
            let _open = open;
            let agency = &subscriber.id;
            let stream = Subscriber {
                agency: &subscriber,
                valid_until,
            };
            if let Err(error) = gateway.feed(stream, start, wakeup, &sender).await {
                tracing::warn!(%agency, error = %error, "inbox stream ended with an error");
                let _ = sender.send(Err(error)).await;
            }
        });
        tracing::info!(after = start, "subscribed");
        Ok(receiver)
    }

    /// The producer behind one stream. Returns `Ok` when the client left or
    /// the gateway is stopping. Before each batch the subscriber is checked
    /// against the registry held in memory (which this replica's calls keep
    /// current), or as of now when it was last read a heartbeat ago or more
    /// (a replica that serves streams alone would hold it unchanged), and
    /// at each heartbeat as of now: a stream ends `Unauthenticated` once
    /// its agency is disabled or registered as another, or its certificate
    /// has expired, a heartbeat later at most.
    async fn feed(
        &self,
        stream: Subscriber<'_>,
        mut cursor: u64,
        mut wakeup: watch::Receiver<Tail>,
        sender: &mpsc::Sender<Result<InboxEvent>>,
    ) -> Result<()> {
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        heartbeat.reset();
        let subscriber = stream.agency;
        let agency = &subscriber.id;
        let size = self.settings.replay_batch;
        let mut ahead = None;
        let mut registry_read = tokio::time::Instant::now();
        loop {
            let batch = match ahead.take() {
                Some(batch) => batch,
                None => {
                    // Only a fresh read marks wake-ups seen: one that came
                    // after a read ahead started must still wake us.
                    let held = wakeup.borrow_and_update().after(cursor);
                    match held.filter(|held| !self.may_hide_a_closure(subscriber, held)) {
                        Some(messages) => {
                            self.metrics.streamed("memory", messages.len());
                            messages.into_iter().map(InboxEntry::Message).collect()
                        }
                        None => self.read_inbox(agency, cursor).await?,
                    }
                }
            };
            if !batch.is_empty() {
                let read = registry_read.elapsed() >= self.settings.heartbeat;
                self.still_serves(&stream, read).await?;
                if read {
                    registry_read = tokio::time::Instant::now();
                }
            }
            if !batch.is_empty() && batch.len().is_multiple_of(size as usize) {
                // A backlog (full pages only): read the next pages while
                // this batch goes out, so replay waits on the slower of the
                // two, not on both.
                let last = batch.last().map_or(cursor, InboxEntry::position);
                let (delivered, next) = tokio::join!(
                    self.deliver_all(sender, subscriber, batch),
                    self.read_backlog(agency, last),
                );
                if !delivered {
                    return Ok(());
                }
                cursor = last;
                // Nothing that follows on: read afresh, from memory or one
                // page of storage, rather than wait for a wake-up.
                ahead = Some(next?).filter(|next| !next.is_empty());
                heartbeat.reset();
                continue;
            }
            if let Some(last) = batch.last() {
                cursor = last.position();
            }
            if !self.deliver_all(sender, subscriber, batch).await {
                return Ok(());
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                () = sender.closed() => return Ok(()),
                changed = wakeup.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    heartbeat.reset();
                }
                _ = heartbeat.tick() => {
                    self.still_serves(&stream, true).await?;
                    registry_read = tokio::time::Instant::now();
                    let state = self.storage.inbox_state(agency).await?;
                    let beat = InboxEvent::Heartbeat { at: self.clock.now(), state };
                    if !self.deliver(sender, beat).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Whether `stream` may go on: its certificate still valid, its agency
    /// still admitted ([`Gateway::still_admits`], `read` as there).
    async fn still_serves(&self, stream: &Subscriber<'_>, read: bool) -> Result<()> {
        if let Some(end) = stream.valid_until {
            super::registry::still_valid(end, self.clock.now())?;
        }
        self.still_admits(stream.agency, read).await
    }

    /// Whether messages held in memory may be about a case `subscriber`
    /// no longer reads, closed after they were written: memory does not
    /// know of that closure, storage does. Only police lose sight of a
    /// case, and only of one that closed before the cutoff, so only
    /// messages written before it. (With a period of a few minutes, that is
    /// nearly every message, and police streams read storage each time.)
    fn may_hide_a_closure(&self, subscriber: &AgencyRef, held: &[Arc<InboxMessage>]) -> bool {
        let cutoff = self.settings.access.police_closed_cutoff(self.clock.now());
        subscriber.kind == AgencyKind::Police
            && held.iter().any(|message| message.created_at < cutoff)
    }

    /// The next page of `agency`'s inbox after `cursor`, from storage.
    async fn read_inbox(&self, agency: &AgencyId, cursor: u64) -> Result<Vec<InboxEntry>> {
        let page = self.read_page(agency, cursor).await?;
        self.metrics.streamed("storage", page.len());
        Ok(page)
    }

    /// As [`Self::read_inbox`], uncounted.
    async fn read_page(&self, agency: &AgencyId, cursor: u64) -> Result<Vec<InboxEntry>> {
        Ok(self
            .storage
            .inbox_after(agency, cursor, self.settings.replay_batch)
            .await?)
    }

    /// The next [`READ_AHEAD_PAGES`] pages of `agency`'s inbox after
    /// `cursor`, read side by side, up to the first that is not full.
    ///
    /// Positions are gapless, so where each page starts is known before
    /// the one ahead of it is read; each read runs as a task of its own, so
    /// that one page's round trips and decoding overlap another's. Nothing
    /// is taken past a page that is not full: the next was read from where
    /// a full one would have ended, and writes since may have filled the
    /// positions in between. A page that does not start where the one
    /// before it ended (an inbox with a gap, which storage never makes) is
    /// left for the stream's next read, which reads afresh when nothing
    /// followed on.
    async fn read_backlog(&self, agency: &AgencyId, cursor: u64) -> Result<Vec<InboxEntry>> {
        let size = u64::from(self.settings.replay_batch);
        let reads: Vec<_> = (0..READ_AHEAD_PAGES)
            .map(|page| {
                let gateway = self.clone();
                let agency = agency.clone();
                let after = cursor.saturating_add(page.saturating_mul(size));
                tokio::spawn(async move { gateway.read_page(&agency, after).await })
            })
            .collect();
        let mut pages = Vec::with_capacity(reads.len());
        for read in reads {
            let page = read.await.map_err(|error| {
                GatewayError::Internal(format!("an inbox read failed: {error}"))
            })??;
            pages.push(page);
        }
        let messages = contiguous(cursor, size, pages, InboxEntry::position);
        self.metrics.streamed("storage", messages.len());
        Ok(messages)
    }

    /// Hands `messages` to `subscriber`'s stream in order, each withheld
    /// that is about a case police `subscriber` lost sight of; `false` as
    /// [`Self::deliver`].
    async fn deliver_all(
        &self,
        sender: &mpsc::Sender<Result<InboxEvent>>,
        subscriber: &AgencyRef,
        messages: Vec<InboxEntry>,
    ) -> bool {
        let now = self.clock.now();
        let access = &self.settings.access;
        let mut reason = None;
        for entry in messages {
            let message = match entry {
                InboxEntry::Message(message) => message,
                InboxEntry::Unreadable(unreadable) => {
                    tracing::error!(
                        agency = %subscriber.id,
                        position = unreadable.position,
                        case = %unreadable.case,
                        detail = %unreadable.detail,
                        "an inbox message does not open; it goes out in its place only"
                    );
                    self.metrics.unreadable();
                    let event = InboxEvent::Unreadable {
                        position: unreadable.position,
                        created_at: unreadable.created_at,
                        role: unreadable.role,
                    };
                    if !self.deliver(sender, event).await {
                        return false;
                    }
                    continue;
                }
            };
            let event = if police_lost_sight(subscriber, message.case_closed_at, now, access) {
                InboxEvent::Withheld {
                    position: message.position,
                    created_at: message.created_at,
                    role: message.notice.role,
                    reason: reason
                        .get_or_insert_with(|| access.withheld_from_police())
                        .clone(),
                }
            } else {
                InboxEvent::Message(message)
            };
            if !self.deliver(sender, event).await {
                return false;
            }
        }
        true
    }

    /// Hands one event to the stream; `false` when the client left or the
    /// gateway is stopping, even while a slow client keeps the buffer full.
    async fn deliver(&self, sender: &mpsc::Sender<Result<InboxEvent>>, event: InboxEvent) -> bool {
        tokio::select! {
            sent = sender.send(Ok(event)) => sent.is_ok(),
            () = self.shutdown.cancelled() => false,
        }
    }

    /// Wakes this process's streams when another process sharing the
    /// database grows an inbox, until the gateway shuts down.
    pub async fn follow_other_replicas(self) {
        let (changes, mut received) = mpsc::channel(1024);
        let storage = self.storage.clone();
        let following = tokio::spawn(async move { storage.follow_inboxes(changes).await });
        loop {
            let change = tokio::select! {
                () = self.shutdown.cancelled() => break,
                change = received.recv() => change,
            };
            match change {
                Some(InboxChange::Moved(agency, head)) => self.wakeups.notify(&agency, head),
                Some(InboxChange::Unknown) => self.wakeups.notify_all(),
                None => break,
            }
        }
        drop(received);
        let _ = following.await;
    }

    /// Records that the caller processed everything up to `position`.
    /// Acknowledging an older position again changes nothing.
    ///
    /// # Errors
    /// `OutOfRange` when `position` is past the newest message.
    #[tracing::instrument(skip_all, fields(agency = %caller.id, position))]
    pub async fn acknowledge(&self, caller: &AgencyRef, position: u64) -> Result<InboxState> {
        self.authorize(caller, Call::Acknowledge)?;
        match self.storage.acknowledge(&caller.id, position).await? {
            Some(state) => Ok(state),
            None => {
                let head = self.storage.inbox_state(&caller.id).await?.head;
                Err(GatewayError::OutOfRange {
                    field: "position",
                    message: format!("is past the newest message ({head})"),
                })
            }
        }
    }
}

/// The messages of `pages` (read after `cursor`, `size` at most each) that
/// follow on from `cursor` without a gap: up to the first page that is
/// not full, and not from a page that does not start where the last one
/// ended.
fn contiguous<T>(
    cursor: u64,
    size: u64,
    pages: Vec<Vec<T>>,
    position: impl Fn(&T) -> u64,
) -> Vec<T> {
    let mut messages = Vec::new();
    let mut end = cursor;
    for page in pages {
        if page.first().is_some_and(|first| position(first) != end + 1) {
            break;
        }
        let full = page.len() as u64 == size;
        end = page.last().map_or(end, &position);
        messages.extend(page);
        if !full {
            break;
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::contiguous;

    fn page(positions: std::ops::RangeInclusive<u64>) -> Vec<u64> {
        positions.collect()
    }

    fn stitched(cursor: u64, pages: Vec<Vec<u64>>) -> Vec<u64> {
        contiguous(cursor, 4, pages, |position| *position)
    }

    #[test]
    fn full_pages_that_follow_on_are_all_taken() {
        assert_eq!(
            stitched(10, vec![page(11..=14), page(15..=18)]),
            page(11..=18)
        );
        assert_eq!(
            stitched(10, vec![page(11..=14), page(15..=16)]),
            page(11..=16)
        );
    }

    #[test]
    fn nothing_is_taken_past_a_page_that_is_not_full() {
        // Read after the short page, once later writes had filled the
        // positions between: 15 and 16 would be skipped.
        assert_eq!(
            stitched(10, vec![page(11..=12), page(17..=20)]),
            page(11..=12)
        );
        assert_eq!(
            stitched(10, vec![Vec::new(), page(15..=18)]),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn a_page_that_does_not_start_where_the_last_ended_is_left() {
        assert_eq!(
            stitched(10, vec![page(11..=14), page(16..=19)]),
            page(11..=14)
        );
        assert_eq!(stitched(10, vec![page(12..=15)]), Vec::<u64>::new());
    }
}
