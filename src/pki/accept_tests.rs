//! Real TLS handshakes against the accept loop on 127.0.0.1.

use std::collections::BTreeSet;
use std::pin::Pin;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_stream::StreamExt;

use super::*;
use crate::domain::agency::{AgencyId, AgencyKind};
use crate::domain::region::RegionCode;
use crate::pki::tls::crypto_provider;
use crate::pki::{AgencyCertOptions, CertificateAuthority, IssuedCertificate, Serial, ServerFiles};

const PATIENCE: Duration = Duration::from_secs(10);

type Connections = Pin<Box<dyn Stream<Item = io::Result<AuthenticatedStream>> + Send>>;

struct Gateway {
    ca: CertificateAuthority,
    files: ServerFiles,
    tls: ServerConfigHandle,
    addr: SocketAddr,
    connections: Connections,
    shutdown: CancellationToken,
}

impl Gateway {
    async fn start(handshake_timeout: Duration) -> Self {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        let files = ServerFiles::of(&ca, &server);
        let tls = ServerConfigHandle::load(&files).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let connections = incoming(listener, tls.clone(), handshake_timeout, shutdown.clone());
        Self {
            ca,
            files,
            tls,
            addr,
            connections: Box::pin(connections),
            shutdown,
        }
    }

    /// Puts in force a list that revokes `cert`; returns how many open
    /// connections that ended.
    fn revoke(&mut self, cert: &IssuedCertificate) -> usize {
        let serials: Vec<_> = Serial::of_pem(&cert.cert_pem)
            .unwrap()
            .into_iter()
            .map(|s| (s, OffsetDateTime::now_utc()))
            .collect();
        self.files.crl = self
            .ca
            .sign_crl(2, &serials, OffsetDateTime::now_utc())
            .unwrap();
        self.tls.reload(&self.files).unwrap()
    }

    async fn next_connection(&mut self) -> Option<AuthenticatedStream> {
        let next = tokio::time::timeout(PATIENCE, self.connections.next()).await;
        next.expect("the accept loop answers in time")
            .map(Result::unwrap)
    }

