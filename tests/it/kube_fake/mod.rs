//! An in-process fake Kubernetes API server for tests that drive a real `kube::Client`.
//!
//! It serves over real HTTP on loopback: core/v1 namespaces, resourcequotas, secrets, services,
//! persistentvolumeclaims, pods (with log and portforward) and events; apps/v1 statefulsets;
//! networking.k8s.io/v1 ingresses; authorization.k8s.io/v1 selfsubjectaccessreviews;
//! metrics.k8s.io/v1beta1 pod metrics (CPU set by the test). Every write
//! is validated (see `checks`), then the controllers run (see `controllers`). Collections can
//! be watched (see `watches`).

pub mod checks;
mod controllers;
mod kubelet;
mod merge;
mod portforward;
mod routes;
mod selectors;
mod store;
mod watches;
mod writes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use store::{Image, State};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub content_type: Option<String>,
    /// The body when it parses as JSON.
    pub body: Option<Value>,
}

/// State shared by the handlers, the controllers and the test.
pub struct Shared {
    state: Mutex<State>,
    /// Bumped after every write, for responses that wait on the store (log follow).
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Runs the controllers outside of a request (a test changed the images, a pod is due).
    fn reconcile(self: &Arc<Self>) {
        {
            let mut st = self.lock();
            controllers::reconcile(self, &mut st);
        }
        self.notify();
    }
}

/// A fake cluster; dropping it stops the server.
pub struct FakeCluster {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCluster {
    /// Serves on 127.0.0.1 on a free port, with namespaces default, kube-system and kube-public.
    pub async fn start() -> FakeCluster {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            changed: watch::channel(0).0,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCluster {
            shared,
            addr,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client for this cluster, default namespace "default".
    pub fn client(&self) -> kube::Client {
        let url = self.url().parse().expect("fake cluster URL");
        kube::Client::try_from(kube::Config::new(url)).expect("kube client")
    }

    /// A kubeconfig naming cluster, user and context "fake", the context current.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: fake\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\npreferences: {{}}\n",
            self.url()
        );
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// An image the fake kubelet can run: its pods become Running and Ready, port-forward to any
    /// of their ports reaches `backend`, and `log` is the container's log.
    pub fn add_image(&self, image: &str, backend: SocketAddr, log: &str) {
        let image_info = Image {
            backend,
            log: log.to_string(),
        };
        self.shared
            .lock()
            .images
            .insert(image.to_string(), image_info);
        self.shared.reconcile();
    }

    /// SelfSubjectAccessReviews for this verb and resource (`pods/log` for a subresource; "*"
    /// matches any) answer not allowed.
    pub fn deny(&self, verb: &str, resource: &str) {
        self.shared
            .lock()
            .denied
            .push((verb.to_string(), resource.to_string()));
    }

    /// Forgets the change history, as etcd compacts it: open watches and watches from an
    /// earlier resource version end with 410 Gone.
    pub fn forget_history(&self) {
        {
            let mut st = self.shared.lock();
            st.forgotten_through = st.resource_version;
            st.forgettings += 1;
            st.history.clear();
        }
        self.shared.notify();
    }

    /// Port-forwards answer 403, as for an account without `create` on `pods/portforward`.
    pub fn refuse_port_forward(&self) {
        self.shared.lock().port_forward_refused = true;
    }

    /// Watches answer 403, as for an account without the `watch` verb.
    pub fn refuse_watches(&self) {
        self.shared.lock().watches_refused = true;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// A stored object; `group` is "" for core resources, `namespace` None for cluster-scoped.
    pub fn object(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let kind = store::kind_of(group, resource)?;
        let key = store::Key::new(kind, namespace.unwrap_or_default(), name);
        self.shared.lock().get(&key).cloned()
    }

    /// Every stored object of a resource, in all namespaces.
    pub fn objects(&self, group: &str, resource: &str) -> Vec<Value> {
        self.shared
            .lock()
            .list(group, resource, None)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// The CPU use (a quantity such as `750m` or `1200000n`) the metrics API reports for a pod.
    pub fn set_pod_cpu(&self, namespace: &str, pod: &str, cpu: &str) {
        self.shared
            .lock()
            .pod_cpu
            .insert((namespace.to_owned(), pod.to_owned()), cpu.to_owned());
    }

    /// Serves no metrics API, as a cluster without metrics-server.
    pub fn without_metrics(&self) {
        self.shared.lock().metrics = false;
    }

    /// How long a pod of a known image takes to become Ready (default 0).
    pub fn set_pod_delay(&self, d: Duration) {
        self.shared.lock().pod_delay = d;
    }
}
