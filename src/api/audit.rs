//! The one wrapper every handler runs in: authenticate, handle, record the
//! call in the audit log, answer. A handler gets its caller only from
//! [`audited`], so none can skip the record; refused and unauthenticated
//! calls are recorded like any other.
//!
//! The entry is appended after the handler and before the answer. If it
//! cannot be appended the call answers `UNAVAILABLE`, whatever the handler
//! did: no answer leaves without its entry. For a write that already
//! committed this tells the client "try again" about something that
//! happened; every write here is safe to repeat (a request id replays its
//! stored answer, an acknowledgement never moves back), and the repeat is
//! recorded. A client that hangs up mid-call drops the handler; the call
//! is then recorded as `CANCELLED`, since a write may have committed.
//!
//! A call that writes a case carries its entry into the write's own transaction ([`Gateway::recording`]):
//! the write and its record commit together, and the answer waits for one
//! commit instead of two in turn. Should the call still fail after its
//! write (it would answer an error about something that happened), that
//! failure gets an entry of its own as well.

use std::future::Future;

use tonic::{Code, Request, Response, Status};

use super::pb;
use super::pb::get_case_request::Key;
use super::supervision::CommandRequest;
use super::to_status;
use crate::domain::agency::AgencyRef;
use crate::domain::audit::{AuditCaller, AuditDetails, AuditRecord, AuditText, Lookup};
use crate::gateway::Gateway;
use crate::pki::PeerIdentity;

/// A request message: the method it belongs to, and what the audit log
/// keeps of it.
pub(super) trait Audited {
    /// The full gRPC method name.
    const CALL: &'static str;
    /// Whether the call submits a change to a case (counted as a
    /// submission when it answers OK).
    const SUBMISSION: bool = false;
    /// Whether the call's first read confirms the registry its caller was
    /// checked against (`Gateway::confirm_caller`), which saves it a read:
    /// a submission's lookup, a status query's read of the case, a list's
    /// read of its page.
    const CONFIRMED_BY_ITS_READ: bool = Self::SUBMISSION;

    fn details(&self, _gateway: &Gateway) -> AuditDetails {
        AuditDetails::default()
    }
}

/// An answer that names the case it disclosed or changed.
pub(super) trait Disclosed {
    fn case_id(&self) -> Option<&str> {
        None
    }
}

/// Runs `handle` for an authenticated caller and records the call, however
/// it ends.
///
/// # Errors
/// The handler's status, `UNAUTHENTICATED`, or `UNAVAILABLE` when the
/// audit log cannot be written.
pub(super) async fn audited<T, R, F, Fut>(
    gateway: &Gateway,
    request: Request<T>,
    handle: F,
) -> Result<Response<R>, Status>
where
    T: Audited,
    R: Disclosed,
    F: FnOnce(AgencyRef, T) -> Fut,
    Fut: Future<Output = Result<R, Status>>,
{
    let peer = request.extensions().get::<PeerIdentity>().cloned();
    let message = request.into_inner();
    let mut details = message.details(gateway);
    let authenticated = if T::CONFIRMED_BY_ITS_READ {
        gateway.authenticate_held(peer.as_ref()).await
    } else {
        gateway.authenticate(peer.as_ref()).await
    };
    let handled = match authenticated {
        Ok(authenticated) => {
            let agency = authenticated.agency.clone();
            let caller = AuditCaller::Agency {
                id: agency.id.to_string(),
            };
            let left = Status::cancelled("the client left before the answer");
            let unfinished = gateway.audit_unless_finished(
                entry::<T>(gateway, caller.clone(), Err(&left), details.clone()),
                &authenticated,
            );
            let if_answered = entry::<T>(gateway, caller.clone(), Ok(()), details.clone());
            let (answer, written, confirmed) = gateway
                .recording(&authenticated, if_answered, handle(agency, message))
                .await;
            unfinished.finished();
            // Not confirmed (refused, or the registry could not be read):
            // it wrote nothing (a write confirms first), and its answer,
            // whatever it was, is not given.
            confirmed.map(|()| (caller, answer, written))
        }
        Err(error) => Err(error),
    };
    let (caller, answer, written) = handled.unwrap_or_else(|error| {
        let claimed = peer
            .as_ref()
            .and_then(|peer| peer.agency.as_ref().ok())
            .map(|agency| agency.id.to_string());
        (
            AuditCaller::Unauthenticated { claimed },
            Err(to_status(error)),
            false,
        )
    });
    if let Ok(response) = &answer
        && details.case_id.is_none()
    {
        details.case_id = response.case_id().map(AuditText::new);
    }
    let recorded = if written && answer.is_ok() {
        Ok(())
    } else {
        let outcome = answer.as_ref().map(|_| ());
        let record = entry::<T>(gateway, caller, outcome, details);
        gateway.audit(record).await.map_err(to_status)
    };
    let answered = recorded.as_ref().err().or(answer.as_ref().err());
    gateway.metrics().answered(
        T::CALL,
        T::SUBMISSION,
        code_name(answered.map_or(Code::Ok, Status::code)),
    );
    recorded?;
    answer.map(Response::new)
}

