//! Certificates taken back while the gateway runs, and certificates it
//! never lets in.

use std::future::Future;
use std::time::Duration;

use handover_gateway::api::pb::inbox_service_client::InboxServiceClient;
use handover_gateway::api::pb::intake_service_client::IntakeServiceClient;
use handover_gateway::domain::agency::{Agency, AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::clock::Clock;
use handover_gateway::domain::intake::DecisionNumber;
use handover_gateway::domain::region::RegionCode;
use handover_gateway::pki::{AgencyCertOptions, IssuedCertificate, Serial, client_tls, revoke};
use handover_gateway::storage::{CaseKey, Lookup};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::support::*;

mod certs;

const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `check` until it holds; fails after [`PATIENCE`].
pub(super) async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The certificate and key files of an example agency.
pub(super) fn files_of(app: &App, agency: &str) -> IssuedCertificate {
    IssuedCertificate {
        cert_pem: app.read(&format!("{agency}.pem")),
        key_pem: app.read(&format!("{agency}-key.pem")),
    }
}

pub(super) async fn handshake_passes(app: &App, cert: &IssuedCertificate) -> bool {
    app.handshake_passes(&cert.cert_pem, &cert.key_pem).await
}

/// Submits a discharge with `cert`: the code it is refused with, if any.
async fn submit_with(app: &App, cert: &IssuedCertificate) -> Result<(), String> {
    let person = person(&id_number("19900307", 301), "140106", None);
    submit_request_with(app, cert, discharge("r-1", "D-1", person)).await
}

/// Submits `request` with `cert`: the code it is refused with, if any.
async fn submit_request_with(
    app: &App,
    cert: &IssuedCertificate,
    request: handover_gateway::api::pb::SubmitDischargeRequest,
) -> Result<(), String> {
    let tls = client_tls(
        &app.read("ca.pem"),
        &cert.cert_pem,
        &cert.key_pem,
        "localhost",
    );
    let channel = app.channel_with(tls).await.map_err(|e| e.to_string())?;
    IntakeServiceClient::new(channel)
        .submit_discharge(request)
        .await
        .map(|_| ())
        .map_err(|status| format!("{:?}", status.code()))
}

/// The example detox center's files, after one submission of its (so that
/// the gateway holds the registry) and then disabled past the gateway.
async fn held_then_disabled(app: &App) -> IssuedCertificate {
    let detox_files = files_of(app, "taiyuan-detox");
    assert_eq!(submit_with(app, &detox_files).await, Ok(()), "control");
    disable(app, "taiyuan-detox").await;
    detox_files
}

fn detox() -> AgencyRef {
    AgencyRef::new(
        AgencyKind::DetoxCenter,
        RegionCode::parse("140100").unwrap(),
        AgencyId::parse("taiyuan-detox").unwrap(),
    )
    .unwrap()
}

fn detox_with(app: &App, options: &AgencyCertOptions) -> IssuedCertificate {
    app.ca()
        .issue_agency_with(&detox(), "太原市强制隔离戒毒所", options)
        .unwrap()
}

/// Reads the stream until it ends or fails; true if it did within time.
async fn ends(stream: &mut tonic::Streaming<handover_gateway::api::pb::SubscribeResponse>) -> bool {
    let drained = async { while let Ok(Some(_)) = stream.message().await {} };
    tokio::time::timeout(PATIENCE, drained).await.is_ok()
}

#[tokio::test]
async fn a_revoked_agency_is_shut_out_and_its_open_stream_ends_while_others_go_on() {
    let app = spawn_app().await;
    let mut revoked_inbox = app.inbox("yingze-project").await;
    let mut revoked_stream = subscribe(&mut revoked_inbox, None).await;
    let mut other_inbox = app.inbox("xiaodian-project").await;
    let mut other_stream = subscribe(&mut other_inbox, None).await;
    assert!(revoked_stream.message().await.unwrap().is_some());
    assert!(other_stream.message().await.unwrap().is_some());
    let revoked_cert = files_of(&app, "yingze-project");

    let serials = Serial::of_pem(&revoked_cert.cert_pem).unwrap();
    let dir = certs_dir(app.dir.path());
    revoke(&app.ca(), &dir, &serials, OffsetDateTime::now_utc()).unwrap();

    eventually(
        "a new handshake with the revoked certificate fails",
        || async { !handshake_passes(&app, &revoked_cert).await },
    )
    .await;
    assert!(ends(&mut revoked_stream).await, "the open stream ends");
    for _ in 0..2 {
        let heartbeat = tokio::time::timeout(PATIENCE, other_stream.message()).await;
        let item = heartbeat.expect("the other stream goes on").unwrap();
        assert!(item.is_some(), "the other stream goes on");
    }
    assert!(handshake_passes(&app, &files_of(&app, "xiaodian-project")).await);
    assert_eq!(
        submit_with(&app, &files_of(&app, "taiyuan-detox")).await,
        Ok(())
    );
}

#[tokio::test]
async fn a_broken_server_certificate_is_not_loaded_and_the_old_one_keeps_serving() {
    let app = spawn_app().await;
    let police = files_of(&app, "yingze-police");
    let dir = certs_dir(app.dir.path());
    let server_pem = app.read("server.pem");
    let (applied, refused) = app.tls.reloads();

    std::fs::write(dir.join("server.pem"), "garbage").unwrap();

    eventually("the broken file is read and refused", || async {
        app.tls.reloads().1 > refused
    })
    .await;
    assert_eq!(app.tls.reloads().0, applied, "nothing was put in force");
    assert!(
        handshake_passes(&app, &police).await,
        "the old configuration serves"
    );

    // Mended files are picked up again, here with a revocation.
    std::fs::write(dir.join("server.pem"), server_pem).unwrap();
    let serials = Serial::of_pem(&police.cert_pem).unwrap();
    revoke(&app.ca(), &dir, &serials, OffsetDateTime::now_utc()).unwrap();
    eventually("the mended files are in force", || async {
        !handshake_passes(&app, &police).await
    })
    .await;
    assert!(handshake_passes(&app, &files_of(&app, "taiyuan-police")).await);
}

#[tokio::test]
async fn an_expired_certificate_fails_the_handshake() {
    let app = spawn_app().await;
    let now = OffsetDateTime::now_utc();
    let expired = detox_with(
        &app,
        &AgencyCertOptions {
            not_before: now - time::Duration::days(30),
            not_after: now - time::Duration::days(1),
            ..AgencyCertOptions::default()
        },
    );
    assert!(!handshake_passes(&app, &expired).await);
    assert!(submit_with(&app, &expired).await.is_err());
    let current = detox_with(&app, &AgencyCertOptions::default());
    assert_eq!(submit_with(&app, &current).await, Ok(()), "control");
}

/// A connection outlives the handshake that checked its certificate: once
/// the certificate expires, its open stream ends and its next call is
/// refused, both `UNAUTHENTICATED`, though the connection stays up.
#[tokio::test]
async fn a_certificate_that_expires_on_an_open_connection_is_refused_from_then_on() {
    let app = spawn_app().await;
    let now = OffsetDateTime::now_utc().max(app.clock.now());
    let not_after = (now + time::Duration::days(1))
        .replace_nanosecond(0)
        .unwrap();
    let cert = detox_with(
        &app,
        &AgencyCertOptions {
            not_before: now - time::Duration::days(1),
            not_after,
            ..AgencyCertOptions::default()
        },
    );
    let tls = client_tls(
        &app.read("ca.pem"),
        &cert.cert_pem,
        &cert.key_pem,
        "localhost",
    );
    let channel = app.channel_with(tls).await.unwrap();
    let mut intake = IntakeServiceClient::new(channel.clone());
    let mut inbox = InboxServiceClient::new(channel);
    let mut stream = subscribe(&mut inbox, None).await;
    let person = person(&id_number("19900307", 302), "140106", None);
    intake
        .submit_discharge(discharge("r-1", "D-1", person.clone()))
        .await
        .expect("valid until then");

    app.clock.set(not_after);
    let deadline = Instant::now() + PATIENCE;
    let ended = loop {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => panic!("the stream ended without a status"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("the stream goes on past the certificate's end"),
        }
    };
    assert_eq!(ended.code(), tonic::Code::Unauthenticated, "{ended:?}");
    assert!(ended.message().contains("expired"), "{ended:?}");
    let refused = intake
        .submit_discharge(discharge("r-2", "D-2", person))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("expired"), "{refused:?}");
}

