//! The ceiling: a bare tonic server over the gateway's own mutual TLS (the
//! same certificates, the same rustls configuration and accept loop) that
//! implements the gateway's intake, inbox and case services with no
//! storage, no audit log and no signing. Its answers are built from the
//! request, about the size of the gateway's, so every scenario runs on it
//! unchanged and each gateway figure can be read as a ratio to it.
//!
//! Inboxes: every agency's inbox holds `backlog` canned messages and none
//! is ever acknowledged; a discharge is pushed live to the open streams of
//! the county project of the person's household county.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::api::pb;
use crate::api::pb::case_service_server::{CaseService, CaseServiceServer};
use crate::api::pb::inbox_service_server::{InboxService, InboxServiceServer};
use crate::api::pb::intake_service_server::{IntakeService, IntakeServiceServer};
use crate::api::timestamp;
use crate::domain::agency::AgencyKind;
use crate::pki::{PeerIdentity, ServerConfigHandle, ServerFiles, incoming};
use crate::server::shutdown_signal;

/// Messages in flight to one subscriber, as in the gateway.
const STREAM_BUFFER: usize = 32;

type Subscriber = mpsc::Sender<Result<pb::SubscribeResponse, Status>>;

#[derive(Clone)]
struct Echo {
    backlog: u64,
    /// Open streams of county projects, by county.
    live: Arc<Mutex<HashMap<String, Vec<Subscriber>>>>,
    position: Arc<AtomicU64>,
}

/// Serves the echo on 127.0.0.1 with the TLS files in `certs` until SIGINT
/// or SIGTERM; prints the bound address first, as `serve` does.
///
/// # Errors
/// When the TLS files cannot be loaded or the port cannot be bound.
pub async fn serve(certs: &Path, backlog: u64) -> anyhow::Result<()> {
    let tls = ServerConfigHandle::load(&ServerFiles::load(certs)?)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("echo listening on {}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let connections = incoming(listener, tls, Duration::from_secs(10), shutdown.clone());
    let echo = Echo {
        backlog,
        live: Arc::default(),
        position: Arc::new(AtomicU64::new(backlog)),
    };
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopping.cancel();
    });
    // The gateway's transport settings, so only the work behind differs.
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_connection_age(Duration::from_secs(3600))
        .add_service(IntakeServiceServer::new(echo.clone()))
        .add_service(InboxServiceServer::new(echo.clone()))
        .add_service(CaseServiceServer::new(echo))
        .serve_with_incoming_shutdown(connections, shutdown.cancelled_owned())
        .await?;
    Ok(())
}

fn now() -> prost_types::Timestamp {
    timestamp(time::OffsetDateTime::now_utc())
}

/// A case as the gateway would show it right after the discharge.
fn case(person: pb::Person, decision_number: String) -> pb::Case {
    let county = person.household_region.clone();
    pb::Case {
        case_id: uuid::Uuid::now_v7().to_string(),
        decision_number,
        detox_center_id: format!("detox-{}00", county.get(..4).unwrap_or_default()),
        state: pb::CaseState::AwaitingPickup.into(),
        responsible_project_id: format!("project-{county}"),
        executing_region: county,
        person: Some(person),
        term_months: 36,
        released_at: Some(now()),
        late_notice: true,
        deadlines: vec![pb::Deadline {
            kind: pb::DeadlineKind::Pickup.into(),
            due_at: Some(now()),
            escalated: false,
        }],
        version: 1,
        ..pb::Case::default()
    }
}

fn message(position: u64, case: pb::Case) -> pb::SubscribeResponse {
    let event = pb::CaseEvent {
        sequence: 1,
        at: Some(now()),
        agency_id: case.detox_center_id.clone(),
        detail: Some(pb::case_event::Detail::Discharged(pb::Discharged {
            released_at: case.released_at,
            executing_region: case.executing_region.clone(),
            project_id: case.responsible_project_id.clone(),
            late_notice: true,
            earlier_open_cases: Vec::new(),
        })),
    };
    pb::SubscribeResponse {
        event: Some(pb::subscribe_response::Event::Message(pb::InboxMessage {
            position,
            created_at: Some(now()),
            role: pb::RecipientRole::ResponsibleProject.into(),
            event: Some(event),
            case: Some(case),
            withheld: String::new(),
            unreadable: String::new(),
        })),
    }
}

fn canned_person() -> pb::Person {
    pb::Person {
        id_number: "140106199003071230".into(),
        name: "王五".into(),
        household_region: "140106".into(),
        ..pb::Person::default()
    }
}

