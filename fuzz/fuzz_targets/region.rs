//! Region codes and the agency names built on them: any text is a code or
//! a refusal; a code covers itself and is covered by its ancestors. The
//! same bytes are tried as an agency certificate URI.
#![no_main]

use handover_gateway::domain::agency::{AgencyId, AgencyKind};
use handover_gateway::domain::region::{RegionCode, RegionLevel};
use handover_gateway::pki::identity::{agency_uri, parse_agency_uri};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = RegionCode::parse(text) {
        assert_eq!(code.to_string(), text);
        assert!(code.covers(code));
        for ancestor in code.with_ancestors() {
            assert!(ancestor.covers(code));
            assert!(text.starts_with(&ancestor.prefix()));
        }
        assert_eq!(
            RegionCode::parse_county(text).is_ok(),
            code.level() == RegionLevel::County
        );
    } else {
        assert!(RegionCode::parse_county(text).is_err());
    }
    if let Ok(id) = AgencyId::parse(text) {
        assert_eq!(id.as_str(), text);
    }
    if let Ok(kind) = text.parse::<AgencyKind>() {
        assert_eq!(kind.as_str(), text);
    }
    if let Ok(agency) = parse_agency_uri(text) {
        assert_eq!(agency_uri(&agency), text);
    }
});