    /// Connects as the holder of `client` (or of no certificate) and
    /// returns the client side once the handshake completed on both ends.
    async fn connect(
        &self,
        client: Option<&IssuedCertificate>,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca.cert_pem().as_bytes()).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match client {
            Some(client) => {
                let chain = CertificateDer::pem_slice_iter(client.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        // With TLS 1.3 the server judges the client certificate after the
        // client is done: a round trip shows the verdict.
        tls.write_all(b"ping").await?;
        tls.flush().await?;
        Ok(tls)
    }
}

fn police() -> AgencyRef {
    AgencyRef::new(
        AgencyKind::Police,
        RegionCode::parse("140100").unwrap(),
        AgencyId::parse("taiyuan-police").unwrap(),
    )
    .unwrap()
}

/// Reads until the server closes the connection or fails it.
async fn refused(mut client: tokio_rustls::client::TlsStream<TcpStream>) -> bool {
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(PATIENCE, client.read(&mut buf)).await;
    matches!(read.expect("the server answers in time"), Ok(0) | Err(_))
}

#[tokio::test]
async fn a_client_of_the_gateway_ca_is_identified_as_its_agency() {
    let mut gateway = Gateway::start(PATIENCE).await;
    let cert = gateway
        .ca
        .issue_agency(&police(), "太原市公安局禁毒支队")
        .unwrap();
    let client = gateway.connect(Some(&cert)).await.unwrap();

    let mut stream = gateway.next_connection().await.unwrap();

    assert_eq!(stream.peer().agency, Ok(police()));
    assert_eq!(
        stream.peer().remote_addr,
        Some(client.get_ref().0.local_addr().unwrap())
    );
    assert_eq!(stream.connect_info(), *stream.peer());
    assert_eq!(
        stream.get_ref().get_ref().1.alpn_protocol(),
        Some(&b"h2"[..])
    );
    let mut ping = [0u8; 4];
    stream.read_exact(&mut ping).await.unwrap();
    assert_eq!(&ping, b"ping");
}

#[tokio::test]
async fn bad_client_certificates_fail_the_handshake_and_the_stream_goes_on() {
    let mut gateway = Gateway::start(PATIENCE).await;
    let other_ca = CertificateAuthority::generate("another CA").unwrap();
    let now = OffsetDateTime::now_utc();
    let expired = AgencyCertOptions {
        not_before: now - time::Duration::days(30),
        not_after: now - time::Duration::days(1),
        ..AgencyCertOptions::default()
    };
    let bad = [
        (
            "another CA",
            Some(other_ca.issue_agency(&police(), "Police").unwrap()),
        ),
        (
            "expired",
            Some(
                gateway
                    .ca
                    .issue_agency_with(&police(), "Police", &expired)
                    .unwrap(),
            ),
        ),
        (
            "server certificate",
            Some(gateway.ca.issue_server(&["localhost"]).unwrap()),
        ),
        ("no certificate", None),
    ];
    for (case, cert) in &bad {
        let refused = match gateway.connect(cert.as_ref()).await {
            Ok(client) => refused(client).await,
            Err(_) => true,
        };
        assert!(refused, "{case} accepted");
    }

    // None of them reached the server: the next connection is a good one.
    let good = gateway.ca.issue_agency(&police(), "Police").unwrap();
    let _client = gateway.connect(Some(&good)).await.unwrap();
    let stream = gateway.next_connection().await.unwrap();
    assert_eq!(stream.peer().agency, Ok(police()));
}

#[tokio::test]
async fn a_certificate_without_client_auth_connects_but_names_no_agency() {
    let mut gateway = Gateway::start(PATIENCE).await;
    let options = AgencyCertOptions {
        client_auth: false,
        ..AgencyCertOptions::default()
    };
    let cert = gateway
        .ca
        .issue_agency_with(&police(), "Police", &options)
        .unwrap();
    let _client = gateway.connect(Some(&cert)).await.unwrap();

    let stream = gateway.next_connection().await.unwrap();

    assert_eq!(stream.peer().agency, Err(IdentityError::NotForClientAuth));
}

#[tokio::test]
async fn a_revoked_certificate_fails_the_handshake_and_its_open_connection_ends() {
    let mut gateway = Gateway::start(PATIENCE).await;
    let revoked_cert = gateway.ca.issue_agency(&police(), "Police").unwrap();
    let kept_cert = gateway.ca.issue_agency(&police(), "Police").unwrap();
    let _revoked_client = gateway.connect(Some(&revoked_cert)).await.unwrap();
    let mut revoked_stream = gateway.next_connection().await.unwrap();
    let mut kept_client = gateway.connect(Some(&kept_cert)).await.unwrap();
    let mut kept_stream = gateway.next_connection().await.unwrap();
    let mut ping = [0u8; 4];
    revoked_stream.read_exact(&mut ping).await.unwrap();
    kept_stream.read_exact(&mut ping).await.unwrap();
    // A read waiting for data must wake up when the certificate is revoked.
    let waiting = tokio::spawn(async move {
        let mut buf = [0u8; 4];
        let read = revoked_stream.read(&mut buf).await;
        (read.map_err(|e| e.kind()), revoked_stream.is_revoked())
    });
    tokio::task::yield_now().await;

    assert_eq!(gateway.revoke(&revoked_cert), 1);

    let ended = tokio::time::timeout(PATIENCE, waiting).await;
    let (read, is_revoked) = ended.expect("the read ends in time").unwrap();
    assert_eq!(read, Err(io::ErrorKind::ConnectionAborted));
    assert!(is_revoked);
    let again = match gateway.connect(Some(&revoked_cert)).await {
        Ok(client) => refused(client).await,
        Err(_) => true,
    };
    assert!(again, "a new handshake with the revoked certificate fails");
    kept_client.write_all(b"pong").await.unwrap();
    kept_stream.read_exact(&mut ping).await.unwrap();
    assert_eq!(&ping, b"pong");
    kept_stream.write_all(b"ok").await.unwrap();
}

/// A certificate that a list another gateway put in force revokes, but
/// the list in force here lacks (one put in force with a new CA before
/// that gateway's list was known), is refused once the floor is held: its
/// open connection ends, and a new one is cut at once.
#[tokio::test]
async fn a_certificate_revoked_by_the_held_floor_is_refused_though_the_list_lacks_it() {
    let mut gateway = Gateway::start(PATIENCE).await;
    let cert = gateway.ca.issue_agency(&police(), "Police").unwrap();
    let _client = gateway.connect(Some(&cert)).await.unwrap();
    let open = gateway.next_connection().await.unwrap();
    assert!(!open.is_revoked());

    let issuer = gateway.tls.crl_in_force().issuer;
    let serials: BTreeSet<Serial> = Serial::of_pem(&cert.cert_pem)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        gateway.tls.hold_crl_floor("another CA", 2, serials.clone()),
        0
    );
    assert!(!open.is_revoked(), "another CA's floor is none");
    assert_eq!(gateway.tls.hold_crl_floor(&issuer, 2, serials), 1);
    assert!(open.is_revoked());
    let _again = gateway.connect(Some(&cert)).await;
    let next = gateway.next_connection().await.unwrap();
    assert!(next.is_revoked(), "a new connection is cut at once");
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let mut gateway = Gateway::start(Duration::from_millis(200)).await;
    let mut silent = TcpStream::connect(gateway.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut buf)).await;
    assert!(matches!(read.expect("closed in time"), Ok(0) | Err(_)));

