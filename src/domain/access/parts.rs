//! The part an agency takes in a case, and how long it lets the agency
//! read the case.
//!
//! Running a case or holding it in one's jurisdiction is a lasting part:
//! the detox center that submitted it, every project that was responsible,
//! once the person was discharged the police and offices over the
//! household county and over every county the case executed in, the
//! office that received it as unroutable. Being
//! told of a case in passing is not: the project and county an
//! announcement named when the discharge, or a revised notice, went
//! elsewhere, the county asked
//! to take a transfer it did not complete, the host of an absence, the
//! county of the person's earlier open case (and the office holding it
//! when it is unroutable; told by a notice, until the release comes or
//! the notice is revised or withdrawn), the office told of an
//! announcement no project could receive. Such a part lets its agency
//! read the case while it lasts and for
//! [`AccessPolicy::passing_parts_read_for`](super::AccessPolicy) after it
//! ended; the messages it brought stay in the agency's inbox.

use time::{Date, OffsetDateTime};

use crate::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use crate::domain::case::{Case, CaseEvent, EarlierCase};
use crate::domain::clock::CHINA;
use crate::domain::region::RegionCode;

/// The part `caller` takes in a case, as [`part`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Ran the case or holds it in its jurisdiction.
    Lasting,
    /// Told of the case in passing only; the latest of those parts ends,
    /// or ended, at `ends`, or has no end yet (a transfer before the
    /// person arrives, an announcement before the discharge).
    Passing { ends: Option<OffsetDateTime> },
}

/// The part `caller` takes in `case`, `None` when it takes none, as
/// [`can_view`](super::can_view) says.
pub fn part(caller: &AgencyRef, case: &Case) -> Option<Part> {
    if lasting(caller, case) {
        return Some(Part::Lasting);
    }
    let mut latest: Option<Part> = None;
    for passing in passing_parts(case) {
        if !passing.concerns(caller) {
            continue;
        }
        latest = Some(match (latest, passing.ends) {
            (Some(Part::Passing { ends: None }), _) | (_, None) => Part::Passing { ends: None },
            (Some(Part::Passing { ends: Some(before) }), Some(ends)) => Part::Passing {
                ends: Some(before.max(ends)),
            },
            (_, Some(ends)) => Part::Passing { ends: Some(ends) },
        });
    }
    latest
}

fn lasting(caller: &AgencyRef, case: &Case) -> bool {
    // Before the discharge the counties hold no case yet, only a notice:
    // a release withdrawn is read as any passing part.
    let holds = || {
        case.released_at.is_some() && executed_or_household(case).any(|c| caller.region.covers(c))
    };
    match caller.kind {
        AgencyKind::DetoxCenter => case.detox_center == caller.id,
        AgencyKind::CountyProject => case.responsible_history.contains(&caller.id),
        AgencyKind::Police => holds(),
        AgencyKind::Oversight => case.oversight.as_ref() == Some(&caller.id) || holds(),
    }
}

/// The counties whose police and offices keep the case: the household
/// county, and every county the case was routed, assigned or transferred
/// to.
fn executed_or_household(case: &Case) -> impl Iterator<Item = RegionCode> + '_ {
    let mut transfer_to = None;
    let executed = case.history.iter().filter_map(move |recorded| {
        match &recorded.event {
            CaseEvent::Discharged {
                executing_region, ..
            }
            | CaseEvent::Assigned {
                executing_region, ..
            } => return Some(*executing_region),
            CaseEvent::TransferRequested { to_region, .. } => transfer_to = Some(*to_region),
            CaseEvent::Arrived => return transfer_to,
            _ => {}
        }
        None
    });
    [case.executing_region, case.person.household_region]
        .into_iter()
        .chain(executed)
}

struct Passing {
    county: RegionCode,
    project: Option<AgencyId>,
    /// The office told by name, which may be above another county: the
    /// one told of an announcement no project can receive, or holding
    /// the person's earlier unroutable case.
    office: Option<AgencyId>,
    ends: Option<OffsetDateTime>,
}