#[tokio::test]
async fn a_certificate_without_client_auth_is_unauthenticated() {
    let app = spawn_app().await;
    let options = AgencyCertOptions {
        client_auth: false,
        ..AgencyCertOptions::default()
    };
    let cert = detox_with(&app, &options);
    assert_eq!(
        submit_with(&app, &cert).await,
        Err("Unauthenticated".into())
    );
}

#[tokio::test]
async fn a_certificate_with_two_agency_uris_is_unauthenticated() {
    let app = spawn_app().await;
    let options = AgencyCertOptions {
        extra_uris: vec!["spiffe://handover-gateway/agency/police/140106/yingze-police".into()],
        ..AgencyCertOptions::default()
    };
    let cert = detox_with(&app, &options);
    assert_eq!(
        submit_with(&app, &cert).await,
        Err("Unauthenticated".into())
    );
}

#[tokio::test]
async fn a_disabled_agency_is_unauthenticated() {
    let app = spawn_app().await;
    let detox_files = held_then_disabled(&app).await;

    assert_eq!(
        submit_with(&app, &detox_files).await,
        Err("Unauthenticated".into())
    );
}

/// A submission checks its caller against the registry held in memory and
/// confirms it before it writes: a caller disabled since (by another
/// replica, or an operator) is refused, nothing of its submission is
/// written, and it is recorded as unauthenticated.
#[tokio::test]
async fn a_caller_disabled_since_the_registry_was_held_writes_nothing() {
    let app = spawn_app().await;
    let detox_files = held_then_disabled(&app).await;

    let person = person(&id_number("19900307", 302), "140106", None);
    let refused = submit_request_with(&app, &detox_files, discharge("r-2", "D-2", person)).await;
    assert_eq!(refused, Err("Unauthenticated".into()));

    let storage = app.gateway.storage();
    let decision = CaseKey::Decision(DecisionNumber::parse("D-2").unwrap(), [0; 32]);
    let found = storage
        .answer_or_case(&detox().id, "r-2", &decision)
        .await
        .unwrap()
        .found;
    assert!(matches!(found, Lookup::Unanswered(None, _)), "{found:?}");
    assert_last_call_unauthenticated(&app, "taiyuan-detox").await;
}

