//! Reaching pods from outside the cluster (a laptop with Kind) with no ingress and no DNS:
//! one loopback listener per running service, each accepted connection tunnelled to the pod
//! through the API server's port-forward. The proxy and its access checks stay in front;
//! the tunnel only replaces the published port Docker would give.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// (namespace, pod) → its listener.
type Key = (String, String);

struct Tunnel {
    port: u16,
    local: SocketAddr,
    accept: AbortHandle,
}

pub struct Tunnels {
    client: Client,
    open: Mutex<HashMap<Key, Tunnel>>,
}

impl Drop for Tunnels {
    fn drop(&mut self) {
        for tunnel in crate::sync::lock(&self.open).values() {
            tunnel.accept.abort();
        }
    }
}

impl Tunnels {
    pub fn new(client: Client) -> Self {
        Tunnels {
            client,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The loopback address that reaches `port` of the pod, opening the listener once.
    pub fn address(&self, namespace: &str, pod: &str, port: u16) -> Option<SocketAddr> {
        let key = (namespace.to_owned(), pod.to_owned());
        let mut open = crate::sync::lock(&self.open);
        if let Some(tunnel) = open.get(&key) {
            if tunnel.port == port && !tunnel.accept.is_finished() {
                return Some(tunnel.local);
            }
            tunnel.accept.abort();
        }
        let listener = match bind_loopback() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(namespace, pod, error = %e, "cannot open a tunnel listener");
                return None;
            }
        };
        let local = listener.local_addr().ok()?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let accept = tokio::spawn(accept_loop(listener, pods, pod.to_owned(), port)).abort_handle();
        tracing::debug!(namespace, pod, %local, "tunnel opened");
        open.insert(
            key,
            Tunnel {
                port,
                local,
                accept,
            },
        );
        Some(local)
    }

    /// Closes the tunnels of pods not in `live`.
    pub fn retain(&self, live: &HashSet<Key>) {
        crate::sync::lock(&self.open).retain(|key, tunnel| {
            let keep = live.contains(key);
            if !keep {
                tunnel.accept.abort();
            }
            keep
        });
    }

    pub fn close(&self, namespace: &str, pod: &str) {
        if let Some(t) =
            crate::sync::lock(&self.open).remove(&(namespace.to_owned(), pod.to_owned()))
        {
            t.accept.abort();
        }
    }
}

fn bind_loopback() -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

async fn accept_loop(listener: TcpListener, pods: Api<Pod>, pod: String, port: u16) {
    loop {
        let Ok((connection, _)) = listener.accept().await else {
            continue;
        };
        let pods = pods.clone();
        let pod = pod.clone();
        tokio::spawn(async move {
            match forward(connection, &pods, &pod, port).await {
                // The proxy can only say the service does not answer: the log says why.
                Err(TunnelError::Refused(e)) => {
                    tracing::warn!(pod, port, error = %super::cluster_message(&e), "the cluster refused a port-forward (onyxia-lite needs create on pods/portforward)");
                }
                Err(e) => tracing::debug!(pod, port, error = %e, "tunnelled connection ended"),
                Ok(()) => {}
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum TunnelError {
    #[error("port-forward refused: {0}")]
    Refused(#[from] kube::Error),
    #[error("the port-forward has no stream for port {0}")]
    NoStream(u16),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Splices one client connection with a fresh port-forward stream to the pod.
async fn forward(
    mut connection: TcpStream,
    pods: &Api<Pod>,
    pod: &str,
    port: u16,
) -> Result<(), TunnelError> {
    let mut forwarder = pods.portforward(pod, &[port]).await?;
    let mut upstream = forwarder
        .take_stream(port)
        .ok_or(TunnelError::NoStream(port))?;
    let copied = tokio::io::copy_bidirectional(&mut connection, &mut upstream).await;
    drop(upstream);
    // The error channel says why a stream ended early (a refused port, a gone pod).
    if let Some(error) = forwarder.take_error(port)
        && let Some(message) = error.await
    {
        tracing::debug!(pod, port, message, "port-forward reported an error");
    }
    forwarder.abort();
    copied?;
    Ok(())
}
