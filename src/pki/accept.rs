//! The TLS accept loop: each handshake runs in its own task under a
//! timeout, and only completed handshakes reach the server, as
//! [`AuthenticatedStream`]s that carry the caller's [`PeerIdentity`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;

use super::connections::{LiveConnections, Registration};
use super::identity::{IdentityError, agency_from_certificate, valid_until};
use super::revocation::Serial;
use super::tls::ServerConfigHandle;
use crate::domain::agency::AgencyRef;

/// Handshakes in progress at most; connections beyond it are closed at once
/// so that a flood of idle sockets cannot pile up tasks.
const MAX_PENDING_HANDSHAKES: usize = 1024;
/// Completed connections waiting for the server to pick them up.
const QUEUE: usize = 64;
/// How long to wait after a failed `accept` (e.g. too many open files).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(500);

/// Why a TLS handshake did not complete, as operators count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeFailure {
    Timeout,
    /// The client's certificate is on the revocation list.
    Revoked,
    NoCertificate,
    /// Any other refused certificate: unknown issuer, expired, wrong use.
    CertificateRefused,
    /// Too many handshakes in progress; closed without trying.
    Overloaded,
    /// A protocol error, or the client hung up.
    Other,
}

impl HandshakeFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Revoked => "revoked",
            HandshakeFailure::NoCertificate => "no-certificate",
            HandshakeFailure::CertificateRefused => "certificate-refused",
            HandshakeFailure::Overloaded => "overloaded",
            HandshakeFailure::Other => "other",
        }
    }

    /// Reads the rustls error tokio-rustls wraps in the I/O error.
    pub fn of(error: &io::Error) -> Self {
        use rustls::{CertificateError, Error};
        match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Error>())
        {
            Some(Error::InvalidCertificate(CertificateError::Revoked)) => Self::Revoked,
            Some(Error::NoCertificatesPresented) => Self::NoCertificate,
            Some(Error::InvalidCertificate(_)) => Self::CertificateRefused,
            _ => Self::Other,
        }
    }
}

/// Told of every handshake that did not complete (the gateway counts them).
pub type HandshakeObserver = Arc<dyn Fn(HandshakeFailure) + Send + Sync>;

/// Who is at the other end of a connection, as tonic hands it to every
/// request: `request.extensions().get::<PeerIdentity>()`.
///
/// `agency` is an error when the certificate chains to the gateway CA but
/// names no valid agency; such a caller must be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    pub remote_addr: Option<SocketAddr>,
    pub agency: Result<AgencyRef, IdentityError>,
    /// When the client certificate expires: a connection made before may
    /// still be open after.
    pub valid_until: Option<time::OffsetDateTime>,
}

/// A server-side TLS connection whose handshake completed, with the
/// identity read from the client's end-entity certificate.
///
/// Once the certificate is revoked (see [`LiveConnections`]), reads and
/// writes fail with `ConnectionAborted`, which ends the HTTP/2 connection
/// and every call on it.
#[derive(Debug)]
pub struct AuthenticatedStream {
    inner: TlsStream<TcpStream>,
    peer: PeerIdentity,
    registration: Registration,
    // One waiter per direction: each remembers the waker of the last poll,
    // and reads and writes may be polled by different tasks.
    read_cut: Pin<Box<WaitForCancellationFutureOwned>>,
    write_cut: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl AuthenticatedStream {
    /// Wraps a completed handshake, reads the peer's identity and enters the
    /// connection into `connections` by its certificate's serial.
    pub fn new(inner: TlsStream<TcpStream>, connections: &LiveConnections) -> Self {
        let (tcp, session) = inner.get_ref();
        let end_entity = session.peer_certificates().and_then(|chain| chain.first());
        let agency = end_entity
            .ok_or(IdentityError::NoCertificate)
            .and_then(|cert| agency_from_certificate(cert.as_ref()));
        let serial = end_entity.and_then(|cert| Serial::of_certificate(cert.as_ref()).ok());
        let peer = PeerIdentity {
            remote_addr: tcp.peer_addr().ok(),
            agency,
            valid_until: end_entity.and_then(|cert| valid_until(cert.as_ref())),
        };
        let registration = connections.register(serial);
        let cut = || Box::pin(registration.token().clone().cancelled_owned());
        Self {
            read_cut: cut(),
            write_cut: cut(),
            inner,
            peer,
            registration,
        }
    }

    /// Whether the connection was ended because its certificate was revoked.
    pub fn is_revoked(&self) -> bool {
        self.registration.token().is_cancelled()
    }

    /// The identity of the client.
    pub fn peer(&self) -> &PeerIdentity {
        &self.peer
    }

    /// The TLS stream, e.g. to inspect the session.
    pub fn get_ref(&self) -> &TlsStream<TcpStream> {
        &self.inner
    }
}

impl Connected for AuthenticatedStream {
    type ConnectInfo = PeerIdentity;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer.clone()
    }
}

