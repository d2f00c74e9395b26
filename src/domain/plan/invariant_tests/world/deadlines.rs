//! (iii) Each deadline escalated once, only when due and pending, to the
//! oversight office (and, for a discharge owed, to the detox center), and
//! never one met or ended.

use super::*;

impl World {
    pub(super) fn check_deadlines(
        &mut self,
        before: &Case,
        after: &Case,
        recorded: &RecordedEvent,
    ) -> Result<(), TestCaseError> {
        let what = recorded.event.name();
        if let CaseEvent::DeadlineMissed {
            kind,
            anchor,
            due_at,
        } = recorded.event
        {
            // A notice for a county outside the province went to the
            // office above the detox center.
            let county = Some(after.executing_region)
                .filter(|county| region("140000").covers(*county))
                .unwrap_or_else(|| region("140100"));
            let office = nearest_of(&self.agencies, AgencyKind::Oversight, county);
            prop_assert!(
                self.delivered(&office, recorded),
                "escalation missed {}",
                office
            );
            if kind == DeadlineKind::Discharge {
                prop_assert!(
                    self.delivered(&after.detox_center, recorded),
                    "the detox center did not hear its discharge was overdue"
                );
            }
            // Once per deadline, and only for one that was due.
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
