//! TLS configurations: the gateway's server side (a client certificate from
//! the gateway CA is required) and the client side agencies use.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use super::PkiError;
use super::authority::CA_CERT_FILE;
use super::files;

// The accept loop lives in its own file; it is part of the gateway's TLS.
pub use super::accept::{AuthenticatedStream, PeerIdentity, incoming};

/// File name of the server certificate in a TLS directory.
pub const SERVER_CERT_FILE: &str = "server.pem";
/// File name of the server private key in a TLS directory.
pub const SERVER_KEY_FILE: &str = "server-key.pem";

/// The ALPN protocol gRPC runs over.
const ALPN_H2: &[u8] = b"h2";

/// The one crypto provider of this crate, passed explicitly everywhere.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the gateway's server TLS configuration: TLS 1.2 and 1.3 with the
/// ring provider, a client certificate chaining to `ca_pem` required on every
/// connection, and ALPN `h2`.
///
/// # Errors
/// [`PkiError::Pem`] or [`PkiError::NoCertificate`] for unreadable PEM,
/// [`PkiError::Tls`] if rustls refuses a certificate or the key, and
/// [`PkiError::Verifier`] if the client verifier cannot be built.
pub fn server_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let provider = crypto_provider();
    let roots = root_store(ca_pem)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone()).build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certificates(cert_pem, "the server certificate")?,
            private_key(key_pem)?,
        )?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The tonic client configuration of an agency: trust the gateway CA,
/// present the agency's certificate, and expect the server to be `domain`
/// (a DNS name or IP address in the server certificate).
///
/// Nothing is parsed here; a bad certificate or key shows when connecting.
#[must_use]
pub fn client_tls(ca_pem: &str, cert_pem: &str, key_pem: &str, domain: &str) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(Identity::from_pem(cert_pem, key_pem))
        .domain_name(domain)
}

/// The PEM files the gateway's TLS is built from: `ca.pem`, `server.pem`
/// and `server-key.pem`, as written by
/// [`IssuedCertificate::write`](super::IssuedCertificate::write) with the
/// stem `server`.
#[derive(Clone)]
pub struct ServerFiles {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl fmt::Debug for ServerFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFiles")
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl ServerFiles {
    /// Reads the three files from `dir`.
    ///
    /// # Errors
    /// [`PkiError::Io`] naming the first file that cannot be read.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        Ok(Self {
            ca: files::read(&dir.join(CA_CERT_FILE))?,
            cert: files::read(&dir.join(SERVER_CERT_FILE))?,
            key: files::read(&dir.join(SERVER_KEY_FILE))?,
        })
    }

    /// The server configuration these files describe; see [`server_config`].
    ///
    /// # Errors
    /// As [`server_config`].
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        server_config(&self.ca, &self.cert, &self.key)
    }
}

/// The server configuration currently in force, shared by the accept loop
/// and whatever reloads certificates. Each accepted connection uses the
/// configuration current at that moment; [`ServerConfigHandle::replace`]
/// affects later connections only.
#[derive(Clone, Debug)]
pub struct ServerConfigHandle(Arc<RwLock<Arc<rustls::ServerConfig>>>);

impl ServerConfigHandle {
    /// A handle holding `config`.
    pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
        Self(Arc::new(RwLock::new(config)))
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        // The lock only guards an `Arc` swap, so a poisoned lock still
        // holds a complete value.
        let guard = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Puts `config` in force for every connection accepted from now on.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = config;
    }
}

impl From<Arc<rustls::ServerConfig>> for ServerConfigHandle {
    fn from(config: Arc<rustls::ServerConfig>) -> Self {
        Self::new(config)
    }
}

fn root_store(ca_pem: &str) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca_pem, "the CA certificate")? {
        roots.add(cert)?;
    }
    Ok(Arc::new(roots))
}

fn certificates(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PkiError::Pem { what, source })?;
    if certs.is_empty() {
        return Err(PkiError::NoCertificate(what));
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|source| PkiError::Pem {
        what: "the server key",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::CertificateAuthority;

    #[test]
    fn a_server_config_requires_h2_and_loads_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::generate("CA").unwrap();
        ca.save(dir.path()).unwrap();
        ca.issue_server(&["localhost"])
            .unwrap()
            .write(dir.path(), "server")
            .unwrap();

        let files = ServerFiles::load(dir.path()).unwrap();
        let config = files.server_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(!format!("{files:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn missing_or_broken_pem_is_reported() {
        let ca = CertificateAuthority::generate("CA").unwrap();
        let server = ca.issue_server(&["localhost"]).unwrap();
        assert!(matches!(
            server_config("", &server.cert_pem, &server.key_pem),
            Err(PkiError::NoCertificate(_))
        ));
        assert!(matches!(
            server_config(ca.cert_pem(), &server.cert_pem, "nothing"),
            Err(PkiError::Pem { .. })
        ));
        let other = ca.issue_server(&["localhost"]).unwrap();
        assert!(matches!(
            server_config(ca.cert_pem(), &server.cert_pem, &other.key_pem),
            Err(PkiError::Tls(_))
        ));
    }

    #[test]
    fn a_replaced_config_is_current() {
        let ca = CertificateAuthority::generate("CA").unwrap();
        let server = ca.issue_server(&["localhost"]).unwrap();
        let first = server_config(ca.cert_pem(), &server.cert_pem, &server.key_pem).unwrap();
        let second = server_config(ca.cert_pem(), &server.cert_pem, &server.key_pem).unwrap();
        let handle = ServerConfigHandle::new(Arc::clone(&first));
        assert!(Arc::ptr_eq(&handle.current(), &first));
        handle.replace(Arc::clone(&second));
        assert!(Arc::ptr_eq(&handle.current(), &second));
    }
}
