use std::collections::HashSet;

use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::domain::agency::{AgencyKind, AgencyRef};
use crate::domain::case::CaseState;
use crate::domain::deadline::DeadlineKind;
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::lifecycle::{CommandDraft, decide};
use crate::domain::person::Person;
use crate::domain::region::RegionCode;
use crate::domain::routing::{RecipientRole, route};
use crate::domain::testing::{discharged_case, id, person, region, shanxi, then};

// ---- examples ---------------------------------------------------------------

/// `discharged_case` releases at this time; pickup is due a day later.
const RELEASED: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

fn context<'a>(
    agencies: &'a [Agency],
    policy: &'a DeadlinePolicy,
    now: OffsetDateTime,
) -> Context<'a> {
    Context {
        agencies,
        route: None,
        policy,
        now,
    }
}

fn yingze_case() -> Case {
    discharged_case("140106", "140106", Some("yingze-project"))
}

/// The events `planned` added to `before`, as (by, event).
fn added(before: &Case, planned: &Planned) -> Vec<(String, CaseEvent)> {
    planned.case.history[before.history.len()..]
        .iter()
        .map(|e| (e.by.to_string(), e.event.clone()))
        .collect()
}

fn missed(kind: DeadlineKind, anchor: u32, due_at: OffsetDateTime) -> CaseEvent {
    CaseEvent::DeadlineMissed {
        kind,
        anchor,
        due_at,
    }
}

fn deliveries(planned: &Planned, sequence: u32) -> Vec<(&str, RecipientRole)> {
    planned
        .notices
        .iter()
        .filter(|(_, notice)| notice.event.sequence == sequence)
        .map(|(to, notice)| (to.as_str(), notice.role))
        .collect()
}

#[test]
fn a_pickup_after_its_deadline_records_the_escalation_first() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let now = RELEASED + Duration::hours(26);
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &id("yingze-project"),
        vec![CaseEvent::PickedUp],
        &context(&agencies, &policy, now),
    )
    .unwrap();
    assert_eq!(
        added(&case, &planned),
        [
            (
                "handover-gateway".to_owned(),
                missed(DeadlineKind::Pickup, 1, RELEASED + Duration::DAY)
            ),
            ("yingze-project".to_owned(), CaseEvent::PickedUp),
        ]
    );
    assert_eq!(planned.case.state, CaseState::PickedUp);
    assert!(
        planned
            .case
            .history
            .iter()
            .all(|e| e.at == now || e.sequence == 1)
    );
    assert!(planned.case.due_escalations(&policy, now).is_empty());
}

#[test]
fn met_deadlines_are_never_escalated() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let project = id("yingze-project");
    let just_in_time = RELEASED + Duration::DAY - Duration::SECOND;
    let picked_up = plan(
        Some(case.clone()),
        &case.id,
        &project,
        vec![CaseEvent::PickedUp],
        &context(&agencies, &policy, just_in_time),
    )
    .unwrap();
    assert_eq!(
        added(&case, &picked_up),
        [("yingze-project".to_owned(), CaseEvent::PickedUp)]
    );
    // Weeks later only the report is overdue.
    let later = RELEASED + Duration::days(20);
    let scanned = plan(
        Some(picked_up.case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context(&agencies, &policy, later),
    )
    .unwrap();
    assert_eq!(
        added(&picked_up.case, &scanned),
        [(
            "handover-gateway".to_owned(),
            missed(DeadlineKind::Report, 1, RELEASED + Duration::days(15))
        )]
    );
    // Reporting late meets it; nothing more is escalated, however late.
    let reported = plan(
        Some(scanned.case.clone()),
        &case.id,
        &project,
        vec![CaseEvent::Reported],
        &context(&agencies, &policy, later + Duration::days(3)),
    )
    .unwrap();
    assert_eq!(
        added(&scanned.case, &reported),
        [("yingze-project".to_owned(), CaseEvent::Reported)]
    );
    let year_later = later + Duration::days(365);
    assert!(
        reported
            .case
            .due_escalations(&policy, year_later)
            .is_empty()
    );
}

