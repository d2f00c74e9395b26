//! `handover.v1.SupervisionService`: county projects' commands on a case,
//! an oversight office's assignment of an unroutable one, and a detox
//! center's withdrawal of an announcement.
//! Every call is the same shape (request id, case id, expected version and
//! the command's fields), so each handler only says which command it is.

use tonic::{Request, Response, Status};

use super::audit::{Audited, audited};
use super::events::closure_reason_name;
use super::pb;
use super::pb::supervision_service_server::SupervisionService;
use super::{signed_receipt, to_status};
use crate::domain::lifecycle::CommandDraft;
use crate::gateway::Gateway;

pub struct SupervisionApi {
    gateway: Gateway,
}

impl SupervisionApi {
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }

    async fn run<T: CommandRequest + Audited>(
        &self,
        request: Request<T>,
    ) -> Result<pb::Receipt, Status> {
        audited(&self.gateway, request, |caller, request| async move {
            let (request_id, case_id, expected_version) = request.target();
            let submitted = self
                .gateway
                .command(
                    &caller,
                    request_id,
                    case_id,
                    expected_version,
                    &request.draft(),
                )
                .await
                .map_err(to_status)?;
            Ok(signed_receipt(&submitted, self.gateway.receipt_signer()))
        })
        .await
        .map(Response::into_inner)
    }
}

/// What every command request carries, and the command it asks for.
/// Public (hidden) for the fuzz targets, which convert decoded requests.
pub trait CommandRequest {
    fn target(&self) -> (&str, &str, Option<u32>);
    fn draft(&self) -> CommandDraft;
}

macro_rules! command_request {
    ($request:ty, |$r:ident| $draft:expr) => {
        impl CommandRequest for $request {
            fn target(&self) -> (&str, &str, Option<u32>) {
                (&self.request_id, &self.case_id, self.expected_version)
            }
            fn draft(&self) -> CommandDraft {
                let $r = self;
                $draft
            }
        }
    };
}

command_request!(pb::ConfirmPickupRequest, |_r| CommandDraft::ConfirmPickup);
command_request!(pb::ConfirmReportRequest, |_r| CommandDraft::ConfirmReport);
command_request!(pb::RequestTransferRequest, |r| {
    CommandDraft::RequestTransfer {
        to_region: r.to_region.clone(),
        reason: r.reason.clone(),
    }
});
command_request!(pb::AcceptTransferRequest, |_r| CommandDraft::AcceptTransfer);
command_request!(pb::RejectTransferRequest, |r| {
    CommandDraft::RejectTransfer {
        reason: r.reason.clone(),
    }
});
command_request!(pb::WithdrawTransferRequest, |r| {
    CommandDraft::WithdrawTransfer {
        reason: r.reason.clone(),
    }
});
command_request!(pb::ConfirmArrivalRequest, |_r| CommandDraft::ConfirmArrival);
command_request!(pb::NotifyAbsenceRequest, |r| {
    CommandDraft::NotifyAbsence {
        host_region: r.host_region.clone(),
        from: r.from.clone(),
        until: r.until.clone(),
        reason: r.reason.clone(),
    }
});
command_request!(pb::ReportLostContactRequest, |r| {
    CommandDraft::ReportLostContact {
        note: r.note.clone(),
    }
});
command_request!(pb::RestoreContactRequest, |r| {
    CommandDraft::RestoreContact {
        note: r.note.clone(),
    }
});
command_request!(pb::SuspendCaseRequest, |r| CommandDraft::Suspend {
    reason: r.reason.clone(),
});
command_request!(pb::ResumeCaseRequest, |_r| CommandDraft::Resume);
command_request!(pb::CloseCaseRequest, |r| CommandDraft::Close {
    reason: closure_reason_name(r.reason),
    note: r.note.clone(),
});
command_request!(pb::AssignCaseRequest, |r| CommandDraft::Assign {
    to_region: r.to_region.clone(),
    reason: r.reason.clone(),
});
command_request!(pb::WithdrawAnnouncementRequest, |r| {
    CommandDraft::WithdrawAnnouncement {
        reason: r.reason.clone(),
    }
});

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl SupervisionService for SupervisionApi {
    async fn confirm_pickup(
        &self,
        request: Request<pb::ConfirmPickupRequest>,
    ) -> Answer<pb::ConfirmPickupResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::ConfirmPickupResponse { receipt }))
    }

    async fn confirm_report(
        &self,
        request: Request<pb::ConfirmReportRequest>,
    ) -> Answer<pb::ConfirmReportResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::ConfirmReportResponse { receipt }))
    }

    async fn request_transfer(
        &self,
        request: Request<pb::RequestTransferRequest>,
    ) -> Answer<pb::RequestTransferResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::RequestTransferResponse { receipt }))
    }

    async fn accept_transfer(
        &self,
        request: Request<pb::AcceptTransferRequest>,
    ) -> Answer<pb::AcceptTransferResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::AcceptTransferResponse { receipt }))
    }

    async fn reject_transfer(
        &self,
        request: Request<pb::RejectTransferRequest>,
    ) -> Answer<pb::RejectTransferResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::RejectTransferResponse { receipt }))
    }

    async fn withdraw_transfer(
        &self,
        request: Request<pb::WithdrawTransferRequest>,
    ) -> Answer<pb::WithdrawTransferResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::WithdrawTransferResponse { receipt }))
    }

    async fn confirm_arrival(
        &self,
        request: Request<pb::ConfirmArrivalRequest>,
    ) -> Answer<pb::ConfirmArrivalResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::ConfirmArrivalResponse { receipt }))
    }

    async fn notify_absence(
        &self,
        request: Request<pb::NotifyAbsenceRequest>,
    ) -> Answer<pb::NotifyAbsenceResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::NotifyAbsenceResponse { receipt }))
    }

    async fn report_lost_contact(
        &self,
        request: Request<pb::ReportLostContactRequest>,
    ) -> Answer<pb::ReportLostContactResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::ReportLostContactResponse { receipt }))
    }

    async fn restore_contact(
        &self,
        request: Request<pb::RestoreContactRequest>,
    ) -> Answer<pb::RestoreContactResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::RestoreContactResponse { receipt }))
    }

    async fn suspend_case(
        &self,
        request: Request<pb::SuspendCaseRequest>,
    ) -> Answer<pb::SuspendCaseResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::SuspendCaseResponse { receipt }))
    }

    async fn resume_case(
        &self,
        request: Request<pb::ResumeCaseRequest>,
    ) -> Answer<pb::ResumeCaseResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::ResumeCaseResponse { receipt }))
    }

    async fn close_case(
        &self,
        request: Request<pb::CloseCaseRequest>,
    ) -> Answer<pb::CloseCaseResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::CloseCaseResponse { receipt }))
    }

    async fn assign_case(
        &self,
        request: Request<pb::AssignCaseRequest>,
    ) -> Answer<pb::AssignCaseResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::AssignCaseResponse { receipt }))
    }

    async fn withdraw_announcement(
        &self,
        request: Request<pb::WithdrawAnnouncementRequest>,
    ) -> Answer<pb::WithdrawAnnouncementResponse> {
        let receipt = Some(self.run(request).await?);
        Ok(Response::new(pb::WithdrawAnnouncementResponse { receipt }))
    }
}

#[cfg(test)]
mod proptests;
