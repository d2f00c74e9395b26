//! Detox centers announce releases and submit discharges.

use sha2::{Digest, Sha256};
use time::Time;

use super::write::Submitted;
use super::{Gateway, GatewayError, Result};
use crate::domain::agency::AgencyRef;
use crate::domain::announcement::known_since;
use crate::domain::case::{Case, CaseEvent, CaseId, CaseState, ClosureReason};
use crate::domain::clock::CHINA;
use crate::domain::id_number::IdNumber;
use crate::domain::intake::{AnnouncementDraft, DischargeDraft};
use crate::domain::policy::Call;
use crate::domain::routing::{Route, route};
use crate::domain::submission::RequestKey;
use crate::domain::validation::{self, Invalid};
use crate::storage::CaseKey;

pub(super) fn digest(kind: &str, content: &impl serde::Serialize) -> Result<[u8; 32]> {
    let body = serde_json::to_vec(content).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    Ok(hasher.finalize().into())
}

/// Keys a request by its id and the digest of what was sent, before any
/// time-dependent validation, so that a retry whose content would no
/// longer pass (a planned date now in the past) still finds its first
/// answer ([`Gateway::replay_or`]). A bad request id is reported with
/// every other wrong field.
pub(super) fn request_key<T>(
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

/// A release that no registered agency could receive is refused rather
/// than stored where nobody sees it.
fn routable(route: &Route) -> Result<&Route> {
    if route.recipients.is_empty() {
        return Err(GatewayError::FailedPrecondition(format!(
            "no registered agency can receive a case for county {}; register its oversight office",
            route.executing_region
        )));
    }
    Ok(route)
}

/// Whether a release by `caller` of the person numbered `id_number`
/// continues `case`, its decision's case: a notice the same detox center
/// gave for the same person, not yet discharged.
fn continues(case: &Case, caller: &AgencyRef, id_number: &IdNumber) -> bool {
    case.state == CaseState::Announced
        && case.detox_center == caller.id
        && &case.person.id_number == id_number
}

/// Why a release by `caller` of the person numbered `id_number` cannot
/// continue `case`, its decision's case. Only the detox center that
/// withdrew the release learns that it did: to anyone else the case is
/// one it cannot see.
fn decision_taken(case: &Case, caller: &AgencyRef, id_number: &IdNumber) -> GatewayError {
    let withdrawn = case.closure == Some(ClosureReason::ReleaseWithdrawn)
        && case.detox_center == caller.id
        && &case.person.id_number == id_number;
    let message = if withdrawn {
        "the release under this decision was withdrawn, which is final"
    } else {
        "a case for this decision document already exists"
    };
    GatewayError::AlreadyExists {
        field: "decision_number",
        message: message.into(),
    }
}

impl Gateway {
    /// The pre-release notice: opens the case as announced and tells the
    /// executing county in advance. Sent again for the same decision and
    /// person before the discharge, it revises the notice (another day,
    /// term or county), and whoever the earlier notice reached and this
    /// one would not is told too.
    ///
    /// # Errors
    /// `PermissionDenied` for anyone but a detox center, `Invalid` for bad
    /// fields, `AlreadyExists` for a reused request id, or a decision
    /// number with a case this notice cannot revise.
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn announce_release(
        &self,
        caller: &AgencyRef,
        request_id: &str,
        draft: &AnnouncementDraft,
    ) -> Result<Submitted> {
        self.authorize(caller, Call::AnnounceRelease)?;
        let parse = || draft.parse(self.clock.today());
        let key = request_key(caller, request_id, "announce", draft, parse)?;
        let announcement = match parse() {
            Ok(announcement) => announcement,
            Err(invalid) => return self.replay_or(&key, invalid).await,
        };
        let release = announcement
            .planned_release_date
            .with_time(Time::MIDNIGHT)
            .assume_offset(CHINA);
        let person = self.keyer.key(&announcement.person.id_number);
        let target = CaseKey::Decision(announcement.decision_number.clone(), person);
        self.submit(key, target, |existing, earlier, agencies| {
            let revised = match existing {
                None => None,
                Some(case) if continues(&case, caller, &announcement.person.id_number) => {
                    Some(case)
                }
                Some(case) => {
                    return Err(decision_taken(
                        &case,
                        caller,
                        &announcement.person.id_number,
                    ));
                }
            };
            let route = route(&announcement.person, caller.region, agencies);
            routable(&route)?;
            let route = route
                .with_earlier_cases(earlier, agencies)
                .with_announced_before(revised.as_ref(), agencies);
            let event = CaseEvent::ReleaseAnnounced {
                decision_number: announcement.decision_number.clone(),
                person: announcement.person.clone(),
                planned_release_date: announcement.planned_release_date,
                term: announcement.term,
                executing_region: route.executing_region,
                project: route.project.clone(),
                oversight: route.oversight.clone(),
                earlier_open_cases: earlier.to_vec(),
            };
            let known_since = revised
                .as_ref()
                .and_then(|case| known_since(case, route.executing_region))
                .unwrap_or_else(|| self.clock.now());
            let late = release - known_since < self.settings.deadlines.notice_ahead;
            let (case_id, history) = match revised {
                Some(case) => (case.id, case.history),
                None => (CaseId::new(uuid::Uuid::now_v7()), Vec::new()),
            };
            let mut write = self.prepare(
                &caller.id,
                case_id,
                history,
                vec![event],
                agencies,
                Some(&route),
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
        self.authorize(caller, Call::SubmitDischarge)?;
        let parse = || draft.parse(self.clock.now(), self.clock.today());
        let key = request_key(caller, request_id, "discharge", draft, parse)?;
        let discharge = match parse() {
            Ok(discharge) => discharge,
            Err(invalid) => return self.replay_or(&key, invalid).await,
        };
        // The person's other open cases are read with the case, not in the
        // write: a release of the same person racing this one may miss it,
        // and each then opens without naming the other (two detox centers
        // releasing one person at the same moment).
        let person = self.keyer.key(&discharge.person.id_number);
        let target = CaseKey::Decision(discharge.decision_number.clone(), person);
        self.submit(key, target, |existing, earlier, agencies| {
            let announced = match existing {
                None => None,
                Some(case) if continues(&case, caller, &discharge.person.id_number) => Some(case),
                Some(case) => {
                    return Err(decision_taken(&case, caller, &discharge.person.id_number));
                }
            };
            let mut route = route(&discharge.person, caller.region, agencies);
            // Notice counts from when the executing county first heard of
            // the release: a revision that moves only the day keeps that
            // time, a discharge to a county no notice named has none.
            let late_notice = announced
                .as_ref()
                .and_then(|case| known_since(case, route.executing_region))
                .is_none_or(|since| {
                    discharge.released_at - since < self.settings.deadlines.notice_ahead
                });
            if late_notice {
                route = route.with_late_notice(agencies);
            }
            // Routable on its own: the earlier cases' agencies are told,
            // but none of them takes this case on.
            routable(&route)?;
            let route = route
                .with_earlier_cases(earlier, agencies)
                .with_announced_before(announced.as_ref(), agencies);
            let event = CaseEvent::Discharged {
                decision_number: discharge.decision_number.clone(),
                person: discharge.person.clone(),
                released_at: discharge.released_at,
                term: discharge.term,
                executing_region: route.executing_region,
                project: route.project.clone(),
                oversight: route.oversight.clone(),
                late_notice,
                earlier_open_cases: earlier.to_vec(),
            };
            let (case_id, history) = match announced {
                Some(case) => (case.id, case.history),
                None => (CaseId::new(uuid::Uuid::now_v7()), Vec::new()),
            };
            self.prepare(
                &caller.id,
                case_id,
                history,
                vec![event],
                agencies,
                Some(&route),
            )
        })
        .await
    }
}
