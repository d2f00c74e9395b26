//! The agency registry, held in memory while the database says it has not
//! changed. Every call needs it (who is calling, who receives what), and
//! reading a province's few hundred agencies per call would cost more
//! than the rest of a submission; one row tells whether the copy is
//! current, so a change by any replica, `certs issue` or an operator is in
//! force at the next call, exactly as before the cache.

use std::sync::{Arc, Mutex};

use super::{Gateway, Result};
use crate::domain::agency::Agency;

#[derive(Default)]
pub(super) struct RegistryCache {
    current: Mutex<Option<(i64, Arc<[Agency]>)>>,
}

impl Gateway {
    /// Every registered agency, enabled or not, as of now.
    pub(super) async fn registry(&self) -> Result<Arc<[Agency]>> {
        let version = self.storage.registry_version().await?;
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

    /// The registry the call being handled read to authenticate its caller
    /// (see [`Gateway::recording`]), or else as of now.
    pub(super) async fn call_registry(&self) -> Result<Arc<[Agency]>> {
        match super::audit::registry_of_call() {
            Some(agencies) => Ok(agencies),
            None => self.registry().await,
        }
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
