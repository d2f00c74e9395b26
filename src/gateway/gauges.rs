//! The gauges read from storage rather than counted as things happen:
//! every agency's inbox lag and the number of overdue cases. The metrics
//! server asks for them before a scrape, at most once per refresh interval.

use async_trait::async_trait;

use super::{Gateway, Result};
use crate::domain::agency::AgencyRef;
use crate::domain::deadline::DeadlineKind;
use crate::metrics::Refresh;
use crate::storage::Cutoffs;

impl Gateway {
    /// Reads every registered agency's inbox lag (head minus acknowledged)
    /// and the overdue cases into the metrics.
    ///
    /// # Errors
    /// When storage fails; the metrics keep their earlier values.
    pub async fn refresh_gauges(&self) -> Result<()> {
        let agencies: Vec<AgencyRef> = self
            .storage
            .agencies()
            .await?
            .into_iter()
            .map(|agency| agency.agency)
            .collect();
        let mut lags = Vec::with_capacity(agencies.len());
        for agency in &agencies {
            let state = self.storage.inbox_state(&agency.id).await?;
            lags.push((
                agency.clone(),
                state.head.saturating_sub(state.acknowledged),
            ));
        }
        self.metrics.set_inbox_lag(&lags);
        let overdue = self.storage.count_overdue(&self.overdue_cutoffs()).await?;
        self.metrics.set_overdue_cases(overdue);
        Ok(())
    }

    /// For each deadline kind, the latest start that makes it overdue now.
    fn overdue_cutoffs(&self) -> Cutoffs {
        let now = self.clock.now();
        DeadlineKind::ALL
            .iter()
            .map(|kind| (*kind, now - self.settings.deadlines.allowance(*kind)))
            .collect()
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
