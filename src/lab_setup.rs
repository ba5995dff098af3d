//! Builds the lab of a platform: catalogs, the runtime (engine or cluster), the regions, the Onyxia API
//! state, the service proxy, and the listeners containers reach the platform through.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::catalog::launch::Reachability;
use crate::catalog::schema::Registry;
use crate::classes::Classroom;
use crate::clock::Clock;
use crate::config::Config;
use crate::config::fixtures::Fixtures;
use crate::identity::verifier::Verifier;
use crate::onyxia::OnyxiaState;
use crate::onyxia::region::{self, GeneratedRegion};
use crate::proxy::Proxy;
use crate::runtime::Runtime;
use crate::runtime::kube::objects::{IngressSettings, ObjectSettings};
use crate::runtime::{detect, select};
use crate::services::{Exposure, Lab};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum LabSetupError {
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Schemas(#[from] crate::catalog::schema::RegistryError),
}

/// What the platform serves besides its own three listeners.
pub struct LabParts {
    pub lab: Arc<Lab>,
    pub api: Arc<OnyxiaState>,
    pub proxy: Arc<Proxy>,
    /// S3 and Vault listeners on the address containers reach the host by ("S3"/"Vault", listener).
    pub container_listeners: Vec<(&'static str, TcpListener)>,
}

/// Where the platform's own listeners are.
pub struct Addresses<'a> {
    pub main: SocketAddr,
    pub s3: SocketAddr,
    pub vault: SocketAddr,
    pub public_url: &'a str,
    /// The embedded issuer's URL.
    pub issuer: &'a str,
    pub s3_url: &'a str,
    pub vault_url: &'a str,
}

/// The lab and what serves it: catalogs and regions, the engine, how containers reach the
/// platform, then the lab itself, the API's state and the proxy.
pub async fn build(
    config: &Config,
    fixtures: &Fixtures,
    verifier: Arc<Verifier>,
    classroom: Arc<Classroom>,
    store: Arc<Store>,
    at: &Addresses<'_>,
    clock: Clock,
) -> Result<LabParts, LabSetupError> {
    let oc = &config.onyxia;
    let catalogs = crate::catalog::load(oc.catalog.as_deref())?;
    let registry = match &oc.schemas {
        Some(dir) => Registry::load(dir)?,
        None => Registry::default(),
    };
    crate::catalog::compat::warn_about_unreadable_schemas(&catalogs, &registry);
    let regions = match &oc.regions {
        Some(path) => region::load(path).map_err(LabSetupError::Invalid)?,
        None => vec![generated_region(config, fixtures, at)?],
    };
    let domain = regions[0]["services"]["expose"]["domain"]
        .as_str()
        .unwrap_or(&oc.expose_domain)
        .to_owned();
    let (runtime, probes) = find_runtime(config, object_settings(config, &domain)).await;
    let (reach, container_listeners) = reach_from_containers(config, runtime.as_deref(), at);
    let lab = Arc::new(Lab::new(
        runtime,
        probes,
        catalogs,
        registry,
        exposure(at, &domain),
        reach,
        store,
        clock.clone(),
    ));
    let catalog_culling = lab
        .catalogs
        .iter()
        .map(|c| (c.id.clone(), c.culling))
        .collect();
    lab.set_cull_policy(classroom.cull_policy(catalog_culling, &config.culling));
    let api = api_state(lab.clone(), verifier, classroom, regions, at, &clock);
    let proxy = Arc::new(Proxy::new(lab.clone(), &domain, at.public_url));
    Ok(LabParts {
        lab,
        api,
        proxy,
        container_listeners,
    })
}

/// The runtime `runtime.kind` names (a container engine or a cluster), and what was tried.
async fn find_runtime(
    config: &Config,
    objects: ObjectSettings,
) -> (Option<Arc<dyn Runtime>>, Vec<detect::Probe>) {
    let selection = select::select(config, objects).await;
    match &selection.runtime {
        Some(r) => {
            tracing::info!(engine = %r.info().engine, version = %r.info().version, endpoint = %r.info().endpoint, "runtime found")
        }
        None if selection.probes.is_empty() => {
            tracing::info!("no container engine (runtime disabled)")
        }
        None => tracing::warn!(
            "no runtime found: services cannot be launched (run `onyxia-lite doctor`)"
        ),
    }
    (selection.runtime, selection.probes)
}

/// How Kubernetes objects are made: an Ingress when the region exposes services on a real
/// domain, and the namespace quota from the generated region's quotas when asked.
fn object_settings(config: &Config, domain: &str) -> ObjectSettings {
    let rc = &config.runtime;
    let loopback_domain = domain == "localhost" || domain.ends_with(".localhost");
    let mut namespace_quota = std::collections::BTreeMap::new();
    if rc.kube_namespace_quota {
        let oc = &config.onyxia;
        namespace_quota.insert("count/pods".to_owned(), oc.quota_services.to_string());
        if let Some(cpu) = &oc.quota_cpu {
            namespace_quota.insert("requests.cpu".to_owned(), cpu.clone());
        }
        if let Some(memory) = &oc.quota_memory {
            namespace_quota.insert("requests.memory".to_owned(), memory.clone());
        }
    }
    ObjectSettings {
        ingress: (rc.kube_ingress && !loopback_domain).then(|| IngressSettings {
            domain: domain.to_owned(),
            class: rc.kube_ingress_class.clone(),
            tls_secret: rc.kube_tls_secret.clone(),
        }),
        storage_class: rc.kube_storage_class.clone(),
        volume_size: rc.kube_volume_size.clone(),
        namespace_quota,
    }
}

/// How containers reach the platform's listeners, and the listeners opened on the engine's
/// bridge gateway for them (none when the engine forwards to the host, or is unknown).
fn reach_from_containers(
    config: &Config,
    runtime: Option<&dyn Runtime>,
    at: &Addresses<'_>,
) -> (Reachability, Vec<(&'static str, TcpListener)>) {
    let mut container_listeners = Vec::new();
    let mut reach = Reachability {
        local_hosts: local_hosts(config),
        ..Default::default()
    };
    let Some(info) = runtime.map(|r| r.info().clone()) else {
        return (reach, container_listeners);
    };
    let own = [
        ("S3", at.s3.port()),
        ("Vault", at.vault.port()),
        ("main", at.main.port()),
    ];
    match &info.host_from_containers {
        None => tracing::warn!(
            "the engine's bridge gateway is unknown: services get endpoint URLs unchanged"
        ),
        // Docker Desktop forwards host.docker.internal to the host's loopback, and a
        // platform bound beyond loopback is reachable at the gateway: same ports.
        Some(host) if info.desktop || !config.bind.is_loopback() => {
            reach.container_host = Some(host.clone());
            reach.ports = own.iter().map(|(_, port)| (*port, *port)).collect();
        }
        Some(gateway) => {
            if let Ok(ip) = gateway.parse::<IpAddr>() {
                reach.container_host = Some(gateway.clone());
                for (what, port) in own {
                    match bind_for_containers(ip, port) {
                        Ok(listener) => {
                            let actual = listener.local_addr().map(|a| a.port()).unwrap_or(port);
                            reach.ports.insert(port, actual);
                            container_listeners.push((what, listener));
                        }
                        Err(e) => {
                            tracing::warn!(%ip, what, error = %e, "cannot listen for containers; services will not reach this listener")
                        }
                    }
                }
            }
        }
    }
    (reach, container_listeners)
}

/// Service URLs: `<release>.<domain>` with the public URL's scheme and port.
fn exposure(at: &Addresses<'_>, domain: &str) -> Exposure {
    let (scheme, port) = match url::Url::parse(at.public_url) {
        Ok(u) => (
            u.scheme().to_owned(),
            u.port_or_known_default().unwrap_or(at.main.port()),
        ),
        Err(_) => ("http".to_owned(), at.main.port()),
    };
    Exposure {
        domain: domain.to_owned(),
        port,
        scheme,
    }
}

/// The Onyxia API's state: the lab, the regions, and where the web logs in.
fn api_state(
    lab: Arc<Lab>,
    verifier: Arc<Verifier>,
    classroom: Arc<Classroom>,
    regions: Vec<Value>,
    at: &Addresses<'_>,
    clock: &Clock,
) -> Arc<OnyxiaState> {
    // The web logs in where the API's tokens come from.
    let issuer = verifier.external_issuer().unwrap_or(at.issuer).to_owned();
    Arc::new(OnyxiaState {
        lab,
        verifier,
        classroom,
        regions,
        oidc: json!({
            "issuerURI": issuer,
            "clientID": "onyxia",
            "extraQueryParams": "",
            "scope": "openid profile",
            "audience": "",
        }),
        started_secs: clock.secs(),
    })
}

fn generated_region(
    config: &Config,
    fixtures: &Fixtures,
    at: &Addresses,
) -> Result<Value, LabSetupError> {
    let oc = &config.onyxia;
    let mut quota = serde_json::Map::new();
    quota.insert("count/pods".into(), json!(oc.quota_services));
    if let Some(cpu) = &oc.quota_cpu {
        quota.insert("requests.cpu".into(), json!(cpu));
    }
    if let Some(memory) = &oc.quota_memory {
        quota.insert("requests.memory".into(), json!(memory));
    }
    crate::services::Quota::from_json(&Value::Object(quota.clone()))
        .map_err(|e| LabSetupError::Invalid(format!("onyxia.quota_*: {e}")))?;
    let vault_role = fixtures
        .vault
        .roles
        .first()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let vault_mount = fixtures.vault.mounts.first().cloned().unwrap_or_default();
    Ok(region::generated(&GeneratedRegion {
        s3_url: at.s3_url,
        s3_region: &config.s3.region,
        sts_client_id: &config.s3.sts_client_id,
        vault_url: at.vault_url,
        vault_mount: &vault_mount,
        vault_role: &vault_role,
        expose_domain: &oc.expose_domain,
        single_namespace: oc.single_namespace,
        quota: Value::Object(quota),
        description: "Services run on this machine's container engine".into(),
    }))
}

fn local_hosts(config: &Config) -> BTreeSet<String> {
    let mut hosts: BTreeSet<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    hosts.insert(config.bind.to_string());
    hosts
}

/// A listener on the bridge gateway, which may not exist until the engine starts its first
/// container (hence IP_FREEBIND). The same port as the loopback listener when free.
fn bind_for_containers(ip: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let try_bind = |port: u16| -> std::io::Result<std::net::TcpListener> {
        let domain = if ip.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(domain, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if ip.is_ipv4() {
            socket.set_freebind_v4(true)?;
        } else {
            socket.set_freebind_v6(true)?;
        }
        socket.bind(&SocketAddr::new(ip, port).into())?;
        socket.listen(1024)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    let std_listener = try_bind(port).or_else(|_| try_bind(0))?;
    TcpListener::from_std(std_listener)
}
