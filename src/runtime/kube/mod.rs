//! The Kubernetes runtime: each service is a StatefulSet with one replica (none while
//! suspended), a Service, a Secret with its environment, claims for its volumes and, where
//! the region has a domain, an Ingress — in its project's namespace, applied server-side
//! with one field manager. The cluster is the source of truth: the StatefulSet's annotations
//! hold everything the lab shows, so a restarted platform finds every service again.
//!
//! Outside the cluster (a laptop with Kind) the proxy reaches pods through port-forward
//! tunnels; inside it, at their Service's cluster address.

mod cache;
pub mod connect;
mod metrics;
pub mod names;
pub mod objects;
mod state;
mod tunnel;
mod watch;

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, LogParams, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ContainerSpec, EventKind, EventLog, Phase, Runtime, RuntimeError, RuntimeInfo, RuntimeResult,
    RuntimeService, ServiceMeta, meta,
};
use connect::Connection;
use names::base_name;
use objects::{FIELD_MANAGER, MANAGED, ObjectSettings, PART, RELEASE, pod_name};
use tunnel::Tunnels;

/// What a listing found besides the StatefulSets, by (namespace, name).
struct Found {
    pods: HashMap<(String, String), Arc<Pod>>,
    meta_secrets: HashMap<(String, String), Arc<Secret>>,
    cluster_ips: HashMap<(String, String), IpAddr>,
}

fn by_name<K: Resource>(
    items: impl IntoIterator<Item = Arc<K>>,
) -> HashMap<(String, String), Arc<K>> {
    items
        .into_iter()
        .filter_map(|item| {
            let key = (item.meta().namespace.clone()?, item.meta().name.clone()?);
            Some((key, item))
        })
        .collect()
}

/// The log returned by `logs` keeps at most this many trailing bytes.
const MAX_LOG_BYTES: i64 = 4 << 20;

/// (namespace, release) → the cluster's refusal to create its pod (a quota), from events.
type Failures = Arc<Mutex<HashMap<(String, String), String>>>;

pub struct KubeRuntime {
    client: Client,
    info: RuntimeInfo,
    objects: ObjectSettings,
    in_cluster: bool,
    tunnels: Tunnels,
    failures: Failures,
    cache: cache::ClusterCache,
}

impl KubeRuntime {
    /// A runtime on `connection`'s cluster; `platform_host` is where pods reach the platform.
    pub fn new(
        connection: Connection,
        objects: ObjectSettings,
        platform_host: Option<String>,
    ) -> Self {
        let endpoint = match &connection.context {
            Some(context) => format!("{} (context {context})", connection.cluster_url),
            None => format!("{} (in-cluster)", connection.cluster_url),
        };
        KubeRuntime {
            tunnels: Tunnels::new(connection.client.clone()),
            client: connection.client,
            info: RuntimeInfo {
                engine: "kubernetes".into(),
                version: connection.version,
                endpoint,
                host_from_containers: platform_host,
                desktop: false,
            },
            objects,
            in_cluster: connection.in_cluster,
            failures: Arc::default(),
            cache: cache::ClusterCache::new(connection.in_cluster),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn namespaced<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Server-side apply of `object` with onyxia-lite's field manager; the object as stored.
    async fn apply<K>(&self, api: &Api<K>, object: &K) -> RuntimeResult<K>
    where
        K: Resource + Serialize + DeserializeOwned + Clone + Debug,
        <K as Resource>::DynamicType: Default,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| {
                RuntimeError::Engine(format!(
                    "cannot apply {} {name}: {}",
                    K::kind(&Default::default()),
                    cluster_message(&e)
                ))
            })
    }

