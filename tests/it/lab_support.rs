//! Helpers for the Onyxia API tests: authenticated calls, the container engine, and the no-null rule.

use serde_json::Value;

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
