//! One revocation list floor per database: it only rises, whichever
//! process raises it, and a gateway whose certificate folder holds an
//! older list than one put in force neither starts nor reloads it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use handover_gateway::config::Config;
use handover_gateway::domain::clock::ManualClock;
use handover_gateway::pki::{CRL_FILE, PkiError, Serial, ServerFiles, revoke};
use handover_gateway::server::Server;
use handover_gateway::storage::CrlFloor;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::app::{self, App, START};
use crate::replicas::{NO_HEARTBEAT, two_replicas};
use crate::support::{Db, Kind, run};

conformance!(
    the_floor_only_rises_and_outlives_the_process,
    raises_at_once_from_two_processes_lose_nothing,
    a_gateway_does_not_start_with_a_list_older_than_one_in_force,
);

async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn list(number: u64, revoked: &[&str]) -> CrlFloor {
    CrlFloor {
        number,
        revoked: revoked.iter().map(|s| (*s).to_owned()).collect(),
    }
}

async fn the_floor_only_rises_and_outlives_the_process(db: Db) {
    let storage = db.open().await;
    let none = CrlFloor::default();
    assert_eq!(storage.crl_floor("ca-a").await.unwrap(), none);
    let raises = [
        (list(3, &["0a"]), list(3, &["0a"])),
        (list(2, &[]), list(3, &["0a"])),
        // Two lists of one number: neither loses a revocation.
        (list(3, &["0b"]), list(3, &["0a", "0b"])),
        // A revocation is never taken back: what a list numbered higher
        // lacks stays recorded, and a list numbered lower adds its own.
        (list(7, &["0c"]), list(7, &["0a", "0b", "0c"])),
        (list(5, &["0d"]), list(7, &["0a", "0b", "0c", "0d"])),
    ];
    for (raise, floor) in raises {
        assert_eq!(
            storage.raise_crl_floor("ca-a", &raise).await.unwrap(),
            floor,
            "{raise:?}"
        );
    }
    // Numbers count per CA: a new one starts from its own.
    let other = list(1, &[]);
    assert_eq!(
        storage.raise_crl_floor("ca-b", &other).await.unwrap(),
        other
    );
    storage.close().await;
    let reopened = db.open().await;
    assert_eq!(
        reopened
            .raise_crl_floor("ca-a", &list(1, &[]))
            .await
            .unwrap(),
        list(7, &["0a", "0b", "0c", "0d"])
    );
    assert_eq!(
        reopened.raise_crl_floor("ca-b", &none).await.unwrap(),
        other
    );
    reopened.close().await;
}

/// Replicas reloading at the same moment, each with a list of its own:
/// whatever order the raises take, the floor ends at the highest number
/// with every serial.
async fn raises_at_once_from_two_processes_lose_nothing(db: Db) {
    let (first, second) = (db.open().await, db.open().await);
    let raises = (1..=12u64).map(|number| {
        let storage = if number % 2 == 0 { &first } else { &second };
        let storage = Arc::clone(storage);
        let serial = format!("{number:02x}");
        tokio::spawn(async move {
            let raised = storage
                .raise_crl_floor("ca-a", &list(number, &[&serial]))
                .await;
            let floor = raised.unwrap();
            assert!(floor.number >= number && floor.revoked.contains(&serial));
        })
    });
    for raise in raises.collect::<Vec<_>>() {
        raise.await.unwrap();
    }
    let serials: Vec<String> = (1..=12u64).map(|n| format!("{n:02x}")).collect();
    let serials: Vec<&str> = serials.iter().map(String::as_str).collect();
    assert_eq!(first.crl_floor("ca-a").await.unwrap(), list(12, &serials));
    first.close().await;
    second.close().await;
}

