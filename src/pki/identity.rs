//! The SPIFFE-style identity an agency certificate carries.
//!
//! Each agency certificate has exactly one URI subject alternative name,
//! `spiffe://handover-gateway/agency/<kind>/<region>/<id>`, and the clientAuth
//! extended key usage. Subject names are for humans only and are never read.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::domain::agency::{AgencyError, AgencyId, AgencyKind, AgencyRef};
use crate::domain::region::{RegionCode, RegionError};

/// The SPIFFE trust domain of every identity the gateway issues and accepts.
pub const TRUST_DOMAIN: &str = "handover-gateway";

const SCHEME: &str = "spiffe://";

/// Why a client certificate names no agency. The message is shown to the
/// client in an `UNAUTHENTICATED` status, so it names the rule that was
/// broken and nothing about the gateway's internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The connection presented no client certificate.
    #[error("no client certificate was presented")]
    NoCertificate,
    /// The certificate is not valid X.509.
    #[error("the client certificate could not be parsed")]
    Unreadable,
    /// The certificate lacks the clientAuth extended key usage.
    #[error(
        "the client certificate is not issued for client authentication (extended key usage clientAuth)"
    )]
    NotForClientAuth,
    /// The certificate has no URI subject alternative name.
    #[error("the client certificate carries no agency identity (URI subject alternative name)")]
    NoIdentity,
    /// The certificate has more than one URI subject alternative name.
    #[error(
        "the client certificate carries {0} URI subject alternative names; exactly one is allowed"
    )]
    SeveralIdentities(usize),
    /// The URI is not `spiffe://handover-gateway/...`.
    #[error("the client certificate's identity is not in the trust domain {TRUST_DOMAIN}")]
    ForeignTrustDomain,
    /// The URI does not have the form `.../agency/<kind>/<region>/<id>`.
    #[error(
        "the client certificate's identity is not of the form spiffe://{TRUST_DOMAIN}/agency/<kind>/<region>/<id>"
    )]
    Malformed,
    /// The kind or id in the URI is not valid.
    #[error("the client certificate's identity names an invalid agency: {0}")]
    Agency(#[from] AgencyError),
    /// The region in the URI is not valid.
    #[error("the client certificate's identity names an invalid region: {0}")]
    Region(#[from] RegionError),
}

/// The URI subject alternative name that identifies `agency`.
#[must_use]
pub fn agency_uri(agency: &AgencyRef) -> String {
    format!(
        "{SCHEME}{TRUST_DOMAIN}/agency/{}/{}/{}",
        agency.kind, agency.region, agency.id
    )
}

/// Reads the agency a DER-encoded client certificate identifies.
///
/// Checks only what the certificate says; its chain, validity period and
/// revocation are the TLS verifier's business.
///
/// # Errors
/// An [`IdentityError`] unless the certificate parses, carries the clientAuth
/// extended key usage and exactly one URI SAN naming a valid agency in
/// [`TRUST_DOMAIN`].
pub fn agency_from_certificate(der: &[u8]) -> Result<AgencyRef, IdentityError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| IdentityError::Unreadable)?;
    let client_auth = cert
        .extended_key_usage()
        .map_err(|_| IdentityError::Unreadable)?
        .is_some_and(|eku| eku.value.client_auth);
    if !client_auth {
        return Err(IdentityError::NotForClientAuth);
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|_| IdentityError::Unreadable)?;
    let uris: Vec<&str> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        })
        .collect();
    match uris.as_slice() {
        [] => Err(IdentityError::NoIdentity),
        [uri] => parse_agency_uri(uri),
        several => Err(IdentityError::SeveralIdentities(several.len())),
    }
}

/// The end of a DER-encoded certificate's validity; `None` when it does
/// not parse. The handshake checked it once; a connection, and a stream on
/// it, lasts longer, so calls check it again.
#[must_use]
pub fn valid_until(der: &[u8]) -> Option<time::OffsetDateTime> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.validity().not_after.to_datetime())
}

