//! Detox centers announce releases and submit discharges.

use sha2::{Digest, Sha256};
use time::Time;

use super::{Gateway, GatewayError, Result, require_kind};
use crate::domain::agency::{Agency, AgencyKind, AgencyRef};
use crate::domain::case::{Case, CaseEvent, CaseId, CaseState, RecordedEvent};
use crate::domain::clock::CHINA;
use crate::domain::intake::{AnnouncementDraft, DecisionNumber, DischargeDraft};
use crate::domain::notice::Notice;
use crate::domain::routing::{Route, route};
use crate::domain::submission::{RequestKey, SubmissionOutcome};
use crate::domain::validation::{self, Invalid};
use crate::storage::{CaseWrite, Conflict, StorageError};

/// An accepted submission: the answer, and whether it replays an earlier
/// request with the same id.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub request_id: String,
    pub outcome: SubmissionOutcome,
    pub replayed: bool,
}

/// Writers that lose a race re-read and plan again this many times.
const ATTEMPTS: usize = 3;

fn digest(kind: &str, content: &impl serde::Serialize) -> Result<[u8; 32]> {
    let body = serde_json::to_vec(content).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    Ok(hasher.finalize().into())
}

/// Keys a request by its id and the digest of what was sent, before any
/// time-dependent validation, so a retry gets its first answer even after
/// the content would no longer pass (a planned date now in the past).
/// A bad request id is reported with every other wrong field.
fn request_key<T>(
    caller: &AgencyRef,
    request_id: &str,
    kind: &str,
    draft: &impl serde::Serialize,
    parse: impl FnOnce() -> std::result::Result<T, Invalid>,
) -> Result<RequestKey> {
    match validation::request_id(request_id) {
        Ok(request_id) => Ok(RequestKey {
            agency: caller.id.clone(),
            request_id,
            digest: digest(kind, draft)?,
        }),
        Err(error) => {
            let mut invalid = Invalid::field("request_id", error);
            if let Err(more) = parse() {
                invalid.violations.extend(more.violations);
            }
            Err(invalid.into())
        }
    }
}

fn decision_taken() -> GatewayError {
    GatewayError::AlreadyExists {
        field: "decision_number",
        message: "a case for this decision document already exists".into(),
    }
}

impl Gateway {
    /// The pre-release notice: opens the case as announced and tells the
    /// executing county in advance.
    ///
    /// # Errors
    /// `PermissionDenied` for anyone but a detox center, `Invalid` for bad
    /// fields, `AlreadyExists` for a reused request id or decision number.
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn announce_release(
        &self,
        caller: &AgencyRef,
        request_id: &str,
        draft: &AnnouncementDraft,
    ) -> Result<Submitted> {
        require_kind(caller, &[AgencyKind::DetoxCenter], "announce releases")?;
        let parse = || draft.parse(self.clock.today());
        let key = request_key(caller, request_id, "announce", draft, parse)?;
        if let Some(answer) = self.replay(&key).await? {
            return Ok(answer);
        }
        let announcement = parse()?;
        let release = announcement
            .planned_release_date
            .with_time(Time::MIDNIGHT)
            .assume_offset(CHINA);
        let late = release - self.clock.now() < self.settings.deadlines.notice_ahead;
        self.submit(key, &announcement.decision_number, |existing, agencies| {
            if existing.is_some() {
                return Err(decision_taken());
            }
            let route = route(&announcement.person, caller.region, agencies);
            let event = CaseEvent::ReleaseAnnounced {
                decision_number: announcement.decision_number.clone(),
                person: announcement.person.clone(),
                planned_release_date: announcement.planned_release_date,
                term: announcement.term,
                executing_region: route.executing_region,
                project: route.project.clone(),
            };
            let mut write = self.prepare(
                caller,
                CaseId::new(uuid::Uuid::now_v7()),
                Vec::new(),
                event,
                &route,
            )?;
            write.outcome.late_notice = late;
            Ok(write)
        })
        .await
    }

