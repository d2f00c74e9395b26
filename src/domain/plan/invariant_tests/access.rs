//! The access check after each event: who takes a part in the case, and
//! whether each agency told of the event may read it then.

use proptest::prelude::*;
use time::Duration;

use crate::domain::access::{AccessPolicy, Part, can_read, part};
use crate::domain::agency::{Agency, AgencyId, AgencyKind, AgencyRef};
use crate::domain::case::{Case, CaseEvent, EarlierCase, RecordedEvent};

/// (iv) every agency told of the event may read the case then, even with
/// no time to read after a passing part; the `lasting` agencies (the
/// responsible project, the executing county's police) take a lasting
/// part; and an agency takes a part exactly when the folded case names it
/// or its county.
pub(super) fn check(
    agencies: &[Agency],
    after: &Case,
    recorded: &RecordedEvent,
    lasting: &[Option<AgencyId>],
    told: impl Fn(&AgencyId) -> bool,
) -> Result<(), TestCaseError> {
    let strict = AccessPolicy {
        passing_parts_read_for: Duration::ZERO,
        ..AccessPolicy::default()
    };
    for agency in agencies {
        let caller = &agency.agency;
        let part = part(caller, after);
        prop_assert_eq!(part.is_some(), told_of(caller, after), "{}", caller);
        if told(&caller.id) {
            prop_assert!(
                can_read(caller, after, recorded.at, &strict),
                "{} was told of {} but may not read the case ({:?})",
                caller,
                recorded.event.name(),
                part
            );
        }
    }
    for id in lasting.iter().flatten() {
        let caller = agencies.iter().find(|a| &a.agency.id == id).unwrap();
        prop_assert_eq!(part(&caller.agency, after), Some(Part::Lasting), "{}", id);
    }
    Ok(())
}

/// Whether the folded case names `caller` or a county it covers, or its
/// history names the office by id: what [`part`](crate::domain::access::part) finds, worked out
/// another way.
fn told_of(caller: &AgencyRef, case: &Case) -> bool {
    let covers = || {
        [case.executing_region, case.person.household_region]
            .iter()
            .chain(&case.counties)
            .any(|county| caller.region.covers(*county))
    };
    match caller.kind {
        AgencyKind::DetoxCenter => case.detox_center == caller.id,
        AgencyKind::CountyProject => {
            case.projects_told.contains(&caller.id) || case.responsible_history.contains(&caller.id)
        }
        AgencyKind::Police => covers(),
        AgencyKind::Oversight => {
            covers()
                || case.oversight.as_ref() == Some(&caller.id)
                || case.history.iter().any(|recorded| match &recorded.event {
                    CaseEvent::ReleaseAnnounced {
                        oversight,
                        earlier_open_cases,
                        ..
                    } => {
                        oversight.as_ref() == Some(&caller.id)
                            || named(earlier_open_cases, &caller.id)
                    }
                    CaseEvent::Discharged {
                        earlier_open_cases, ..
                    } => named(earlier_open_cases, &caller.id),
                    _ => false,
                })
        }
    }
}

fn named(earlier: &[EarlierCase], office: &AgencyId) -> bool {
    earlier
        .iter()
        .any(|case| case.oversight.as_ref() == Some(office))
}