    let cert = gateway.ca.issue_agency(&police(), "Police").unwrap();
    let _client = gateway.connect(Some(&cert)).await.unwrap();
    assert!(gateway.next_connection().await.is_some());
}

#[tokio::test]
async fn cancelling_the_shutdown_token_ends_the_stream() {
    let mut gateway = Gateway::start(PATIENCE).await;
    // A handshake in progress must not keep the stream open.
    let _silent = TcpStream::connect(gateway.addr).await.unwrap();

    gateway.shutdown.cancel();

    assert!(gateway.next_connection().await.is_none());
}

#[tokio::test]
async fn tonic_serves_the_stream_and_hands_every_request_the_identity() {
    use tonic::transport::{Channel, Server};
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let ca = CertificateAuthority::generate("test CA").unwrap();
    let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
    let config = ServerFiles::of(&ca, &server).server_config().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let connections = incoming(listener, config.into(), PATIENCE, shutdown.clone());
    let (seen, mut peers) = mpsc::unbounded_channel();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let health = tonic::service::interceptor::InterceptedService::new(
        health,
        move |request: tonic::Request<()>| match request.extensions().get::<PeerIdentity>() {
            Some(peer) => {
                let _ = seen.send(peer.clone());
                Ok(request)
            }
            None => Err(tonic::Status::unauthenticated("no identity")),
        },
    );
    let serving = tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming_shutdown(connections, shutdown.clone().cancelled_owned()),
    );

    let agency = ca.issue_agency(&police(), "Police").unwrap();
    let tls = crate::pki::client_tls(
        ca.cert_pem(),
        &agency.cert_pem,
        &agency.key_pem,
        "localhost",
    );
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .unwrap();

    assert_eq!(response.get_ref().status(), ServingStatus::Serving);
    assert_eq!(peers.recv().await.unwrap().agency, Ok(police()));
    shutdown.cancel();
    let stopped = tokio::time::timeout(PATIENCE, serving).await;
    stopped.expect("the server stops in time").unwrap().unwrap();
}
