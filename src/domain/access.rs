//! Who may see a case. Personal data goes only to agencies whose role and
//! jurisdiction need it.

use super::agency::{AgencyKind, AgencyRef};
use super::case::Case;

/// Whether `caller` may read `case`:
///
/// - a detox center, the cases it submitted;
/// - a county project, the cases it was told of: as responsible project,
///   before a release, as the receiver of a transfer or the host of an
///   absence;
/// - police and oversight, the cases that touched a county in their
///   jurisdiction (executing, household, transfer target, host); oversight
///   also an unroutable case it received.
pub fn can_view(caller: &AgencyRef, case: &Case) -> bool {
    match caller.kind {
        AgencyKind::DetoxCenter => case.detox_center == caller.id,
        AgencyKind::CountyProject => {
            case.projects_told.contains(&caller.id) || case.responsible_history.contains(&caller.id)
        }
        AgencyKind::Police => covers(caller, case),
        AgencyKind::Oversight => {
            covers(caller, case) || case.oversight.as_ref() == Some(&caller.id)
        }
    }
}

fn covers(caller: &AgencyRef, case: &Case) -> bool {
    caller.region.covers(case.executing_region)
        || caller.region.covers(case.person.household_region)
        || case
            .counties
            .iter()
            .any(|county| caller.region.covers(*county))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{agency, discharged_case};

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
}
