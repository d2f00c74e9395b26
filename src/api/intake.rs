//! `handover.v1.IntakeService`: detox centers announce and discharge.

use tonic::{Request, Response, Status};

use super::pb::intake_service_server::IntakeService;
use super::pb::{
    AnnounceReleaseRequest, AnnounceReleaseResponse, SubmitDischargeRequest,
    SubmitDischargeResponse,
};
use super::{caller, convert, to_status};
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
        let caller = caller(&self.gateway, &request).await?;
        let request = request.into_inner();
        let request_id = request.request_id.clone();
        let submitted = self
            .gateway
            .announce_release(&caller, &request_id, &request.into())
            .await
            .map_err(to_status)?;
        Ok(Response::new(AnnounceReleaseResponse {
            receipt: Some(convert::receipt(&submitted)),
        }))
    }

    async fn submit_discharge(
        &self,
        request: Request<SubmitDischargeRequest>,
    ) -> Result<Response<SubmitDischargeResponse>, Status> {
        let caller = caller(&self.gateway, &request).await?;
        let request = request.into_inner();
        let request_id = request.request_id.clone();
        let submitted = self
            .gateway
            .submit_discharge(&caller, &request_id, &request.into())
            .await
            .map_err(to_status)?;
        Ok(Response::new(SubmitDischargeResponse {
            receipt: Some(convert::receipt(&submitted)),
        }))
    }
}
