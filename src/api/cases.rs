//! `handover.v1.CaseService`: a case's status, for those entitled to it.

use tonic::{Request, Response, Status};

use super::audit::audited;
use super::events::case_state_from;
use super::pb::case_service_server::CaseService;
use super::pb::get_case_request::Key;
use super::pb::{GetCaseRequest, GetCaseResponse, ListCasesRequest, ListCasesResponse};
use super::{convert, to_status};
use crate::domain::validation::Invalid;
use crate::gateway::{CaseQuery, Gateway, GatewayError, ListQuery};

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
        audited(&self.gateway, request, |caller, request| async move {
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
            Ok(GetCaseResponse {
                case: Some(convert::case(&case, &deadlines, self.gateway.now())),
            })
        })
        .await
    }

    async fn list_cases(
        &self,
        request: Request<ListCasesRequest>,
    ) -> Result<Response<ListCasesResponse>, Status> {
        audited(&self.gateway, request, |caller, request| async move {
            let state = match request.state {
                0 => None,
                value => Some(case_state_from(value).ok_or_else(|| {
                    to_status(GatewayError::Invalid(Invalid::field(
                        "state",
                        "is not a known case state",
                    )))
                })?),
            };
            let query = ListQuery {
                state,
                overdue: request.overdue,
                unroutable: request.unroutable,
                open_elsewhere: request.open_elsewhere,
                incoming_transfers: request.incoming_transfers,
                county: request.county,
                page_size: request.page_size,
                page_token: request.page_token,
            };
            let (cases, next) = self
                .gateway
                .list_cases(&caller, &query)
                .await
                .map_err(to_status)?;
            let now = self.gateway.now();
            // Without their histories, as the contract says: a page of 500
            // mature cases with theirs could pass the message size limit,
            // and a history is read case by case, with GetCase.
            Ok(ListCasesResponse {
                cases: cases
                    .into_iter()
                    .map(|case| {
                        let version = case.version();
                        let case = case.into_summary();
                        convert::summary(&case, version, &self.gateway.deadlines(&case), now)
                    })
                    .collect(),
                next_page_token: next.unwrap_or_default(),
            })
        })
        .await
    }
}
