//! Heads of the audit log signed by the gateway: every agency may fetch
//! one, it verifies with the published key, the gateway refuses to sign a
//! log cut or rewritten under it, and `audit verify --signed-head` finds a
//! log that no longer reaches a head kept from the API.

use handover_gateway::api::{pb, verify_audit_head};
use handover_gateway::domain::audit::{Head, parse_hash};
use handover_gateway::gateway::{PUBLIC_KEY_FILE, ReceiptPublicKey, verify_audit_keeping};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tonic::Code;

use super::entries;
use super::tamper::{audit_verify_with, binary, tampered};
use crate::support::*;

const GET_AUDIT_HEAD: &str = "handover.v1.AuditService/GetAuditHead";

async fn head(app: &App, agency: &str) -> Result<pb::SignedAuditHead, tonic::Status> {
    let response = app
        .audit_heads(agency)
        .await
        .get_audit_head(pb::GetAuditHeadRequest {})
        .await?;
    Ok(response.into_inner().head.expect("a head"))
}

fn key(app: &App) -> ReceiptPublicKey {
    ReceiptPublicKey::parse(&app.read(PUBLIC_KEY_FILE)).unwrap()
}

async fn discharge_one(app: &App, n: u32) {
    let person = person(&id_number("19900307", 700 + n), "140106", None);
    submit_as_detox(
        app,
        discharge(&format!("h-{n}"), &format!("D-H{n}"), person),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_agency_gets_a_signed_head_that_the_log_still_reaches() {
    let app = spawn_app().await;
    discharge_one(&app, 1).await;
    let mut last = 0;
    for agency in [
        "shanxi-office",
        "taiyuan-detox",
        "yingze-project",
        "yingze-police",
    ] {
        let signed = head(&app, agency).await.unwrap();
        let verified = verify_audit_head(&signed, &key(&app)).unwrap();
        assert_eq!(signed.requested_by, agency);
        assert!(verified.entries > last, "{agency}: {verified}");
        last = verified.entries;

        let log = entries(&app).await;
        let own = log.last().unwrap();
        assert_eq!(own.record.call, GET_AUDIT_HEAD);
        assert_eq!(own.record.outcome, "OK");
        assert_eq!(
            own.sequence,
            verified.entries + 1,
            "the head read before its own entry"
        );
        let storage = app.gateway.storage();
        let reached = verify_audit_keeping(storage.as_ref(), Some(verified)).await;
        assert!(matches!(reached, Ok(Ok(_))), "{reached:?}");
    }

    // What was appended since, over more than one page of the check.
    let record = entries(&app).await.last().unwrap().record.clone();
    let records = vec![record; 2_500];
    app.gateway.storage().append_audit(&records).await.unwrap();
    let signed = head(&app, "shanxi-office").await.unwrap();
    let verified = verify_audit_head(&signed, &key(&app)).unwrap();
    assert_eq!(verified.entries, last + 1 + 2_500);
}

/// The last entries deleted from the live database, with the append-only
/// triggers dropped, as an intruder would.
async fn cut_live_log(app: &App, from: u64) {
    let path = app.dir.path().join("data/gateway.db");
    let mut db = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for statement in [
        "DROP TRIGGER audit_log_no_delete".to_owned(),
        format!("DELETE FROM audit_log WHERE sequence >= {from}"),
    ] {
        sqlx::query(&statement).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_signs_no_head_of_a_log_cut_or_rewritten_under_it() {
    let app = spawn_app().await;
    discharge_one(&app, 2).await;
    let signed = head(&app, "shanxi-office").await.unwrap();
    let kept = verify_audit_head(&signed, &key(&app)).unwrap();

    // Its entry and the head call's own: the chain alone still verifies.
    cut_live_log(&app, kept.entries).await;
    let refused = head(&app, "shanxi-office").await.unwrap_err();
    assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
    let place = format!("entry {} was removed", kept.entries);
    assert!(refused.message().contains(&place), "{}", refused.message());
    let log = entries(&app).await;
    let own = log.last().unwrap();
    assert_eq!(
        (own.record.call.as_str(), own.record.outcome.as_str()),
        (GET_AUDIT_HEAD, "DATA_LOSS")
    );

    // That entry now stands at the kept head's place, chained well: a
    // rewrite, found by its hash.
    assert_eq!(own.sequence, kept.entries);
    let refused = head(&app, "yingze-police").await.unwrap_err();
    assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
    let place = format!("entry {} was changed", kept.entries);
    assert!(refused.message().contains(&place), "{}", refused.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_fetched_with_the_client_and_kept_finds_the_tail_cut_later() {
    let app = spawn_app().await;
    discharge_one(&app, 3).await;
    let certs = certs_dir(app.dir.path());
    let server = format!("https://localhost:{}", app.addr.port());
    let fetch = |json: &[&'static str]| {
        let mut args = vec![
            "audit",
            "head",
            "--as",
            "shanxi-office",
            "--server",
            &server,
            "--certs-dir",
            certs.to_str().unwrap(),
        ];
        args.extend(json);
        binary(&args)
    };
    let (ok, text) = fetch(&[]);
    assert!(
        ok && text.contains("audit log head signed by the gateway's key"),
        "{text}"
    );
    let (ok, saved) = fetch(&["--json"]);
    assert!(ok, "{saved}");
    let file = app.dir.path().join("head.json");
    std::fs::write(&file, &saved).unwrap();
    let json: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let kept = Head {
        entries: json["entries"].as_u64().unwrap(),
        hash: parse_hash(json["hash"].as_str().unwrap()).unwrap(),
    };
    assert_eq!(json["requested_by"], "shanxi-office");

    let public_key = certs.join(PUBLIC_KEY_FILE);
    let dir = app.stop().await;
    let database = dir.path().join("data/gateway.db");
    let verify = |database: &std::path::Path, file: &std::path::Path| {
        audit_verify_with(
            database,
            &[
                "--signed-head",
                file.to_str().unwrap(),
                "--public-key",
                public_key.to_str().unwrap(),
            ],
        )
    };
    let (ok, text) = verify(&database, &file);
    assert!(ok, "{text}");
    assert!(
        text.contains("still reaches the head the gateway signed at")
            && text.contains(&format!("for shanxi-office: {kept}")),
        "{text}"
    );

    let statement = format!("DELETE FROM audit_log WHERE sequence >= {}", kept.entries);
    let cut = tampered(dir.path(), "cut", &[&statement]).await;
    let (ok, text) = verify(&cut, &file);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("entry {} was removed", kept.entries)),
        "{text}"
    );

    let forged = saved.replacen(
        &format!("\"entries\":{}", kept.entries),
        &format!("\"entries\":{}", kept.entries - 1),
        1,
    );
    assert_ne!(forged, saved);
    let forged_file = dir.path().join("forged.json");
    std::fs::write(&forged_file, forged).unwrap();
    let (ok, text) = verify(&database, &forged_file);
    assert!(!ok, "{text}");
    assert!(
        text.contains("does NOT verify") && text.contains("entries says"),
        "{text}"
    );
}
