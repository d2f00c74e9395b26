use super::*;
use crate::pki::CertificateAuthority;

/// `ca` saved in `dir`, with a server certificate for localhost.
pub(in crate::pki) fn save_with_server(ca: &CertificateAuthority, dir: &Path) {
    ca.save(dir).unwrap();
    ca.issue_server(&["localhost"])
        .unwrap()
        .write(dir, "server")
        .unwrap();
}

#[test]
fn a_server_config_requires_h2_and_loads_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("CA").unwrap();
    save_with_server(&ca, dir.path());

    let files = ServerFiles::load(dir.path()).unwrap();
    let config = files.server_config().unwrap();
    assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    assert!(!format!("{files:?}").contains("PRIVATE KEY"));
}

#[test]
fn missing_or_broken_pem_is_reported() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let server = ca.issue_server(&["localhost"]).unwrap();
    let good = ServerFiles::of(&ca, &server);
    let with = |change: &dyn Fn(&mut ServerFiles)| {
        let mut files = good.clone();
        change(&mut files);
        server_config(&files)
    };
    assert!(matches!(
        with(&|f| f.ca.clear()),
        Err(PkiError::NoCertificate(_))
    ));
    assert!(matches!(
        with(&|f| f.key = "nothing".into()),
        Err(PkiError::Pem { .. })
    ));
    let other = ca.issue_server(&["localhost"]).unwrap();
    assert!(matches!(
        with(&|f| f.key.clone_from(&other.key_pem)),
        Err(PkiError::Tls(_))
    ));
    assert!(matches!(
        with(&|f| f.crl.clear()),
        Err(PkiError::InvalidCrl(_))
    ));
    let foreign = CertificateAuthority::generate("CA").unwrap();
    let foreign_crl = foreign.sign_crl(1, &[], time::OffsetDateTime::now_utc());
    assert!(matches!(
        with(&|f| f.crl.clone_from(foreign_crl.as_ref().unwrap())),
        Err(PkiError::InvalidCrl(_))
    ));
}

#[test]
fn a_replaced_config_is_current() {
    let ca = CertificateAuthority::generate("CA").unwrap();
    let server = ca.issue_server(&["localhost"]).unwrap();
    let first = server_config(&ServerFiles::of(&ca, &server)).unwrap();
    let second = server_config(&ServerFiles::of(&ca, &server)).unwrap();
    let handle = ServerConfigHandle::new(Arc::clone(&first));
    assert!(Arc::ptr_eq(&handle.current(), &first));
    handle.replace(Arc::clone(&second));
    assert!(Arc::ptr_eq(&handle.current(), &second));
}
