//! A case without its history: what notices and lists carry.

use super::Case;

impl Case {
    /// The case without its history, as notices and lists carry it. The
    /// history is not copied to be dropped (a replay makes one per event its
    /// messages name); listing every field here makes a new one a compile error
    /// until it is copied too.
    pub fn summary(&self) -> Case {
        let Case {
            id,
            decision_number,
            person,
            detox_center,
            state,
            executing_region,
            responsible,
            responsible_history,
            announced_to,
            oversight,
            term,
            planned_release_date,
            notice,
            released_at,
            late_notice,
            clock,
            supervision_started,
            transfer,
            resume_to,
            closure,
            escalated,
            projects_told,
            counties,
            history: _,
        } = self;
        Case {
            id: id.clone(),
            decision_number: decision_number.clone(),
            person: person.clone(),
            detox_center: detox_center.clone(),
            state: *state,
            executing_region: *executing_region,
            responsible: responsible.clone(),
            responsible_history: responsible_history.clone(),
            announced_to: announced_to.clone(),
            oversight: oversight.clone(),
            term: *term,
            planned_release_date: *planned_release_date,
            notice: *notice,
            released_at: *released_at,
            late_notice: *late_notice,
            clock: *clock,
            supervision_started: *supervision_started,
            transfer: transfer.clone(),
            resume_to: *resume_to,
            closure: *closure,
            escalated: escalated.clone(),
            projects_told: projects_told.clone(),
            counties: counties.clone(),
            history: Vec::new(),
        }
    }

    /// [`Case::summary`] of a case no longer needed whole.
    pub fn into_summary(mut self) -> Case {
        self.history = Vec::new();
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::case::CaseEvent;
    use crate::domain::testing::{discharged_case, id, then};

    #[test]
    fn a_summary_is_the_case_without_its_history() {
        let project = id("yingze-project");
        let opened = discharged_case("140106", "140106", Some("yingze-project"));
        let reported = then(
            &then(&opened, &project, CaseEvent::PickedUp),
            &project,
            CaseEvent::Reported,
        );
        for case in [opened, reported] {
            let mut expected = case.clone();
            expected.history.clear();
            assert_eq!(case.summary(), expected);
            assert_eq!(case.into_summary(), expected);
        }
    }
}