/// Polls a waiter so that its waker is registered; an error once it fired.
fn revoked(cut: &mut Pin<Box<WaitForCancellationFutureOwned>>, cx: &mut Context<'_>) -> bool {
    cut.as_mut().poll(cx).is_ready()
}

fn revoked_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the client certificate was revoked",
    )
}

impl AsyncRead for AuthenticatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if revoked(&mut self.read_cut, cx) {
            return Poll::Ready(Err(revoked_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AuthenticatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if revoked(&mut self.write_cut, cx) {
            return Poll::Ready(Err(revoked_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if revoked(&mut self.write_cut, cx) {
            return Poll::Ready(Err(revoked_error()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts TCP connections on `listener` and yields those whose TLS
/// handshake, under the configuration current when they arrived, completes
/// within `handshake_timeout`: the stream to hand to tonic's
/// `serve_with_incoming_shutdown`.
///
/// Each connection is entered into `config.connections()` by its
/// certificate's serial, so that a reload can end it once that certificate
/// is revoked.
///
/// Failed and timed-out handshakes are logged and dropped; they never end
/// the stream, nor do failed `accept` calls, which pause the loop briefly.
/// The stream ends once `shutdown` is cancelled (handshakes in progress are
/// abandoned) or when the receiving side is dropped. It never yields an
/// error; the item type is what tonic expects.
///
/// # Panics
/// If called outside a Tokio runtime: the loop runs in a spawned task.
pub fn incoming(
    listener: TcpListener,
    config: ServerConfigHandle,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<AuthenticatedStream, io::Error>> + Send + Unpin + 'static {
    incoming_observed(
        listener,
        config,
        handshake_timeout,
        shutdown,
        Arc::new(|_| {}),
    )
}

/// [`incoming`], telling `observer` of every handshake that fails.
///
/// # Panics
/// If called outside a Tokio runtime: the loop runs in a spawned task.
pub fn incoming_observed(
    listener: TcpListener,
    config: ServerConfigHandle,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
    observer: HandshakeObserver,
) -> impl Stream<Item = Result<AuthenticatedStream, io::Error>> + Send + Unpin + 'static {
    let (sender, receiver) = mpsc::channel(QUEUE);
    tokio::spawn(accept_loop(
        listener,
        config,
        handshake_timeout,
        shutdown,
        sender,
        observer,
    ));
    ReceiverStream::new(receiver)
}

type Sender = mpsc::Sender<Result<AuthenticatedStream, io::Error>>;

async fn accept_loop(
    listener: TcpListener,
    config: ServerConfigHandle,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
    sender: Sender,
    observer: HandshakeObserver,
) {
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            () = sender.closed() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(connection) => connection,
            Err(error) if is_per_connection(&error) => {
                tracing::debug!(%error, "connection lost before it was accepted");
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "accepting connections failed; pausing");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
            tracing::info!(%remote, "too many TLS handshakes in progress; connection closed");
            observer(HandshakeFailure::Overloaded);
            continue;
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%remote, %error, "cannot set TCP_NODELAY");
        }
        let acceptor = TlsAcceptor::from(config.current());
        let connections = config.connections().clone();
        let (shutdown, sender) = (shutdown.clone(), sender.clone());
        let observer = Arc::clone(&observer);
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = shutdown.cancelled() => {}
                failed = handshake(acceptor, tcp, remote, handshake_timeout, &connections, &sender) => {
                    if let Some(failure) = failed {
                        observer(failure);
                    }
                }
            }
        });
    }
    tracing::debug!("TLS accept loop stopped");
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
    timeout: Duration,
    connections: &LiveConnections,
    sender: &Sender,
) -> Option<HandshakeFailure> {
    let tls = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::info!(%remote, %error, "TLS handshake failed");
            return Some(HandshakeFailure::of(&error));
        }
        Err(_) => {
            tracing::info!(%remote, ?timeout, "TLS handshake timed out");
            return Some(HandshakeFailure::Timeout);
        }
    };
    let stream = AuthenticatedStream::new(tls, connections);
    match &stream.peer.agency {
        Ok(agency) => tracing::debug!(%remote, %agency, "TLS connection authenticated"),
        Err(error) => tracing::info!(%remote, %error, "client certificate names no agency"),
    }
    if sender.send(Ok(stream)).await.is_err() {
        tracing::debug!(%remote, "server stopped before the connection was served");
    }
    None
}

/// Errors that concern one connection only: accept again at once.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
#[path = "accept_tests.rs"]
mod tests;
