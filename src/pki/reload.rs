//! Putting new certificate files in force while the gateway runs: the CA,
//! the server certificate and key, and above all the revocation list, so
//! that a revoked agency is shut out without a restart.
//!
//! The folder is read every few seconds and on SIGHUP. Files that differ
//! from the last read are built into a new configuration, which replaces the
//! old one only if it loads: a half-copied or broken file is logged and the
//! gateway goes on serving with what it had.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::PkiError;
use super::tls::{ServerConfigHandle, ServerFiles};

/// What one look at the folder found.
#[derive(Debug)]
pub enum Reload {
    /// The files are as last read.
    Unchanged,
    /// New files are in force; `ended` connections of now revoked
    /// certificates were closed.
    Applied { ended: usize },
    /// The files changed but do not load; the old configuration stays.
    Refused(PkiError),
}

/// Watches a certificate folder for one server.
#[derive(Debug)]
pub struct TlsReloader {
    dir: PathBuf,
    handle: ServerConfigHandle,
    /// The files last read, loaded or not, so that one broken file is
    /// reported once rather than at every look.
    seen: Option<ServerFiles>,
    last_error: Option<String>,
}

impl TlsReloader {
    /// A reloader for `handle`, whose configuration was built from `loaded`,
    /// read from `dir`.
    #[must_use]
    pub fn new(dir: PathBuf, handle: ServerConfigHandle, loaded: ServerFiles) -> Self {
        Self {
            dir,
            handle,
            seen: Some(loaded),
            last_error: None,
        }
    }

    /// Reads the folder and puts its files in force if they changed and
    /// load. Reads files: call it from blocking code or a blocking task.
    pub fn check(&mut self) -> Reload {
        let outcome = self.apply(ServerFiles::load(&self.dir));
        self.log(&outcome);
        outcome
    }

    fn apply(&mut self, files: Result<ServerFiles, PkiError>) -> Reload {
        let files = match files {
            Ok(files) => files,
            // A file being replaced may be missing for a moment.
            Err(error) => return Reload::Refused(error),
        };
        if self.seen.as_ref() == Some(&files) {
            return Reload::Unchanged;
        }
        let outcome = match self.handle.reload(&files) {
            Ok(ended) => Reload::Applied { ended },
            Err(error) => Reload::Refused(error),
        };
        self.seen = Some(files);
        outcome
    }

    fn log(&mut self, outcome: &Reload) {
        match outcome {
            Reload::Unchanged => {}
            Reload::Applied { ended } => {
                self.last_error = None;
                tracing::info!(
                    dir = %self.dir.display(),
                    revoked_connections_ended = ended,
                    "new TLS files in force"
                );
            }
            Reload::Refused(error) => {
                let error = chain(error);
                if self.last_error.as_ref() != Some(&error) {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        %error,
                        "TLS files do not load; the configuration in force stays"
                    );
                    self.last_error = Some(error);
                }
            }
        }
    }

    /// Looks at the folder every `every` and on SIGHUP until `shutdown`.
    pub async fn run(mut self, every: Duration, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let mut hangup = Hangup::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
                () = hangup.recv() => tracing::info!("SIGHUP: reading the TLS files"),
            }
            // The files are small, but reading them must not hold up a
            // runtime thread that also serves calls.
            let mut reloader = self;
            self = match tokio::task::spawn_blocking(move || {
                reloader.check();
                reloader
            })
            .await
            {
                Ok(reloader) => reloader,
                Err(error) => {
                    tracing::error!(%error, "TLS reload task failed; no more reloads");
                    return;
                }
            };
        }
        tracing::debug!("TLS reloader stopped");
    }
}

