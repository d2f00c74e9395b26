//! One revocation list for the whole deployment: the database keeps the
//! highest list number any gateway put in force, per CA (a new CA numbers
//! its lists from the start again), so that a gateway whose
//! certificate folder holds an older list (a copy missed on one host, a
//! backup put back) does not let back in the certificates revoked since.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::pki::{CRL_FILE, ServerConfigHandle};
use crate::storage::Storage;

/// Records the number of the list `tls` holds, and refuses to start with a
/// list older than one put in force before.
///
/// # Errors
/// When the list is older, or the database does not answer.
pub(super) async fn check_at_start(
    storage: &dyn Storage,
    tls: &ServerConfigHandle,
    certs_dir: &Path,
) -> anyhow::Result<()> {
    let (issuer, number) = tls.crl_in_force();
    let floor = storage
        .raise_crl_floor(&issuer, number)
        .await
        .context("recording the revocation list number in the database")?;
    anyhow::ensure!(
        floor <= number,
        "the revocation list {} is number {number}, but number {floor} of the same CA was put in \
         force on this database: it would let back in certificates revoked since; copy the \
         newest {CRL_FILE} there (from the CA's folder or another replica)",
        certs_dir.join(CRL_FILE).display(),
    );
    tls.hold_crl_floor(&issuer, floor);
    Ok(())
}

/// Every `every` until `shutdown`: records the number of a list the
/// reloader put in force, and learns of a newer one another gateway put in
/// force, which from then on is the oldest this one reloads.
pub(super) async fn keep(
    storage: Arc<dyn Storage>,
    tls: ServerConfigHandle,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut behind = false;
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let (issuer, number) = tls.crl_in_force();
        let floor = match storage.raise_crl_floor(&issuer, number).await {
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
        tls.hold_crl_floor(&issuer, floor);
        // A warning, not an error: while a new list is copied to each
        // replica in turn, those not reached yet are behind for a while.
        match (floor > number, behind) {
            (true, false) => tracing::warn!(
                in_force = number,
                newest = floor,
                "another gateway of this deployment put a newer revocation list in force; \
                 copy it into this one's certificate folder"
            ),
            (false, true) => tracing::info!(in_force = number, "the revocation list is the newest"),
            _ => {}
        }
        behind = floor > number;
    }
}
