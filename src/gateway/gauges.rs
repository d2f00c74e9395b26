//! The gauges read from storage rather than counted as things happen:
//! every agency's inbox lag and the number of overdue cases. The metrics
//! server asks for them before a scrape, at most once per refresh interval.

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;

use super::{Gateway, Result};
use crate::domain::agency::{AgencyKind, AgencyRef};
use crate::domain::deadline::DeadlineKind;
use crate::domain::region::RegionCode;
use crate::metrics::Refresh;
use crate::storage::{CaseFilter, Cutoffs};

/// Overdue cases read per storage call.
const PAGE: u32 = 500;
/// At most this many overdue cases are counted per refresh, so that a
/// scrape stays cheap however far behind the agencies are; the gauge then
/// reads "at least this many".
const MAX_COUNTED: usize = 20_000;

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
        let overdue = self.count_overdue(&agencies).await?;
        self.metrics.set_overdue_cases(overdue);
        Ok(())
    }

    /// Counts cases with a deadline passed unmet, escalated or not.
    ///
    /// Storage lists cases by jurisdiction, so this asks once per province
    /// that holds an agency, plus once per oversight office for the
    /// unroutable cases it holds, and counts each case once.
    async fn count_overdue(&self, agencies: &[AgencyRef]) -> Result<usize> {
        let cutoffs = self.overdue_cutoffs();
        let provinces: BTreeSet<RegionCode> = agencies
            .iter()
            .filter_map(|agency| agency.region.with_ancestors().last())
            .collect();
        let scopes = provinces
            .into_iter()
            .map(|province| (province, None))
            .chain(
                agencies
                    .iter()
                    .filter(|agency| agency.kind == AgencyKind::Oversight)
                    .map(|office| (office.region, Some(office.id.clone()))),
            );
        let mut seen = HashSet::new();
        for (jurisdiction, oversight) in scopes {
            let mut after = None;
            while seen.len() < MAX_COUNTED {
                let filter = CaseFilter {
                    jurisdiction,
                    oversight: oversight.clone(),
                    county: None,
                    state: None,
                    overdue: Some(cutoffs.clone()),
                    unroutable: false,
                    after: after.take(),
                    limit: PAGE,
                };
                let page = self.storage.list_cases(&filter).await?;
                let full = page.len() == PAGE as usize;
                after = page.last().map(|case| case.id.clone());
                seen.extend(page.into_iter().map(|case| case.id));
                if !full {
                    break;
                }
            }
        }
        Ok(seen.len())
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
