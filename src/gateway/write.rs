//! The one write path every change to a case takes: replay a stored
//! answer, or plan the new events from the current case and the registry,
//! record the escalations that are due, and write it all in one
//! transaction. A writer that loses a race reads again and plans again.

use std::time::{Duration, Instant};

use super::{Gateway, GatewayError, Result};
use crate::domain::agency::{Agency, AgencyId};
use crate::domain::case::{Case, CaseEvent, CaseId, CaseState, EarlierCase, RecordedEvent};
use crate::domain::notice::{InboxMessage, Notice};
use crate::domain::plan::{Context, Planned, plan};
use crate::domain::routing::Route;
use crate::domain::submission::{RequestKey, SubmissionOutcome};
use crate::metrics::CommitOutcome;
use crate::storage::{CaseKey, CaseWrite, Conflict, Lookup, StorageError, StoredAnswer, as_stored};

/// An accepted submission: the answer, and whether it replays an earlier
/// request with the same id.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub request_id: String,
    /// Who submitted it, and the digest of what they sent: a signed receipt
    /// names both.
    pub agency: AgencyId,
    pub content_digest: [u8; 32],
    pub outcome: SubmissionOutcome,
    pub replayed: bool,
}

/// Writers that lose a race re-read and plan again this many times.
const ATTEMPTS: usize = 3;

/// A wait for a place longer than this reads the case again before
/// planning. A place free at once takes microseconds.
const STALE_AFTER_WAIT: Duration = Duration::from_millis(1);

fn internal(error: impl std::fmt::Display) -> GatewayError {
    GatewayError::Internal(error.to_string())
}

impl Gateway {
    /// Builds the write that appends `events` by `by` to the case with
    /// `id` (whose events so far are `history`), as [`plan`] lays it out.
    pub(super) fn prepare(
        &self,
        by: &AgencyId,
        id: CaseId,
        history: Vec<RecordedEvent>,
        events: Vec<CaseEvent>,
        agencies: &[Agency],
        route: Option<&Route>,
    ) -> Result<CaseWrite> {
        let now = self.clock.now();
        let policy = &self.settings.deadlines;
        let existing = if history.is_empty() {
            None
        } else {
            Some(Case::from_history(id.clone(), history).map_err(internal)?)
        };
        let expected_version = existing.as_ref().map_or(0, Case::version);
        let context = Context {
            agencies,
            route,
            policy,
            now,
        };
        let Planned { case, notices } =
            plan(existing, &id, by, events, &context).map_err(internal)?;
        let outcome = SubmissionOutcome::accepted(&case, now);
        Ok(CaseWrite {
            request: RequestKey {
                agency: by.clone(),
                request_id: String::new(),
                digest: [0; 32],
            },
            person_key: self.keyer.key(&case.person.id_number),
            deadlines: case.deadlines(policy),
            case,
            expected_version,
            notices,
            outcome,
            audit: None,
        })
    }

    /// The idempotent write path every submission shares, once its request
    /// id and content are valid: the stored answer to `key` is replayed,
    /// or else the write is planned from the case `target` finds (read
    /// together with the answer, with the registry version that confirms
    /// the caller, and for a discharge with the person's other open cases)
    /// and the registry its caller was checked against. A lost race is
    /// re-read (the registry too) and planned again, unless the race was
    /// to the same request, whose answer is then returned.
    pub(super) async fn submit(
        &self,
        key: RequestKey,
        target: CaseKey,
        plan: impl Fn(Option<Case>, &[EarlierCase], &[Agency]) -> Result<CaseWrite>,
    ) -> Result<Submitted> {
        // Looked up before a place is taken, so that a retry is answered
        // even while new writes are refused.
        let found = match self.lookup(&key, &target).await? {
            Lookup::Answered(answer) => return self.replayed(&key, answer),
            Lookup::Unanswered(existing, open) => (existing, open),
        };
        let waiting = Instant::now();
        let mut place = self.admission.enter().await?;
        // The case may have moved on while this call waited for its place:
        // planning from it would only lose the race and spend an attempt.
        let mut first = (waiting.elapsed() <= STALE_AFTER_WAIT).then_some(found);
        for attempt in 0..ATTEMPTS {
            let (existing, open) = match first.take() {
                Some(found) => found,
                None => match self.lookup(&key, &target).await? {
                    Lookup::Answered(answer) => return self.replayed(&key, answer),
                    Lookup::Unanswered(existing, open) => (existing, open),
                },
            };
            // A retry reads the registry again; the first try plans with
            // the one the lookup just confirmed the caller against.
            let agencies = if attempt == 0 {
                self.call_registry().await?
            } else {
                self.registry().await?
            };
            let mut write = match plan(existing.map(|case| *case), &open, &agencies) {
                Ok(write) => write,
                // The same request may have been answered (by another
                // replica, or a concurrent retry) since the lookup, so the
                // refusal its own write causes is not the answer: the
                // stored one is.
                Err(refusal) => return self.replay_or(&key, refusal).await,
            };
            write.request = key.clone();
            write.audit = self.entry_for_write(&write.case.id);
            let carries_entry = write.audit.is_some();
            let written = self.write(write).await;
            place.wrote();
            if let Some(outcome) = written? {
                if carries_entry {
                    self.entry_written();
                }
                return Ok(Submitted {
                    agency: key.agency,
                    content_digest: key.digest,
                    request_id: key.request_id,
                    outcome,
                    replayed: false,
                });
            }
        }
        Err(GatewayError::Unavailable(None))
    }

