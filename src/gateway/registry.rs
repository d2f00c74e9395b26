//! The agency registry, held in memory while the database says it has not
//! changed, and the callers checked against it. Every call needs it (who
//! is calling, who receives what), and reading a province's few hundred
//! agencies per call would cost more than the rest of a submission; one
//! number tells whether the copy is current, so a change by any replica,
//! `certs issue` or an operator is in force at the next call, exactly as
//! before the cache.
//!
//! A submission, a status query or a list does not even read that number
//! on its own: its caller is checked against the registry held in memory,
//! and the read it makes anyway (a submission's stored answer or case
//! before it plans, a query's case, a list's page) also returns the
//! number. Only when that shows a change is the registry read and the
//! caller checked again, before anything is written or answered; a
//! revocation is then in force from a read later in the call than the
//! separate read used to be, one round trip fewer.

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::{Caller, Gateway, GatewayError, Result};
use crate::domain::agency::{Agency, AgencyRef};
use crate::pki::PeerIdentity;
use crate::storage::Seen;

#[derive(Default)]
pub(super) struct RegistryCache {
    current: Mutex<Option<(i64, Arc<[Agency]>)>>,
}

/// Where a caller stands with the registry, as far as its call knows.
#[derive(Debug, Clone)]
pub(super) enum Standing {
    /// Admitted by the registry as read during the call.
    Confirmed,
    /// Admitted by the registry held in memory, of this version, which no
    /// read of the call has confirmed yet.
    Unconfirmed(i64),
    /// Refused, for this reason, by the registry as read during the call.
    Refused(String),
}

impl Gateway {
    /// Every registered agency, enabled or not, as of now.
    pub(super) async fn registry(&self) -> Result<Arc<[Agency]>> {
        let version = self.storage.registry_version().await?;
        self.registry_at(version).await
    }

    /// The registry as of `version`, which was just read: the copy held
    /// in memory if it is of that version, else the list read now.
    async fn registry_at(&self, version: i64) -> Result<Arc<[Agency]>> {
        if let Some((held, agencies)) = self.registry.held()
            && held == version
        {
            return Ok(agencies);
        }
        // Read after the version: a change in between leaves an older
        // version next to a newer list, which the next call reads again.
        let agencies: Arc<[Agency]> = self.storage.agencies().await?.into();
        self.registry.hold(version, agencies.clone());
        Ok(agencies)
    }

    /// The registry the caller of the call being handled was checked
    /// against, or confirmed against when it had changed (see
    /// [`Gateway::recording`]), or else as of now.
    pub(super) async fn call_registry(&self) -> Result<Arc<[Agency]>> {
        match super::audit::registry_of_call() {
            Some(agencies) => Ok(agencies),
            None => self.registry().await,
        }
    }

    /// Turns what the TLS layer learned about the peer into a registered,
    /// enabled agency, checked against the registry as of now. No identity
    /// means refusal.
    ///
    /// # Errors
    /// [`GatewayError::Unauthenticated`] when the certificate names no valid
    /// agency, or one the registry does not hold as it is named.
    pub async fn authenticate(&self, peer: Option<&PeerIdentity>) -> Result<Caller> {
        let claimed = claimed(peer, self.clock.now())?;
        let registry = self.registry().await?;
        let agency = admit(claimed, &registry).map_err(GatewayError::Unauthenticated)?;
        Ok(Caller {
            agency,
            registry,
            standing: Arc::new(Mutex::new(Standing::Confirmed)),
        })
    }

    /// As [`Gateway::authenticate`], but against the registry held in
    /// memory, not yet confirmed current: only for a call run inside
    /// [`Gateway::recording`] whose every write and answer waits for
    /// [`Gateway::confirm_caller`] (a submission, a status query, a list).
    /// Outside one, nothing would confirm it. A caller the held registry
    /// refuses is checked again as of now, since the agency may have been
    /// added since.
    ///
    /// # Errors
    /// As [`Gateway::authenticate`].
    pub(crate) async fn authenticate_held(&self, peer: Option<&PeerIdentity>) -> Result<Caller> {
        let claimed = claimed(peer, self.clock.now())?;
        if let Some((version, registry)) = self.registry.held()
            && let Ok(agency) = admit(claimed, &registry)
        {
            return Ok(Caller {
                agency,
                registry,
                standing: Arc::new(Mutex::new(Standing::Unconfirmed(version))),
            });
        }
        self.authenticate(peer).await
    }

