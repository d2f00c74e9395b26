//! The gateway's own certificate authority: one self-signed ECDSA P-256 CA
//! that issues the server certificate and one client certificate per agency.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::PkiError;
use super::files::{self, Existing};
use super::identity::{TRUST_DOMAIN, agency_uri};
use super::revocation::{self, CRL_FILE};
use crate::domain::agency::AgencyRef;

/// File name of the CA certificate in a CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in a CA directory.
pub const CA_KEY_FILE: &str = "ca-key.pem";

const CA_VALIDITY: Duration = Duration::days(3650);
const SERVER_VALIDITY: Duration = Duration::days(730);
const AGENCY_VALIDITY: Duration = Duration::days(365);
/// Leaf certificates start this long before they are issued, so that a
/// client whose clock runs a little behind can use them at once.
const CLOCK_SKEW: Duration = Duration::hours(1);

/// The gateway CA: its certificate and the key that signs with it.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A freshly issued certificate and its private key, both PEM.
#[derive(Clone)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

/// Everything about an agency certificate beyond whom it names. The default
/// is what [`CertificateAuthority::issue_agency`] issues; tests change it to
/// make expired certificates, certificates without clientAuth, or
/// certificates with more than one URI.
#[derive(Clone, Debug)]
pub struct AgencyCertOptions {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Whether to add the clientAuth extended key usage. Without it (and with
    /// no other usage) the certificate carries no extended key usage at all.
    pub client_auth: bool,
    /// URI SANs added after the agency's own.
    pub extra_uris: Vec<String>,
}

impl Default for AgencyCertOptions {
    /// Valid from an hour ago for one year, clientAuth, no extra URIs.
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - CLOCK_SKEW,
            not_after: now + AGENCY_VALIDITY,
            client_auth: true,
            extra_uris: Vec::new(),
        }
    }
}