    /// Creates the namespace on first use; a namespace that exists is left as it is (so a
    /// Role limited to existing namespaces is enough).
    async fn ensure_namespace(&self, namespace: &Namespace) -> RuntimeResult<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let name = namespace.metadata.name.clone().unwrap_or_default();
        match api.get_opt(&name).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => self.apply(&api, namespace).await.map(drop),
            Err(e) => Err(engine(e)),
        }
    }

    /// Applies every object of a service; the StatefulSet and the meta Secret as stored.
    async fn apply_all(
        &self,
        objects: &objects::ServiceObjects,
        namespace: &str,
    ) -> RuntimeResult<(StatefulSet, Secret)> {
        self.ensure_namespace(&objects.namespace).await?;
        if let Some(quota) = &objects.quota {
            self.apply(&self.namespaced::<ResourceQuota>(namespace), quota)
                .await?;
        }
        let secrets = self.namespaced::<Secret>(namespace);
        self.apply(&secrets, &objects.secret).await?;
        let meta_secret = self.apply(&secrets, &objects.meta_secret).await?;
        let claims = self.namespaced::<PersistentVolumeClaim>(namespace);
        for claim in &objects.volumes {
            self.apply(&claims, claim).await?;
        }
        self.apply(&self.namespaced::<Service>(namespace), &objects.service)
            .await?;
        let statefulset = self
            .apply(
                &self.namespaced::<StatefulSet>(namespace),
                &objects.statefulset,
            )
            .await?;
        if let Some(ingress) = &objects.ingress {
            self.apply(&self.namespaced::<Ingress>(namespace), ingress)
                .await?;
        }
        Ok((statefulset, meta_secret))
    }

    /// The service's StatefulSet, or NotFound.
    async fn statefulset(&self, project: &str, release: &str) -> RuntimeResult<StatefulSet> {
        let found = self
            .namespaced::<StatefulSet>(project)
            .get_opt(&base_name(release))
            .await
            .map_err(engine)?;
        found
            .filter(|s| {
                s.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(&format!("{}release", meta::KUBE)))
                    .is_some_and(|r| r == release)
            })
            .ok_or(RuntimeError::NotFound)
    }

    /// The service with its address: a tunnel from outside the cluster, the Service's
    /// cluster address inside it.
    fn with_address(&self, statefulset: &StatefulSet, found: &Found) -> Option<RuntimeService> {
        let namespace = statefulset.metadata.namespace.clone().unwrap_or_default();
        let name = statefulset.metadata.name.clone().unwrap_or_default();
        let pod = found
            .pods
            .get(&(namespace.clone(), format!("{name}-0")))
            .map(Arc::as_ref);
        let meta_secret = found
            .meta_secrets
            .get(&(namespace.clone(), objects::meta_secret_name(&name)))
            .map(Arc::as_ref);
        let mut service = {
            let failures = crate::sync::lock(&self.failures);
            let failure = statefulset
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(&format!("{}release", meta::KUBE)))
                .and_then(|release| failures.get(&(namespace.clone(), release.clone())));
            state::service_of(statefulset, meta_secret, pod, failure.map(String::as_str))?
        };
        let port = meta::port(&objects::meta_fields(statefulset, None), meta::KUBE)?;
        if service.phase == Phase::Running {
            service.address = if self.in_cluster {
                found
                    .cluster_ips
                    .get(&(namespace, name))
                    .map(|ip| SocketAddr::new(*ip, port))
            } else {
                self.tunnels.address(&namespace, &service.container, port)
            };
        }
        Some(service)
    }

    /// Cluster addresses of the managed Services (only needed inside the cluster).
    async fn cluster_ips(
        &self,
        project: Option<&str>,
        params: &ListParams,
    ) -> RuntimeResult<HashMap<(String, String), IpAddr>> {
        if !self.in_cluster {
            return Ok(HashMap::new());
        }
        let api: Api<Service> = match project {
            Some(p) => self.namespaced(p),
            None => Api::all(self.client.clone()),
        };
        let services = api.list(params).await.map_err(engine)?;
        Ok(cluster_ips(services.items.iter()))
    }

    /// Deletes everything a service is made of; what is already gone is fine.
    async fn remove_objects(&self, project: &str, release: &str) -> RuntimeResult<()> {
        let base = base_name(release);
        let ignore_missing = |r: Result<(), kube::Error>| match r {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(engine(e)),
        };
        // Foreground: the StatefulSet goes once its pod has gone.
        ignore_missing(
            self.namespaced::<StatefulSet>(project)
                .delete(&base, &DeleteParams::foreground())
                .await
                .map(|_| ()),
        )?;
        let plain = DeleteParams::default();
        ignore_missing(
            self.namespaced::<Service>(project)
                .delete(&base, &plain)
                .await
                .map(|_| ()),
        )?;
        for secret in [
            objects::secret_name(&base),
            objects::meta_secret_name(&base),
        ] {
            ignore_missing(
                self.namespaced::<Secret>(project)
                    .delete(&secret, &plain)
                    .await
                    .map(|_| ()),
            )?;
        }
        if self.objects.ingress.is_some() {
            ignore_missing(
                self.namespaced::<Ingress>(project)
                    .delete(&base, &plain)
                    .await
                    .map(|_| ()),
            )?;
        }
        let selector = ListParams::default().labels(&format!("{RELEASE}={release}"));
        ignore_missing(
            self.namespaced::<PersistentVolumeClaim>(project)
                .delete_collection(&plain, &selector)
                .await
                .map(|_| ()),
        )?;
        self.tunnels.close(project, &pod_name(release));
        crate::sync::lock(&self.failures).remove(&(project.to_owned(), release.to_owned()));
        Ok(())
    }

    /// The managed objects read from the API server (while the watches are not following).
    async fn list_from_cluster(
        &self,
        project: Option<&str>,
    ) -> RuntimeResult<(Vec<Arc<StatefulSet>>, Found)> {
        let params = ListParams::default().labels(&format!("{MANAGED}=true"));
        let meta_params = ListParams::default().labels(&format!("{MANAGED}=true,{PART}=meta"));
        let (statefulsets, pods, secrets): (Api<StatefulSet>, Api<Pod>, Api<Secret>) = match project
        {
            Some(p) => (self.namespaced(p), self.namespaced(p), self.namespaced(p)),
            None => (
                Api::all(self.client.clone()),
                Api::all(self.client.clone()),
                Api::all(self.client.clone()),
            ),
        };
        let (statefulsets, pods, secrets, cluster_ips) = tokio::try_join!(
            async { statefulsets.list(&params).await.map_err(engine) },
            async { pods.list(&params).await.map_err(engine) },
            async { secrets.list(&meta_params).await.map_err(engine) },
            self.cluster_ips(project, &params),
        )?;
        let found = Found {
            pods: by_name(pods.items.into_iter().map(Arc::new)),
            meta_secrets: by_name(secrets.items.into_iter().map(Arc::new)),
            cluster_ips,
        };
        Ok((
            statefulsets.items.into_iter().map(Arc::new).collect(),
            found,
        ))
    }

    async fn scale(&self, project: &str, release: &str, replicas: i32) -> RuntimeResult<()> {
        self.statefulset(project, release).await?;
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        let scaled = self
            .namespaced::<StatefulSet>(project)
            .patch(
                &base_name(release),
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.to_owned()),
                    ..Default::default()
                },
                &Patch::Merge(&patch),
            )
            .await
            .map_err(engine)?;
        self.cache.saw_statefulset(&scaled).await;
        if replicas == 0 {
            self.tunnels.close(project, &pod_name(release));
        }
        Ok(())
    }
}

