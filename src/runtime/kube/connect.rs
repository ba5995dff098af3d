//! Reaching a cluster the way kubectl does: the in-cluster service account when running in a
//! pod, else `KUBECONFIG` or `~/.kube/config` with an optional context; and asking the
//! cluster which of the permissions the runtime needs it grants (for `onyxia-lite doctor`).

use std::path::Path;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

/// A client and what it is connected to.
pub struct Connection {
    pub client: Client,
    /// Running in a pod, with the service account's credentials.
    pub in_cluster: bool,
    pub cluster_url: String,
    /// The kubeconfig context used (none in a cluster).
    pub context: Option<String>,
    /// The API server's `gitVersion`.
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the in-cluster configuration")]
    InCluster(#[from] kube::config::InClusterError),
    #[error("cannot read the kubeconfig")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("cannot make a Kubernetes client")]
    Client(#[source] kube::Error),
    #[error("the cluster at {url} does not answer")]
    Unreachable {
        url: String,
        #[source]
        source: kube::Error,
    },
}

/// Whether this process runs in a Kubernetes pod (the API server's address is in its
/// environment, as the kubelet sets it).
pub fn in_cluster() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
}

/// Connects to the cluster: in a pod (with no kubeconfig nor context asked for), with its
/// service account; else with the kubeconfig (`kubeconfig`, else `KUBECONFIG` or
/// `~/.kube/config`) at `context` or its current context. Asks the server's version, so an
/// unreachable cluster is found now rather than at the first launch.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Connection, ConnectError> {
    let (config, in_pod, context) = if kubeconfig.is_none() && context.is_none() && in_cluster() {
        (kube::Config::incluster()?, true, None)
    } else {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..Default::default()
        };
        let file = match kubeconfig {
            Some(path) => Kubeconfig::read_from(path)?,
            None => Kubeconfig::read()?,
        };
        let used = context.map(str::to_owned).or(file.current_context.clone());
        (
            kube::Config::from_custom_kubeconfig(file, &options).await?,
            false,
            used,
        )
    };
    let cluster_url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(ConnectError::Client)?;
    let version = client
        .apiserver_version()
        .await
        .map_err(|source| ConnectError::Unreachable {
            url: cluster_url.clone(),
            source,
        })?;
    Ok(Connection {
        client,
        in_cluster: in_pod,
        cluster_url,
        context,
        version: version.git_version,
    })
}

/// One permission the runtime uses: (verb, API group, resource, subresource).
pub type Permission = (&'static str, &'static str, &'static str, &'static str);

/// Every request the runtime makes, as RBAC sees it. Namespaced rules are checked in the
/// namespace given to [`check_permissions`].
pub const PERMISSIONS: &[Permission] = &[
    ("get", "", "namespaces", ""),
    ("create", "", "namespaces", ""),
    ("patch", "", "namespaces", ""),
    ("list", "apps", "statefulsets", ""),
    ("watch", "apps", "statefulsets", ""),
    ("get", "apps", "statefulsets", ""),
    ("patch", "apps", "statefulsets", ""),
    ("create", "apps", "statefulsets", ""),
    ("delete", "apps", "statefulsets", ""),
    ("get", "", "services", ""),
    ("list", "", "services", ""),
    ("watch", "", "services", ""),
    ("patch", "", "services", ""),
    ("create", "", "services", ""),
    ("delete", "", "services", ""),
    ("get", "", "secrets", ""),
    ("list", "", "secrets", ""),
    ("watch", "", "secrets", ""),
    ("patch", "", "secrets", ""),
    ("create", "", "secrets", ""),
    ("delete", "", "secrets", ""),
    ("patch", "", "persistentvolumeclaims", ""),
    ("create", "", "persistentvolumeclaims", ""),
    ("deletecollection", "", "persistentvolumeclaims", ""),
    ("patch", "networking.k8s.io", "ingresses", ""),
    ("create", "networking.k8s.io", "ingresses", ""),
    ("delete", "networking.k8s.io", "ingresses", ""),
    ("patch", "", "resourcequotas", ""),
    ("create", "", "resourcequotas", ""),
    ("get", "", "pods", ""),
    ("list", "", "pods", ""),
    ("watch", "", "pods", ""),
    ("get", "", "pods", "log"),
    ("create", "", "pods", "portforward"),
    ("list", "", "events", ""),
    // CPU use for idle culling (metrics-server).
    ("list", "metrics.k8s.io", "pods", ""),
];

/// What the cluster answered for one permission.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Grant {
    pub verb: String,
    pub resource: String,
    pub allowed: bool,
    /// The authorizer's reason, or the error when the review itself failed.
    pub reason: String,
}

/// Asks the cluster, one SelfSubjectAccessReview per permission, which ones it grants
/// (namespaced ones in `namespace`; cluster-wide when `None`).
pub async fn check_permissions(client: &Client, namespace: Option<&str>) -> Vec<Grant> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut grants = Vec::new();
    for (verb, group, resource, subresource) in PERMISSIONS {
        let cluster_scoped = *resource == "namespaces";
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some((*verb).to_owned()),
                    group: Some((*group).to_owned()),
                    resource: Some((*resource).to_owned()),
                    subresource: (!subresource.is_empty()).then(|| (*subresource).to_owned()),
                    namespace: namespace.filter(|_| !cluster_scoped).map(str::to_owned),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let name = match (group.is_empty(), subresource.is_empty()) {
            (true, true) => (*resource).to_owned(),
            (true, false) => format!("{resource}/{subresource}"),
            (false, _) => format!("{resource}.{group}"),
        };
        let (allowed, reason) = match reviews.create(&PostParams::default(), &review).await {
            Ok(answer) => answer
                .status
                .map(|s| (s.allowed, s.reason.unwrap_or_default()))
                .unwrap_or((false, "no status in the answer".into())),
            Err(e) => (false, format!("cannot ask: {e}")),
        };
        grants.push(Grant {
            verb: (*verb).to_owned(),
            resource: name,
            allowed,
            reason,
        });
    }
    grants
}
