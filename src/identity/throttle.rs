//! Failed-login throttling per username and per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts attempts in a fixed window. An attempt is counted when it starts (so parallel
/// guesses cannot slip past the limit) and uncounted when it succeeds. Once a key reaches its
/// limit it is refused until the window that began with its first failure ends.
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

/// Bound on tracked keys, so a flood of distinct names cannot grow memory without limit.
const MAX_KEYS: usize = 100_000;

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

    /// Starts an attempt: refused when the user or the address has used up its failures,
    /// otherwise counted as a failure until [`LoginThrottle::succeeded`] says otherwise.
    pub fn begin(&self, username: &str, address: Option<IpAddr>) -> Result<(), Locked> {
        let now = Instant::now();
        let mut failures = crate::sync::lock(&self.failures);
        let keys = Self::keys(username, address);
        for key in &keys {
            if let Some(window) = failures.get(key) {
                let ends = window.started + self.window;
                if now >= ends {
                    failures.remove(key);
                } else if window.count >= self.limit(key) {
                    return Err(Locked {
                        retry_after: ends - now,
                    });
                }
            }
        }
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, w| now < w.started + self.window);
        }
        for key in keys {
            let window = failures.entry(key).or_insert(Window {
                started: now,
                count: 0,
            });
            window.count += 1;
        }
        Ok(())
    }

    /// The attempt begun for this user and address succeeded: the user's count is cleared
    /// and the address gets its attempt back.
    pub fn succeeded(&self, username: &str, address: Option<IpAddr>) {
        let mut failures = crate::sync::lock(&self.failures);
        failures.remove(&Key::User(username.to_ascii_lowercase()));
        if let Some(address) = address
            && let Some(window) = failures.get_mut(&Key::Address(address))
        {
            window.count = window.count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_limit_per_user_and_address() {
        let t = LoginThrottle::new(2, 3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(t.begin("alice", Some(ip)).is_ok());
        assert!(t.begin("Alice", Some(ip)).is_ok());
        assert!(t.begin("alice", Some(ip)).is_err(), "user limit reached");
        assert!(t.begin("bob", Some(ip)).is_ok());
        assert!(t.begin("carol", Some(ip)).is_err(), "address limit reached");
        assert!(t.begin("carol", None).is_ok());
    }

    #[test]
    fn success_gives_the_attempt_back() {
        let t = LoginThrottle::new(2, 2, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..5 {
            assert!(t.begin("dave", Some(ip)).is_ok());
            t.succeeded("dave", Some(ip));
        }
    }

    #[test]
    fn window_expiry_unlocks() {
        let t = LoginThrottle::new(1, 10, Duration::from_millis(20));
        assert!(t.begin("erin", None).is_ok());
        assert!(t.begin("erin", None).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.begin("erin", None).is_ok());
    }
}
