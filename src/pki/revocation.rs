//! Taking certificates back: the CA's revocation list, `ca.crl` (PEM) in the
//! certificate folder, which the gateway's TLS verifier checks every client
//! certificate against.
//!
//! The file is the only record of what was revoked. Revoking reads it,
//! checks that this CA signed it, adds serials and signs a new list with the
//! next CRL number, so a list never loses an entry by being rewritten.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::PkiError;
use super::authority::CertificateAuthority;
use super::files::{self, Existing};

/// File name of the revocation list in a certificate folder.
pub const CRL_FILE: &str = "ca.crl";

/// The `nextUpdate` a list announces. The gateway does not enforce it: the
/// CA key is kept offline, and a list that went stale must not lock every
/// agency out.
const CRL_VALIDITY: Duration = Duration::days(365);

/// A certificate serial number: its big-endian bytes without leading zeros,
/// shown in hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// The serial whose big-endian bytes are `bytes`.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Self(bytes[start..].to_vec())
    }

    /// The serial written as [`Serial`]'s `Display` writes it.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Self::from_bytes(&bytes))
    }

    /// The serial of a DER-encoded certificate.
    ///
    /// # Errors
    /// [`PkiError::Malformed`] if it is not X.509.
    pub fn of_certificate(der: &[u8]) -> Result<Self, PkiError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|_| PkiError::Malformed("the certificate to revoke"))?;
        Ok(Self::from_bytes(cert.raw_serial()))
    }

    /// The serials of every certificate in a PEM text, e.g. `<agency>.pem`.
    ///
    /// # Errors
    /// [`PkiError::Pem`], [`PkiError::NoCertificate`] or
    /// [`PkiError::Malformed`] if the text holds no readable certificate.
    pub fn of_pem(pem: &str) -> Result<Vec<Self>, PkiError> {
        let what = "the certificate to revoke";
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| PkiError::Pem { what, source })?;
        if certs.is_empty() {
            return Err(PkiError::NoCertificate(what));
        }
        certs.iter().map(|der| Self::of_certificate(der)).collect()
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("00");
        }
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

/// A revocation list read back and checked against its CA.
#[derive(Clone, Debug)]
pub struct RevocationList {
    /// The CRL number; each list the CA signs has a higher one.
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    /// Revoked serials and when each was revoked, in serial order.
    pub revoked: Vec<(Serial, OffsetDateTime)>,
}

impl RevocationList {
    /// Reads a PEM list and checks that the CA in `ca_pem` signed it.
    ///
    /// # Errors
    /// [`PkiError::Pem`] or [`PkiError::InvalidCrl`] if the text is not one
    /// readable list signed by that CA with a CRL number,
    /// [`PkiError::Malformed`] if the CA certificate is unreadable.
    pub fn from_pem(pem: &str, ca_pem: &str) -> Result<Self, PkiError> {
        let der = crl_der(pem)?;
        let (_, crl) = CertificateRevocationList::from_der(der.as_ref())
            .map_err(|_| PkiError::InvalidCrl("it is not a valid X.509 CRL"))?;
        let ca_der =
            CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|source| PkiError::Pem {
                what: "the CA certificate",
                source,
            })?;
        let (_, ca) = X509Certificate::from_der(ca_der.as_ref())
            .map_err(|_| PkiError::Malformed("the CA certificate"))?;
        crl.verify_signature(ca.public_key())
            .map_err(|_| PkiError::InvalidCrl("it is not signed by the gateway CA"))?;
        // Bounded to what both databases store as a signed 64-bit number.
        let number = crl
            .crl_number()
            .and_then(|n| i64::try_from(n).ok())
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(PkiError::InvalidCrl(
                "it has no CRL number the gateway can read",
            ))?;
        let mut revoked: Vec<_> = crl
            .iter_revoked_certificates()
            .map(|entry| {
                (
                    Serial::from_bytes(entry.raw_serial()),
                    entry.revocation_date.to_datetime(),
                )
            })
            .collect();
        revoked.sort();
        Ok(Self {
            number,
            this_update: crl.last_update().to_datetime(),
            next_update: crl.next_update().map(|t| t.to_datetime()),
            revoked,
        })
    }

    /// Whether `serial` is on the list.
    #[must_use]
    pub fn contains(&self, serial: &Serial) -> bool {
        self.revoked.iter().any(|(s, _)| s == serial)
    }

    /// Every revoked serial.
    #[must_use]
    pub fn serials(&self) -> BTreeSet<Serial> {
        self.revoked.iter().map(|(s, _)| s.clone()).collect()
    }
}