#[test]
fn a_scan_with_nothing_due_writes_nothing() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context(&agencies, &policy, RELEASED + Duration::hours(23)),
    )
    .unwrap();
    assert_eq!(planned.case, case);
    assert!(planned.notices.is_empty());
}

#[test]
fn an_escalation_reaches_the_executing_police_and_the_oversight_office() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    // Executes in Yingze, household registered in Datong.
    let case = discharged_case("140106", "140202", Some("yingze-project"));
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &AgencyId::gateway(),
        Vec::new(),
        &context(&agencies, &policy, RELEASED + Duration::days(2)),
    )
    .unwrap();
    assert_eq!(
        deliveries(&planned, 2),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("datong-police", RecipientRole::HouseholdPolice),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
}

#[test]
fn an_escalation_the_event_makes_due_is_recorded_after_it() {
    let agencies = shanxi();
    let policy = DeadlinePolicy {
        transfer_reply: Duration::ZERO,
        ..DeadlinePolicy::default()
    };
    let project = id("yingze-project");
    let case = then(&yingze_case(), &project, CaseEvent::Reported);
    let request = CaseEvent::TransferRequested {
        to_region: region("140105"),
        to_project: id("xiaodian-project"),
        reason: "moved".into(),
    };
    let now = RELEASED + Duration::days(3);
    let planned = plan(
        Some(case.clone()),
        &case.id,
        &project,
        vec![request.clone()],
        &context(&agencies, &policy, now),
    )
    .unwrap();
    assert_eq!(
        added(&case, &planned),
        [
            ("yingze-project".to_owned(), request),
            (
                "handover-gateway".to_owned(),
                missed(DeadlineKind::TransferReply, 3, now)
            ),
        ]
    );
    let told: Vec<_> = deliveries(&planned, 4);
    assert!(told.contains(&("xiaodian-project", RecipientRole::ReceivingProject)));
    assert!(told.contains(&("xiaodian-police", RecipientRole::ReceivingPolice)));
    assert!(told.contains(&("taiyuan-office", RecipientRole::Oversight)));
}

fn discharge(person: &Person, released_at: OffsetDateTime, route: &Route) -> CaseEvent {
    CaseEvent::Discharged {
        decision_number: DecisionNumber::parse("D-1").unwrap(),
        person: person.clone(),
        released_at,
        term: TermMonths::new(12).unwrap(),
        executing_region: route.executing_region,
        project: route.project.clone(),
        oversight: route.oversight.clone(),
        late_notice: true,
        earlier_open_cases: Vec::new(),
    }
}

#[test]
fn a_discharge_goes_where_it_is_routed_and_escalates_what_is_already_late() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let person = person("140106", None, false);
    let route = route(&person, region("140100"), &agencies).with_late_notice(&agencies);
    let now = RELEASED + Duration::days(2);
    let planned = plan(
        None,
        &CaseId::new(uuid::Uuid::nil()),
        &id("taiyuan-detox"),
        vec![discharge(&person, RELEASED, &route)],
        &Context {
            route: Some(&route),
            ..context(&agencies, &policy, now)
        },
    )
    .unwrap();
    assert_eq!(
        deliveries(&planned, 1),
        [
            ("yingze-project", RecipientRole::ResponsibleProject),
            ("yingze-police", RecipientRole::ExecutingPolice),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
    assert_eq!(
        added(&discharged_case("140106", "140106", None), &planned),
        [(
            "handover-gateway".to_owned(),
            missed(DeadlineKind::Pickup, 1, RELEASED + Duration::DAY)
        )]
    );
}

#[test]
fn an_unroutable_discharge_and_its_escalations_reach_the_oversight_office() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let person = person("140108", None, false);
    let route = route(&person, region("140100"), &agencies);
    let id_ = CaseId::new(uuid::Uuid::nil());
    let context = Context {
        route: Some(&route),
        ..context(&agencies, &policy, RELEASED)
    };
    let detox = id("taiyuan-detox");
    let events = vec![discharge(&person, RELEASED, &route)];
    let opened = plan(None, &id_, &detox, events, &context).unwrap();
    assert!(opened.case.is_unroutable());
    assert_eq!(
        deliveries(&opened, 1),
        [
            ("taiyuan-police", RecipientRole::ExecutingPolice),
            ("taiyuan-office", RecipientRole::UnroutableOversight),
        ]
    );
    let later = Context {
        route: None,
        now: RELEASED + Duration::days(2),
        ..context
    };
    let scanned = plan(
        Some(opened.case),
        &id_,
        &AgencyId::gateway(),
        vec![],
        &later,
    )
    .unwrap();
    assert_eq!(
        deliveries(&scanned, 2),
        [
            ("taiyuan-police", RecipientRole::ExecutingPolice),
            ("taiyuan-office", RecipientRole::Oversight),
        ]
    );
}

