//! The gauges read from storage rather than counted as things happen:
//! every agency's inbox lag, and the numbers of overdue cases and of cases
//! waiting to be assigned to a project. The metrics
//! server asks for them before a scrape, at most once per refresh interval.

use async_trait::async_trait;

use super::{Gateway, Result};
use crate::metrics::Refresh;

impl Gateway {
    /// Reads every registered agency's inbox lag (head minus acknowledged),
    /// the overdue cases and the unroutable ones into the metrics.
    ///
    /// # Errors
    /// When storage fails; the metrics keep their earlier values.
    pub async fn refresh_gauges(&self) -> Result<()> {
        let registry = self.registry().await?;
        let mut lags = Vec::with_capacity(registry.len());
        for registered in registry.iter() {
            let state = self.storage.inbox_state(&registered.agency.id).await?;
            lags.push((
                registered.agency.clone(),
                state.head.saturating_sub(state.acknowledged),
            ));
        }
        self.metrics.set_inbox_lag(&lags);
        let overdue = self
            .storage
            .count_overdue(&self.settings.deadlines.cutoffs(self.clock.now()))
            .await?;
        self.metrics.set_overdue_cases(overdue);
        let unroutable = self.storage.count_unroutable().await?;
        self.metrics.set_unroutable_cases(unroutable);
        Ok(())
    }
}

#[async_trait]
impl Refresh for Gateway {
    async fn refresh(&self) {
        if let Err(error) = self.refresh_gauges().await {
            tracing::warn!(%error, "cannot read the metrics gauges; showing the last values");
        }
    }
}