    /// Writes and wakes the recipients; `None` when another writer got there
    /// first and the caller should read again.
    pub(super) async fn write(&self, write: CaseWrite) -> Result<Option<SubmissionOutcome>> {
        // Nothing is written for a caller the registry may no longer admit;
        // a submission's lookup has confirmed it already.
        self.confirm_caller(None).await?;
        let started = Instant::now();
        // The notices to hand to this process's open streams once written
        // (see [`super::wakeups`]); only those of watched inboxes.
        let live: Vec<Option<Notice>> = write
            .notices
            .iter()
            .map(|(agency, notice)| self.wakeups.watched(agency).then(|| notice.clone()))
            .collect();
        let written = self.storage.write_case(write).await;
        let outcome = match &written {
            Ok(_) => CommitOutcome::Committed,
            Err(StorageError::Conflict(_)) => CommitOutcome::Conflict,
            Err(_) => CommitOutcome::Failed,
        };
        self.metrics.committed(outcome, started.elapsed());
        match written {
            Ok(outcome) => {
                // Storage answers a delivery per notice, in order.
                let held = live.len() == outcome.deliveries.len();
                for (delivery, notice) in outcome.deliveries.iter().zip(live) {
                    match notice.filter(|_| held) {
                        Some(notice) => self.wakeups.delivered(
                            &delivery.agency,
                            InboxMessage {
                                position: delivery.position,
                                created_at: as_stored(outcome.accepted_at),
                                // Exact when this event closed the case; an
                                // event after a closure is a late escalation.
                                case_closed_at: (notice.case.state == CaseState::Closed)
                                    .then_some(notice.event.at),
                                notice,
                            },
                        ),
                        None => self.wakeups.notify(&delivery.agency, delivery.position),
                    }
                    self.metrics.delivered(delivery.role.as_str());
                }
                tracing::info!(case_id = %outcome.case_id, version = outcome.version, deliveries = outcome.deliveries.len(), "accepted");
                Ok(Some(outcome))
            }
            Err(StorageError::Conflict(
                Conflict::RequestId | Conflict::DecisionNumber | Conflict::Version,
            )) => {
                tracing::debug!("lost a race to another writer; planning again");
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The stored answer or the case; the read also confirms the caller
    /// (see [`Gateway::confirm_caller`]) before anything is planned.
    async fn lookup(&self, key: &RequestKey, target: &CaseKey) -> Result<Lookup> {
        let looked = self
            .storage
            .answer_or_case(&key.agency, &key.request_id, target)
            .await?;
        self.confirmed(looked).await
    }

    /// The stored answer to `key`, or else `refusal`: a retry gets its
    /// first answer even when its content would no longer pass (a planned
    /// date now in the past).
    pub(super) async fn replay_or(
        &self,
        key: &RequestKey,
        refusal: impl Into<GatewayError>,
    ) -> Result<Submitted> {
        match self.storage.answer(&key.agency, &key.request_id).await? {
            Some(answer) => self.replayed(key, answer),
            None => Err(refusal.into()),
        }
    }

    /// `answer` as the answer to `key`, unless `key` sent other content
    /// under the same request id.
    fn replayed(&self, key: &RequestKey, answer: StoredAnswer) -> Result<Submitted> {
        if answer.digest != key.digest {
            return Err(GatewayError::AlreadyExists {
                field: "request_id",
                message: "this request id was used for a different submission".into(),
            });
        }
        Ok(Submitted {
            request_id: key.request_id.clone(),
            agency: key.agency.clone(),
            content_digest: key.digest,
            outcome: answer.outcome,
            replayed: true,
        })
    }
}
