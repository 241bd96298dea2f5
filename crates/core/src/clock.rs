//! Wall-clock time: the one place trackd reads it, shared by the gateway (when a record was
//! received) and the API (now, for sessions and statuses), so both agree. Tests move it
//! forward to expire sessions or let a tracker go offline without waiting, or stop it to
//! know every time an answer will carry.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    stopped: AtomicBool,
    stopped_at: AtomicI64,
}

impl Clock {
    /// Unix milliseconds.
    pub fn now(&self) -> i64 {
        if self.stopped.load(Ordering::Relaxed) {
            return self.stopped_at.load(Ordering::Relaxed);
        }
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock forward (tests only have a use for it).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        self.stopped_at.fetch_add(ms, Ordering::Relaxed);
    }

    /// Stops this clock at `ms` (Unix milliseconds); only [`Clock::advance`] moves it from
    /// then on (tests only: every time an answer carries becomes known).
    pub fn stop_at(&self, ms: i64) {
        self.stopped_at.store(ms, Ordering::Relaxed);
        self.stopped.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_running_or_stopped() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(3_600_000);
        assert!(clock.now() >= before + 3_600_000);
        clock.stop_at(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(500);
        assert_eq!(clock.now(), 1_500);
    }
}
