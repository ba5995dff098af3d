//! Readiness probes of services the platform reaches directly (the Docker runtime): the
//! service is ready once its port accepts a TCP connection, or answers HTTP at `/` with any
//! status. The lab asks the runtime, so only runtimes hold the clients that reach services.

use std::time::Duration;

/// How long one probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

pub struct LoopbackProbe {
    http: reqwest::Client,
}

impl Default for LoopbackProbe {
    fn default() -> Self {
        LoopbackProbe {
            http: reqwest::Client::builder()
                .timeout(PROBE_TIMEOUT)
                .no_proxy()
                .build()
                .unwrap_or_default(),
        }
    }
}

impl LoopbackProbe {
    /// `probe` is the service's `ServiceMeta::probe`: `tcp`, or anything else for HTTP.
    pub async fn answers(&self, address: std::net::SocketAddr, probe: &str) -> bool {
        if probe == "tcp" {
            tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(address))
                .await
                .is_ok_and(|c| c.is_ok())
        } else {
            self.http
                .get(format!("http://{address}/"))
                .send()
                .await
                .is_ok()
        }
    }
}
