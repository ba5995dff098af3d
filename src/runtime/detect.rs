//! Finding a container engine: `DOCKER_HOST`, Docker's socket, rootful and rootless Podman,
//! Docker Desktop's per-user socket. Each candidate is tried and the reason it was not used is
//! kept, so `onyxia-lite doctor` can say why.

use std::path::PathBuf;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

use super::RuntimeInfo;
use super::docker::{DockerRuntime, engine_message};

/// Seconds to wait for an engine's answer while probing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One place an engine was looked for, and what was found there.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Probe {
    /// Where it came from: `DOCKER_HOST`, `docker`, `podman (rootful)`…
    pub source: String,
    pub endpoint: String,
    /// `Ok(version line)` or the reason it cannot be used.
    pub outcome: Result<String, String>,
}

/// The engine to use (the first candidate that answers) and every probe made.
pub struct Detection {
    pub runtime: Option<DockerRuntime>,
    pub probes: Vec<Probe>,
}

/// Candidate endpoints in order of preference. `configured` (runtime.docker_host) wins.
fn candidates(configured: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(host) = configured {
        out.push(("runtime.docker_host".to_owned(), host.to_owned()));
        return out;
    }
    if let Ok(host) = std::env::var("DOCKER_HOST")
        && !host.is_empty()
    {
        out.push(("DOCKER_HOST".to_owned(), host));
    }
    out.push((
        "docker".to_owned(),
        "unix:///var/run/docker.sock".to_owned(),
    ));
    out.push((
        "podman (rootful)".to_owned(),
        "unix:///run/podman/podman.sock".to_owned(),
    ));
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .or_else(|| current_uid().map(|uid| PathBuf::from(format!("/run/user/{uid}"))));
    if let Some(dir) = runtime_dir {
        out.push((
            "podman (rootless)".to_owned(),
            format!("unix://{}", dir.join("podman/podman.sock").display()),
        ));
    }
    if let Some(home) = std::env::var_os("HOME") {
        out.push((
            "Docker Desktop".to_owned(),
            format!(
                "unix://{}",
                PathBuf::from(home)
                    .join(".docker/run/docker.sock")
                    .display()
            ),
        ));
    }
    out
}

fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Whether `runtime.docker_host` turns the engine off (`none`).
pub fn is_disabled(configured: Option<&str>) -> bool {
    configured == Some("none")
}

/// Tries every candidate; the first that answers a version request is used. Nothing is tried
/// when the engine is turned off.
pub async fn detect(configured: Option<&str>) -> Detection {
    let mut probes = Vec::new();
    if is_disabled(configured) {
        return Detection {
            runtime: None,
            probes,
        };
    }
    let mut runtime = None;
    for (source, endpoint) in candidates(configured) {
        if runtime.is_some() {
            probes.push(Probe {
                source,
                endpoint,
                outcome: Err("not tried: an engine was already found".into()),
            });
            continue;
        }
        match probe(&endpoint).await {
            Ok((docker, info)) => {
                probes.push(Probe {
                    source,
                    endpoint,
                    outcome: Ok(format!("{} {}", info.engine, info.version)),
                });
                runtime = Some(DockerRuntime::new(docker, info));
            }
            Err(reason) => probes.push(Probe {
                source,
                endpoint,
                outcome: Err(reason),
            }),
        }
    }
    Detection { runtime, probes }
}

async fn probe(endpoint: &str) -> Result<(Docker, RuntimeInfo), String> {
    let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
        if !std::path::Path::new(path).exists() {
            return Err(format!("no socket at {path}"));
        }
        Docker::connect_with_unix(endpoint, 120, API_DEFAULT_VERSION)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        Docker::connect_with_http(endpoint, 120, API_DEFAULT_VERSION)
    } else {
        return Err(format!(
            "unsupported address {endpoint} (use unix:// or tcp://)"
        ));
    }
    .map_err(|e| engine_message(&e))?;
    if let Some(path) = endpoint.strip_prefix("unix://")
        && let Some(version) = podman_version(path).await
    {
        let info = RuntimeInfo {
            engine: "podman".to_owned(),
            version,
            endpoint: endpoint.to_owned(),
            host_from_containers: bridge_gateway(&docker, true).await,
            desktop: false,
        };
        return Ok((docker, info));
    }
    let version = tokio::time::timeout(PROBE_TIMEOUT, docker.version())
        .await
        .map_err(|_| "no answer within 3 s".to_owned())?
        .map_err(|e| format!("does not answer: {}", engine_message(&e)))?;
    let podman = version
        .components
        .iter()
        .flatten()
        .any(|c| c.name.to_ascii_lowercase().contains("podman"));
    let system = docker.info().await.map_err(|e| engine_message(&e))?;
    let desktop = system
        .operating_system
        .as_deref()
        .is_some_and(|os| os.contains("Docker Desktop"));
    let host_from_containers = if desktop {
        Some("host.docker.internal".to_owned())
    } else {
        bridge_gateway(&docker, podman).await
    };
    let info = RuntimeInfo {
        engine: if podman { "podman" } else { "docker" }.to_owned(),
        version: version.version.unwrap_or_default(),
        endpoint: endpoint.to_owned(),
        host_from_containers,
        desktop,
    };
    Ok((docker, info))
}

/// Podman's version, when the engine on the socket at `path` is Podman: its `_ping` says so
/// in a header at once, where its `/version` and `/info` take most of a second (they ask the
/// OCI runtime and the storage), which made every start with Podman that much slower.
async fn podman_version(path: &str) -> Option<String> {
    let ping = async {
        let stream = tokio::net::UnixStream::connect(path).await.ok()?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
        tokio::spawn(connection);
        let request = hyper::Request::get("/_ping")
            .header(hyper::header::HOST, "localhost")
            .body(String::new())
            .ok()?;
        let response = sender.send_request(request).await.ok()?;
        let version = response.headers().get("libpod-api-version")?;
        Some(version.to_str().ok()?.to_owned())
    };
    tokio::time::timeout(PROBE_TIMEOUT, ping)
        .await
        .ok()
        .flatten()
}

/// The gateway of the engine's default bridge network: the host's address from containers.
async fn bridge_gateway(docker: &Docker, podman: bool) -> Option<String> {
    let names: &[&str] = if podman {
        &["podman", "bridge"]
    } else {
        &["bridge", "podman"]
    };
    for name in names {
        if let Some(gateway) = gateway_of(docker, name).await {
            return Some(gateway);
        }
    }
    None
}

/// The IPv4 gateway of the engine's network `name`.
async fn gateway_of(docker: &Docker, name: &str) -> Option<String> {
    let network = docker.inspect_network(name, None).await.ok()?;
    network
        .ipam
        .and_then(|ipam| ipam.config)
        .into_iter()
        .flatten()
        .find_map(|c| {
            c.gateway
                .filter(|g| g.parse::<std::net::Ipv4Addr>().is_ok())
        })
}

/// The gateway of network `name` (Kind's nodes sit on `kind`) on the first engine that
/// answers: the host's address as seen from that network's containers.
pub async fn network_gateway(configured: Option<&str>, name: &str) -> Option<String> {
    let runtime = detect(configured).await.runtime?;
    gateway_of(runtime.docker(), name).await
}
