//! `handover.v1.InboxService`: the live, resumable inbox of every agency.

use std::pin::Pin;

use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::audit::{Disclosed, audited};
use super::pb::inbox_service_server::InboxService;
use super::pb::subscribe_response::Event;
use super::pb::{
    AcknowledgeRequest, AcknowledgeResponse, Heartbeat, SubscribeRequest, SubscribeResponse,
};
use super::{convert, pb, to_status};
use crate::gateway::{Gateway, InboxEvent};
use crate::pki::PeerIdentity;

pub struct InboxApi {
    gateway: Gateway,
}

impl InboxApi {
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send>>;

impl Disclosed for SubscribeStream {}

/// What an unreadable message says to its recipient; the detail (which
/// names the case's storage) goes to the operators' log only.
const UNREADABLE: &str = "the stored message does not open (damaged storage); \
    the gateway's operators have been alerted with its position";

#[tonic::async_trait]
impl InboxService for InboxApi {
    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<SubscribeStream>, Status> {
        let valid_until = request
            .extensions()
            .get::<PeerIdentity>()
            .and_then(|peer| peer.valid_until);
        // The audit entry records the opening of the stream, not each
        // message: what was delivered is in the inbox itself.
        audited(&self.gateway, request, |caller, request| async move {
            let events = self
                .gateway
                .subscribe(&caller, request.after_position, valid_until)
                .await
                .map_err(to_status)?;
            let gateway = self.gateway.clone();
            let stream = tokio_stream::StreamExt::map(ReceiverStream::new(events), move |event| {
                let event = match event.map_err(to_status)? {
                    InboxEvent::Message(message) => {
                        let deadlines = gateway.deadlines(&message.notice.case);
                        Event::Message(convert::inbox_message(&message, &deadlines))
                    }
                    InboxEvent::Withheld {
                        position,
                        created_at,
                        role,
                        reason,
                    } => Event::Message(pb::InboxMessage {
                        position,
                        created_at: Some(convert::timestamp(created_at)),
                        role: convert::recipient_role(role).into(),
                        withheld: reason,
                        ..Default::default()
                    }),
                    InboxEvent::Unreadable {
                        position,
                        created_at,
                        role,
                    } => Event::Message(pb::InboxMessage {
                        position,
                        created_at: Some(convert::timestamp(created_at)),
                        role: role.map_or(0, |role| convert::recipient_role(role).into()),
                        unreadable: UNREADABLE.to_owned(),
                        ..Default::default()
                    }),
                    InboxEvent::Heartbeat { at, state } => Event::Heartbeat(Heartbeat {
                        at: Some(convert::timestamp(at)),
                        head_position: state.head,
                        acknowledged_position: state.acknowledged,
                    }),
                };
                Ok(SubscribeResponse { event: Some(event) })
            });
            Ok(Box::pin(stream) as SubscribeStream)
        })
        .await
    }

    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<AcknowledgeResponse>, Status> {
        audited(&self.gateway, request, |caller, request| async move {
            let state = self
                .gateway
                .acknowledge(&caller, request.position)
                .await
                .map_err(to_status)?;
            Ok(AcknowledgeResponse {
                acknowledged_position: state.acknowledged,
                head_position: state.head,
            })
        })
        .await
    }
}
