//! The gateway's clock: the system's, or a manual one tests move by hand.
//!
//! Every time the gateway records (messages, handoffs, assignments, first responses,
//! resolutions, ratings) comes from [`Clock::now`], so a test can drive a scripted timeline and
//! check the KPIs to the second. Socket heartbeats and rate-limit windows stay on the
//! monotonic clock: they measure waiting, not events.

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub enum Clock {
    /// `Utc::now()`.
    #[default]
    System,
    /// Milliseconds since the Unix epoch, moved only by [`Clock::advance`] and [`Clock::set`].
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock showing `at`.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(at.timestamp_millis())))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(millis) => {
                DateTime::from_timestamp_millis(millis.load(Ordering::SeqCst)).unwrap_or_default()
            }
        }
    }

    /// Moves a manual clock forward (or back, with a negative duration); the system clock
    /// ignores it.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(millis) = self {
            millis.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
        }
    }

    /// Sets a manual clock; the system clock ignores it.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Clock::Manual(millis) = self {
            millis.store(at.timestamp_millis(), Ordering::SeqCst);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Manual(_) => write!(f, "Clock::Manual({})", self.now().to_rfc3339()),
        }
    }
}

/// Two clocks are equal when they are the system clock or the same manual clock.
impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Clock::System, Clock::System) => true,
            (Clock::Manual(a), Clock::Manual(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), start + Duration::seconds(90));
        let copy = clock.clone();
        copy.set(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock, copy);
        assert_ne!(clock, Clock::System);
    }
}
