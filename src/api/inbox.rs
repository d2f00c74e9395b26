//! `handover.v1.InboxService`: the live, resumable inbox of every agency.

use std::pin::Pin;

use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::pb::inbox_service_server::InboxService;
use super::pb::subscribe_response::Event;
use super::pb::{
    AcknowledgeRequest, AcknowledgeResponse, Heartbeat, SubscribeRequest, SubscribeResponse,
};
use super::{caller, convert, to_status};
use crate::gateway::{Gateway, InboxEvent};

pub struct InboxApi {
    gateway: Gateway,
}

impl InboxApi {
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl InboxService for InboxApi {
    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<SubscribeStream>, Status> {
        let caller = caller(&self.gateway, &request).await?;
        let after = request.into_inner().after_position;
        let events = self
            .gateway
            .subscribe(&caller, after)
            .await
            .map_err(to_status)?;
        let gateway = self.gateway.clone();
        let stream = tokio_stream::StreamExt::map(ReceiverStream::new(events), move |event| {
            let event = match event.map_err(to_status)? {
                InboxEvent::Message(message) => {
                    let deadlines = gateway.deadlines(&message.notice.case);
                    Event::Message(convert::inbox_message(&message, &deadlines, gateway.now()))
                }
                InboxEvent::Heartbeat { at, state } => Event::Heartbeat(Heartbeat {
                    at: Some(convert::timestamp(at)),
                    head_position: state.head,
                    acknowledged_position: state.acknowledged,
                }),
            };
            Ok(SubscribeResponse { event: Some(event) })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<AcknowledgeResponse>, Status> {
        let caller = caller(&self.gateway, &request).await?;
        let state = self
            .gateway
            .acknowledge(&caller, request.into_inner().position)
            .await
            .map_err(to_status)?;
        Ok(Response::new(AcknowledgeResponse {
            acknowledged_position: state.acknowledged,
            head_position: state.head,
        }))
    }
}
