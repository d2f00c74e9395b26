//! `handover.v1.IntakeService`: detox centers announce and discharge.

use tonic::{Request, Response, Status};

use super::audit::audited;
use super::pb::intake_service_server::IntakeService;
use super::pb::{
    AnnounceReleaseRequest, AnnounceReleaseResponse, SubmitDischargeRequest,
    SubmitDischargeResponse,
};
use super::{signed_receipt, to_status};
use crate::gateway::Gateway;

pub struct IntakeApi {
    gateway: Gateway,
}

impl IntakeApi {
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn announce_release(
        &self,
        request: Request<AnnounceReleaseRequest>,
    ) -> Result<Response<AnnounceReleaseResponse>, Status> {
        audited(&self.gateway, request, |caller, request| async move {
            let request_id = request.request_id.clone();
            let submitted = self
                .gateway
                .announce_release(&caller, &request_id, &request.into())
                .await
                .map_err(to_status)?;
            Ok(AnnounceReleaseResponse {
                receipt: Some(signed_receipt(&submitted, self.gateway.receipt_signer())),
            })
        })
        .await
    }

    async fn submit_discharge(
        &self,
        request: Request<SubmitDischargeRequest>,
    ) -> Result<Response<SubmitDischargeResponse>, Status> {
        audited(&self.gateway, request, |caller, request| async move {
            let request_id = request.request_id.clone();
            let submitted = self
                .gateway
                .submit_discharge(&caller, &request_id, &request.into())
                .await
                .map_err(to_status)?;
            Ok(SubmitDischargeResponse {
                receipt: Some(signed_receipt(&submitted, self.gateway.receipt_signer())),
            })
        })
        .await
    }
}
