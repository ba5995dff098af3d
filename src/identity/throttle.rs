//! Failed-login throttling per username and per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures in a fixed window; once a key reaches its limit it is refused until the
/// window that started with its first failure ends.
pub struct LoginThrottle {
    per_user: u32,
    per_address: u32,
    window: Duration,
    failures: Mutex<HashMap<Key, Window>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

struct Window {
    started: Instant,
    count: u32,
}

/// A refusal: how long until the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: Duration,
}

impl LoginThrottle {
    pub fn new(per_user: u32, per_address: u32, window: Duration) -> Self {
        Self {
            per_user,
            per_address,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, address: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::User(username.to_ascii_lowercase())];
        keys.extend(address.map(Key::Address));
        keys
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::User(_) => self.per_user,
            Key::Address(_) => self.per_address,
        }
    }

    /// Refuses the attempt when the user or the address has used up its failures.
    pub fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), Locked> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in Self::keys(username, address) {
            if let Some(window) = failures.get(&key) {
                let ends = window.started + self.window;
                if now >= ends {
                    failures.remove(&key);
                } else if window.count >= self.limit(&key) {
                    return Err(Locked {
                        retry_after: ends - now,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 100_000 {
            // Bound memory under a flood of distinct names.
            failures.retain(|_, w| now < w.started + self.window);
        }
        for key in Self::keys(username, address) {
            let window = failures.entry(key).or_insert(Window {
                started: now,
                count: 0,
            });
            if now >= window.started + self.window {
                *window = Window {
                    started: now,
                    count: 0,
                };
            }
            window.count += 1;
        }
    }

    /// A successful login clears the user's count (not the address's).
    pub fn record_success(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Key::User(username.to_ascii_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_limit_per_user_and_address() {
        let t = LoginThrottle::new(2, 3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        t.record_failure("alice", Some(ip));
        assert!(t.check("alice", Some(ip)).is_ok());
        t.record_failure("Alice", Some(ip));
        assert!(t.check("alice", Some(ip)).is_err());
        assert!(t.check("bob", Some(ip)).is_ok());
        t.record_failure("bob", Some(ip));
        assert!(t.check("carol", Some(ip)).is_err(), "address limit reached");
        assert!(t.check("carol", None).is_ok());
    }
}