fn entry<T: Audited>(
    gateway: &Gateway,
    caller: AuditCaller,
    outcome: Result<(), &Status>,
    details: AuditDetails,
) -> AuditRecord {
    AuditRecord {
        at: gateway.now(),
        caller,
        call: T::CALL.to_owned(),
        outcome: code_name(outcome.map_or_else(Status::code, |()| Code::Ok)).to_owned(),
        reason: outcome.err().map(|status| AuditText::new(status.message())),
        details,
    }
}

/// The canonical upper-case name of a gRPC code.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn with_request_id(request_id: &str) -> AuditDetails {
    AuditDetails {
        request_id: Some(AuditText::new(request_id)),
        ..AuditDetails::default()
    }
}

impl Audited for pb::AnnounceReleaseRequest {
    const CALL: &'static str = "handover.v1.IntakeService/AnnounceRelease";
    const SUBMISSION: bool = true;
    fn details(&self, _gateway: &Gateway) -> AuditDetails {
        with_request_id(&self.request_id)
    }
}

impl Audited for pb::SubmitDischargeRequest {
    const CALL: &'static str = "handover.v1.IntakeService/SubmitDischarge";
    const SUBMISSION: bool = true;
    fn details(&self, _gateway: &Gateway) -> AuditDetails {
        with_request_id(&self.request_id)
    }
}

impl Audited for pb::SubscribeRequest {
    const CALL: &'static str = "handover.v1.InboxService/Subscribe";
    fn details(&self, _gateway: &Gateway) -> AuditDetails {
        AuditDetails {
            position: self.after_position,
            ..AuditDetails::default()
        }
    }
}

impl Audited for pb::AcknowledgeRequest {
    const CALL: &'static str = "handover.v1.InboxService/Acknowledge";
    fn details(&self, _gateway: &Gateway) -> AuditDetails {
        AuditDetails {
            position: Some(self.position),
            ..AuditDetails::default()
        }
    }
}

/// A case query keeps its purpose and how it named the case; by identity
/// number only the keyed person hash.
impl Audited for pb::GetCaseRequest {
    const CALL: &'static str = "handover.v1.CaseService/GetCase";
    const CONFIRMED_BY_ITS_READ: bool = true;
    fn details(&self, gateway: &Gateway) -> AuditDetails {
        let (case_id, lookup) = match &self.key {
            Some(Key::CaseId(id)) => (Some(AuditText::new(id)), Some(Lookup::CaseId)),
            Some(Key::IdNumber(number)) => (
                None,
                Some(Lookup::IdNumber {
                    person: gateway.audit_person(number),
                }),
            ),
            None => (None, None),
        };
        AuditDetails {
            case_id,
            lookup,
            purpose: (!self.purpose.trim().is_empty()).then(|| AuditText::new(&self.purpose)),
            ..AuditDetails::default()
        }
    }
}

impl Audited for pb::ListCasesRequest {
    const CALL: &'static str = "handover.v1.CaseService/ListCases";
    const CONFIRMED_BY_ITS_READ: bool = true;
}

impl Audited for pb::GetAuditHeadRequest {
    const CALL: &'static str = "handover.v1.AuditService/GetAuditHead";
}

macro_rules! audited_command {
    ($($request:ident => $method:literal),* $(,)?) => {$(
        impl Audited for pb::$request {
            const CALL: &'static str = concat!("handover.v1.SupervisionService/", $method);
            const SUBMISSION: bool = true;
            fn details(&self, _gateway: &Gateway) -> AuditDetails {
                let (request_id, case_id, _) = self.target();
                AuditDetails {
                    case_id: Some(AuditText::new(case_id)),
                    ..with_request_id(request_id)
                }
            }
        }
    )*};
}

audited_command!(
    ConfirmPickupRequest => "ConfirmPickup",
    ConfirmReportRequest => "ConfirmReport",
    RequestTransferRequest => "RequestTransfer",
    AcceptTransferRequest => "AcceptTransfer",
    RejectTransferRequest => "RejectTransfer",
    WithdrawTransferRequest => "WithdrawTransfer",
    ConfirmArrivalRequest => "ConfirmArrival",
    NotifyAbsenceRequest => "NotifyAbsence",
    ReportLostContactRequest => "ReportLostContact",
    RestoreContactRequest => "RestoreContact",
    SuspendCaseRequest => "SuspendCase",
    ResumeCaseRequest => "ResumeCase",
    CloseCaseRequest => "CloseCase",
    AssignCaseRequest => "AssignCase",
    WithdrawAnnouncementRequest => "WithdrawAnnouncement",
);

impl Disclosed for pb::Receipt {
    fn case_id(&self) -> Option<&str> {
        Some(self.case_id.as_str()).filter(|id| !id.is_empty())
    }
}

impl Disclosed for pb::AnnounceReleaseResponse {
    fn case_id(&self) -> Option<&str> {
        self.receipt.as_ref().and_then(Disclosed::case_id)
    }
}

impl Disclosed for pb::SubmitDischargeResponse {
    fn case_id(&self) -> Option<&str> {
        self.receipt.as_ref().and_then(Disclosed::case_id)
    }
}

impl Disclosed for pb::GetCaseResponse {
    fn case_id(&self) -> Option<&str> {
        self.case.as_ref().map(|case| case.case_id.as_str())
    }
}

impl Disclosed for pb::ListCasesResponse {}
impl Disclosed for pb::GetAuditHeadResponse {}
impl Disclosed for pb::AcknowledgeResponse {}
