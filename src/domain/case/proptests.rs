//! Property tests of case ids as clients send them.

use proptest::prelude::*;

use super::CaseId;

proptest! {
    #[test]
    fn a_case_id_parses_to_its_canonical_form_or_is_refused(text in "\\PC{0,48}") {
        match CaseId::parse(&text) {
            Ok(id) => {
                let canonical = uuid::Uuid::try_parse(&text).unwrap().hyphenated().to_string();
                prop_assert_eq!(id.as_str(), canonical.as_str());
                prop_assert_eq!(CaseId::parse(id.as_str()), Ok(id.clone()));
            }
            Err(reason) => prop_assert!(reason.contains("UUID")),
        }
    }

    #[test]
    fn every_written_form_of_a_uuid_names_the_same_case(bytes in any::<[u8; 16]>()) {
        let uuid = uuid::Uuid::from_bytes(bytes);
        let id = CaseId::new(uuid);
        for form in [
            uuid.hyphenated().to_string(),
            uuid.simple().to_string(),
            uuid.braced().to_string(),
            uuid.urn().to_string(),
            uuid.hyphenated().to_string().to_uppercase(),
        ] {
            prop_assert_eq!(CaseId::parse(&form), Ok(id.clone()), "{}", form);
        }
    }

    #[test]
    fn a_damaged_case_id_is_refused(bytes in any::<[u8; 16]>(), cut in 1usize..36) {
        let text = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
        let damaged = format!("{}z{}", &text[..cut], &text[cut..]);
        prop_assert!(CaseId::parse(&damaged).is_err());
        prop_assert!(CaseId::parse(&text[..cut]).is_err());
    }
}