impl Passing {
    fn new(county: RegionCode, project: Option<AgencyId>, ends: Option<OffsetDateTime>) -> Self {
        Self {
            county,
            project,
            office: None,
            ends,
        }
    }

    fn concerns(&self, caller: &AgencyRef) -> bool {
        match caller.kind {
            AgencyKind::CountyProject => self.project.as_ref() == Some(&caller.id),
            AgencyKind::Police => caller.region.covers(self.county),
            AgencyKind::Oversight => {
                caller.region.covers(self.county) || self.office.as_ref() == Some(&caller.id)
            }
            AgencyKind::DetoxCenter => false,
        }
    }
}

/// Every passing part of `case`, with its end as the history tells it.
fn passing_parts(case: &Case) -> Vec<Passing> {
    let mut parts: Vec<Passing> = Vec::new();
    // The parts still open, by what ends them.
    let mut announced: Vec<usize> = Vec::new();
    let mut transfer: Option<usize> = None;
    for recorded in &case.history {
        let at = recorded.at;
        let end = |parts: &mut Vec<Passing>, index: usize| {
            let part = &mut parts[index];
            part.ends = Some(part.ends.map_or(at, |ends| ends.min(at)));
        };
        match &recorded.event {
            CaseEvent::ReleaseAnnounced {
                person,
                executing_region,
                project,
                oversight,
                earlier_open_cases,
                ..
            } => {
                // A revised notice ends the parts the one before gave; a
                // county it names again takes a new one.
                for index in announced.drain(..) {
                    end(&mut parts, index);
                }
                for (county, project, office) in [
                    (*executing_region, project.clone(), oversight.clone()),
                    (person.household_region, None, None),
                ] {
                    announced.push(parts.len());
                    parts.push(Passing {
                        office,
                        ..Passing::new(county, project, None)
                    });
                }
                // Told of a release to come, the earlier cases' agencies
                // read it until it comes, is revised or withdrawn, as the
                // counties the notice named do.
                for earlier in earlier_open_cases {
                    announced.push(parts.len());
                    parts.push(Passing {
                        office: earlier.oversight.clone(),
                        ..Passing::new(earlier.executing_region, earlier.project.clone(), None)
                    });
                }
            }
            CaseEvent::Discharged {
                earlier_open_cases, ..
            } => {
                for index in announced.drain(..) {
                    end(&mut parts, index);
                }
                told_once(&mut parts, earlier_open_cases, at);
            }
            CaseEvent::TransferRequested {
                to_region,
                to_project,
                ..
            } => {
                transfer = Some(parts.len());
                parts.push(Passing::new(*to_region, Some(to_project.clone()), None));
            }
            CaseEvent::TransferRejected { .. }
            | CaseEvent::TransferWithdrawn { .. }
            | CaseEvent::Arrived
            | CaseEvent::ContactLost { .. }
            | CaseEvent::Suspended { .. } => {
                if let Some(index) = transfer.take() {
                    end(&mut parts, index);
                }
            }
            CaseEvent::AbsenceNotified {
                host_region,
                host_project,
                until,
                ..
            } => parts.push(Passing::new(
                *host_region,
                host_project.clone(),
                Some(end_of(*until).max(at)),
            )),
            // Closure ends every part, an absence planned past it too.
            CaseEvent::Closed { .. } => {
                for index in 0..parts.len() {
                    end(&mut parts, index);
                }
                announced.clear();
                transfer = None;
            }
            _ => {}
        }
    }
    parts
}

/// The projects and counties of the person's earlier open cases are told
/// of a discharge once, so that they can close theirs.
fn told_once(parts: &mut Vec<Passing>, earlier: &[EarlierCase], at: OffsetDateTime) {
    parts.extend(earlier.iter().map(|case| Passing {
        office: case.oversight.clone(),
        ..Passing::new(case.executing_region, case.project.clone(), Some(at))
    }));
}

/// The end of `day` in China, where absences are planned.
fn end_of(day: Date) -> OffsetDateTime {
    day.next_day()
        .unwrap_or(day)
        .midnight()
        .assume_offset(CHINA)
}
