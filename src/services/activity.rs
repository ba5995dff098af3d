//! When each service was last used through the proxy (page loads, writes, WebSocket
//! messages from a client; see `proxy`), on the platform's clock. Kept in memory: after a
//! restart, services count as used at start.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Activity {
    /// Release → last use, epoch milliseconds.
    last: Mutex<HashMap<String, u64>>,
}

impl Activity {
    pub fn record(&self, release: &str, now_ms: u64) {
        let mut last = crate::sync::lock(&self.last);
        match last.get_mut(release) {
            Some(at) => *at = (*at).max(now_ms),
            None => {
                last.insert(release.to_owned(), now_ms);
            }
        }
    }

    pub fn last(&self, release: &str) -> Option<u64> {
        crate::sync::lock(&self.last).get(release).copied()
    }

    pub fn forget(&self, release: &str) {
        crate::sync::lock(&self.last).remove(release);
    }
}
