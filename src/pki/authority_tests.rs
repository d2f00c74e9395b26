//! The CA: generation, issuing, and its files.

use super::*;
use crate::domain::agency::{AgencyId, AgencyKind};
use crate::domain::region::RegionCode;
use x509_parser::pem::parse_x509_pem;

fn police() -> AgencyRef {
    AgencyRef::new(
        AgencyKind::Police,
        RegionCode::parse("140100").unwrap(),
        AgencyId::parse("taiyuan-police").unwrap(),
    )
    .unwrap()
}

fn with_parsed<T>(pem: &str, check: impl FnOnce(&X509Certificate<'_>) -> T) -> T {
    let (_, pem) = parse_x509_pem(pem.as_bytes()).unwrap();
    check(&pem.parse_x509().unwrap())
}

#[test]
fn a_generated_ca_is_a_p256_ca_for_signing_certificates_and_crls() {
    let ca = CertificateAuthority::generate("Handover Gateway CA").unwrap();
    with_parsed(ca.cert_pem(), |cert| {
        assert!(cert.is_ca());
        let usage = cert.key_usage().unwrap().unwrap().value;
        assert!(usage.key_cert_sign() && usage.crl_sign() && usage.digital_signature());
        let validity = cert.validity();
        let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
        assert!((3650..=3651).contains(&days), "{days} days");
        assert_eq!(cert.raw_serial().len(), 16);
    });
}

#[test]
fn serial_numbers_differ() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let serial = |pem: &str| with_parsed(pem, |cert| cert.raw_serial().to_vec());
    let a = ca.issue_agency(&police(), "Police").unwrap();
    let b = ca.issue_agency(&police(), "Police").unwrap();
    assert_ne!(serial(&a.cert_pem), serial(&b.cert_pem));
}

#[test]
fn a_server_certificate_names_its_hosts_and_serves() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
    with_parsed(&server.cert_pem, |cert| {
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        let names = &cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names;
        assert_eq!(names.len(), 2);
        assert!(!cert.is_ca());
    });
    assert!(ca.issue_server(&[]).is_err());
    assert!(ca.issue_server(&["bad host é"]).is_err());
}

#[test]
fn an_agency_certificate_carries_its_display_name_and_kind() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let issued = ca.issue_agency(&police(), "太原市公安局禁毒支队").unwrap();
    with_parsed(&issued.cert_pem, |cert| {
        let subject = cert.subject();
        let cn = subject.iter_common_name().next().unwrap().as_str().unwrap();
        let org = subject
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!((cn, org), ("太原市公安局禁毒支队", "police"));
    });
    assert!(format!("{issued:?}").contains("[redacted]"));
}

#[test]
fn an_empty_validity_period_is_refused() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let now = OffsetDateTime::now_utc();
    let options = AgencyCertOptions {
        not_before: now,
        not_after: now,
        ..AgencyCertOptions::default()
    };
    assert!(matches!(
        ca.issue_agency_with(&police(), "Police", &options),
        Err(PkiError::InvalidValidity)
    ));
}

#[test]
fn a_saved_ca_loads_and_keeps_signing() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = CertificateAuthority::generate("CA").unwrap();
    ca.save(&ca_dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ca_dir.join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let loaded = CertificateAuthority::load(&ca_dir).unwrap();
    assert_eq!(loaded.cert_pem(), ca.cert_pem());
    let issued = loaded.issue_agency(&police(), "Police").unwrap();
    let signed_by = with_parsed(&issued.cert_pem, |cert| cert.issuer().to_string());
    let ca_name = with_parsed(ca.cert_pem(), |cert| cert.subject().to_string());
    assert_eq!(signed_by, ca_name);
}

#[test]
fn saving_never_overwrites_a_ca() {
    let dir = tempfile::tempdir().unwrap();
    CertificateAuthority::generate("first")
        .unwrap()
        .save(dir.path())
        .unwrap();
    let second = CertificateAuthority::generate("second").unwrap();
    assert!(matches!(
        second.save(dir.path()),
        Err(PkiError::AlreadyExists(_))
    ));
}

#[test]
fn a_key_from_another_ca_is_refused() {
    let (a, b) = (
        CertificateAuthority::generate("a").unwrap(),
        CertificateAuthority::generate("b").unwrap(),
    );
    let b_key = b.issuer.key().serialize_pem();
    assert!(matches!(
        CertificateAuthority::from_pem(a.cert_pem(), &b_key),
        Err(PkiError::InvalidAuthority(_))
    ));
}

#[test]
fn a_leaf_certificate_is_not_a_ca() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let leaf = ca.issue_agency(&police(), "Police").unwrap();
    assert!(matches!(
        CertificateAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem),
        Err(PkiError::InvalidAuthority(_))
    ));
}

#[test]
fn issued_files_are_written_with_a_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("CA").unwrap();
    let issued = ca.issue_server(&["localhost"]).unwrap();
    issued.write(dir.path(), "server").unwrap();
    issued.write(dir.path(), "server").unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("server.pem"), issued.cert_pem);
    assert_eq!(read("server-key.pem"), issued.key_pem);
}
