//! Release → the loopback port its container publishes, for the proxy.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Routes {
    ports: Mutex<HashMap<String, u16>>,
}

impl Routes {
    pub fn get(&self, release: &str) -> Option<u16> {
        crate::sync::lock(&self.ports).get(release).copied()
    }

    pub fn set(&self, release: &str, port: Option<u16>) {
        let mut ports = crate::sync::lock(&self.ports);
        match port {
            Some(port) => ports.insert(release.to_owned(), port),
            // Stopped or gone: its port may go to another container.
            None => ports.remove(release),
        };
    }
}