#[test]
fn events_that_do_not_follow_are_refused() {
    let (agencies, policy) = (shanxi(), DeadlinePolicy::default());
    let case = yingze_case();
    let now = RELEASED + Duration::hours(1);
    let by = id("yingze-project");
    let context = context(&agencies, &policy, now);
    assert_eq!(
        plan(
            Some(case.clone()),
            &case.id,
            &by,
            vec![CaseEvent::Resumed],
            &context
        )
        .unwrap_err(),
        HistoryError::OutOfOrder(2)
    );
    assert!(plan(None, &case.id, &by, vec![CaseEvent::PickedUp], &context).is_err());
    // An intake event needs a route.
    let person = person("140106", None, false);
    let route = route(&person, region("140100"), &agencies);
    let discharge = discharge(&person, RELEASED, &route);
    assert!(plan(None, &case.id, &by, vec![discharge], &context).is_err());
}

// ---- the invariant under random use ------------------------------------------

/// Short limits against time steps of seconds to weeks, so that deadlines
/// are met and missed alike.
fn short_policy() -> DeadlinePolicy {
    DeadlinePolicy {
        pickup: Duration::DAY,
        report: Duration::days(6),
        transfer_reply: Duration::days(3),
        arrival: Duration::days(5),
        ..DeadlinePolicy::default()
    }
}

/// Field values, valid and not: the registry's counties (140108 has no
/// project), a city, a county outside the province, garbage.
const REGIONS: [&str; 8] = [
    "140105", "140106", "140107", "140202", "140108", "140100", "110105", "1401",
];
/// Free text; one past the end is too long.
const TEXTS: [&str; 4] = ["reason", "", " ", "a\u{7}b"];
const DATES: [(&str, &str); 4] = [
    ("2026-12-01", "2026-12-09"),
    ("2026-12-01", "2026-12-01"),
    ("2026-12-09", "2026-12-01"),
    ("2026-12-01", "2028-01-01"),
];
const CLOSURES: [&str; 4] = ["completed", "other", "imprisoned", "retired"];

/// Indexes into the field values above.
#[derive(Clone, Copy, Debug)]
struct Fields {
    region: usize,
    text: usize,
    dates: usize,
    closure: usize,
}

