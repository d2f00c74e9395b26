//! Who may see a case. Personal data goes only to agencies whose role and
//! jurisdiction need it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::agency::{AgencyKind, AgencyRef};
use super::case::{Case, CaseEvent, CaseState, RecordedEvent};
use super::deadline::human;

mod parts;

pub use parts::{Part, part};

/// How long agencies read a case once their need of it ended. After three
/// years without drugs a person is no longer under dynamic control and
/// their data are confidential, so police lose sight of a case some time
/// after it closed; the agencies that ran the case keep it as their record.
/// An agency told of a case only in passing (see [`Part`]) reads it for a
/// while after its part ended, then no more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessPolicy {
    /// Police see a closed case for this long after its closure.
    #[serde(with = "human")]
    pub police_see_closed_cases_for: Duration,
    /// An agency told of a case in passing reads it for this long after
    /// its part ended: time to follow up an absence, a transfer that did
    /// not happen or the person's earlier case.
    #[serde(with = "human")]
    pub passing_parts_read_for: Duration,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            police_see_closed_cases_for: Duration::days(3 * 365),
            passing_parts_read_for: Duration::days(90),
        }
    }
}

impl AccessPolicy {
    /// The earliest closure police still see at `now`.
    pub fn police_closed_cutoff(&self, now: OffsetDateTime) -> OffsetDateTime {
        now - self.police_see_closed_cases_for
    }

    /// Why police are shown no more than the place of a message about a
    /// case past the cutoff.
    pub fn withheld_from_police(&self) -> String {
        let period = self.police_see_closed_cases_for;
        let period = match period.whole_days() {
            0 => format!("{} seconds", period.whole_seconds()),
            days => format!("{days} days"),
        };
        format!("the case closed more than {period} ago; police no longer read it")
    }
}

/// Whether `caller` may read `case` at `now`: it takes a [`part`] in the
/// case, a passing one ended no more than
/// [`AccessPolicy::passing_parts_read_for`] ago, and police no longer see
/// a case closed before [`AccessPolicy::police_closed_cutoff`].
pub fn can_read(
    caller: &AgencyRef,
    case: &Case,
    now: OffsetDateTime,
    policy: &AccessPolicy,
) -> bool {
    let reads = match part(caller, case) {
        None => false,
        Some(Part::Lasting | Part::Passing { ends: None }) => true,
        // An absence may be planned to end near the last representable
        // day; a part that ends past it is read to the end.
        Some(Part::Passing { ends: Some(ends) }) => ends
            .checked_add(policy.passing_parts_read_for)
            .is_none_or(|last| now <= last),
    };
    reads && !police_lost_sight(caller, closed_at(case), now, policy)
}

/// Whether `caller` is police and a case that closed at `closed` is past
/// [`AccessPolicy::police_closed_cutoff`]: such a case is not read to
/// them, in a status query, a list or a replayed inbox message.
pub fn police_lost_sight(
    caller: &AgencyRef,
    closed: Option<OffsetDateTime>,
    now: OffsetDateTime,
    policy: &AccessPolicy,
) -> bool {
    caller.kind == AgencyKind::Police
        && closed.is_some_and(|closed| closed < policy.police_closed_cutoff(now))
}

/// When a closed case last changed: its closure, which nothing follows but
/// an escalation recorded late. Storage filters on the same instant (the
/// time of the case's newest event, kept to the millisecond), so a list
/// and a status query agree but for that last millisecond.
pub fn closed_at(case: &Case) -> Option<OffsetDateTime> {
    (case.state == CaseState::Closed)
        .then(|| case.history.last().map(|event| event.at))
        .flatten()
}

/// [`closed_at`] of the case whose events are `history`, without folding
/// them: closure is final, so the case is closed once any event closed
/// it, and its newest event is the instant.
pub fn closed_at_of_history(history: &[RecordedEvent]) -> Option<OffsetDateTime> {
    history
        .iter()
        .any(|recorded| matches!(recorded.event, CaseEvent::Closed { .. }))
        .then(|| history.last().map(|recorded| recorded.at))
        .flatten()
}

/// Whether `caller`'s role and jurisdiction let it see `case`, whenever
/// asked; what it may read now is [`can_read`]:
///
/// - a detox center, the cases it submitted;
/// - a county project, the cases it was told of: as responsible project,
///   before a release, as the receiver of a transfer, the host of an
///   absence or the project of the person's earlier open case;
/// - police and oversight, the cases that touched a county in their
///   jurisdiction (executing, household, transfer target, host, an earlier
///   open case's); oversight
///   also an unroutable case it received, or whose person's earlier
///   unroutable case it held.
pub fn can_view(caller: &AgencyRef, case: &Case) -> bool {
    part(caller, case).is_some()
}

