//! Signed receipts: checked with the public key the gateway publishes, the
//! same on a replay, and refused by `receipt verify` once changed.

use std::process::{Command, Output};

use handover_gateway::api::verify_receipt;
use handover_gateway::gateway::{PUBLIC_KEY_FILE, ReceiptError, ReceiptPublicKey};

use crate::steps::{discharged_in_yingze, pickup};
use crate::support::*;

/// The key as a client finds it: in the certificate folder.
fn published_key(app: &App) -> ReceiptPublicKey {
    ReceiptPublicKey::parse(&app.read(PUBLIC_KEY_FILE)).unwrap()
}

#[tokio::test]
async fn a_discharge_receipt_verifies_with_the_published_public_key() {
    let app = spawn_app().await;
    let key = published_key(&app);
    assert_eq!(key, app.gateway.receipt_signer().public_key());

    let person = person(&id_number("19900307", 301), "140106", None);
    let receipt = submit_as_detox(&app, discharge("r-1", "D-2026-301", person)).await;
    let content = verify_receipt(&receipt, &key).unwrap();

    assert_eq!(receipt.signing_key_id, key.key_id());
    assert_eq!(content.request_id, "r-1");
    assert_eq!(content.agency_id, "taiyuan-detox");
    assert_eq!(content.content_digest.len(), 32);
    assert_eq!(content.case_id, receipt.case_id);
    assert_eq!(content.deliveries, receipt.deliveries);
    assert_eq!(content.accepted_at, receipt.accepted_at);
}

#[tokio::test]
async fn a_replayed_request_gets_the_identical_signed_receipt_even_after_a_restart() {
    let app = spawn_app().await;
    let person = person(&id_number("19900307", 302), "140106", None);
    let request = discharge("r-1", "D-2026-302", person);
    let first = submit_as_detox(&app, request.clone()).await;
    let again = submit_as_detox(&app, request.clone()).await;
    assert!(!first.signature.is_empty());
    assert_eq!(first, again);

    // The key is derived from the master key, so a restarted gateway signs
    // the stored answer to the same bytes.
    let app = start(app.stop().await).await;
    let after_restart = submit_as_detox(&app, request).await;
    assert_eq!(after_restart, first);
    assert!(verify_receipt(&after_restart, &published_key(&app)).is_ok());
}

#[tokio::test]
async fn a_supervision_command_receipt_verifies_and_names_the_project() {
    let app = spawn_app().await;
    let discharged = discharged_in_yingze(&app, 303).await;
    let receipt = pickup(&app, "yingze-project", &discharged.case_id)
        .await
        .unwrap();
    let key = published_key(&app);

    let content = verify_receipt(&receipt, &key).unwrap();
    assert_eq!(content.agency_id, "yingze-project");
    assert_eq!(content.case_id, discharged.case_id);
    assert_eq!(content.version, 2);
    let discharge_digest = verify_receipt(&discharged, &key).unwrap().content_digest;
    assert_ne!(content.content_digest, discharge_digest);

    let mut shown_otherwise = receipt.clone();
    shown_otherwise.responsible_project_id = "xiaodian-project".into();
    assert!(matches!(
        verify_receipt(&shown_otherwise, &key),
        Err(ReceiptError::Mismatch { field, .. }) if field == "responsible_project_id"
    ));
}

fn binary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(args)
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `text` with the first character of `field`'s string value changed to
/// another hex digit: a one-byte change that keeps the JSON valid.
fn tamper(text: &str, field: &str) -> String {
    let start = text.find(&format!("\"{field}\":\"")).unwrap() + field.len() + 4;
    let replacement = if &text[start..=start] == "0" {
        "1"
    } else {
        "0"
    };
    format!("{}{replacement}{}", &text[..start], &text[start + 1..])
}

// Multi-threaded: the server must keep running while this thread waits
// for the client processes.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_json_receipt_verifies_offline_and_a_changed_one_is_refused() {
    let app = spawn_app().await;
    let certs = certs_dir(app.dir.path());
    let server = format!("https://localhost:{}", app.addr.port());
    let example = format!("{}/examples/discharge.json", env!("CARGO_MANIFEST_DIR"));
    let printed = succeeded(&binary(&[
        "discharge",
        "--as",
        "taiyuan-detox",
        "--file",
        &example,
        "--json",
        "--server",
        &server,
        "--certs-dir",
        certs.to_str().unwrap(),
    ]));
    let saved = app.dir.path().join("receipt.json");
    std::fs::write(&saved, &printed).unwrap();
    let key = certs.join(PUBLIC_KEY_FILE);
    let verify = |file: &std::path::Path| {
        binary(&[
            "receipt",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--public-key",
            key.to_str().unwrap(),
        ])
    };

    let verified = succeeded(&verify(&saved));
    assert!(
        verified.contains("verified: signed by the gateway's receipt key")
            && verified.contains("from taiyuan-detox")
            && verified.contains("delivered to yingze-project at #1 (responsible-project)"),
        "{verified}"
    );

    for (field, complaint) in [
        ("signed_content", "signature does not match"),
        ("signature", "signature does not match"),
        ("case_id", "case_id says"),
    ] {
        let changed = app.dir.path().join(format!("changed-{field}.json"));
        std::fs::write(&changed, tamper(&printed, field)).unwrap();
        let refused = verify(&changed);
        assert!(!refused.status.success(), "a changed {field} was accepted");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("does NOT verify") && stderr.contains(complaint),
            "{field}: {stderr}"
        );
    }

    let master_key = app.dir.path().join("data/master.key");
    let printed_key = succeeded(&binary(&[
        "receipt",
        "public-key",
        "--master-key",
        master_key.to_str().unwrap(),
    ]));
    assert_eq!(printed_key, app.read(PUBLIC_KEY_FILE));
}