fn draft(command: usize, fields: Fields) -> CommandDraft {
    let text = TEXTS
        .get(fields.text)
        .map_or_else(|| "x".repeat(501), |text| (*text).to_owned());
    let region = REGIONS[fields.region].to_owned();
    let (from, until) = DATES[fields.dates];
    match command {
        0 => CommandDraft::ConfirmPickup,
        1 => CommandDraft::ConfirmReport,
        2 => CommandDraft::RequestTransfer {
            to_region: region,
            reason: text,
        },
        3 => CommandDraft::AcceptTransfer,
        4 => CommandDraft::RejectTransfer { reason: text },
        5 => CommandDraft::WithdrawTransfer { reason: text },
        6 => CommandDraft::ConfirmArrival,
        7 => CommandDraft::NotifyAbsence {
            host_region: region,
            from: from.to_owned(),
            until: until.to_owned(),
            reason: text,
        },
        8 => CommandDraft::ReportLostContact { note: text },
        9 => CommandDraft::RestoreContact { note: text },
        10 => CommandDraft::Suspend { reason: text },
        11 => CommandDraft::Resume,
        _ => CommandDraft::Close {
            reason: CLOSURES[fields.closure].to_owned(),
            note: text,
        },
    }
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        prop::sample::select(vec![0, 0, 1, 1, 2, 3, 3, 4, 5, 6, 7]),
        prop_oneof![3 => Just(0), 1 => 0..=TEXTS.len()],
        0..DATES.len(),
        0..CLOSURES.len(),
    )
        .prop_map(|(region, text, dates, closure)| Fields {
            region,
            text,
            dates,
            closure,
        })
}

fn command(commands: Vec<usize>) -> impl Strategy<Value = CommandDraft> {
    (prop::sample::select(commands), fields()).prop_map(|(c, fields)| draft(c, fields))
}

#[derive(Clone, Debug)]
enum Step {
    /// From any agency of the registry, by its index.
    Any(usize, CommandDraft),
    /// From the project that would give it: the receiving one for the
    /// answers to a transfer, the responsible one otherwise.
    Proper(CommandDraft),
    /// One of the commands the proper project may give now (with these
    /// fields), picked by the number; closing excepted.
    Next(usize, Fields),
    /// Time passes (seconds); the escalation scan runs if anything is due.
    Wait(i64),
}

/// Command numbers for `Proper`, by how often a project gives them, so that
/// cases travel; closing (12) comes rarely, so that they live long.
const PROPER: [usize; 25] = [
    0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4, 5, 6, 6, 6, 7, 8, 9, 9, 10, 11,
];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..shanxi().len(), command((0..13).collect()))
            .prop_map(|(agency, draft)| Step::Any(agency, draft)),
        2 => prop_oneof![30 => command(PROPER.to_vec()), 1 => command(vec![12])]
            .prop_map(Step::Proper),
        4 => (any::<usize>(), fields()).prop_map(|(pick, fields)| Step::Next(pick, fields)),
        1 => (1i64..3_600).prop_map(Step::Wait),
        3 => (3_600i64..3 * 86_400).prop_map(Step::Wait),
        2 => (86_400i64..40 * 86_400).prop_map(Step::Wait),
    ]
}

#[derive(Clone, Debug)]
struct Release {
    household: usize,
    residence: Option<usize>,
    consent: bool,
    late: bool,
    /// How long before the discharge is filed the person left.
    ago: i64,
    term: u32,
}

fn release() -> impl Strategy<Value = Release> {
    (
        0..5usize,
        prop::option::of(0..5usize),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0i64), 0i64..3 * 86_400],
        prop_oneof![1u32..=2, 1u32..=36],
    )
        .prop_map(|(household, residence, consent, late, ago, term)| Release {
            household,
            residence,
            consent,
            late,
            ago,
            term,
        })
}

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

type Key = (DeadlineKind, u32);

/// The gateway's write path on one case, and what it delivered.
struct World {
    agencies: Vec<Agency>,
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
    fn discharge(release: &Release) -> World {
        let agencies = shanxi();
        let policy = short_policy();
        let now = datetime!(2026-11-28 08:00 UTC);
        let residence = release.residence.map(|r| REGIONS[r]);
        let person = person(REGIONS[release.household], residence, release.consent);
        let mut route = route(&person, region("140100"), &agencies);
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
            earlier_open_cases: Vec::new(),
        };
        let context = Context {
            agencies: &agencies,
            route: Some(&route),
            policy: &policy,
            now,
        };
        let case_id = CaseId::new(uuid::Uuid::nil());
        let planned = plan(None, &case_id, &id("taiyuan-detox"), vec![event], &context).unwrap();
        World {
            routable: route.project.is_some(),
            case: planned.case,
            notices: planned.notices,
            agencies,
            policy,
            now,
            checked: None,
            escalated: HashSet::new(),
            ended: Vec::new(),
        }
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

