use time::OffsetDateTime;

use super::*;
use crate::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use crate::domain::region::RegionCode;

fn police() -> AgencyRef {
    AgencyRef::new(
        AgencyKind::Police,
        RegionCode::parse("140100").unwrap(),
        AgencyId::parse("taiyuan-police").unwrap(),
    )
    .unwrap()
}

fn saved_ca() -> (tempfile::TempDir, CertificateAuthority) {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("CA").unwrap();
    ca.save(dir.path()).unwrap();
    (dir, ca)
}

fn list_in(dir: &Path, ca: &CertificateAuthority) -> RevocationList {
    let pem = std::fs::read_to_string(dir.join(CRL_FILE)).unwrap();
    RevocationList::from_pem(&pem, ca.cert_pem()).unwrap()
}

#[test]
fn a_saved_ca_starts_with_an_empty_list_it_signed() {
    let (dir, ca) = saved_ca();
    let list = list_in(dir.path(), &ca);
    assert_eq!(list.number, 1);
    assert!(list.revoked.is_empty());
    assert!(list.next_update.unwrap() > list.this_update + Duration::days(300));
}

#[test]
fn the_serial_of_a_certificate_is_the_one_it_was_issued_with() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let issued = ca.issue_agency(&police(), "Police").unwrap();
    let serials = Serial::of_pem(&issued.cert_pem).unwrap();
    let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(der.as_ref()).unwrap();
    assert_eq!(
        serials,
        vec![Serial::from_bytes(&cert.serial.to_bytes_be())]
    );
    assert_eq!(serials[0].to_string().len(), 32, "16 bytes in hex");
    assert!(matches!(
        Serial::of_pem("no certificate"),
        Err(PkiError::NoCertificate(_))
    ));
}

#[test]
fn leading_zeros_do_not_make_another_serial() {
    assert_eq!(
        Serial::from_bytes(&[0, 0, 1, 2]),
        Serial::from_bytes(&[1, 2])
    );
    assert_eq!(Serial::from_bytes(&[0, 0x0a]).to_string(), "0a");
}

#[test]
fn revoking_adds_serials_under_a_higher_number() {
    let (dir, ca) = saved_ca();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (a, b) = (
        Serial::of_pem(&ca.issue_agency(&police(), "A").unwrap().cert_pem).unwrap(),
        Serial::of_pem(&ca.issue_agency(&police(), "B").unwrap().cert_pem).unwrap(),
    );

    let first = revoke(&ca, dir.path(), &a, now).unwrap();
    let second = revoke(&ca, dir.path(), &[a[0].clone(), b[0].clone()], now).unwrap();

    assert_eq!((first.added, first.number), (a.clone(), 2));
    assert_eq!(second.added, b);
    assert_eq!((second.already, second.number), (a.clone(), 3));
    let list = list_in(dir.path(), &ca);
    assert_eq!(list.number, 3);
    assert!(list.contains(&a[0]) && list.contains(&b[0]));
    assert_eq!(list.revoked.len(), 2);
    assert_eq!(list.revoked[0].1, now);
}

#[test]
fn revoking_again_writes_nothing() {
    let (dir, ca) = saved_ca();
    let serial = [Serial::from_bytes(&[0x42])];
    let now = OffsetDateTime::now_utc();
    revoke(&ca, dir.path(), &serial, now).unwrap();
    let written = std::fs::read_to_string(dir.path().join(CRL_FILE)).unwrap();

    let again = revoke(&ca, dir.path(), &serial, now).unwrap();

    assert!(again.added.is_empty());
    assert_eq!(again.number, 2);
    let read = std::fs::read_to_string(dir.path().join(CRL_FILE)).unwrap();
    assert_eq!(read, written);
}

#[test]
fn a_missing_list_is_started_afresh() {
    let (dir, ca) = saved_ca();
    std::fs::remove_file(dir.path().join(CRL_FILE)).unwrap();
    let done = revoke(&ca, dir.path(), &[], OffsetDateTime::now_utc()).unwrap();
    assert_eq!(done.number, 1);
    assert!(list_in(dir.path(), &ca).revoked.is_empty());
}

#[test]
fn a_list_of_another_ca_is_refused_and_left_alone() {
    let (dir, ca) = saved_ca();
    let other = CertificateAuthority::generate("other").unwrap();
    let foreign = other.sign_crl(9, &[], OffsetDateTime::now_utc()).unwrap();
    std::fs::write(dir.path().join(CRL_FILE), &foreign).unwrap();

    assert!(matches!(
        RevocationList::from_pem(&foreign, ca.cert_pem()),
        Err(PkiError::InvalidCrl(_))
    ));
    let refused = revoke(
        &ca,
        dir.path(),
        &[Serial::from_bytes(&[1])],
        OffsetDateTime::now_utc(),
    );
    assert!(matches!(refused, Err(PkiError::InvalidCrl(_))));
    let kept = std::fs::read_to_string(dir.path().join(CRL_FILE)).unwrap();
    assert_eq!(kept, foreign);
}

#[test]
fn garbage_is_not_a_list() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    assert!(RevocationList::from_pem("garbage", ca.cert_pem()).is_err());
    let two = format!(
        "{0}{0}",
        ca.sign_crl(1, &[], OffsetDateTime::now_utc()).unwrap()
    );
    assert!(matches!(crl_der(&two), Err(PkiError::InvalidCrl(_))));
}

#[test]
fn a_serial_reads_back_from_its_hex() {
    for bytes in [
        &[0x01, 0xff][..],
        &[0x00, 0x7f][..],
        &[][..],
        &[0x54, 0xfd, 0x63][..],
    ] {
        let serial = Serial::from_bytes(bytes);
        assert_eq!(Serial::from_hex(&serial.to_string()), Some(serial));
    }
    for junk in ["0", "zz", "0g", "é1", "+f"] {
        assert_eq!(Serial::from_hex(junk), None, "{junk}");
    }
}
