//! What the metrics say of TLS: refused handshakes, and the revocation
//! list in force against the deployment's newest.

use std::time::Duration;

use handover_gateway::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::region::RegionCode;
use handover_gateway::pki::{CertificateAuthority, Serial, revoke};
use handover_gateway::storage::CrlFloor;

use super::{eventually, scrape, spawn_app_with_metrics, value};
use crate::support::*;

#[tokio::test]
async fn a_handshake_with_a_certificate_from_another_ca_is_counted() {
    let (app, metrics) = spawn_app_with_metrics().await;
    let other = CertificateAuthority::generate("impostor CA").unwrap();
    let impostor = AgencyRef::new(
        AgencyKind::DetoxCenter,
        RegionCode::parse("140100").unwrap(),
        AgencyId::parse("taiyuan-detox").unwrap(),
    )
    .unwrap();
    let issued = other.issue_agency(&impostor, "impostor").unwrap();
    assert!(
        !app.handshake_passes(&issued.cert_pem, &issued.key_pem)
            .await
    );
    eventually(
        metrics,
        r#"handover_tls_handshake_failures_total{reason="certificate-refused"}"#,
        1.0,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_handshake_with_a_revoked_certificate_is_counted_as_revoked() {
    let (app, metrics) = spawn_app_with_metrics().await;
    let (cert, key) = (
        app.read("taiyuan-police.pem"),
        app.read("taiyuan-police-key.pem"),
    );
    let serials = Serial::of_pem(&cert).unwrap();
    revoke(
        &app.ca(),
        &certs_dir(app.dir.path()),
        &serials,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let series = r#"handover_tls_handshake_failures_total{reason="revoked"}"#;
    // The gateway puts the new revocation list in force within its reload
    // interval; until then the handshake still passes. A connection that
    // fails for another reason (a slow machine) is simply tried again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let passed = app.handshake_passes(&cert, &key).await;
        let text = scrape(metrics).await;
        if !passed && value(&text, series).is_some_and(|n| n >= 1.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refused as revoked (last handshake passed: {passed}):\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = scrape(metrics).await;
    assert_eq!(
        value(
            &text,
            r#"handover_tls_handshake_failures_total{reason="certificate-refused"}"#
        ),
        None
    );
    app.stop().await;
}

#[tokio::test]
async fn a_gateway_behind_the_deployments_newest_revocation_list_says_so() {
    let (app, metrics) = spawn_app_with_metrics().await;
    let list = app.tls.crl_in_force();
    let number = list.number as f64;
    eventually(metrics, "handover_crl_number", number).await;
    eventually(metrics, "handover_crl_floor_number", number).await;
    eventually(metrics, "handover_crl_behind", 0.0).await;

    // Another replica put a newer list in force.
    let newer = CrlFloor {
        number: list.number + 2,
        revoked: vec!["0a1b".into()],
    };
    app.gateway
        .storage()
        .raise_crl_floor(&list.issuer, &newer)
        .await
        .unwrap();
    eventually(metrics, "handover_crl_floor_number", number + 2.0).await;
    eventually(metrics, "handover_crl_behind", 1.0).await;
    let text = scrape(metrics).await;
    assert_eq!(value(&text, "handover_crl_number"), Some(number));
    let compared = value(&text, "handover_crl_compared_time_seconds").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    assert!(
        (now - 60.0..=now + 1.0).contains(&compared),
        "{compared} at {now}"
    );
    app.stop().await;
}
