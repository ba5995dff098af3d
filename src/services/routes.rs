//! Release → where the proxy reaches it (a published port, a tunnel, a cluster address).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Routes {
    ports: Mutex<HashMap<String, SocketAddr>>,
}

impl Routes {
    pub fn get(&self, release: &str) -> Option<SocketAddr> {
        crate::sync::lock(&self.ports).get(release).copied()
    }

    pub fn set(&self, release: &str, port: Option<SocketAddr>) {
        let mut ports = crate::sync::lock(&self.ports);
        match port {
            Some(port) => ports.insert(release.to_owned(), port),
            // Stopped or gone: its port may go to another container.
            None => ports.remove(release),
        };
    }
}
