//! `handover-gateway certs` against a running gateway's folder and
//! database: a revocation lists the certificate and disables the agency,
//! and a new server certificate is put in force at the next reload.

use std::process::Command;

use handover_gateway::domain::agency::AgencyId;
use handover_gateway::pki::Serial;

use super::{eventually, files_of, handshake_passes};
use crate::support::*;

#[tokio::test]
async fn certs_revoke_lists_the_certificate_and_disables_the_agency() {
    let app = spawn_app().await;
    let police = files_of(&app, "yingze-police");
    assert!(handshake_passes(&app, &police).await);
    let database = app.dir.path().join("data/gateway.db");
    let database = database.to_str().unwrap();

    let stdout = certs(
        &app,
        &["revoke", "--id", "yingze-police", "--database", database],
    )
    .await;

    let serial = Serial::of_pem(&police.cert_pem).unwrap().remove(0);
    assert!(
        stdout.contains(&format!("revoked yingze-police certificate {serial}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("disabled police yingze-police (140106)"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning"), "{stdout}");
    let id = AgencyId::parse("yingze-police").unwrap();
    let registered = app.gateway.storage().agency(&id).await.unwrap().unwrap();
    assert!(!registered.enabled);
    eventually("the revocation list is in force", || async {
        !handshake_passes(&app, &police).await
    })
    .await;
    assert!(handshake_passes(&app, &files_of(&app, "taiyuan-police")).await);
    let list = certs(&app, &["crl"]).await;
    assert!(
        list.contains("list 2,") && list.contains("1 revoked"),
        "{list}"
    );
    assert!(list.contains(&format!("  {serial}  revoked ")), "{list}");
}

/// A project disabled while it runs open cases leaves them with nobody who
/// may act: the revocation goes through (a stolen key must not wait), and
/// says so.
#[tokio::test]
async fn certs_revoke_warns_when_the_project_runs_open_cases() {
    let app = spawn_app().await;
    crate::steps::discharged_in_yingze(&app, 1).await;
    let database = app.dir.path().join("data/gateway.db");
    let stdout = certs(
        &app,
        &[
            "revoke",
            "--id",
            "yingze-project",
            "--database",
            database.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        stdout.contains("disabled county-project yingze-project (140106)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "warning: yingze-project is responsible for open cases in 140106, and nobody can act"
        ),
        "{stdout}"
    );
}

/// Runs `handover-gateway certs <args> --dir <the app's certs>`: its
/// output, standard output then standard error.
async fn certs(app: &App, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handover-gateway"));
    command
        .arg("certs")
        .args(args)
        .arg("--dir")
        .arg(certs_dir(app.dir.path()));
    // Blocking: the server must keep running meanwhile.
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout).unwrap() + &stderr
}

/// A new server certificate from the same CA, for the same names, goes
/// into force at the next reload, and agencies connect as before.
#[tokio::test]
async fn certs_server_makes_a_new_server_certificate_put_in_force_at_the_next_reload() {
    let app = spawn_app().await;
    let before = app.read("server.pem");
    let (applied, _) = app.tls.reloads();
    let stdout = certs(
        &app,
        &["server", "--host", "localhost", "--host", "127.0.0.1"],
    )
    .await;
    assert!(stdout.contains("server.pem and"), "{stdout}");
    assert_ne!(app.read("server.pem"), before, "a new certificate");
    eventually("the new certificate is in force", || async {
        app.tls.reloads().0 > applied
    })
    .await;
    assert!(handshake_passes(&app, &files_of(&app, "yingze-police")).await);
}
