//! One revocation list for the whole deployment: the database keeps the
//! highest-numbered list any gateway put in force, per CA (a new CA
//! numbers its lists from the start again), so that a gateway whose
//! certificate folder holds an older list (a copy missed on one host, a
//! backup put back), or one that lacks a revocation of it, does not let
//! back in the certificates revoked since.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::pki::{CRL_FILE, ListInForce, Serial, ServerConfigHandle};
use crate::storage::{CrlFloor, Storage};

/// Records the list `tls` holds, and refuses to start with a list older
/// than one put in force before, or lacking a certificate that one
/// revokes.
///
/// # Errors
/// When the list is older or lacks a revocation, or the database does not
/// answer.
pub(super) async fn check_at_start(
    storage: &dyn Storage,
    tls: &ServerConfigHandle,
    certs_dir: &Path,
) -> anyhow::Result<()> {
    let list = tls.crl_in_force();
    let path = certs_dir.join(CRL_FILE);
    // Checked before the list is recorded, so that a list numbered higher
    // but lacking a revocation raises nothing; and after, for a floor
    // another replica raised meanwhile (the floor only grows, so the
    // second check covers the first's serials).
    let recorded = storage
        .crl_floor(&list.issuer)
        .await
        .context("reading the revocation list floor in the database")?;
    acceptable(&list, &recorded, &path)?;
    let floor = storage
        .raise_crl_floor(&list.issuer, &as_floor(&list))
        .await
        .context("recording the revocation list in the database")?;
    let floor_revoked = acceptable(&list, &floor, &path)?;
    tls.hold_crl_floor(&list.issuer, floor.number, floor_revoked);
    Ok(())
}

/// What `floor` revokes, if `list`, read from `path`, is no older than it
/// and lacks none of it.
fn acceptable(
    list: &ListInForce,
    floor: &CrlFloor,
    path: &Path,
) -> anyhow::Result<BTreeSet<Serial>> {
    let number = list.number;
    anyhow::ensure!(
        floor.number <= number,
        "the revocation list {} is number {number}, but number {} of the same CA was put in \
         force on this database: it would let back in certificates revoked since; copy the \
         newest {CRL_FILE} there (from the CA's folder or another replica)",
        path.display(),
        floor.number
    );
    let floor_revoked = serials(floor)?;
    let lacking = floor_revoked.difference(&list.revoked).count();
    anyhow::ensure!(
        lacking == 0,
        "the revocation list {} (number {number}) lacks {lacking} of the certificates lists of \
         the same CA put in force on this database revoke: it would let them back in; copy the \
         newest {CRL_FILE} there, or sign one that revokes them all",
        path.display(),
    );
    Ok(floor_revoked)
}

fn as_floor(list: &ListInForce) -> CrlFloor {
    CrlFloor {
        number: list.number,
        revoked: list.revoked.iter().map(ToString::to_string).collect(),
    }
}

fn serials(floor: &CrlFloor) -> anyhow::Result<BTreeSet<Serial>> {
    floor
        .revoked
        .iter()
        .map(|text| {
            Serial::from_hex(text).with_context(|| {
                format!(
                    "crl_floor holds {text:?}, which is no certificate serial; correct or delete \
                     that row (docs/deployment.md, Revocation)"
                )
            })
        })
        .collect()
}

/// Every `every` until `shutdown`: records a list the reloader put in
/// force, and learns of a newer one another gateway put in force, which
/// from then on every list this one reloads must match; `metrics` show
/// both numbers and whether this gateway is behind.
pub(super) async fn keep(
    storage: Arc<dyn Storage>,
    tls: ServerConfigHandle,
    metrics: Metrics,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut behind = false;
    let mut failing = false;
    // What the last look found, so that an unchanged list and floor are
    // not parsed again every period.
    let mut last: Option<(u64, CrlFloor)> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let list = tls.crl_in_force();
        let raised = storage
            .raise_crl_floor(&list.issuer, &as_floor(&list))
            .await;
        if let (Ok(floor), Some((number, seen))) = (&raised, &last)
            && (*number, seen) == (list.number, floor)
        {
            failing = false;
            metrics.crl_compared();
            continue;
        }
        let floor = raised
            .map_err(anyhow::Error::from)
            .and_then(|floor| Ok((serials(&floor)?, floor)))
            .map(|(revoked, floor)| {
                last = Some((list.number, floor.clone()));
                (floor.number, revoked)
            });
        let (floor, floor_revoked) = match floor {
            Ok(floor) => floor,
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "cannot compare the revocation list with the database's");
                }
                failing = true;
                continue;
            }
        };
        failing = false;
        let now_behind = floor > list.number || !floor_revoked.is_subset(&list.revoked);
        tls.hold_crl_floor(&list.issuer, floor, floor_revoked);
        metrics.set_crl(list.number, floor, now_behind);
        // A warning, not an error: while a new list is copied to each
        // replica in turn, those not reached yet are behind for a while.
        match (now_behind, behind) {
            (true, false) => tracing::warn!(
                in_force = list.number,
                newest = floor,
                "another gateway of this deployment put in force a newer revocation list, or one \
                 revoking certificates this one does not: copy the newest ca.crl into this one's \
                 certificate folder, or sign one that revokes them all"
            ),
            (false, true) => {
                tracing::info!(in_force = list.number, "the revocation list is the newest");
            }
            _ => {}
        }
        behind = now_behind;
    }
}