    fn command(&mut self, caller: &AgencyRef, draft: &CommandDraft) -> Result<(), TestCaseError> {
        let Ok(command) = draft.parse() else {
            return Ok(());
        };
        match decide(&self.case, caller, &command, &self.agencies) {
            Ok(event) => {
                prop_assert!(self.case.state != CaseState::Closed, "a closed case moved");
                self.plan(&caller.id, vec![event])
            }
            Err(_) => Ok(()),
        }
    }

    /// Gives one of the commands (but closing) the case takes now, by `pick`.
    fn next(&mut self, pick: usize, fields: Fields) -> Result<(), TestCaseError> {
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

    fn proper(&mut self, draft: &CommandDraft) -> Result<(), TestCaseError> {
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
    fn wait(&mut self, seconds: i64) -> Result<(), TestCaseError> {
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
    fn check(&mut self) -> Result<(), TestCaseError> {
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
        let police = nearest_of(&self.agencies, AgencyKind::Police, after.executing_region);
        prop_assert!(
            self.delivered(&police, recorded),
            "{} never reached {}",
            what,
            police
        );
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
        let Some(before) = before else {
            return Ok(());
        };
        if let CaseEvent::DeadlineMissed {
            kind,
            anchor,
            due_at,
        } = recorded.event
        {
            let office = nearest_of(
                &self.agencies,
                AgencyKind::Oversight,
                after.executing_region,
            );
            prop_assert!(
                self.delivered(&office, recorded),
                "escalation missed {}",
                office
            );
            // (iii) once per deadline, and only for one that was due.
            prop_assert!(self.escalated.insert((kind, anchor)), "{:?} twice", kind);
            prop_assert!(due_at <= recorded.at, "{:?} escalated early", kind);
            prop_assert!(
                before.deadlines(&self.policy).iter().any(|d| d.kind == kind
                    && d.anchor == anchor
                    && d.due_at == due_at
                    && !d.escalated),
                "{:?} escalated but not pending",
                kind
            );
            // A deadline met or ended is never escalated after (so no
            // pickup escalation is due after the pickup, and so on).
            let ended = self.ended.iter().find(|(key, _)| key == &(kind, anchor));
            prop_assert!(
                ended.is_none(),
                "{:?}/{} escalated at {} after it ended at {:?}",
                kind,
                anchor,
                recorded.sequence,
                ended
            );
        }
        // Deadlines this event met or ended: one already due was escalated
        // first, by this write or an earlier one.
        let left: Vec<Key> = after
            .deadlines(&self.policy)
            .iter()
            .map(|d| (d.kind, d.anchor))
            .collect();
        for deadline in before.deadlines(&self.policy) {
            let key = (deadline.kind, deadline.anchor);
            if left.contains(&key) {
                continue;
            }
            prop_assert!(
                deadline.escalated || deadline.due_at > recorded.at,
                "{:?} passed silently before {}",
                deadline.kind,
                what
            );
            // A suspension pauses the term; it comes back on resumption.
            let paused = after.state == CaseState::Suspended
                && deadline.kind == DeadlineKind::TermCompletion;
            if !paused {
                self.ended.push((key, recorded.sequence));
            }
        }
        Ok(())
    }
}

fn run(release: &Release, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut world = World::discharge(release);
    world.check()?;
    for step in steps {
        match step {
            Step::Any(agency, draft) => {
                let caller = world.agencies[*agency].agency.clone();
                world.command(&caller, draft)?;
            }
            Step::Proper(draft) => world.proper(draft)?,
            Step::Next(pick, fields) => world.next(*pick, *fields)?,
            Step::Wait(seconds) => world.wait(*seconds)?,
        }
        world.check()?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn one_county_is_responsible_its_police_hear_everything_and_escalations_happen_once(
        release in release(),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        run(&release, &steps)?;
    }
}
