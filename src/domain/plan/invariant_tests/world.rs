//! One case through the gateway's write path, step by step, and the
//! checks made after each.

use std::collections::HashSet;

use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::access;
use super::release::{self, announce, earlier_case};
use super::*;
use crate::domain::agency::{AgencyKind, AgencyRef};
use crate::domain::case::{CaseState, EarlierCase};
use crate::domain::deadline::DeadlineKind;
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::lifecycle::{Command, CommandDraft, decide};
use crate::domain::plan::{Context, plan};
use crate::domain::region::RegionCode;
use crate::domain::routing::route;
use crate::domain::testing::{agency, id, person, region, shanxi};

/// The nearest registered agency of `kind` covering `county`.
fn nearest_of(agencies: &[Agency], kind: AgencyKind, county: RegionCode) -> AgencyId {
    county
        .with_ancestors()
        .find_map(|r| {
            agencies
                .iter()
                .find(|a| a.agency.kind == kind && a.agency.region == r)
        })
        .map(|a| a.agency.id.clone())
        .unwrap_or_else(|| panic!("no {kind} covers {county}"))
}

mod deadlines;

type Key = (DeadlineKind, u32);

/// The gateway's write path on one case, and what it delivered.
pub(super) struct World {
    pub(super) agencies: Vec<Agency>,
    policy: DeadlinePolicy,
    now: OffsetDateTime,
    case: Case,
    routable: bool,
    notices: Vec<(AgencyId, Notice)>,
    /// The case as the checks have folded it, event by event.
    checked: Option<Case>,
    escalated: HashSet<Key>,
    /// Deadlines met or ended for good, and the sequence that did it.
    ended: Vec<(Key, u32)>,
}

impl World {
    pub(super) fn discharge(release: &Release) -> World {
        let agencies = shanxi();
        let policy = short_policy();
        let now = datetime!(2026-11-28 08:00 UTC);
        let residence = release.residence.map(|r| REGIONS[r]);
        let person = person(REGIONS[release.household], residence, release.consent);
        let earlier: Vec<EarlierCase> = release
            .earlier
            .map(|r| earlier_case(&agencies, region(REGIONS[r])))
            .into_iter()
            .collect();
        let case_id = CaseId::new(uuid::Uuid::nil());
        let mut notices = Vec::new();
        let households: Vec<usize> = release
            .announced
            .iter()
            .chain(&release.revised)
            .copied()
            .collect();
        let announced = release.announced.and_then(|_| {
            let day = (now - Duration::days(release.overdue)).date();
            let planned = announce(
                &agencies,
                &policy,
                &case_id,
                &households,
                &earlier,
                now,
                day,
            )?;
            notices.extend(planned.notices);
            Some(planned.case)
        });
        let mut route = route(&person, region("140100"), &agencies)
            .with_earlier_cases(&earlier, &agencies)
            .with_announced_before(announced.as_ref(), &agencies);
        if release.late {
            route = route.with_late_notice(&agencies);
        }
        let event = CaseEvent::Discharged {
            decision_number: DecisionNumber::parse("D-1").unwrap(),
            person: person.clone(),
            released_at: now - Duration::seconds(release.ago),
            term: TermMonths::new(release.term).unwrap(),
            executing_region: route.executing_region,
            project: route.project.clone(),
            oversight: route.oversight.clone(),
            late_notice: release.late,
            earlier_open_cases: earlier,
        };
        let withdrawal = announced
            .as_ref()
            .filter(|_| release.withdrawn)
            .map(|case| {
                let center = agency("detox-center", "140100", "taiyuan-detox");
                let draft = CommandDraft::WithdrawAnnouncement {
                    reason: "order extended".into(),
                };
                let command = draft.parse().unwrap();
                decide(case, &center, &command, &agencies).unwrap()
            });
        let withdrawn = withdrawal.is_some();
        let context = Context {
            agencies: &agencies,
            route: (!withdrawn).then_some(&route),
            policy: &policy,
            now,
        };
        let planned = plan(
            announced,
            &case_id,
            &id("taiyuan-detox"),
            vec![withdrawal.unwrap_or(event.clone())],
            &context,
        )
        .unwrap();
        notices.extend(planned.notices);
        // Withdrawn, the decision is spent: no release of it follows.
        assert!(!withdrawn || !planned.case.allows(&event));
        World {
            routable: route.project.is_some() && !withdrawn,
            case: planned.case,
            notices,
            agencies,
            policy,
            now,
            checked: None,
            escalated: HashSet::new(),
            ended: Vec::new(),
        }
    }

