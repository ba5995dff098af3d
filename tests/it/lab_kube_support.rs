//! What the Kubernetes runtime's tests share: a platform configured for a cluster, and the
//! tiny package's container as the fake cluster runs it (a loopback server the fake's
//! port-forward reaches).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;

use crate::lab_support::TEST_IMAGE;
use crate::support::test_config;

/// What the tiny package logs when it starts (the real image and the fake's).
pub const TINY_LOG: &str = "tiny service listening on port 8080\n";

/// A platform config whose runtime is the cluster of `kubeconfig`.
pub fn kube_config(kubeconfig: &Path, platform_host: Option<&str>) -> onyxia_lite::Config {
    let mut config = test_config();
    config.runtime.kind = onyxia_lite::config::RuntimeKind::Kube;
    config.runtime.kubeconfig = Some(kubeconfig.to_owned());
    config.runtime.kube_platform_host = platform_host.map(str::to_owned);
    config
}

/// The tiny package's container for the fake cluster: like the real image, it answers `/`
/// with its MESSAGE, `/env` with its environment, and echoes on `/ws` — its environment is
/// read from the service's Secret, as the kubelet would give it.
pub async fn tiny_backend(client: kube::Client) -> SocketAddr {
    let app = axum::Router::new()
        .route(
            "/",
            get({
                let client = client.clone();
                move |headers: HeaderMap| async move {
                    let env = environment(&client, &headers).await;
                    env.get("MESSAGE").cloned().unwrap_or_default()
                }
            }),
        )
        .route(
            "/env",
            get(move |headers: HeaderMap| async move {
                axum::Json(environment(&client, &headers).await)
            }),
        )
        .route("/ws", get(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// The environment of the release the request's Host names (`<release>.localhost:port`).
async fn environment(
    client: &kube::Client,
    headers: &HeaderMap,
) -> std::collections::BTreeMap<String, String> {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let release = host.split('.').next().unwrap_or_default();
    let secrets: kube::Api<Secret> = kube::Api::all(client.clone());
    let found = secrets
        .list(
            &ListParams::default()
                .labels(&format!("onyxia-lite/release={release},!onyxia-lite/part")),
        )
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    found
        .into_iter()
        .flat_map(|s| s.data.unwrap_or_default())
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

async fn echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .on_upgrade(|mut socket| async move {
            while let Some(Ok(Message::Text(text))) = socket.recv().await {
                let reply = format!("echo: {}", text.as_str());
                if socket.send(Message::Text(reply.into())).await.is_err() {
                    break;
                }
            }
        })
        .into_response()
}

/// The fake cluster with the tiny image, and a kubeconfig pointing at it.
pub async fn fake_with_tiny(dir: &Path) -> (crate::kube_fake::FakeCluster, PathBuf) {
    let fake = crate::kube_fake::FakeCluster::start().await;
    let backend = tiny_backend(fake.client()).await;
    fake.add_image(TEST_IMAGE, backend, TINY_LOG);
    let kubeconfig = fake.write_kubeconfig(dir);
    (fake, kubeconfig)
}
