//! Tampering with the stored rows of a stopped server's database, found at
//! the entry it touched by [`verify_audit`] and by `audit verify`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use handover_gateway::domain::audit::BreakKind;
use handover_gateway::gateway::verify_audit;
use handover_gateway::storage::SqliteStorage;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use super::entries;
use crate::support::*;

/// A log of five entries on a stopped server's database.
async fn stopped_with_five_entries() -> tempfile::TempDir {
    let app = spawn_app().await;
    let case_id = submit_as_detox(
        &app,
        discharge(
            "r-1",
            "D-1",
            person(&id_number("19900307", 607), "140106", None),
        ),
    )
    .await
    .case_id;
    for _ in 0..4 {
        app.case_for_office(&case_id).await;
    }
    assert_eq!(entries(&app).await.len(), 5);
    app.stop().await
}

/// A copy of the stopped database, tampered with by `statements` run
/// directly (the append-only triggers dropped first, as an intruder would).
pub(super) async fn tampered(dir: &Path, name: &str, statements: &[&str]) -> PathBuf {
    let copy = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let original = dir.join(format!("data/gateway.db{suffix}"));
        if original.exists() {
            std::fs::copy(&original, dir.join(format!("{name}.db{suffix}"))).unwrap();
        }
    }
    let mut db = SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(&mut db)
        .await
        .unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
    copy
}

async fn verified(database: &Path) -> Result<u64, (u64, BreakKind)> {
    let storage = SqliteStorage::open_read_only(database).await.unwrap();
    let checked = verify_audit(&storage).await.unwrap();
    storage.close().await;
    checked
        .map(|head| head.entries)
        .map_err(|found| (found.sequence, found.kind))
}

fn audit_verify(database: &Path) -> (bool, String) {
    audit_verify_with(database, &[])
}

pub(super) fn audit_verify_with(database: &Path, more: &[&str]) -> (bool, String) {
    let mut args = vec![
        OsStr::new("audit"),
        "verify".as_ref(),
        "--database".as_ref(),
    ];
    args.push(database.as_os_str());
    args.extend(more.iter().map(OsStr::new));
    binary(args)
}

/// Runs the gateway's binary with `args`: whether it succeeded, and what
/// it printed.
pub(super) fn binary<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_handover-gateway"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn tampering_with_the_stored_rows_is_found_at_the_entry_it_touched() {
    let dir = stopped_with_five_entries().await;
    let original = dir.path().join("data/gateway.db");
    assert_eq!(verified(&original).await, Ok(5));
    let (ok, text) = audit_verify(&original);
    assert!(ok, "{text}");
    assert!(
        text.starts_with("audit log intact: 5 entries, head "),
        "{text}"
    );

    let changed = tampered(
        dir.path(),
        "changed",
        &["UPDATE audit_log SET entry = replace(entry, '\"OK\"', '\"NOT_FOUND\"') WHERE sequence = 3"],
    )
    .await;
    let removed = tampered(
        dir.path(),
        "removed",
        &["DELETE FROM audit_log WHERE sequence = 3"],
    )
    .await;
    let inserted = tampered(
        dir.path(),
        "inserted",
        &[
            "UPDATE audit_log SET sequence = -sequence - 1 WHERE sequence >= 3",
            "UPDATE audit_log SET sequence = -sequence WHERE sequence < 0",
            "INSERT INTO audit_log (sequence, entry, hash) \
             VALUES (3, '{\"sequence\":3,\"call\":\"made up\"}', randomblob(32))",
        ],
    )
    .await;
    for (database, kind, word) in [
        (changed, BreakKind::Changed, "changed"),
        (removed, BreakKind::Removed, "removed"),
        (inserted, BreakKind::Inserted, "inserted"),
    ] {
        assert_eq!(verified(&database).await, Err((3, kind)), "{word}");
        let (ok, text) = audit_verify(&database);
        assert!(!ok, "{word}: {text}");
        assert!(text.contains(&format!("entry 3 was {word}")), "{text}");
    }
}

/// What the chain alone cannot show, a head kept from an earlier run does:
/// the last entries deleted (a log rewritten with its hashes recomputed is
/// the domain's tests', `src/domain/audit/tests.rs`).
#[tokio::test(flavor = "multi_thread")]
async fn a_head_kept_from_an_earlier_check_finds_the_tail_cut() {
    let dir = stopped_with_five_entries().await;
    let original = dir.path().join("data/gateway.db");
    let (ok, text) = audit_verify(&original);
    assert!(ok, "{text}");
    let kept = text
        .split("--expect-head ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no head to keep in {text}"))
        .to_owned();
    assert!(kept.starts_with("5:"), "{kept}");
    let (ok, text) = audit_verify_with(&original, &["--expect-head", &kept]);
    assert!(ok, "{text}");
    assert!(text.contains("still reaches the head kept"), "{text}");

    let cut = tampered(
        dir.path(),
        "cut",
        &["DELETE FROM audit_log WHERE sequence >= 4"],
    )
    .await;
    assert_eq!(verified(&cut).await, Ok(3), "the chain alone sees nothing");
    let (ok, text) = audit_verify_with(&cut, &["--expect-head", &kept]);
    assert!(!ok, "{text}");
    assert!(text.contains("entry 4 was removed"), "{text}");
    assert!(text.contains("tail was cut"), "{text}");

    let (ok, text) = audit_verify_with(&original, &["--expect-head", "5:beef"]);
    assert!(!ok, "{text}");
    assert!(text.contains("ENTRIES:HASH"), "{text}");
}