    /// The police of `case`'s executing county; none only for a release
    /// announced (and perhaps withdrawn) for a county outside the province.
    fn executing_police(&self, case: &Case) -> Result<Option<AgencyId>, TestCaseError> {
        let police = case.executing_region.with_ancestors().find_map(|r| {
            self.agencies
                .iter()
                .find(|a| a.agency.kind == AgencyKind::Police && a.agency.region == r)
        });
        if police.is_none() {
            prop_assert!(!region("140000").covers(case.executing_region));
            prop_assert!(
                case.released_at.is_none(),
                "no police over {}",
                case.executing_region
            );
        }
        Ok(police.map(|a| a.agency.id.clone()))
    }

    fn caller(&self, id: &AgencyId) -> AgencyRef {
        let agency = self.agencies.iter().find(|a| &a.agency.id == id);
        agency.map(|a| a.agency.clone()).unwrap()
    }

    fn plan(&mut self, by: &AgencyId, events: Vec<CaseEvent>) -> Result<(), TestCaseError> {
        let context = Context {
            agencies: &self.agencies,
            route: None,
            policy: &self.policy,
            now: self.now,
        };
        let planned = plan(Some(self.case.clone()), &self.case.id, by, events, &context)
            .map_err(|e| TestCaseError::fail(format!("an accepted event did not plan: {e}")))?;
        let version = self.case.version();
        prop_assert!(
            planned
                .notices
                .iter()
                .all(|(_, n)| n.event.sequence > version)
        );
        self.case = planned.case;
        self.notices.extend(planned.notices);
        Ok(())
    }

    pub(super) fn command(
        &mut self,
        caller: &AgencyRef,
        draft: &CommandDraft,
    ) -> Result<(), TestCaseError> {
        let Ok(command) = draft.parse() else {
            return Ok(());
        };
        // The gateway refuses a disabled agency before any decision.
        let enabled = self
            .agencies
            .iter()
            .any(|a| a.agency == *caller && a.enabled);
        if !enabled {
            return Ok(());
        }
        match decide(&self.case, caller, &command, &self.agencies) {
            Ok(event) => {
                prop_assert!(self.case.state != CaseState::Closed, "a closed case moved");
                prop_assert!(
                    !matches!(command, Command::WithdrawAnnouncement { .. }),
                    "a discharged release withdrawn"
                );
                self.plan(&caller.id, vec![event])
            }
            Err(_) => Ok(()),
        }
    }

    /// Gives one of the commands (but closing) the case takes now, by `pick`.
    pub(super) fn next(&mut self, pick: usize, fields: Fields) -> Result<(), TestCaseError> {
        let takes: Vec<(AgencyRef, CommandDraft)> = (0..12)
            .map(|c| draft(c, fields))
            .filter_map(|draft| {
                let caller = self.caller(&self.proper_agency(&draft)?);
                let command = draft.parse().ok()?;
                decide(&self.case, &caller, &command, &self.agencies).ok()?;
                Some((caller, draft))
            })
            .collect();
        // Mostly a step forward; a detour (absence, loss of contact,
        // suspension, a transfer turned down) one time in four.
        let detour = |draft: &CommandDraft| {
            matches!(
                draft.name(),
                "notify-absence"
                    | "report-lost-contact"
                    | "suspend"
                    | "reject-transfer"
                    | "withdraw-transfer"
            )
        };
        let forward: Vec<_> = takes.iter().filter(|(_, d)| !detour(d)).cloned().collect();
        let takes = if pick.is_multiple_of(4) || forward.is_empty() {
            takes
        } else {
            forward
        };
        match takes.get(pick / 4 % takes.len().max(1)) {
            Some((caller, draft)) => self.command(caller, draft),
            None => Ok(()),
        }
    }

    /// Disables the responsible project, if any, in the registry.
    pub(super) fn disable_responsible(&mut self) {
        let responsible = self.case.responsible.clone();
        for agency in &mut self.agencies {
            if Some(&agency.agency.id) == responsible.as_ref() {
                agency.enabled = false;
            }
        }
    }

