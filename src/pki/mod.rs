//! The gateway's certificate authority and the mutual TLS it owns.
//!
//! - [`identity`]: what an agency certificate says: one SPIFFE-style URI SAN
//!   (`spiffe://handover-gateway/agency/<kind>/<region>/<id>`) plus the
//!   clientAuth extended key usage, read back into an [`AgencyRef`].
//! - [`authority`]: the gateway CA (rcgen): generate, save, load, and issue
//!   server and agency certificates.
//! - [`tls`]: rustls configurations for the server (client certificate
//!   required, ALPN `h2`) and for clients, and the PEM files they load from.
//! - [`accept`]: the accept loop that runs each TLS handshake in its own
//!   task and yields [`AuthenticatedStream`]s whose [`PeerIdentity`] tonic
//!   puts into every request's extensions.
//! - [`revocation`]: the CA's revocation list (`ca.crl`) and revoking.
//! - [`connections`]: the open connections by certificate serial, so that
//!   those of a certificate revoked while they run can be ended.
//! - [`reload`]: watching the certificate folder and putting new files in
//!   force while the gateway runs, only if they load.
//!
//! Only the `ring` crypto provider is used, and it is always passed
//! explicitly: two providers in one build make rustls panic at start.
//!
//! [`AgencyRef`]: crate::domain::agency::AgencyRef

pub mod accept;
pub mod authority;
pub mod connections;
mod files;
pub mod identity;
pub mod reload;
pub mod revocation;
pub mod tls;

use std::path::PathBuf;

pub use accept::{AuthenticatedStream, PeerIdentity, incoming};
pub use authority::{AgencyCertOptions, CertificateAuthority, IssuedCertificate};
pub use connections::LiveConnections;
pub use identity::{IdentityError, TRUST_DOMAIN, agency_from_certificate, agency_uri};
pub use reload::{Reload, TlsReloader};
pub use revocation::{CRL_FILE, RevocationList, Revoked, Serial, revoke};
pub use tls::{
    ListInForce, ServerConfigHandle, ServerFiles, ca_fingerprint, client_tls, server_config,
};

/// Why a certificate could not be generated, stored, loaded or turned into a
/// TLS configuration. Meant for operators and logs, not for remote clients.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CA files already exist; an existing CA is never overwritten.
    #[error("{0} already exists; refusing to overwrite a certificate authority")]
    AlreadyExists(PathBuf),
    /// A PEM text could not be decoded.
    #[error("{what} is not valid PEM")]
    Pem {
        what: &'static str,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A PEM text held no item of the expected kind.
    #[error("{0} contains no certificate")]
    NoCertificate(&'static str),
    /// The revocation list cannot be used; the gateway never runs without one.
    #[error("the revocation list cannot be used: {0}")]
    InvalidCrl(&'static str),
    /// A certificate could not be parsed as X.509.
    #[error("{0} is not a valid X.509 certificate")]
    Malformed(&'static str),
    /// The CA certificate is not a CA, or its key belongs to another certificate.
    #[error("the CA certificate and key do not form a certificate authority: {0}")]
    InvalidAuthority(&'static str),
    /// A host name, address or URI cannot be put into a certificate.
    #[error("{value:?} cannot be used as a {what} in a certificate")]
    InvalidName { what: &'static str, value: String },
    /// The requested validity period is empty.
    #[error("a certificate's not_after must be later than its not_before")]
    InvalidValidity,
    /// The operating system's random number generator failed.
    #[error("no random numbers available for a serial number")]
    Random,
    /// rcgen failed to generate a key or sign a certificate.
    #[error("certificate generation failed")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificates or key.
    #[error("TLS configuration refused")]
    Tls(#[from] rustls::Error),
    /// The client certificate verifier could not be built.
    #[error("client certificate verifier refused")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}
