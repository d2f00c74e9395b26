//! TLS configurations: the gateway's server side (a client certificate from
//! the gateway CA is required) and the client side agencies use.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use super::PkiError;
use super::authority::CA_CERT_FILE;
use super::connections::LiveConnections;
use super::files;
use super::revocation::{CRL_FILE, RevocationList, Serial, crl_der};

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
/// ring provider, ALPN `h2`, and on every connection a client certificate
/// that chains to the CA and is not on its revocation list.
///
/// # Errors
/// [`PkiError::Pem`] or [`PkiError::NoCertificate`] for unreadable PEM,
/// [`PkiError::InvalidCrl`] for a list the CA did not sign,
/// [`PkiError::Tls`] if rustls refuses a certificate or the key, and
/// [`PkiError::Verifier`] if the client verifier cannot be built.
pub fn server_config(files: &ServerFiles) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    build(files).map(|(config, _)| config)
}

/// The configuration and the revocation list it enforces.
fn build(files: &ServerFiles) -> Result<(Arc<rustls::ServerConfig>, RevocationList), PkiError> {
    // Checked here because webpki would only find a foreign list at the
    // next handshake, and then refuse every client.
    let roots = root_store(&files.ca)?;
    let list = RevocationList::from_pem(&files.crl, &files.ca)?;
    let provider = crypto_provider();
    // The CA signs agency certificates directly (path length zero), so the
    // end entity is the only certificate whose status matters; an unknown
    // status is refused, never let through.
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .with_crls([crl_der(&files.crl)?])
        .only_check_end_entity_revocation()
        .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certificates(&files.cert, "the server certificate")?,
            private_key(&files.key)?,
        )?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok((Arc::new(config), list))
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
/// stem `server`, and the revocation list `ca.crl`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerFiles {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub crl: String,
}

impl fmt::Debug for ServerFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFiles")
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &"[redacted]")
            .field("crl", &self.crl)
            .finish()
    }
}

impl ServerFiles {
    /// Reads the four files from `dir`.
    ///
    /// # Errors
    /// [`PkiError::Io`] naming the first file that cannot be read.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        Ok(Self {
            ca: files::read(&dir.join(CA_CERT_FILE))?,
            cert: files::read(&dir.join(SERVER_CERT_FILE))?,
            key: files::read(&dir.join(SERVER_KEY_FILE))?,
            crl: files::read(&dir.join(CRL_FILE))?,
        })
    }

    /// The server configuration these files describe; see [`server_config`].
    ///
    /// # Errors
    /// As [`server_config`].
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        server_config(self)
    }

    /// The files of `ca` and its `server` certificate with an empty list.
    #[cfg(test)]
    pub(crate) fn of(ca: &super::CertificateAuthority, server: &super::IssuedCertificate) -> Self {
        let now = time::OffsetDateTime::now_utc();
        Self {
            ca: ca.cert_pem().to_owned(),
            cert: server.cert_pem.clone(),
            key: server.key_pem.clone(),
            crl: ca.sign_crl(1, &[], now).unwrap(),
        }
    }
}

/// The server configuration currently in force and the connections open
/// under it, shared by the accept loop and whatever reloads certificates.
/// Each accepted connection uses the configuration current at that moment;
/// [`ServerConfigHandle::replace`] affects later connections only, while
/// [`ServerConfigHandle::reload`] also ends connections of certificates the
/// new list revokes.
#[derive(Clone, Debug)]
pub struct ServerConfigHandle {
    config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    live: LiveConnections,
    reloads: Arc<ReloadCounts>,
}

#[derive(Debug, Default)]
struct ReloadCounts {
    applied: AtomicU64,
    refused: AtomicU64,
    crl: Mutex<CrlInForce>,
}

/// The revocation list in force. CRL numbers count per CA, so a list is
/// known by its issuer and number.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct CrlInForce {
    issuer: String,
    number: u64,
    /// The highest number the deployment put in force for this issuer,
    /// which may be above this process's own: no list of the issuer
    /// numbered lower is put in force.
    floor: u64,
    /// The certificates it revokes: a later list of the issuer must
    /// revoke them too, whatever its number, since no revocation is ever
    /// taken back.
    revoked: BTreeSet<Serial>,
    /// The certificates the list at the floor revokes, which a later list
    /// must revoke too.
    floor_revoked: BTreeSet<Serial>,
}

/// The revocation list in force, as [`ServerConfigHandle::crl_in_force`]
/// tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInForce {
    /// Its CA's [`ca_fingerprint`].
    pub issuer: String,
    pub number: u64,
    pub revoked: BTreeSet<Serial>,
}

/// What names a CA in the revocation list floor: the SHA-256 of its
/// certificate, in hex.
///
/// # Errors
/// [`PkiError::Pem`] or [`PkiError::NoCertificate`] if `ca_pem` holds no
/// certificate.
pub fn ca_fingerprint(ca_pem: &str) -> Result<String, PkiError> {
    let certs = certificates(ca_pem, "the CA certificate")?;
    Ok(crate::domain::audit::hex(&Sha256::digest(
        certs[0].as_ref(),
    )))
}