/// Parses `spiffe://handover-gateway/agency/<kind>/<region>/<id>`.
///
/// # Errors
/// An [`IdentityError`] naming the first part that does not match.
pub fn parse_agency_uri(uri: &str) -> Result<AgencyRef, IdentityError> {
    let rest = uri.strip_prefix(SCHEME).ok_or(IdentityError::Malformed)?;
    let (domain, path) = rest.split_once('/').ok_or(IdentityError::Malformed)?;
    if domain != TRUST_DOMAIN {
        return Err(IdentityError::ForeignTrustDomain);
    }
    let segments: Vec<&str> = path.split('/').collect();
    let ["agency", kind, region, id] = segments.as_slice() else {
        return Err(IdentityError::Malformed);
    };
    let kind: AgencyKind = kind.parse()?;
    let region = RegionCode::parse(region)?;
    let id = AgencyId::parse(id)?;
    Ok(AgencyRef::new(kind, region, id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::authority::{AgencyCertOptions, CertificateAuthority};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    fn project() -> AgencyRef {
        AgencyRef::new(
            AgencyKind::CountyProject,
            RegionCode::parse("140106").unwrap(),
            AgencyId::parse("yingze-project").unwrap(),
        )
        .unwrap()
    }

    fn der_of(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn issue(options: &AgencyCertOptions) -> Vec<u8> {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let issued = ca
            .issue_agency_with(&project(), "迎泽区社区戒毒社区康复工作站", options)
            .unwrap();
        der_of(&issued.cert_pem)
    }

    #[test]
    fn the_uri_names_kind_region_and_id() {
        assert_eq!(
            agency_uri(&project()),
            "spiffe://handover-gateway/agency/county-project/140106/yingze-project"
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_uri() {
        for kind in AgencyKind::ALL {
            let agency = AgencyRef::new(
                kind,
                RegionCode::parse("140106").unwrap(),
                AgencyId::parse("a-1").unwrap(),
            )
            .unwrap();
            assert_eq!(parse_agency_uri(&agency_uri(&agency)), Ok(agency));
        }
    }

    #[test]
    fn malformed_uris_are_refused() {
        let cases = [
            (
                "https://handover-gateway/agency/police/140106/p",
                IdentityError::Malformed,
            ),
            (
                "spiffe://other/agency/police/140106/p",
                IdentityError::ForeignTrustDomain,
            ),
            ("spiffe://handover-gateway", IdentityError::Malformed),
            (
                "spiffe://handover-gateway/person/police/140106/p",
                IdentityError::Malformed,
            ),
            (
                "spiffe://handover-gateway/agency/police/140106/p/x",
                IdentityError::Malformed,
            ),
            (
                "spiffe://handover-gateway/agency/police/140106",
                IdentityError::Malformed,
            ),
            (
                "spiffe://handover-gateway/agency/police/1401/p",
                RegionError::Format.into(),
            ),
            (
                "spiffe://handover-gateway/agency/police/140106/P",
                AgencyError::Id.into(),
            ),
            (
                "spiffe://handover-gateway/agency/county-project/140100/p",
                AgencyError::ProjectNotCounty.into(),
            ),
        ];
        for (uri, expected) in cases {
            assert_eq!(parse_agency_uri(uri), Err(expected), "{uri}");
        }
        assert!(matches!(
            parse_agency_uri("spiffe://handover-gateway/agency/judge/140106/p"),
            Err(IdentityError::Agency(AgencyError::Kind(_)))
        ));
    }

    #[test]
    fn an_issued_agency_certificate_names_its_agency() {
        let der = issue(&AgencyCertOptions::default());
        assert_eq!(agency_from_certificate(&der), Ok(project()));
    }

    #[test]
    fn a_certificate_with_two_uris_is_refused() {
        let options = AgencyCertOptions {
            extra_uris: vec!["spiffe://handover-gateway/agency/police/140106/p".into()],
            ..AgencyCertOptions::default()
        };
        assert_eq!(
            agency_from_certificate(&issue(&options)),
            Err(IdentityError::SeveralIdentities(2))
        );
    }

    #[test]
    fn a_certificate_without_client_auth_is_refused() {
        let options = AgencyCertOptions {
            client_auth: false,
            ..AgencyCertOptions::default()
        };
        assert_eq!(
            agency_from_certificate(&issue(&options)),
            Err(IdentityError::NotForClientAuth)
        );
    }

    #[test]
    fn a_server_certificate_is_not_an_agency() {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        assert_eq!(
            agency_from_certificate(&der_of(&server.cert_pem)),
            Err(IdentityError::NotForClientAuth)
        );
    }

    /// A self-signed certificate with the given URI SANs, outside the CA.
    fn self_signed_client(uris: &[&str]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.subject_alt_names = uris
            .iter()
            .map(|uri| rcgen::SanType::URI((*uri).try_into().unwrap()))
            .collect();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn a_certificate_from_a_foreign_trust_domain_is_refused() {
        let der = self_signed_client(&["spiffe://example.org/agency/police/140106/p"]);
        assert_eq!(
            agency_from_certificate(&der),
            Err(IdentityError::ForeignTrustDomain)
        );
    }

    #[test]
    fn a_certificate_without_a_uri_is_refused() {
        assert_eq!(
            agency_from_certificate(&self_signed_client(&[])),
            Err(IdentityError::NoIdentity)
        );
    }

    #[test]
    fn garbage_is_unreadable() {
        assert_eq!(
            agency_from_certificate(b"not a certificate"),
            Err(IdentityError::Unreadable)
        );
    }
}

#[cfg(test)]
mod proptests;
