//! Property tests of reading an agency back from its certificate URI.

use proptest::prelude::*;

use super::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        "[a-z0-9-]{1,12}",
        "[0-9]{6}",
        proptest::sample::select(AgencyKind::ALL.map(AgencyKind::as_str).to_vec())
            .prop_map(str::to_owned),
    ]
}

proptest! {
    #[test]
    fn any_uri_is_an_agency_or_refused(uri in "\\PC{0,80}") {
        if let Ok(agency) = parse_agency_uri(&uri) {
            prop_assert_eq!(agency_uri(&agency), uri);
        }
    }

    #[test]
    fn a_uri_of_the_trust_domain_is_read_back_to_the_agency_it_names(
        kind in segment(), region in segment(), id in segment(),
    ) {
        let uri = format!("{SCHEME}{TRUST_DOMAIN}/agency/{kind}/{region}/{id}");
        match parse_agency_uri(&uri) {
            Ok(agency) => {
                prop_assert_eq!(agency.kind.as_str(), kind.as_str());
                prop_assert_eq!(agency.region.to_string(), region);
                prop_assert_eq!(agency.id.as_str(), id.as_str());
                prop_assert_eq!(agency_uri(&agency), uri);
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
}