/// SIGHUP where there is one; never otherwise.
struct Hangup(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangup {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::hangup()) {
                Ok(signal) => Self(Some(signal)),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP; reloading on a timer only");
                    Self(None)
                }
            }
        }
        #[cfg(not(unix))]
        Self()
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.0
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// An error and its causes on one line.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tls::tests::save_with_server;
    use crate::pki::{CertificateAuthority, Serial, revoke};

    fn folder() -> (tempfile::TempDir, CertificateAuthority, TlsReloader) {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::generate("CA").unwrap();
        save_with_server(&ca, dir.path());
        let files = ServerFiles::load(dir.path()).unwrap();
        let handle = ServerConfigHandle::load(&files).unwrap();
        let reloader = TlsReloader::new(dir.path().to_path_buf(), handle, files);
        (dir, ca, reloader)
    }

    #[test]
    fn unchanged_files_are_not_reloaded() {
        let (_dir, _ca, mut reloader) = folder();
        assert!(matches!(reloader.check(), Reload::Unchanged));
        assert_eq!(reloader.handle.reloads(), (0, 0));
    }

    #[test]
    fn a_new_list_is_put_in_force() {
        let (dir, ca, mut reloader) = folder();
        let before = reloader.handle.current();
        let now = time::OffsetDateTime::now_utc();
        revoke(&ca, dir.path(), &[Serial::from_bytes(&[1])], now).unwrap();

        assert!(matches!(reloader.check(), Reload::Applied { ended: 0 }));
        assert!(!std::sync::Arc::ptr_eq(&before, &reloader.handle.current()));
        assert!(matches!(reloader.check(), Reload::Unchanged));
    }

    #[test]
    fn an_older_list_is_refused() {
        let (dir, ca, mut reloader) = folder();
        let now = time::OffsetDateTime::now_utc();
        revoke(&ca, dir.path(), &[Serial::from_bytes(&[1])], now).unwrap();
        assert!(matches!(reloader.check(), Reload::Applied { .. }));

        let older = ca.sign_crl(1, &[], now).unwrap();
        std::fs::write(dir.path().join(crate::pki::CRL_FILE), older).unwrap();

        assert!(matches!(
            reloader.check(),
            Reload::Refused(PkiError::InvalidCrl(_))
        ));
    }

    #[test]
    fn a_list_that_lacks_a_revocation_in_force_is_refused_whatever_its_number() {
        let (dir, ca, mut reloader) = folder();
        let now = time::OffsetDateTime::now_utc();
        let first = Serial::from_bytes(&[1]);
        let done = revoke(&ca, dir.path(), std::slice::from_ref(&first), now).unwrap();
        assert!(matches!(reloader.check(), Reload::Applied { .. }));

        // Signed from the list before, as a CA folder put back would.
        let second = (Serial::from_bytes(&[2]), now);
        let crl = dir.path().join(crate::pki::CRL_FILE);
        let lacking = ca
            .sign_crl(done.number + 1, std::slice::from_ref(&second), now)
            .unwrap();
        std::fs::write(&crl, lacking).unwrap();
        assert!(matches!(
            reloader.check(),
            Reload::Refused(PkiError::InvalidCrl(_))
        ));
        assert_eq!(reloader.handle.crl_number(), done.number);

        let both = ca
            .sign_crl(done.number + 1, &[(first, now), second], now)
            .unwrap();
        std::fs::write(&crl, both).unwrap();
        assert!(matches!(reloader.check(), Reload::Applied { .. }));
    }

    #[test]
    fn a_floor_holds_for_its_own_ca_and_a_new_ca_starts_afresh() {
        let (dir, ca, mut reloader) = folder();
        let handle = reloader.handle.clone();
        let crate::pki::ListInForce { issuer, number, .. } = handle.crl_in_force();
        assert_eq!(issuer, crate::pki::ca_fingerprint(ca.cert_pem()).unwrap());
        let held = Serial::from_bytes(&[7]);
        let revoking = || std::collections::BTreeSet::from([held.clone()]);
        handle.hold_crl_floor("another CA", number + 99, revoking());
        handle.hold_crl_floor(&issuer, number + 5, revoking());
        let now = time::OffsetDateTime::now_utc();
        let crl = dir.path().join(crate::pki::CRL_FILE);

        std::fs::write(&crl, ca.sign_crl(number + 4, &[], now).unwrap()).unwrap();
        assert!(matches!(
            reloader.check(),
            Reload::Refused(PkiError::InvalidCrl(_))
        ));
        // At the floor, but without what the list at the floor revokes.
        std::fs::write(&crl, ca.sign_crl(number + 5, &[], now).unwrap()).unwrap();
        assert!(matches!(
            reloader.check(),
            Reload::Refused(PkiError::InvalidCrl(_))
        ));
        let list = ca.sign_crl(number + 5, &[(held.clone(), now)], now);
        std::fs::write(&crl, list.unwrap()).unwrap();
        assert!(matches!(reloader.check(), Reload::Applied { .. }));
        let in_force = handle.crl_in_force();
        assert_eq!(
            (in_force.issuer.as_str(), in_force.number),
            (issuer.as_str(), number + 5)
        );

        // A new CA numbers its lists from the start again.
        let new_ca = CertificateAuthority::generate("CA 2").unwrap();
        for file in ["ca.pem", "ca-key.pem", "ca.crl"] {
            std::fs::remove_file(dir.path().join(file)).unwrap();
        }
        save_with_server(&new_ca, dir.path());
        assert!(matches!(reloader.check(), Reload::Applied { .. }));
        let crate::pki::ListInForce {
            issuer: new_issuer,
            number: new_number,
            ..
        } = handle.crl_in_force();
        assert_ne!(new_issuer, issuer);
        assert!(new_number < number + 5, "{new_number}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sighup_reads_the_folder_at_once() {
        use tokio::signal::unix::{SignalKind, signal};
        // Listening first: a SIGHUP nobody listens for ends the process.
        let _ours = signal(SignalKind::hangup()).unwrap();
        let (dir, ca, reloader) = folder();
        let handle = reloader.handle.clone();
        let shutdown = CancellationToken::new();
        let hour = Duration::from_secs(3600);
        let running = tokio::spawn(reloader.run(hour, shutdown.clone()));
        let now = time::OffsetDateTime::now_utc();
        revoke(&ca, dir.path(), &[Serial::from_bytes(&[1])], now).unwrap();

        // The reloader may not listen yet: signal until it answers.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while handle.reloads().0 == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no reload");
            let pid = std::process::id().to_string();
            let kill = std::process::Command::new("kill")
                .args(["-HUP", &pid])
                .status();
            assert!(kill.unwrap().success());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        running.await.unwrap();
    }

    #[test]
    fn broken_or_missing_files_keep_the_configuration_in_force() {
        let (dir, _ca, mut reloader) = folder();
        let before = reloader.handle.current();
        let server = dir.path().join("server.pem");
        let good = std::fs::read_to_string(&server).unwrap();

        std::fs::write(&server, "garbage").unwrap();
        assert!(matches!(reloader.check(), Reload::Refused(_)));
        assert!(matches!(reloader.check(), Reload::Unchanged), "once");
        std::fs::remove_file(dir.path().join("ca.crl")).unwrap();
        assert!(matches!(
            reloader.check(),
            Reload::Refused(PkiError::Io { .. })
        ));

        assert!(std::sync::Arc::ptr_eq(&before, &reloader.handle.current()));
        assert_eq!(reloader.handle.reloads(), (0, 1));
        std::fs::write(&server, good).unwrap();
        assert!(matches!(reloader.check(), Reload::Refused(_)), "no list");
    }
}
