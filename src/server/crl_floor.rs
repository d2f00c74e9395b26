//! One revocation list for the whole deployment: the database keeps the
//! highest list number any gateway put in force, so that a gateway whose
//! certificate folder holds an older list (a copy missed on one host, a
//! backup put back) does not let back in the certificates revoked since.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
    let number = tls.crl_number();
    let floor = storage.raise_crl_floor(number).await?;
    anyhow::ensure!(
        floor <= number,
        "the revocation list {} is number {number}, but number {floor} was put in force on this \
         database: it would let back in certificates revoked since; copy the newest {CRL_FILE} \
         there (from the CA's folder or another replica)",
        certs_dir.join(CRL_FILE).display(),
    );
    tls.hold_crl_floor(floor);
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
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let number = tls.crl_number();
        let floor = match storage.raise_crl_floor(number).await {
            Ok(floor) => floor,
            Err(error) => {
                tracing::debug!(%error, "cannot record the revocation list number now");
                continue;
            }
        };
        tls.hold_crl_floor(floor);
        match (floor > number, behind) {
            (true, false) => tracing::error!(
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
