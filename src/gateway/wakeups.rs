//! Wakes the streams of one recipient when its inbox grows. A hint only:
//! streams always re-read storage, so a lost wake-up costs at most one
//! heartbeat interval of delay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::domain::agency::AgencyId;

#[derive(Clone, Default)]
pub struct Wakeups {
    inboxes: Arc<Mutex<HashMap<AgencyId, watch::Sender<u64>>>>,
}

impl Wakeups {
    /// A receiver that changes whenever `agency`'s inbox head moves.
    pub fn watch(&self, agency: &AgencyId) -> watch::Receiver<u64> {
        let mut inboxes = self
            .inboxes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        inboxes
            .entry(agency.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes every stream, for when hints may have been lost.
    pub fn notify_all(&self) {
        let inboxes = self
            .inboxes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for sender in inboxes.values() {
            sender.send_modify(|_| {});
        }
    }

    pub fn notify(&self, agency: &AgencyId, head: u64) {
        let inboxes = self
            .inboxes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(sender) = inboxes.get(agency) {
            sender.send_if_modified(|current| {
                let moved = head > *current;
                *current = (*current).max(head);
                moved
            });
        }
    }
}
