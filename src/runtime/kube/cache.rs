//! The managed objects of the cluster, kept in memory by watches (one listing, then the
//! changes) so that listing services costs no request, whatever their number. While a watch is
//! not following (not started yet, refused by RBAC, reconnecting) the runtime lists from the
//! API server instead, so the cache can only make answers faster, never wrong.
//!
//! A write is followed by a short wait until the cache has seen it, so a listing right after
//! an install, a scale or a delete shows what was just done.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::objects::{MANAGED, PART};

/// How long a write waits for the cache to show it before going on without.
const SETTLE: Duration = Duration::from_secs(5);

/// A store and whether its watch is following the cluster.
struct Followed<K: Resource + Clone + 'static>
where
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    store: Store<K>,
    writer: std::sync::Mutex<Option<Writer<K>>>,
    following: AtomicBool,
}

impl<K> Followed<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Default,
{
    fn new() -> Self {
        let (store, writer) = reflector::store();
        Followed {
            store,
            writer: std::sync::Mutex::new(Some(writer)),
            following: AtomicBool::new(false),
        }
    }

    fn usable(&self) -> bool {
        self.following.load(Ordering::SeqCst)
            && self.store.wait_until_ready().now_or_never().is_some()
    }

    /// Keeps the store in step with the cluster until dropped.
    fn follow(
        &self,
        api: Api<K>,
        labels: String,
        changed: &tokio::sync::watch::Sender<u64>,
    ) -> impl Future<Output = ()> + '_ {
        let writer = crate::sync::lock(&self.writer).take();
        let changed = changed.clone();
        async move {
            let Some(writer) = writer else {
                return;
            };
            let config = watcher::Config::default().labels(&labels);
            let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(_) => self.following.store(true, Ordering::SeqCst),
                    Err(e) => {
                        if self.following.swap(false, Ordering::SeqCst) {
                            tracing::warn!(kind = %K::kind(&Default::default()), error = %e, "the watch of the cluster stopped; listing instead until it follows again");
                        }
                    }
                }
                changed.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.store.get(&ObjectRef::new(name).within(namespace))
    }

    fn in_namespace(&self, namespace: Option<&str>) -> Vec<Arc<K>> {
        match namespace {
            None => self.store.state(),
            Some(ns) => self
                .store
                .state_filter(|o| o.meta().namespace.as_deref() == Some(ns)),
        }
    }
}

/// What a listing needs, read from the cache.
pub struct Snapshot {
    pub statefulsets: Vec<Arc<StatefulSet>>,
    pub pods: Vec<Arc<Pod>>,
    pub meta_secrets: Vec<Arc<Secret>>,
    pub services: Vec<Arc<Service>>,
}

pub struct ClusterCache {
    statefulsets: Followed<StatefulSet>,
    pods: Followed<Pod>,
    meta_secrets: Followed<Secret>,
    /// Only followed inside the cluster, where the proxy needs cluster addresses.
    services: Followed<Service>,
    in_cluster: bool,
    changed: tokio::sync::watch::Sender<u64>,
}

impl ClusterCache {
    pub fn new(in_cluster: bool) -> Self {
        ClusterCache {
            statefulsets: Followed::new(),
            pods: Followed::new(),
            meta_secrets: Followed::new(),
            services: Followed::new(),
            in_cluster,
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// Follows the cluster until dropped (once: later calls return at once).
    pub async fn follow(&self, client: &Client) {
        let managed = format!("{MANAGED}=true");
        let services = async {
            if self.in_cluster {
                let api = Api::all(client.clone());
                self.services
                    .follow(api, managed.clone(), &self.changed)
                    .await
            }
        };
        tokio::join!(
            self.statefulsets
                .follow(Api::all(client.clone()), managed.clone(), &self.changed),
            self.pods
                .follow(Api::all(client.clone()), managed.clone(), &self.changed),
            self.meta_secrets.follow(
                Api::all(client.clone()),
                format!("{MANAGED}=true,{PART}=meta"),
                &self.changed
            ),
            services,
        );
    }

    /// Notified after every change the watches bring.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn usable(&self) -> bool {
        self.statefulsets.usable()
            && self.pods.usable()
            && self.meta_secrets.usable()
            && (!self.in_cluster || self.services.usable())
    }

    /// The managed objects (of one namespace), when every watch is following.
    pub fn snapshot(&self, namespace: Option<&str>) -> Option<Snapshot> {
        if !self.usable() {
            return None;
        }
        Some(Snapshot {
            statefulsets: self.statefulsets.in_namespace(namespace),
            pods: self.pods.in_namespace(namespace),
            meta_secrets: self.meta_secrets.in_namespace(namespace),
            services: if self.in_cluster {
                self.services.in_namespace(namespace)
            } else {
                Vec::new()
            },
        })
    }

    /// Waits (a little) until the cache has seen the StatefulSet `written`, or at least as
    /// new a version of it.
    pub async fn saw_statefulset(&self, written: &StatefulSet) {
        self.settle(|| {
            let (ns, name) = key(&written.metadata);
            self.statefulsets
                .get(&ns, &name)
                .is_some_and(|cached| at_least(&cached.metadata, &written.metadata))
        })
        .await
    }

    /// Waits (a little) until the cache has seen the Secret `written`.
    pub async fn saw_secret(&self, written: &Secret) {
        self.settle(|| {
            let (ns, name) = key(&written.metadata);
            self.meta_secrets
                .get(&ns, &name)
                .is_some_and(|cached| at_least(&cached.metadata, &written.metadata))
        })
        .await
    }

    /// Waits (a little) until the cache shows the StatefulSet gone or going.
    pub async fn saw_deletion(&self, namespace: &str, name: &str) {
        self.settle(|| {
            self.statefulsets
                .get(namespace, name)
                .is_none_or(|cached| cached.metadata.deletion_timestamp.is_some())
        })
        .await
    }

    async fn settle(&self, seen: impl Fn() -> bool) {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + SETTLE;
        while self.usable() && !seen() {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::debug!("the cluster's watch did not show a write in time");
                    return;
                }
            }
        }
    }
}

fn key(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// The same object as `written`, at its version or a later one. Resource versions are opaque
/// to clients, but every API server so far numbers them in order; where one does not, only
/// the very version counts.
fn at_least(cached: &ObjectMeta, written: &ObjectMeta) -> bool {
    if cached.uid != written.uid {
        return false;
    }
    let number = |m: &ObjectMeta| m.resource_version.as_deref()?.parse::<u64>().ok();
    match (number(cached), number(written)) {
        (Some(c), Some(w)) => c >= w,
        _ => cached.resource_version == written.resource_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: &str, rv: &str) -> ObjectMeta {
        ObjectMeta {
            uid: Some(uid.into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_cached_object_is_as_new_as_a_write_when_its_version_is_not_older() {
        assert!(at_least(&meta("a", "12"), &meta("a", "12")));
        assert!(at_least(&meta("a", "13"), &meta("a", "12")));
        assert!(!at_least(&meta("a", "11"), &meta("a", "12")));
        // Another object of the same name (deleted and made again) is not the write.
        assert!(!at_least(&meta("b", "13"), &meta("a", "12")));
        // Versions that are not numbers compare only for equality.
        assert!(at_least(&meta("a", "x"), &meta("a", "x")));
        assert!(!at_least(&meta("a", "y"), &meta("a", "x")));
    }
}