impl CertificateAuthority {
    /// Generates a new self-signed CA: ECDSA P-256, valid for ten years, key
    /// usages keyCertSign, cRLSign and digitalSignature, and a path length of
    /// zero (it signs leaf certificates only).
    ///
    /// # Errors
    /// [`PkiError::Generate`] if key generation or signing fails.
    pub fn generate(common_name: &str) -> Result<Self, PkiError> {
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, TRUST_DOMAIN)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate()?;
        let cert_pem = params.self_signed(&key)?.pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem,
        })
    }

    /// Loads a CA saved by [`CertificateAuthority::save`] from `dir`
    /// (`ca.pem` and `ca-key.pem`).
    ///
    /// # Errors
    /// [`PkiError::Io`] if a file cannot be read, [`PkiError::Generate`] if
    /// the key or certificate cannot be decoded, and
    /// [`PkiError::InvalidAuthority`] if the certificate is not a CA or the
    /// key is not its key.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let cert_pem = files::read(&dir.join(CA_CERT_FILE))?;
        let key_pem = files::read(&dir.join(CA_KEY_FILE))?;
        Self::from_pem(&cert_pem, &key_pem)
    }

    /// Builds a CA from its certificate and private key, both PEM.
    ///
    /// # Errors
    /// As [`CertificateAuthority::load`], without the I/O.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|source| {
            PkiError::Pem {
                what: "the CA certificate",
                source,
            }
        })?;
        let (_, cert) = X509Certificate::from_der(cert_der.as_ref())
            .map_err(|_| PkiError::Malformed("the CA certificate"))?;
        if !cert.is_ca() {
            return Err(PkiError::InvalidAuthority("the certificate is not a CA"));
        }
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::InvalidAuthority(
                "the key belongs to another certificate",
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
        })
    }

    /// Writes `ca.pem`, `ca-key.pem` (mode 0600 on unix) and an empty
    /// revocation list `ca.crl` into `dir`, creating it if needed: the
    /// gateway refuses to run without a list.
    ///
    /// # Errors
    /// [`PkiError::AlreadyExists`] if any of the files exists: a CA is never
    /// overwritten, since that would orphan every certificate it issued.
    /// [`PkiError::Io`] if a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        files::ensure_dir(dir)?;
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        for path in [&cert_path, &key_path, &dir.join(CRL_FILE)] {
            if path.exists() {
                return Err(PkiError::AlreadyExists(path.clone()));
            }
        }
        let key_pem = self.issuer.key().serialize_pem();
        files::write_secret(&key_path, &key_pem, Existing::Refuse)?;
        files::write_public(&cert_path, &self.cert_pem, Existing::Refuse)?;
        revocation::write_empty(self, dir)
    }

    pub(super) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The CA certificate, PEM: what servers and clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues the gateway's server certificate, valid for two years, with
    /// the serverAuth extended key usage. Each host becomes an IP address SAN
    /// if it parses as one (`127.0.0.1`, `::1`), a DNS name SAN otherwise.
    ///
    /// # Errors
    /// [`PkiError::InvalidName`] for an empty list or a host that is not
    /// ASCII, [`PkiError::Generate`] if signing fails.
    pub fn issue_server(&self, hosts: &[&str]) -> Result<IssuedCertificate, PkiError> {
        let Some(first) = hosts.first() else {
            return Err(PkiError::InvalidName {
                what: "server host",
                value: String::new(),
            });
        };
        let now = OffsetDateTime::now_utc();
        let mut params = leaf_params(first, TRUST_DOMAIN, now - CLOCK_SKEW, now + SERVER_VALIDITY)?;
        params.subject_alt_names = hosts
            .iter()
            .map(|host| host_san(host))
            .collect::<Result<_, _>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params)
    }

    /// Issues an agency's client certificate with the default
    /// [`AgencyCertOptions`]: valid for one year, clientAuth, one URI SAN
    /// (see [`agency_uri`]), CN the display name and O the agency kind.
    ///
    /// # Errors
    /// As [`CertificateAuthority::issue_agency_with`].
    pub fn issue_agency(
        &self,
        agency: &AgencyRef,
        display_name: &str,
    ) -> Result<IssuedCertificate, PkiError> {
        self.issue_agency_with(agency, display_name, &AgencyCertOptions::default())
    }

    /// Issues an agency's client certificate with explicit options.
    ///
    /// # Errors
    /// [`PkiError::InvalidValidity`] if `not_after` is not after
    /// `not_before`, [`PkiError::InvalidName`] for an empty display name or
    /// a non-ASCII extra URI, [`PkiError::Generate`] if signing fails.
    pub fn issue_agency_with(
        &self,
        agency: &AgencyRef,
        display_name: &str,
        options: &AgencyCertOptions,
    ) -> Result<IssuedCertificate, PkiError> {
        if options.not_after <= options.not_before {
            return Err(PkiError::InvalidValidity);
        }
        let mut params = leaf_params(
            display_name,
            agency.kind.as_str(),
            options.not_before,
            options.not_after,
        )?;
        params.subject_alt_names = std::iter::once(agency_uri(agency))
            .chain(options.extra_uris.iter().cloned())
            .map(uri_san)
            .collect::<Result<_, _>>()?;
        if options.client_auth {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        self.sign(&params)
    }

    fn sign(&self, params: &CertificateParams) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl IssuedCertificate {
    /// Writes `<stem>.pem` and `<stem>-key.pem` (mode 0600 on unix) into
    /// `dir`, creating it if needed and replacing earlier files.
    ///
    /// # Errors
    /// [`PkiError::Io`] if a file cannot be written.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), PkiError> {
        files::ensure_dir(dir)?;
        let key_path = dir.join(format!("{stem}-key.pem"));
        files::write_secret(&key_path, &self.key_pem, Existing::Overwrite)?;
        files::write_public(
            &dir.join(format!("{stem}.pem")),
            &self.cert_pem,
            Existing::Overwrite,
        )
    }
}

/// Parameters shared by every leaf certificate.
fn leaf_params(
    common_name: &str,
    organization: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name, organization)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn name(common_name: &str, organization: &str) -> Result<DistinguishedName, PkiError> {
    if common_name.trim().is_empty() {
        return Err(PkiError::InvalidName {
            what: "common name",
            value: common_name.to_owned(),
        });
    }
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, organization);
    Ok(name)
}

fn host_san(host: &str) -> Result<SanType, PkiError> {
    if let Ok(address) = host.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(address));
    }
    let invalid = || PkiError::InvalidName {
        what: "DNS name",
        value: host.to_owned(),
    };
    if host.is_empty() {
        return Err(invalid());
    }
    host.try_into().map(SanType::DnsName).map_err(|_| invalid())
}

fn uri_san(uri: String) -> Result<SanType, PkiError> {
    match uri.as_str().try_into() {
        Ok(ia5) => Ok(SanType::URI(ia5)),
        Err(_) => Err(PkiError::InvalidName {
            what: "URI",
            value: uri,
        }),
    }
}

/// A positive 128-bit serial number from the ring provider's CSPRNG.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01 << 6; // never shorter than 16 bytes, never zero
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
#[path = "authority_tests.rs"]
mod tests;