#[async_trait]
impl Runtime for KubeRuntime {
    fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    async fn deploy(
        &self,
        meta: &ServiceMeta,
        spec: &ContainerSpec,
        events: &EventLog,
    ) -> RuntimeResult<()> {
        let objects = objects::build(meta, spec, &self.objects);
        let (statefulset, meta_secret) = match self.apply_all(&objects, &meta.project).await {
            Ok(applied) => applied,
            Err(e) => {
                if let Err(cleanup) = self.remove_objects(&meta.project, &meta.release).await {
                    tracing::warn!(release = %meta.release, error = %cleanup, "cannot remove a failed service's objects");
                }
                return Err(e);
            }
        };
        // A listing right after the install shows the service.
        self.cache.saw_secret(&meta_secret).await;
        self.cache.saw_statefulset(&statefulset).await;
        let mut made = vec![
            format!("StatefulSet {}", base_name(&meta.release)),
            "Service".into(),
            "Secret".into(),
        ];
        if !objects.volumes.is_empty() {
            made.push(format!(
                "{} PersistentVolumeClaim(s)",
                objects.volumes.len()
            ));
        }
        if objects.ingress.is_some() {
            made.push("Ingress".into());
        }
        events.record(
            &meta.project,
            &meta.release,
            "Applied",
            format!("Applied {} in namespace {}", made.join(", "), meta.project),
            EventKind::Normal,
        );
        Ok(())
    }

