//! Time, as something the gateway asks for rather than reads, so tests can
//! move it.

use std::sync::Mutex;

use time::{Date, OffsetDateTime, UtcOffset};

/// China Standard Time: the calendar in which release dates are written.
pub const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Today's date in China Standard Time.
    fn today(&self) -> Date {
        self.now().to_offset(CHINA).date()
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        *now += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-11-28 15:59 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-28 15:59 UTC));
        assert_eq!(clock.today(), time::macros::date!(2026 - 11 - 28));
        clock.advance(time::Duration::minutes(1));
        assert_eq!(clock.today(), time::macros::date!(2026 - 11 - 29));
    }
}
