//! The config file: any text is a configuration or an error; the deadlines
//! of one that passes validation are written back as they were read.
#![no_main]

use handover_gateway::config::Config;
use handover_gateway::domain::deadline::{DeadlinePolicy, parse_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_duration(text);
    let Ok(config) = toml::from_str::<Config>(text) else {
        return;
    };
    if config.validate().is_ok() {
        let written = toml::to_string(&config.deadlines).expect("validated deadlines are written");
        let read: DeadlinePolicy = toml::from_str(&written).expect("written deadlines are read");
        assert_eq!(read, config.deadlines);
    }
});