/// A submission refused before its first read (here, invalid) still
/// confirms its caller before it answers: a disabled agency learns only
/// that it is not let in.
#[tokio::test]
async fn a_disabled_caller_is_told_so_before_what_was_wrong_with_its_submission() {
    let app = spawn_app().await;
    let detox_files = held_then_disabled(&app).await;

    let invalid = discharge("r-2", "D-2", person("not a number", "140106", None));
    let refused = submit_request_with(&app, &detox_files, invalid).await;
    assert_eq!(refused, Err("Unauthenticated".into()));
}

/// When the registry changed since it was held, a caller it still admits
/// goes on, and its submission is planned with the registry as it now
/// stands: a county project registered since receives the discharge.
#[tokio::test]
async fn a_submission_plans_with_the_registry_as_changed_since_it_was_held() {
    let app = spawn_app().await;
    let unrouted = submit_as_detox(
        &app,
        discharge(
            "r-1",
            "D-1",
            person(&id_number("19900307", 303), "140107", None),
        ),
    )
    .await;
    assert!(
        unrouted.unroutable,
        "no project in 140107 yet: {unrouted:?}"
    );

    let project = AgencyRef::new(
        AgencyKind::CountyProject,
        RegionCode::parse("140107").unwrap(),
        AgencyId::parse("xinghualing-project").unwrap(),
    )
    .unwrap();
    app.gateway
        .storage()
        .register_agency(&Agency {
            agency: project,
            name: "杏花岭区社区康复办公室".into(),
            enabled: true,
        })
        .await
        .unwrap();

    let routed = submit_as_detox(
        &app,
        discharge(
            "r-2",
            "D-2",
            person(&id_number("19900307", 304), "140107", None),
        ),
    )
    .await;
    assert!(!routed.unroutable, "{routed:?}");
    assert_eq!(routed.responsible_project_id, "xinghualing-project");
}