impl CertificateAuthority {
    /// Signs a revocation list numbered `number` that revokes `revoked`,
    /// issued `now` and announcing the next list a year later; PEM.
    ///
    /// # Errors
    /// [`PkiError::Generate`] if signing fails.
    pub fn sign_crl(
        &self,
        number: u64,
        revoked: &[(Serial, OffsetDateTime)],
        now: OffsetDateTime,
    ) -> Result<String, PkiError> {
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + CRL_VALIDITY,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, at)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&serial.0),
                    revocation_time: *at,
                    reason_code: Some(RevocationReason::Unspecified),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(self.issuer())?.pem()?)
    }
}

/// What [`revoke`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    /// Serials added to the list now.
    pub added: Vec<Serial>,
    /// Serials that were on it already.
    pub already: Vec<Serial>,
    /// The number of the list in force afterwards.
    pub number: u64,
}

/// Adds `serials` to the revocation list in `dir`, signed by `ca`, and
/// writes it atomically, so a gateway watching the folder never reads half
/// a list. Nothing is written when every serial is already revoked; a
/// missing list is started afresh.
///
/// # Errors
/// [`PkiError::InvalidCrl`] if the list there is unreadable or from another
/// CA (it is left alone), [`PkiError::Io`] or [`PkiError::Generate`] if the
/// new list cannot be signed or written.
pub fn revoke(
    ca: &CertificateAuthority,
    dir: &Path,
    serials: &[Serial],
    now: OffsetDateTime,
) -> Result<Revoked, PkiError> {
    let path = dir.join(CRL_FILE);
    let current = if path.exists() {
        Some(RevocationList::from_pem(
            &files::read(&path)?,
            ca.cert_pem(),
        )?)
    } else {
        None
    };
    let (number, mut revoked) = current.map_or((0, Vec::new()), |list| (list.number, list.revoked));
    let (mut added, mut already) = (Vec::new(), Vec::new());
    for serial in serials {
        if revoked.iter().any(|(s, _)| s == serial) || added.contains(serial) {
            already.push(serial.clone());
        } else {
            added.push(serial.clone());
        }
    }
    if added.is_empty() && path.exists() {
        return Ok(Revoked {
            added,
            already,
            number,
        });
    }
    revoked.extend(added.iter().map(|s| (s.clone(), now)));
    revoked.sort();
    // Gateways read numbers up to i64::MAX, what the databases store.
    let number = number
        .checked_add(1)
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or(PkiError::InvalidCrl(
            "its CRL number cannot grow any further",
        ))?;
    files::write_public_atomic(&path, &ca.sign_crl(number, &revoked, now)?)?;
    Ok(Revoked {
        added,
        already,
        number,
    })
}

/// Writes an empty list numbered 1 into `dir`, next to a new CA.
pub(crate) fn write_empty(ca: &CertificateAuthority, dir: &Path) -> Result<(), PkiError> {
    let pem = ca.sign_crl(1, &[], OffsetDateTime::now_utc())?;
    files::write_public(&dir.join(CRL_FILE), &pem, Existing::Refuse)
}

/// The one list in a PEM text, as rustls takes it.
pub(crate) fn crl_der(pem: &str) -> Result<CertificateRevocationListDer<'static>, PkiError> {
    let what = "the revocation list";
    let mut lists = CertificateRevocationListDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PkiError::Pem { what, source })?;
    match lists.len() {
        1 => Ok(lists.remove(0)),
        0 => Err(PkiError::InvalidCrl("the file holds no X509 CRL")),
        _ => Err(PkiError::InvalidCrl("the file holds more than one list")),
    }
}

#[cfg(test)]
#[path = "revocation_tests.rs"]
mod tests;