    pub(super) fn proper(&mut self, draft: &CommandDraft) -> Result<(), TestCaseError> {
        match self.proper_agency(draft) {
            Some(agency) => self.command(&self.caller(&agency), draft),
            None => Ok(()),
        }
    }

    fn proper_agency(&self, draft: &CommandDraft) -> Option<AgencyId> {
        let receiver = self.case.transfer.as_ref().map(|t| t.to_project.clone());
        let answer = matches!(
            draft,
            CommandDraft::AcceptTransfer
                | CommandDraft::RejectTransfer { .. }
                | CommandDraft::ConfirmArrival
        );
        match (answer, receiver) {
            (true, Some(receiver)) => Some(receiver),
            _ => self.case.responsible.clone(),
        }
    }

    /// Time passes and the scanner does what the gateway's does.
    pub(super) fn wait(&mut self, seconds: i64) -> Result<(), TestCaseError> {
        self.now += Duration::seconds(seconds);
        let due = self.case.due_escalations(&self.policy, self.now);
        if due.is_empty() {
            return Ok(());
        }
        let version = self.case.version();
        self.plan(&AgencyId::gateway(), Vec::new())?;
        let added = &self.case.history[version as usize..];
        let added: Vec<CaseEvent> = added.iter().map(|e| e.event.clone()).collect();
        prop_assert_eq!(added, due, "the scan recorded other than what was due");
        Ok(())
    }

    fn delivered(&self, to: &AgencyId, event: &RecordedEvent) -> bool {
        self.notices
            .iter()
            .any(|(agency, notice)| agency == to && &notice.event == event)
    }

    /// Folds the new events one by one and checks each, then the case.
    pub(super) fn check(&mut self) -> Result<(), TestCaseError> {
        let from = self.checked.as_ref().map_or(0, Case::version) as usize;
        let new: Vec<RecordedEvent> = self.case.history[from..].to_vec();
        for recorded in new {
            let before = self.checked.take();
            let after = match &before {
                None => Case::from_history(self.case.id.clone(), vec![recorded.clone()]),
                Some(before) => {
                    let mut after = before.clone();
                    after.apply(recorded.clone()).map(|()| after)
                }
            };
            let after = after.map_err(|e| TestCaseError::fail(format!("history: {e}")))?;
            self.check_event(before.as_ref(), &after, &recorded)?;
            self.checked = Some(after);
        }
        prop_assert_eq!(self.checked.as_ref(), Some(&self.case));
        let due = self.case.due_escalations(&self.policy, self.now);
        prop_assert!(due.is_empty(), "due and not escalated: {:?}", due);
        Ok(())
    }

    fn check_event(
        &mut self,
        before: Option<&Case>,
        after: &Case,
        recorded: &RecordedEvent,
    ) -> Result<(), TestCaseError> {
        let what = recorded.event.name();
        // An office's assignment gives an unroutable case its project.
        if matches!(recorded.event, CaseEvent::Assigned { .. }) {
            self.routable = true;
        }
        // (i) exactly one responsible county project, in the executing county.
        if self.routable && after.state.is_supervised() {
            let responsible = after.responsible.as_ref();
            let project = responsible.map(|p| self.caller(p));
            prop_assert!(
                project
                    .as_ref()
                    .is_some_and(|p| p.kind == AgencyKind::CountyProject
                        && p.region == after.executing_region),
                "after {}: {:?} responsible in {}",
                what,
                responsible,
                after.executing_region
            );
        }
        if !self.routable {
            prop_assert_eq!(&after.responsible, &None);
        }
        // (ii) the police of the executing county hear of every event.
        if let Some(police) = self.executing_police(after)? {
            prop_assert!(
                self.delivered(&police, recorded),
                "{} never reached {}",
                what,
                police
            );
        }
        if let Some(project) = &after.responsible
            && project != &recorded.by
        {
            prop_assert!(
                self.delivered(project, recorded),
                "{} never reached {}",
                what,
                project
            );
        }
        // Before the discharge a county holds only a notice.
        let police = self
            .executing_police(after)?
            .filter(|_| after.released_at.is_some());
        let lasting = [police, after.responsible.clone()];
        access::check(&self.agencies, after, recorded, &lasting, |agency| {
            self.delivered(agency, recorded)
        })?;
        release::check_nobody_waits(&self.notices, before, recorded)?;
        let Some(before) = before else {
            return Ok(());
        };
        self.check_deadlines(before, after, recorded)
    }
}