    async fn list(&self, project: Option<&str>) -> RuntimeResult<Vec<RuntimeService>> {
        let (statefulsets, found) = match self.cache.snapshot(project) {
            Some(cached) => found_in(cached),
            None => self.list_from_cluster(project).await?,
        };
        let mut live = HashSet::new();
        let mut out = Vec::new();
        for statefulset in &statefulsets {
            if let Some(service) = self.with_address(statefulset, &found) {
                if service.address.is_some() {
                    live.insert((service.meta.project.clone(), service.container.clone()));
                }
                out.push(service);
            }
        }
        if project.is_none() && !self.in_cluster {
            self.tunnels.retain(&live);
        }
        Ok(out)
    }

    async fn get(&self, project: &str, release: &str) -> RuntimeResult<RuntimeService> {
        if let Some(cached) = self.cache.snapshot(Some(project)) {
            let (statefulsets, found) = found_in(cached);
            return statefulsets
                .iter()
                .filter(|s| s.metadata.name.as_deref() == Some(base_name(release).as_str()))
                .filter_map(|s| self.with_address(s, &found))
                .find(|s| s.meta.release == release)
                .ok_or(RuntimeError::NotFound);
        }
        let statefulset = self.statefulset(project, release).await?;
        let base = base_name(release);
        let (pod, meta_secret) = tokio::try_join!(
            async {
                let pods = self.namespaced::<Pod>(project);
                pods.get_opt(&pod_name(release)).await.map_err(engine)
            },
            async {
                let secrets = self.namespaced::<Secret>(project);
                let name = objects::meta_secret_name(&base);
                secrets.get_opt(&name).await.map_err(engine)
            },
        )?;
        let params = ListParams::default().labels(&format!("{RELEASE}={release}"));
        let found = Found {
            pods: by_name(pod.map(Arc::new)),
            meta_secrets: by_name(meta_secret.map(Arc::new)),
            cluster_ips: self.cluster_ips(Some(project), &params).await?,
        };
        self.with_address(&statefulset, &found)
            .ok_or(RuntimeError::NotFound)
    }

    async fn logs(&self, project: &str, release: &str) -> RuntimeResult<String> {
        self.statefulset(project, release).await?;
        let params = LogParams {
            limit_bytes: Some(MAX_LOG_BYTES),
            ..Default::default()
        };
        match self
            .namespaced::<Pod>(project)
            .logs(&pod_name(release), &params)
            .await
        {
            Ok(text) => Ok(text),
            // No pod (suspended), or a container that has not started: nothing logged yet.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 400 => Ok(String::new()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn suspend(&self, project: &str, release: &str) -> RuntimeResult<()> {
        self.scale(project, release, 0).await
    }

    async fn resume(&self, project: &str, release: &str) -> RuntimeResult<()> {
        self.scale(project, release, 1).await
    }

    async fn delete(&self, project: &str, release: &str) -> RuntimeResult<()> {
        self.statefulset(project, release).await?;
        self.remove_objects(project, release).await?;
        self.cache.saw_deletion(project, &base_name(release)).await;
        Ok(())
    }

    async fn watch(&self, events: EventLog) {
        tokio::join!(
            self.cache.follow(&self.client),
            watch::run(self, &self.failures, events)
        );
    }

    /// The cluster runs the readiness probe; its verdict is the pod's Ready condition.
    async fn answers(&self, service: &RuntimeService) -> bool {
        service.ready == Some(true)
    }

    async fn cpu_usage(&self, services: &[RuntimeService]) -> RuntimeResult<super::CpuUsage> {
        metrics::cpu_usage(&self.client, services).await
    }
}

/// A listing from the watches' cache.
fn found_in(cached: cache::Snapshot) -> (Vec<Arc<StatefulSet>>, Found) {
    let found = Found {
        pods: by_name(cached.pods),
        meta_secrets: by_name(cached.meta_secrets),
        cluster_ips: cluster_ips(cached.services.iter().map(Arc::as_ref)),
    };
    (cached.statefulsets, found)
}

/// Cluster addresses of Services by (namespace, name).
fn cluster_ips<'a>(
    services: impl Iterator<Item = &'a Service>,
) -> HashMap<(String, String), IpAddr> {
    services
        .filter_map(|s| {
            let ip = s.spec.as_ref()?.cluster_ip.as_ref()?.parse().ok()?;
            let meta = &s.metadata;
            Some(((meta.namespace.clone()?, meta.name.clone()?), ip))
        })
        .collect()
}