#[tonic::async_trait]
impl IntakeService for Echo {
    async fn announce_release(
        &self,
        _request: Request<pb::AnnounceReleaseRequest>,
    ) -> Result<Response<pb::AnnounceReleaseResponse>, Status> {
        Err(Status::unimplemented("the echo takes discharges only"))
    }

    async fn submit_discharge(
        &self,
        request: Request<pb::SubmitDischargeRequest>,
    ) -> Result<Response<pb::SubmitDischargeResponse>, Status> {
        let request = request.into_inner();
        let person = request.person.unwrap_or_default();
        let case = case(person, request.decision_number);
        let position = self.position.fetch_add(1, Ordering::Relaxed) + 1;
        let delivery = |agency: String, role: pb::RecipientRole| pb::Delivery {
            agency_id: agency,
            role: role.into(),
            position,
        };
        let county = &case.executing_region;
        let content = pb::ReceiptContent {
            request_id: request.request_id.clone(),
            agency_id: case.detox_center_id.clone(),
            content_digest: vec![0; 32],
            case_id: case.case_id.clone(),
            state: case.state,
            version: 1,
            executing_region: county.clone(),
            responsible_project_id: case.responsible_project_id.clone(),
            unroutable: false,
            late_notice: true,
            deliveries: vec![
                delivery(
                    case.responsible_project_id.clone(),
                    pb::RecipientRole::ResponsibleProject,
                ),
                delivery(
                    format!("police-{county}"),
                    pb::RecipientRole::ExecutingPolice,
                ),
                delivery(
                    format!("office-{}00", &county[..4.min(county.len())]),
                    pb::RecipientRole::Oversight,
                ),
            ],
            accepted_at: Some(now()),
        };
        let receipt = pb::Receipt {
            request_id: content.request_id.clone(),
            case_id: content.case_id.clone(),
            state: content.state,
            executing_region: content.executing_region.clone(),
            responsible_project_id: content.responsible_project_id.clone(),
            unroutable: false,
            late_notice: true,
            deliveries: content.deliveries.clone(),
            accepted_at: content.accepted_at,
            version: 1,
            signed_content: prost::Message::encode_to_vec(&content),
            signature: vec![0; 64],
            signing_key_id: "0000000000000000".into(),
        };
        self.push(message(position, case));
        Ok(Response::new(pb::SubmitDischargeResponse {
            receipt: Some(receipt),
        }))
    }
}

impl Echo {
    /// Hands the message to the open streams of its county's project.
    fn push(&self, message: pb::SubscribeResponse) {
        let Some(pb::subscribe_response::Event::Message(inner)) = &message.event else {
            return;
        };
        let county = inner
            .case
            .as_ref()
            .map(|c| c.executing_region.clone())
            .unwrap_or_default();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(streams) = live.get_mut(&county) {
            streams.retain(|stream| stream.try_send(Ok(message.clone())).is_ok());
        }
    }
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl InboxService for Echo {
    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<SubscribeStream>, Status> {
        let agency = request
            .extensions()
            .get::<PeerIdentity>()
            .and_then(|peer| peer.agency.clone().ok())
            .ok_or_else(|| Status::unauthenticated("no agency certificate"))?;
        let after = request.into_inner().after_position.unwrap_or(0);
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let echo = self.clone();
        tokio::spawn(async move {
            let template = case(canned_person(), "canned".into());
            for position in after + 1..=echo.backlog {
                if sender
                    .send(Ok(message(position, template.clone())))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if agency.kind == AgencyKind::CountyProject {
                let mut live = echo.live.lock().unwrap_or_else(|e| e.into_inner());
                live.entry(agency.region.to_string())
                    .or_default()
                    .push(sender);
            } else {
                // Nothing live reaches other agencies: hold the stream open
                // until the client leaves.
                sender.closed().await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn acknowledge(
        &self,
        _request: Request<pb::AcknowledgeRequest>,
    ) -> Result<Response<pb::AcknowledgeResponse>, Status> {
        Ok(Response::new(pb::AcknowledgeResponse {
            acknowledged_position: 0,
            head_position: self.backlog,
        }))
    }
}

#[tonic::async_trait]
impl CaseService for Echo {
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let mut person = canned_person();
        if let Some(pb::get_case_request::Key::IdNumber(number)) = request.into_inner().key {
            person.household_region = number.get(..6).unwrap_or_default().to_owned();
            person.id_number = number;
        }
        let mut case = case(person, "canned".into());
        case.history.push(pb::CaseEvent {
            sequence: 1,
            at: Some(now()),
            agency_id: case.detox_center_id.clone(),
            detail: None,
        });
        Ok(Response::new(pb::GetCaseResponse { case: Some(case) }))
    }

    async fn list_cases(
        &self,
        _request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        Err(Status::unimplemented("the echo answers GetCase only"))
    }
}
