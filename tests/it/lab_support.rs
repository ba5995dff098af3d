//! Helpers for the Onyxia API tests: authenticated calls, the container engine, and the no-null rule.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::support::{TestPlatform, missing, test_config};

/// The image `scripts/build-test-image.sh` builds for the `tiny` test package.
pub const TEST_IMAGE: &str = "localhost/onyxia-lite-test:1";

/// A config whose platform launches nothing (for tests of the API itself).
pub fn config_without_engine() -> onyxia_lite::Config {
    test_config()
}

/// The engine `serve` would find, as a bollard client.
pub async fn docker() -> Option<bollard::Docker> {
    let detection = onyxia_lite::runtime::detect::detect(None).await;
    let endpoint = detection
        .probes
        .iter()
        .find(|p| p.outcome.is_ok())?
        .endpoint
        .clone();
    bollard::Docker::connect_with_unix(&endpoint, 30, bollard::API_DEFAULT_VERSION).ok()
}

/// Fails the test unless a container engine with the test image is available
/// (scripts/install-podman.sh, scripts/build-test-image.sh).
pub async fn require_engine() {
    let reason = match docker().await {
        None => "no container engine answers (run scripts/install-podman.sh)".to_owned(),
        Some(d) if d.inspect_image(TEST_IMAGE).await.is_ok() => return,
        Some(_) => format!("image {TEST_IMAGE} is missing (run scripts/build-test-image.sh)"),
    };
    missing("container tests", &reason);
}

pub struct Api<'a> {
    pub tp: &'a TestPlatform,
    pub token: String,
    pub project: Option<String>,
    pub http: reqwest::Client,
}

impl<'a> Api<'a> {
    pub fn new(tp: &'a TestPlatform, user: &str) -> Self {
        let token = tp
            .running
            .identity()
            .token_for(user, "onyxia")
            .expect("token");
        Api {
            tp,
            token,
            project: None,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api{path}", self.tp.base)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(p) = &self.project {
            r = r.header("ONYXIA-PROJECT", p);
        }
        r
    }

    /// GET → (status, JSON body or Null when empty).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        status_and_json(r).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let r = self.request(method, path).json(body).send().await.unwrap();
        status_and_json(r).await
    }
}

pub async fn status_and_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

/// onyxia-web breaks on `null`: none may appear anywhere in an API answer.
pub fn assert_no_null(value: &Value, at: &str) {
    match value {
        Value::Null => panic!("null at {at}"),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| assert_no_null(v, &format!("{at}.{k}"))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| assert_no_null(v, &format!("{at}[{i}]"))),
        _ => {}
    }
}

/// A config that detects the container engine as `serve` does.
pub fn test_config_with_engine() -> onyxia_lite::Config {
    let mut config = test_config();
    config.onyxia.docker_host = None;
    config
}

/// Polls the service until `done` holds for it (or fails after `within`).
pub async fn wait_for(
    api: &Api<'_>,
    release: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let (status, service) = api.get(&format!("/my-lab/app?serviceId={release}")).await;
        if status == 200 && done(&service) {
            return service;
        }
        assert!(
            started.elapsed() < within,
            "service {release} did not get there: {status} {service}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn ready(s: &Value) -> bool {
    s["tasks"][0]["containers"][0]["ready"] == true
}

/// GET through the proxy: the main listener with the service's Host.
pub async fn through_proxy(tp: &TestPlatform, release: &str, path: &str) -> (u16, String) {
    let port = tp.running.endpoints.main_addr.port();
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("host", format!("{release}.localhost:{port}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub async fn vault_token(tp: &TestPlatform, user: &str) -> String {
    let jwt = tp.running.identity().token_for(user, "onyxia").unwrap();
    let r: Value = reqwest::Client::new()
        .post(format!(
            "{}/v1/auth/jwt/login",
            tp.running
                .endpoints
                .vault_url
                .replace("localhost", "127.0.0.1")
        ))
        .json(&json!({"role": "onyxia-user", "jwt": jwt}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["auth"]["client_token"].as_str().unwrap().to_owned()
}

pub fn rand_suffix() -> u32 {
    rand::random::<u32>() % 1_000_000
}

pub fn serde_urlencoded_pairs(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A WebSocket through the proxy to the service's `/ws`, which echoes `ping`.
pub async fn websocket_echo(tp: &TestPlatform, release: &str) {
    let port = tp.running.endpoints.main_addr.port();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut socket, response) =
        tokio_tungstenite::client_async(format!("ws://{release}.localhost:{port}/ws"), tcp)
            .await
            .expect("WebSocket through the proxy and the tunnel");
    assert_eq!(response.status(), 101);
    socket
        .send(tokio_tungstenite::tungstenite::Message::text("ping"))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.into_text().unwrap().as_str(), "echo: ping");
}

/// Installs the `tiny` test package as `release` with `options`: (status, body) of the answer.
pub async fn install_tiny(api: &Api<'_>, release: &str, options: Value) -> (u16, Value) {
    api.send(
        reqwest::Method::PUT,
        "/my-lab/app",
        &serde_json::json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
            "name": release, "options": options}),
    )
    .await
}