#[cfg(test)]
mod parts_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::CaseEvent;
    use crate::domain::event::ClosureReason;
    use crate::domain::testing::{agency, discharged_case, id, then};

    #[test]
    fn each_kind_sees_only_what_concerns_it() {
        // The case executes in 140106 (Yingze, Taiyuan); household 140202 (Datong).
        let case = discharged_case("140106", "140202", Some("yingze-project"));
        let visible = [
            agency("detox-center", "140000", "taiyuan-detox"),
            agency("county-project", "140106", "yingze-project"),
            agency("police", "140106", "yingze-police"),
            agency("police", "140100", "taiyuan-police"),
            agency("police", "140202", "datong-police"),
            agency("police", "140000", "shanxi-police"),
            agency("oversight", "140000", "shanxi-office"),
        ];
        for caller in &visible {
            assert!(can_view(caller, &case), "{caller} should see the case");
        }
        let hidden = [
            agency("detox-center", "140000", "other-detox"),
            agency("county-project", "140105", "xiaodian-project"),
            agency("police", "140105", "xiaodian-police"),
            agency("police", "110000", "beijing-police"),
            agency("oversight", "140300", "yangquan-office"),
        ];
        for caller in &hidden {
            assert!(!can_view(caller, &case), "{caller} should not see the case");
        }
    }

    #[test]
    fn police_lose_sight_of_a_closed_case_after_the_period_and_others_do_not() {
        let open = discharged_case("140106", "140202", Some("yingze-project"));
        let closed = then(
            &open,
            &id("yingze-project"),
            CaseEvent::Closed {
                reason: ClosureReason::Completed,
                note: String::new(),
            },
        );
        let closure = time::macros::datetime!(2026-11-28 10:00 UTC);
        assert_eq!(closed_at(&closed), Some(closure));
        assert_eq!(closed_at(&open), None);
        assert_eq!(closed_at_of_history(&closed.history), Some(closure));
        assert_eq!(closed_at_of_history(&open.history), None);
        let escalated_late = then(
            &closed,
            &id("yingze-project"),
            CaseEvent::DeadlineMissed {
                kind: crate::domain::deadline::DeadlineKind::Pickup,
                anchor: 1,
                due_at: closure,
            },
        );
        assert_eq!(
            closed_at_of_history(&escalated_late.history),
            closed_at(&escalated_late),
            "the newest event, as the folded case tells it"
        );

        let policy = AccessPolicy {
            police_see_closed_cases_for: Duration::days(30),
            ..AccessPolicy::default()
        };
        let last_moment = closure + Duration::days(30);
        let after = last_moment + Duration::SECOND;
        let police = [
            agency("police", "140106", "yingze-police"),
            agency("police", "140202", "datong-police"),
            agency("police", "140000", "shanxi-police"),
        ];
        for caller in &police {
            assert!(can_read(caller, &closed, last_moment, &policy), "{caller}");
            assert!(!can_read(caller, &closed, after, &policy), "{caller}");
            // An open case is never hidden, however old.
            assert!(can_read(
                caller,
                &open,
                after + Duration::days(9999),
                &policy
            ));
        }
        let keepers = [
            agency("detox-center", "140000", "taiyuan-detox"),
            agency("county-project", "140106", "yingze-project"),
            agency("oversight", "140000", "shanxi-office"),
        ];
        for caller in &keepers {
            assert!(
                can_read(caller, &closed, after + Duration::days(9999), &policy),
                "{caller}"
            );
        }
        let stranger = agency("police", "140105", "xiaodian-police");
        assert!(!can_read(&stranger, &closed, last_moment, &policy));

        let yingze = &police[0];
        assert!(!police_lost_sight(
            yingze,
            Some(closure),
            last_moment,
            &policy
        ));
        assert!(police_lost_sight(yingze, Some(closure), after, &policy));
        assert!(!police_lost_sight(yingze, None, after, &policy));
        assert!(!police_lost_sight(
            &keepers[1],
            Some(closure),
            after,
            &policy
        ));
        assert_eq!(
            policy.withheld_from_police(),
            "the case closed more than 30 days ago; police no longer read it"
        );
    }

    #[test]
    fn police_see_closed_cases_for_three_years_by_default() {
        let policy: AccessPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(policy.police_see_closed_cases_for, Duration::days(1095));
        let policy: AccessPolicy =
            serde_json::from_str(r#"{"police_see_closed_cases_for": "90d"}"#).unwrap();
        assert_eq!(policy.police_see_closed_cases_for, Duration::days(90));
        let unknown = serde_json::from_str::<AccessPolicy>(r#"{"police_see": "90d"}"#);
        assert!(unknown.is_err());
    }
}
