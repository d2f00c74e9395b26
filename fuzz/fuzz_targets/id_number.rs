//! Identity numbers: any text is a valid number or a refusal, and a valid
//! number never shows its birth date in its masked form.
#![no_main]

use handover_gateway::domain::id_number::{IdNumber, IdNumberError, with_check_character};
use libfuzzer_sys::fuzz_target;
use time::macros::date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for today in [date!(2026 - 11 - 28), time::Date::MAX, time::Date::MIN] {
        if let Ok(id) = IdNumber::parse(text, today) {
            assert_eq!(id.expose(), text.to_ascii_uppercase());
            assert!(id.birth_date() <= today);
            assert!(!id.masked().contains(&id.expose()[6..14]));
            let _ = id.is_male();
        }
    }
    if let Some(number) = with_check_character(text) {
        match IdNumber::parse(&number, time::Date::MAX) {
            Ok(_) | Err(IdNumberError::BirthDate) => {}
            Err(other) => panic!("{number} with its own check character: {other}"),
        }
    }
});