impl ServerConfigHandle {
    /// A handle holding `config`, knowing of no revoked certificate.
    pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
        Self {
            config: Arc::new(RwLock::new(config)),
            live: LiveConnections::new(),
            reloads: Arc::default(),
        }
    }

    /// A handle holding the configuration `files` describe.
    ///
    /// # Errors
    /// As [`server_config`].
    pub fn load(files: &ServerFiles) -> Result<Self, PkiError> {
        let (config, list) = build(files)?;
        let issuer = ca_fingerprint(&files.ca)?;
        let handle = Self::new(config);
        handle.live.set_revoked(list.serials());
        *handle.crl() = CrlInForce {
            issuer,
            number: list.number,
            floor: 0,
            revoked: list.serials(),
            floor_revoked: BTreeSet::new(),
        };
        Ok(handle)
    }

    fn crl(&self) -> std::sync::MutexGuard<'_, CrlInForce> {
        // Every writer leaves a whole value, so a poisoned lock is sound.
        self.reloads
            .crl
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        // The lock only guards an `Arc` swap, so a poisoned lock still
        // holds a complete value.
        let guard = self
            .config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Puts `config` in force for every connection accepted from now on.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        let mut guard = self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = config;
    }

    /// Puts the configuration `files` describe in force, then ends the open
    /// connections whose certificate its list revokes and returns how many
    /// that were. If the files do not load, nothing changes.
    ///
    /// # Errors
    /// As [`server_config`], and [`PkiError::InvalidCrl`] for a list of
    /// the CA in force numbered lower than the one in force, or than one
    /// another gateway put in force, or lacking a certificate the one in
    /// force revokes: it would take revocations back.
    pub fn reload(&self, files: &ServerFiles) -> Result<usize, PkiError> {
        let mut crl = self.crl();
        let built = build(files).and_then(|(config, list)| {
            let issuer = ca_fingerprint(&files.ca)?;
            if issuer == crl.issuer {
                if list.number < crl.number {
                    return Err(PkiError::InvalidCrl(
                        "its CRL number is lower than that of the list in force",
                    ));
                }
                if list.number < crl.floor {
                    return Err(PkiError::InvalidCrl(
                        "its CRL number is lower than that of a list another gateway of this deployment put in force",
                    ));
                }
                // A list signed from an older one (a CA folder put back
                // from a backup) may carry a number no lower than the one
                // in force and still lack its revocations.
                let serials = list.serials();
                if !serials.is_superset(&crl.revoked) || !serials.is_superset(&crl.floor_revoked) {
                    return Err(PkiError::InvalidCrl(
                        "it lacks certificates the list in force, or one another gateway of this deployment put in force, revokes",
                    ));
                }
            }
            Ok((config, list, issuer))
        });
        let (config, list, issuer) = built.inspect_err(|_| {
            self.reloads.refused.fetch_add(1, Ordering::Relaxed);
        })?;
        let (floor, floor_revoked) = if issuer == crl.issuer {
            (crl.floor, std::mem::take(&mut crl.floor_revoked))
        } else {
            (0, BTreeSet::new())
        };
        let revoked = list.serials();
        let refused = revoked.union(&floor_revoked).cloned().collect();
        *crl = CrlInForce {
            issuer,
            number: list.number,
            floor,
            revoked,
            floor_revoked,
        };
        drop(crl);
        self.replace(config);
        self.reloads.applied.fetch_add(1, Ordering::Relaxed);
        Ok(self.live.set_revoked(refused))
    }

    /// The number of the revocation list in force.
    pub fn crl_number(&self) -> u64 {
        self.crl().number
    }

    /// The revocation list in force.
    pub fn crl_in_force(&self) -> ListInForce {
        let crl = self.crl();
        ListInForce {
            issuer: crl.issuer.clone(),
            number: crl.number,
            revoked: crl.revoked.clone(),
        }
    }

    /// Refuses from now on any list of `issuer` numbered below `floor`,
    /// the highest number the deployment put in force for it, or lacking
    /// a certificate of `revoked`, what that list revokes; the list in
    /// force stays, but a certificate of `revoked` it lacks (a list behind,
    /// put in force with a new CA before the floor was known) is refused
    /// all the same, its open connections ended (returned: how many). A
    /// floor of another CA than the one in force is none.
    pub fn hold_crl_floor(&self, issuer: &str, floor: u64, revoked: BTreeSet<Serial>) -> usize {
        let mut crl = self.crl();
        if crl.issuer != issuer {
            return 0;
        }
        crl.floor = crl.floor.max(floor);
        crl.floor_revoked.extend(revoked);
        let refused = crl.revoked.union(&crl.floor_revoked).cloned().collect();
        drop(crl);
        self.live.set_revoked(refused)
    }

    /// How many reloads were put in force, and how many refused, so far.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads.applied.load(Ordering::Relaxed),
            self.reloads.refused.load(Ordering::Relaxed),
        )
    }

    /// The open connections.
    pub fn connections(&self) -> &LiveConnections {
        &self.live
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
#[path = "tls_tests.rs"]
pub(super) mod tests;
