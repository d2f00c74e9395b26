//! The open connections, by the serial of the client certificate, so that a
//! reload can end those whose certificate was revoked while they ran. TLS
//! checks a certificate only at the handshake; without this an inbox stream
//! opened before a revocation would go on for as long as the client likes.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use super::revocation::Serial;

/// The registry the accept loop enters each connection into and a reload
/// ends revoked ones through. Cloning shares it.
#[derive(Clone, Default)]
pub struct LiveConnections(Arc<Mutex<Registry>>);

#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, (Option<Serial>, CancellationToken)>,
    /// The serials revoked by the list in force: a connection whose
    /// handshake ran under the previous configuration is checked against
    /// it when it registers, so none slips between a reload and the cut.
    revoked: BTreeSet<Serial>,
}

impl fmt::Debug for LiveConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = self.lock();
        f.debug_struct("LiveConnections")
            .field("open", &registry.open.len())
            .field("revoked", &registry.revoked.len())
            .finish()
    }
}

impl LiveConnections {
    /// An empty registry that knows of no revoked serial.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Enters a connection whose client certificate has `serial`. The
    /// returned registration's token is cancelled when the serial is (or
    /// already was) revoked; dropping it leaves the registry.
    pub(crate) fn register(&self, serial: Option<Serial>) -> Registration {
        let token = CancellationToken::new();
        let mut registry = self.lock();
        if serial
            .as_ref()
            .is_some_and(|s| registry.revoked.contains(s))
        {
            token.cancel();
        }
        let id = registry.next_id;
        registry.next_id += 1;
        registry.open.insert(id, (serial, token.clone()));
        Registration {
            id,
            token,
            live: self.clone(),
        }
    }

    /// Puts `revoked` in force: ends every open connection whose serial is
    /// in it and returns how many that were.
    pub fn set_revoked(&self, revoked: BTreeSet<Serial>) -> usize {
        let mut registry = self.lock();
        let mut ended = 0;
        for (serial, token) in registry.open.values() {
            if serial.as_ref().is_some_and(|s| revoked.contains(s)) && !token.is_cancelled() {
                token.cancel();
                ended += 1;
            }
        }
        registry.revoked = revoked;
        ended
    }

    /// How many connections are open.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// Whether no connection is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every update leaves the registry whole, so a poisoned lock still
        // holds a usable one.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's entry; dropping it removes the entry.
#[derive(Debug)]
pub(crate) struct Registration {
    id: u64,
    token: CancellationToken,
    live: LiveConnections,
}

impl Registration {
    /// Cancelled once the connection's certificate is revoked.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.live.lock().open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(n: u8) -> Serial {
        Serial::from_bytes(&[n])
    }

    #[test]
    fn revoking_a_serial_ends_its_connections_only() {
        let live = LiveConnections::new();
        let (a1, a2, b) = (
            live.register(Some(serial(1))),
            live.register(Some(serial(1))),
            live.register(Some(serial(2))),
        );
        let anonymous = live.register(None);

        assert_eq!(live.set_revoked([serial(1)].into()), 2);

        assert!(a1.token().is_cancelled() && a2.token().is_cancelled());
        assert!(!b.token().is_cancelled() && !anonymous.token().is_cancelled());
        assert_eq!(live.set_revoked([serial(1)].into()), 0, "ended once");
    }

    #[test]
    fn a_connection_of_a_revoked_serial_is_ended_as_it_registers() {
        let live = LiveConnections::new();
        live.set_revoked([serial(7)].into());
        assert!(live.register(Some(serial(7))).token().is_cancelled());
        assert!(!live.register(Some(serial(8))).token().is_cancelled());
    }

    #[test]
    fn a_dropped_connection_leaves_the_registry() {
        let live = LiveConnections::new();
        let first = live.register(Some(serial(1)));
        let second = live.register(Some(serial(1)));
        assert_eq!(live.len(), 2);
        drop(first);
        assert_eq!(live.len(), 1);
        drop(second);
        assert!(live.is_empty());
    }
}
