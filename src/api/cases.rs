//! `handover.v1.CaseService`: a case's status, for those entitled to it.

use tonic::{Request, Response, Status};

use super::pb::case_service_server::CaseService;
use super::pb::get_case_request::Key;
use super::pb::{GetCaseRequest, GetCaseResponse};
use super::{caller, convert, to_status};
use crate::domain::validation::Invalid;
use crate::gateway::{CaseQuery, Gateway, GatewayError};

pub struct CaseApi {
    gateway: Gateway,
}

impl CaseApi {
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn get_case(
        &self,
        request: Request<GetCaseRequest>,
    ) -> Result<Response<GetCaseResponse>, Status> {
        let caller = caller(&self.gateway, &request).await?;
        let request = request.into_inner();
        let query = match request.key {
            Some(Key::CaseId(id)) => CaseQuery::ById(id),
            Some(Key::IdNumber(number)) => CaseQuery::ByIdNumber(number),
            None => {
                let missing = Invalid::field("key", "give a case_id or an id_number");
                return Err(to_status(GatewayError::Invalid(missing)));
            }
        };
        let case = self
            .gateway
            .get_case(&caller, &query, &request.purpose)
            .await
            .map_err(to_status)?;
        let deadlines = self.gateway.deadlines(&case);
        Ok(Response::new(GetCaseResponse {
            case: Some(convert::case(&case, &deadlines)),
        }))
    }
}