fn engine(e: kube::Error) -> RuntimeError {
    match e {
        kube::Error::Api(s) if s.code == 404 => RuntimeError::NotFound,
        e => RuntimeError::Engine(cluster_message(&e)),
    }
}

/// The API server's own message, without the client's wrapping.
pub fn cluster_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ContainerSpec;

    fn runtime(in_cluster: bool) -> KubeRuntime {
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let connection = Connection {
            client: Client::try_from(config).unwrap(),
            in_cluster,
            cluster_url: "http://127.0.0.1:1/".into(),
            context: None,
            version: "v1.33.0".into(),
        };
        KubeRuntime::new(connection, ObjectSettings::default(), None)
    }

    /// The objects of a running tiny service, as a listing finds them.
    fn running_service() -> (StatefulSet, Found) {
        let meta = ServiceMeta {
            release: "tiny-1".into(),
            project: "user-alice".into(),
            ..Default::default()
        };
        let spec = ContainerSpec {
            image: "tiny".into(),
            port: 8080,
            ..Default::default()
        };
        let mut objects = objects::build(&meta, &spec, &ObjectSettings::default());
        objects.statefulset.metadata.namespace = Some("user-alice".into());
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "tiny-1-0", "namespace": "user-alice"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "tiny", "image": "tiny", "imageID": "", "ready": true,
                    "restartCount": 0, "state": {"running": {}}}]}
        }))
        .unwrap();
        let key = ("user-alice".to_owned(), "tiny-1".to_owned());
        let found = Found {
            pods: by_name([Arc::new(pod)]),
            meta_secrets: by_name([Arc::new(objects.meta_secret)]),
            cluster_ips: HashMap::from([(key, "10.96.0.7".parse().unwrap())]),
        };
        (objects.statefulset, found)
    }

    #[tokio::test]
    async fn inside_a_cluster_the_proxy_goes_to_the_services_cluster_address() {
        let (statefulset, found) = running_service();
        let service = runtime(true).with_address(&statefulset, &found).unwrap();
        assert_eq!(service.phase, Phase::Running);
        assert_eq!(service.ready, Some(true));
        assert_eq!(service.container, "tiny-1-0");
        assert_eq!(service.address, Some("10.96.0.7:8080".parse().unwrap()));
    }

    #[tokio::test]
    async fn outside_a_cluster_the_proxy_goes_to_a_loopback_tunnel() {
        let (statefulset, found) = running_service();
        let runtime = runtime(false);
        let service = runtime.with_address(&statefulset, &found).unwrap();
        let address = service.address.unwrap();
        assert!(address.ip().is_loopback(), "{address}");
        // The same tunnel while the pod lives; closed when it goes.
        assert_eq!(
            runtime.with_address(&statefulset, &found).unwrap().address,
            Some(address)
        );
        runtime.tunnels.retain(&HashSet::new());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(address).await.is_err());
    }
}
