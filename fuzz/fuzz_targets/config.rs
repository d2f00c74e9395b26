//! The config file: any text is a configuration or an error; one that
//! passes validation holds durations the runtime can schedule.
#![no_main]

use handover_gateway::config::Config;
use handover_gateway::domain::deadline::parse_duration;
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
        let now = std::time::Instant::now();
        for duration in [
            config.heartbeat,
            config.handshake_timeout,
            config.shutdown_grace,
            config.escalation_scan,
        ] {
            assert!(
                now.checked_add(duration).is_some(),
                "{duration:?} cannot be scheduled"
            );
        }
    }
});
