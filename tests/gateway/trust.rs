use handover_gateway::api::pb;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::region::RegionCode;
use handover_gateway::pki::{CertificateAuthority, client_tls};
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig};

use crate::support::*;

fn request() -> pb::SubmitDischargeRequest {
    discharge(
        "r-1",
        "D-1",
        person(&id_number("19900307", 301), "140106", None),
    )
}

/// A refused client may fail at connect or on its first call (with TLS 1.3
/// the server checks the client certificate after the client's handshake).
async fn call_with(app: &App, tls: ClientTlsConfig) -> Result<(), String> {
    let channel = app.channel_with(tls).await.map_err(|e| e.to_string())?;
    IntakeServiceClient::new(channel)
        .submit_discharge(request())
        .await
        .map(|_| ())
        .map_err(|status| format!("{:?}", status.code()))
}

fn agency(kind: AgencyKind, region: &str, id: &str) -> AgencyRef {
    AgencyRef::new(
        kind,
        RegionCode::parse(region).unwrap(),
        AgencyId::parse(id).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let app = spawn_app().await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(app.read("ca.pem")))
        .domain_name("localhost");
    let refused = call_with(&app, tls).await.unwrap_err();
    assert!(
        !refused.contains("PermissionDenied") && !refused.contains("InvalidArgument"),
        "{refused}"
    );
    assert!(
        app.intake("taiyuan-detox")
            .await
            .submit_discharge(request())
            .await
            .is_ok(),
        "control: a good certificate works"
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let app = spawn_app().await;
    let other = CertificateAuthority::generate("impostor CA").unwrap();
    let issued = other
        .issue_agency(
            &agency(AgencyKind::DetoxCenter, "140100", "taiyuan-detox"),
            "impostor",
        )
        .unwrap();
    let tls = client_tls(
        &app.read("ca.pem"),
        &issued.cert_pem,
        &issued.key_pem,
        "localhost",
    );
    assert!(call_with(&app, tls).await.is_err());
}

#[tokio::test]
async fn an_unregistered_agency_is_unauthenticated() {
    let app = spawn_app().await;
    let issued = app
        .ca()
        .issue_agency(
            &agency(AgencyKind::DetoxCenter, "140100", "ghost-detox"),
            "not in the registry",
        )
        .unwrap();
    let tls = client_tls(
        &app.read("ca.pem"),
        &issued.cert_pem,
        &issued.key_pem,
        "localhost",
    );
    assert_eq!(call_with(&app, tls).await, Err("Unauthenticated".into()));
}

#[tokio::test]
async fn a_certificate_that_misstates_a_registered_agency_is_unauthenticated() {
    let app = spawn_app().await;
    // yingze-project is registered as a county project, not a detox center.
    let issued = app
        .ca()
        .issue_agency(
            &agency(AgencyKind::DetoxCenter, "140106", "yingze-project"),
            "forged role",
        )
        .unwrap();
    let tls = client_tls(
        &app.read("ca.pem"),
        &issued.cert_pem,
        &issued.key_pem,
        "localhost",
    );
    assert_eq!(call_with(&app, tls).await, Err("Unauthenticated".into()));
}

#[tokio::test]
async fn only_detox_centers_may_submit_releases() {
    let app = spawn_app().await;
    for agency in ["yingze-project", "yingze-police", "shanxi-office"] {
        let refused = app
            .intake(agency)
            .await
            .submit_discharge(request())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{agency}");
        let announce = pb::AnnounceReleaseRequest {
            request_id: "a".into(),
            decision_number: "D".into(),
            person: request().person,
            planned_release_date: "2026-12-30".into(),
            term_months: 12,
        };
        let refused = app
            .intake(agency)
            .await
            .announce_release(announce)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{agency}");
    }
}

#[tokio::test]
async fn health_and_reflection_answer_over_mutual_tls() {
    let app = spawn_app().await;
    let channel = app.channel("yingze-police").await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "handover.v1.IntakeService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}

#[tokio::test]
async fn reflection_lists_the_services_for_grpcurl() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.channel("yingze-police").await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    for service in [
        "grpc.health.v1.Health",
        "handover.v1.CaseService",
        "handover.v1.InboxService",
        "handover.v1.IntakeService",
    ] {
        assert!(
            names.iter().any(|n| n == service),
            "{service} missing from {names:?}"
        );
    }
}
