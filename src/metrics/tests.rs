use super::*;
use crate::domain::agency::{AgencyId, AgencyKind};
use crate::domain::region::RegionCode;

fn project() -> AgencyRef {
    AgencyRef {
        kind: AgencyKind::CountyProject,
        region: RegionCode::parse("140106").unwrap(),
        id: AgencyId::parse("yingze-project").unwrap(),
    }
}

#[test]
fn calls_are_counted_by_name_and_code() {
    let metrics = Metrics::new();
    metrics.answered("handover.v1.IntakeService/SubmitDischarge", true, "OK");
    metrics.answered(
        "handover.v1.IntakeService/SubmitDischarge",
        true,
        "INVALID_ARGUMENT",
    );
    metrics.answered("handover.v1.CaseService/GetCase", false, "OK");
    let text = metrics.encode();
    assert!(text.contains("handover_submissions_total{call=\"SubmitDischarge\"} 1\n"));
    assert!(text.contains(
        "handover_refusals_total{call=\"SubmitDischarge\",code=\"INVALID_ARGUMENT\"} 1\n"
    ));
    assert!(!text.contains("GetCase"), "a query is no submission");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn an_open_stream_counts_until_dropped() {
    let metrics = Metrics::new();
    let open = metrics.stream_opened(&project());
    let line = "handover_inbox_streams_open{agency=\"yingze-project\",kind=\"county-project\"}";
    assert!(metrics.encode().contains(&format!("{line} 1\n")));
    drop(open);
    assert!(metrics.encode().contains(&format!("{line} 0\n")));
}

#[test]
fn agencies_that_left_drop_out_of_the_lag() {
    let metrics = Metrics::new();
    let mut other = project();
    other.id = AgencyId::parse("xiaodian-project").unwrap();
    metrics.set_inbox_lag(&[(project(), 3), (other, 1)]);
    assert!(metrics.encode().contains("xiaodian-project"));
    metrics.set_inbox_lag(&[(project(), 2)]);
    let text = metrics.encode();
    assert!(!text.contains("xiaodian-project"));
    assert!(text.contains("agency=\"yingze-project\",kind=\"county-project\"} 2\n"));
}

#[test]
fn two_gateways_count_apart() {
    let (one, two) = (Metrics::new(), Metrics::new());
    one.handshake_failed("timeout");
    assert!(one.encode().contains("reason=\"timeout\"} 1"));
    assert!(!two.encode().contains("reason=\"timeout\""));
}
