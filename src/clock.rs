//! The platform's clock: wall time for everything that expires (tokens, sessions, codes, STS
//! keys, Vault tokens) and every timestamp it records. One `Clock` hangs off each platform, so a
//! test moves its time forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// System time plus an offset that only tests move. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, as this platform sees it.
    pub fn now(&self) -> SystemTime {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_millis(offset as u64)
        } else {
            now - Duration::from_millis(offset.unsigned_abs())
        }
    }

    fn since_epoch(&self) -> Duration {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }

    /// Seconds since the Unix epoch (JWT times, expiries).
    pub fn secs(&self) -> u64 {
        self.since_epoch().as_secs()
    }

    /// Milliseconds since the Unix epoch (object times, events).
    pub fn millis(&self) -> u64 {
        self.since_epoch().as_millis() as u64
    }

    /// Nanoseconds since the Unix epoch (Vault's RFC 3339 times).
    pub fn nanos(&self) -> i128 {
        self.since_epoch().as_nanos() as i128
    }

    /// Moves this clock forward by `by`, for every part of the platform at once. For tests:
    /// expiry is then checked without waiting.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_move_together() {
        let clock = Clock::system();
        let shared = clock.clone();
        let before = clock.secs();
        shared.advance(Duration::from_secs(3600));
        assert!(clock.secs() >= before + 3600);
        assert!(clock.millis() / 1000 >= before + 3600);
    }
}