/// Revokes `agency`'s certificate in `app`'s folder and waits until the
/// gateway put the new list in force and recorded its number.
async fn revoke_in(app: &App, agency: &str) -> u64 {
    let before = app.tls.crl_number();
    let serials = Serial::of_pem(&app.read(&format!("{agency}.pem"))).unwrap();
    revoke(
        &app.ca(),
        &app::certs_dir(app.dir.path()),
        &serials,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    eventually("the new list is in force", || async {
        app.tls.crl_number() > before
    })
    .await;
    let in_force = app.tls.crl_in_force();
    let (issuer, number) = (in_force.issuer, in_force.number);
    let storage = app.gateway.storage();
    eventually("its number is recorded", || async {
        storage.crl_floor(&issuer).await.unwrap().number == number
    })
    .await;
    number
}

fn config_on(db: &Db, dir: &std::path::Path) -> Config {
    Config {
        database: db.setting.clone(),
        ..app::config(dir)
    }
}

async fn refused_start(config: Config) -> String {
    let clock = Arc::new(ManualClock::new(START));
    match Server::build(config, clock).await {
        Ok(_) => panic!("the gateway started"),
        Err(error) => format!("{error:#}"),
    }
}

async fn a_gateway_does_not_start_with_a_list_older_than_one_in_force(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let backend = db.unsealed().await;
    handover_gateway::bootstrap::development(&app::certs_dir(dir.path()), backend.storage())
        .await
        .unwrap();
    backend.storage().close().await;
    let config = config_on(&db, dir.path());
    let app = app::start_with(dir, START, config).await;
    let crl = app::certs_dir(app.dir.path()).join(CRL_FILE);
    let older = std::fs::read(&crl).unwrap();
    let number = revoke_in(&app, "yingze-project").await;
    let newer = std::fs::read(&crl).unwrap();
    let dir = app.stop().await;

    // The folder, the CA's too, put back from before the revocation.
    std::fs::write(&crl, &older).unwrap();
    let refused = refused_start(config_on(&db, dir.path())).await;
    assert!(
        refused.contains(&format!(
            "but number {number} of the same CA was put in force"
        )),
        "{refused}"
    );
    // Nor a list numbered as the one in force, or higher, that lacks its
    // revocation; and such a list raises nothing.
    let now = OffsetDateTime::now_utc();
    let ca =
        handover_gateway::pki::CertificateAuthority::load(&app::certs_dir(dir.path())).unwrap();
    for lacking in [number, number + 1] {
        std::fs::write(&crl, ca.sign_crl(lacking, &[], now).unwrap()).unwrap();
        let refused = refused_start(config_on(&db, dir.path())).await;
        assert!(
            refused.contains(&format!("(number {lacking}) lacks 1 of the certificates")),
            "{refused}"
        );
    }
    std::fs::write(&crl, &older).unwrap();

    // Nor does the next revocation sign from it: that would take back
    // the one it lacks.
    let (revoked, output) = certs_revoke(dir.path(), "xiaodian-project", &db);
    assert!(!revoked, "{output}");
    assert!(
        output.contains(&format!("behind list {number}")),
        "{output}"
    );
    assert_eq!(std::fs::read(&crl).unwrap(), older, "nothing was changed");

    // A list numbered as the one in force but lacking its revocation (two
    // lists of one number): the next revocation revokes what it lacks too.
    std::fs::write(&crl, ca.sign_crl(number, &[], now).unwrap()).unwrap();
    let (revoked, output) = certs_revoke(dir.path(), "xiaodian-project", &db);
    assert!(revoked, "{output}");
    assert!(
        output.contains("lacks 1 certificates another list of this CA revoked"),
        "{output}"
    );
    let signed = std::fs::read_to_string(&crl).unwrap();
    let signed = handover_gateway::pki::RevocationList::from_pem(&signed, ca.cert_pem()).unwrap();
    assert_eq!(signed.number, number + 1);
    let newest = handover_gateway::pki::RevocationList::from_pem(
        &String::from_utf8(newer).unwrap(),
        ca.cert_pem(),
    )
    .unwrap();
    assert!(
        signed.serials().is_superset(&newest.serials()),
        "yingze's stays revoked"
    );
    let config = config_on(&db, dir.path());
    let app = app::start_with(dir, START, config).await;
    assert_eq!(app.tls.crl_number(), number + 1);
    app.stop().await;
}

/// Runs `handover-gateway certs revoke` on `dir`'s certificates and `db`:
/// whether it succeeded, and what it printed.
fn certs_revoke(dir: &std::path::Path, agency: &str, db: &Db) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(["certs", "revoke", "--id", agency, "--dir"])
        .arg(app::certs_dir(dir))
        .arg("--database")
        .arg(&db.setting)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// A list revoked on replica A only: B, still on the older list, learns
/// the newer number, refuses to reload its older list, and does not start
/// again with it; with A's list it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_left_with_an_older_list_neither_reloads_it_nor_starts() {
    run(Kind::Postgres, |db| async move {
        let (a, b) = two_replicas(&db, NO_HEARTBEAT).await;
        let b_certs = app::certs_dir(b.dir.path());
        let number = revoke_in(&a, "yingze-project").await;
        assert!(b.tls.crl_number() < number);
        eventually("B refuses its older list", || async {
            let files = ServerFiles::load(&b_certs).unwrap();
            matches!(b.tls.reload(&files), Err(PkiError::InvalidCrl(_)))
        })
        .await;

        let b_dir = b.stop().await;
        let refused = refused_start(config_on(&db, b_dir.path())).await;
        assert!(
            refused.contains(&format!(
                "but number {number} of the same CA was put in force"
            )),
            "{refused}"
        );
        let a_list = app::certs_dir(a.dir.path()).join(CRL_FILE);
        std::fs::copy(a_list, b_certs.join(CRL_FILE)).unwrap();
        let config = config_on(&db, b_dir.path());
        let b = app::start_with(b_dir, START, config).await;
        assert_eq!(b.tls.crl_number(), number);
        b.stop().await;
        a.stop().await;
    })
    .await;
}