    /// The discharge: routes the case to the executing county, continuing
    /// the announced case for the same decision if there is one.
    ///
    /// # Errors
    /// As [`Gateway::announce_release`].
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn submit_discharge(
        &self,
        caller: &AgencyRef,
        request_id: &str,
        draft: &DischargeDraft,
    ) -> Result<Submitted> {
        require_kind(caller, &[AgencyKind::DetoxCenter], "submit discharges")?;
        let parse = || draft.parse(self.clock.now(), self.clock.today());
        let key = request_key(caller, request_id, "discharge", draft, parse)?;
        if let Some(answer) = self.replay(&key).await? {
            return Ok(answer);
        }
        let discharge = parse()?;
        self.submit(key, &discharge.decision_number, |existing, agencies| {
            let (case_id, history, late_notice) = match existing {
                None => (CaseId::new(uuid::Uuid::now_v7()), Vec::new(), true),
                Some(case)
                    if case.state == CaseState::Announced
                        && case.detox_center == caller.id
                        && case.person.id_number == discharge.person.id_number =>
                {
                    let announced_at = case.history.first().map_or(discharge.released_at, |e| e.at);
                    let late =
                        discharge.released_at - announced_at < self.settings.deadlines.notice_ahead;
                    (case.id, case.history, late)
                }
                Some(_) => return Err(decision_taken()),
            };
            let route = route(&discharge.person, caller.region, agencies);
            let event = CaseEvent::Discharged {
                decision_number: discharge.decision_number.clone(),
                person: discharge.person.clone(),
                released_at: discharge.released_at,
                term: discharge.term,
                executing_region: route.executing_region,
                project: route.project.clone(),
                oversight: route.oversight.clone(),
                late_notice,
            };
            self.prepare(caller, case_id, history, event, &route)
        })
        .await
    }

    /// Builds the write for one new event: the case after it, one notice per
    /// recipient, and the answer.
    fn prepare(
        &self,
        caller: &AgencyRef,
        id: CaseId,
        mut history: Vec<RecordedEvent>,
        event: CaseEvent,
        route: &Route,
    ) -> Result<CaseWrite> {
        if route.recipients.is_empty() {
            return Err(GatewayError::FailedPrecondition(format!(
                "no registered agency can receive a case for county {}; register its oversight office",
                route.executing_region
            )));
        }
        let now = self.clock.now();
        let expected_version =
            u32::try_from(history.len()).map_err(|e| GatewayError::Internal(e.to_string()))?;
        let recorded = RecordedEvent {
            sequence: expected_version + 1,
            at: now,
            by: caller.id.clone(),
            event,
        };
        history.push(recorded.clone());
        let case =
            Case::from_history(id, history).map_err(|e| GatewayError::Internal(e.to_string()))?;
        let summary = Case {
            history: Vec::new(),
            ..case.clone()
        };
        let notices = route
            .recipients
            .iter()
            .map(|r| {
                (
                    r.agency.clone(),
                    Notice {
                        role: r.role,
                        event: recorded.clone(),
                        case: summary.clone(),
                    },
                )
            })
            .collect();
        let outcome = SubmissionOutcome {
            case_id: case.id.clone(),
            state: case.state,
            executing_region: case.executing_region,
            responsible: case.responsible.clone(),
            late_notice: case.late_notice,
            deliveries: Vec::new(),
            accepted_at: now,
        };
        let request = RequestKey {
            agency: caller.id.clone(),
            request_id: String::new(),
            digest: [0; 32],
        };
        let person_key = self.keyer.key(&case.person.id_number);
        Ok(CaseWrite {
            request,
            case,
            expected_version,
            person_key,
            notices,
            outcome,
        })
    }

    /// The idempotent write path every submission shares: a stored answer
    /// is returned again; otherwise the write is planned from the current
    /// case and registry, and a lost race is re-read and planned again.
    async fn submit(
        &self,
        key: RequestKey,
        decision: &DecisionNumber,
        plan: impl Fn(Option<Case>, &[Agency]) -> Result<CaseWrite>,
    ) -> Result<Submitted> {
        for _ in 0..ATTEMPTS {
            if let Some(answer) = self.replay(&key).await? {
                return Ok(answer);
            }
            let existing = self.storage.case_by_decision(decision).await?;
            let agencies = self.storage.agencies().await?;
            let mut write = plan(existing, &agencies)?;
            write.request = key.clone();
            match self.storage.write_case(write).await {
                Ok(outcome) => {
                    for delivery in &outcome.deliveries {
                        self.wakeups.notify(&delivery.agency, delivery.position);
                    }
                    tracing::info!(case_id = %outcome.case_id, deliveries = outcome.deliveries.len(), "accepted");
                    return Ok(Submitted {
                        request_id: key.request_id,
                        outcome,
                        replayed: false,
                    });
                }
                Err(StorageError::Conflict(
                    Conflict::RequestId | Conflict::DecisionNumber | Conflict::Version,
                )) => {
                    tracing::debug!("lost a race to another writer; planning again");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(GatewayError::Unavailable(None))
    }

    async fn replay(&self, key: &RequestKey) -> Result<Option<Submitted>> {
        let Some(answer) = self.storage.answer(&key.agency, &key.request_id).await? else {
            return Ok(None);
        };
        if answer.digest != key.digest {
            return Err(GatewayError::AlreadyExists {
                field: "request_id",
                message: "this request id was used for a different submission".into(),
            });
        }
        Ok(Some(Submitted {
            request_id: key.request_id.clone(),
            outcome: answer.outcome,
            replayed: true,
        }))
    }
}