    /// Whether the registry still admits `subscriber`, an open stream's
    /// agency, as it admitted it when the stream opened: `read`, as of now
    /// (a read of the version), else as last held in memory, which every
    /// call on this gateway keeps current. A stream outlives the call that
    /// checked it: an agency disabled or registered anew since must not
    /// go on receiving.
    ///
    /// # Errors
    /// [`GatewayError::Unauthenticated`] when it no longer does;
    /// `Unavailable` when the registry cannot be read.
    pub(super) async fn still_admits(&self, subscriber: &AgencyRef, read: bool) -> Result<()> {
        let registry = match self.registry.held() {
            Some((_, held)) if !read => held,
            _ => self.registry().await?,
        };
        admit(subscriber, &registry)
            .map(drop)
            .map_err(GatewayError::Unauthenticated)
    }

    /// What `seen` found, once the registry version read with it has
    /// confirmed the caller ([`Gateway::confirm_caller`]).
    ///
    /// # Errors
    /// As [`Gateway::confirm_caller`].
    pub(super) async fn confirmed<T>(&self, seen: Seen<T>) -> Result<T> {
        self.confirm_caller(Some(seen.registry_version)).await?;
        Ok(seen.found)
    }

    /// Confirms the caller of the call being handled, if it was checked
    /// against a held registry ([`Gateway::authenticate_held`]) that no
    /// read of the call has confirmed yet; a caller already confirmed or
    /// refused is answered so without a read. `seen` is the registry's
    /// version as a read of this call found it; without one it is read now.
    /// When it changed, the caller is checked again against the registry
    /// as of now, which the call then plans with.
    ///
    /// # Errors
    /// [`GatewayError::Unauthenticated`] when the registry no longer admits
    /// the caller; `Unavailable` when it cannot be read.
    pub(super) async fn confirm_caller(&self, seen: Option<i64>) -> Result<()> {
        let Some((standing, caller)) = super::audit::caller_of_call() else {
            return Ok(());
        };
        let held = match standing {
            Standing::Confirmed => return Ok(()),
            Standing::Refused(reason) => return Err(GatewayError::Unauthenticated(reason)),
            Standing::Unconfirmed(held) => held,
        };
        let version = match seen {
            Some(version) => version,
            None => self.storage.registry_version().await?,
        };
        if version != held {
            let registry = self.registry_at(version).await?;
            if let Err(reason) = admit(&caller, &registry) {
                super::audit::caller_stands(Standing::Refused(reason.clone()));
                return Err(GatewayError::Unauthenticated(reason));
            }
            super::audit::replace_call_registry(registry);
        }
        super::audit::caller_stands(Standing::Confirmed);
        Ok(())
    }
}

/// The agency `peer`'s certificate names, while it is valid at `now`.
fn claimed(peer: Option<&PeerIdentity>, now: OffsetDateTime) -> Result<&AgencyRef> {
    let peer = peer
        .ok_or_else(|| GatewayError::Unauthenticated("a client certificate is required".into()))?;
    if let Some(end) = peer.valid_until {
        still_valid(end, now)?;
    }
    peer.agency
        .as_ref()
        .map_err(|e| GatewayError::Unauthenticated(format!("client certificate: {e}")))
}

/// Refuses a client certificate that expired at `end`: its connection,
/// or a stream on it, may have been opened before.
///
/// # Errors
/// [`GatewayError::Unauthenticated`] from `end` on.
pub(super) fn still_valid(end: OffsetDateTime, now: OffsetDateTime) -> Result<()> {
    if now < end {
        return Ok(());
    }
    let end = end
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| end.to_string());
    Err(GatewayError::Unauthenticated(format!(
        "the client certificate expired at {end}; connect again with a renewed one"
    )))
}

/// The agency `claimed`, if `registry` holds it, enabled, exactly as
/// named; else why not.
fn admit(claimed: &AgencyRef, registry: &[Agency]) -> std::result::Result<AgencyRef, String> {
    let registered = registry
        .iter()
        .find(|agency| agency.agency.id == claimed.id);
    match registered {
        Some(Agency {
            agency,
            enabled: true,
            ..
        }) if agency == claimed => Ok(agency.clone()),
        Some(Agency { enabled: false, .. }) => Err(format!("agency {} is disabled", claimed.id)),
        _ => Err(format!(
            "agency {} is not registered as {} in {}",
            claimed.id, claimed.kind, claimed.region
        )),
    }
}

impl RegistryCache {
    fn held(&self) -> Option<(i64, Arc<[Agency]>)> {
        self.current
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn hold(&self, version: i64, agencies: Arc<[Agency]>) {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if current.as_ref().is_none_or(|(held, _)| *held <= version) {
            *current = Some((version, agencies));
        }
    }
}
