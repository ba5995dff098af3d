//! A platform per test, in-process on port 0, with the built-in demo realm and fast settings.

use std::path::Path;
use std::sync::OnceLock;

use onyxia_lite::config::SigningAlgorithm;
use onyxia_lite::identity::keys::generate_signing_pem;
use onyxia_lite::{Config, Listeners, Platform, RunningPlatform};

/// One RSA key for every test: generating a key per platform would dominate the run time.
fn shared_rsa_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| generate_signing_pem(SigningAlgorithm::RS256))
}

/// Test defaults: ephemeral data, free ports, cheap argon2, the shared key.
pub fn test_config() -> Config {
    let mut c = Config {
        ephemeral: true,
        port: 0,
        s3_port: 0,
        vault_port: 0,
        ..Config::default()
    };
    c.passwords.argon2_memory_kib = 64;
    c.passwords.argon2_iterations = 1;
    c.oidc.signing_key = Some(onyxia_lite::config::Secret::new(shared_rsa_key()));
    // Tests that launch services ask for the engine (lab_support::test_config_with_engine).
    c.onyxia.docker_host = Some("none".into());
    c
}

/// A platform with an ES256 key of its own, playing an external provider (a real Keycloak).
pub async fn external_provider() -> TestPlatform {
    let mut config = test_config();
    config.oidc.signing_key = None;
    config.oidc.signing_algorithm = onyxia_lite::config::SigningAlgorithm::ES256;
    TestPlatform::start_with(config).await
}

pub struct TestPlatform {
    pub running: RunningPlatform,
    /// Where to send requests (the real listener address, which may differ from the issuer host).
    pub base: String,
    pub issuer: String,
}

impl TestPlatform {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let listeners = Listeners::bind(&config).await.expect("bind port 0");
        Self::start_bound(config, listeners).await
    }

    /// On listeners bound beforehand (when the config must name their ports).
    pub async fn start_bound(config: Config, listeners: Listeners) -> Self {
        let running = Platform::start(config, listeners, std::future::pending())
            .await
            .expect("platform starts");
        let base = format!("http://{}", running.endpoints.main_addr);
        let issuer = running.endpoints.issuer.clone();
        TestPlatform {
            running,
            base,
            issuer,
        }
    }

    /// Base URL of the issuer's endpoints on the real address.
    pub fn oidc(&self, path: &str) -> String {
        format!(
            "{}/realms/datalab/protocol/openid-connect/{path}",
            self.base
        )
    }

    /// Moves the platform's clock forward: expiry is tested without sleeping.
    pub fn advance(&self, secs: u64) {
        self.running
            .clock()
            .advance(std::time::Duration::from_secs(secs));
    }

    pub async fn stop(self) {
        self.running.shutdown().await.expect("clean shutdown");
    }
}

/// An HTTP client that keeps cookies and does not follow redirects, like a browser under test.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A fixtures directory whose realm.toml is the built-in one with `edit` applied.
pub fn fixtures_with_realm(dir: &Path, edit: impl Fn(String) -> String) {
    let built_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/realm.toml"))
            .unwrap();
    std::fs::write(dir.join("realm.toml"), edit(built_in)).unwrap();
}

/// Value of `name="<field>" value="…"` or `action="…"` in the login page.
pub fn html_attr(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("`{marker}` not in page: {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

/// Follows the login form like a browser: GET the authorization URL, POST the credentials.
/// Returns the response to the POST, sent to the host of `auth_url` like a browser would.
pub async fn submit_login(
    http: &reqwest::Client,
    auth_url: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let base = url::Url::parse(auth_url)
        .unwrap()
        .origin()
        .ascii_serialization();
    let page = http.get(auth_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "login page");
    let html = page.text().await.unwrap();
    let action = html_attr(&html, "action=\"");
    let csrf = html_attr(&html, "name=\"csrf\" value=\"");
    http.post(format!("{base}{action}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// The `Location` of a redirect, parsed.
pub fn location(response: &reqwest::Response) -> url::Url {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    let loc = response.headers()["location"].to_str().unwrap();
    url::Url::parse(loc).unwrap()
}

pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Posts a form to the token endpoint and returns (status, JSON body).
pub async fn token_request(tp: &TestPlatform, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

pub async fn password_grant(
    tp: &TestPlatform,
    client: &str,
    user: &str,
    password: &str,
) -> serde_json::Value {
    let (status, body) = token_request(
        tp,
        &[
            ("grant_type", "password"),
            ("client_id", client),
            ("username", user),
            ("password", password),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Fails a test whose tool (a container engine, Chromium, strace) is missing. Such tests are
/// `#[ignore]`d, so `cargo test` reports them as ignored; scripts/test.sh installs the tools
/// and runs them with `--include-ignored`, and a test run that way never passes without them.
pub fn missing(what: &str, reason: &str) -> ! {
    panic!(
        "{what} cannot run: {reason}. scripts/test.sh installs what they need and runs them \
         (they are ignored by a plain `cargo test`)"
    );
}

/// Polls every 50 ms until `check` holds; fails the test after `within`.
pub async fn eventually<F: AsyncFnMut() -> bool>(
    what: &str,
    within: std::time::Duration,
    mut check: F,
) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
