//! The onyxia-lite image (Dockerfile, scripts/build-image.sh --local) run with Podman: its
//! HEALTHCHECK, its configuration from the environment, real clients on published ports that
//! differ from the container's, a clean stop on SIGTERM, and a volume that keeps data and keys
//! for the next container.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, IssuerUrl, JsonWebKey, OAuth2TokenResponse, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse,
};

use crate::python_clients::run_python_with;
use crate::support::missing;

const BIN: &str = env!("CARGO_BIN_EXE_onyxia-lite");
const IMAGE: &str = "localhost/onyxia-lite-it:latest";

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| missing("the image test", &format!("podman does not run: {e}")))
}

fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The image of this test binary's onyxia-lite, laid out as the Dockerfile lays out its own;
/// built once per test run (the tests here share it).
fn build_image() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_image_now);
}

fn build_image_now() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-image.sh");
    let out = Command::new(script)
        .args(["--local", "--binary", BIN, "--tag", IMAGE])
        .env("ONYXIA_LITE_IMAGE_ENGINE", "podman")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build-image.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), IMAGE);
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A container and its named volume, removed when the test ends however it ends.
struct Container {
    name: String,
    volume: String,
    ports: [u16; 3],
}

impl Container {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Container {
            name: format!("onyxia-lite-it-{}", &id[..12]),
            volume: format!("onyxia-lite-it-{}", &id[..12]),
            ports: [free_port(), free_port(), free_port()],
        }
    }

    fn url(&self, index: usize) -> String {
        format!("http://localhost:{}", self.ports[index])
    }

    /// Runs the image with its ports published on other host ports, as CI services do.
    fn start(&self) {
        let publish: Vec<String> = self
            .ports
            .iter()
            .zip([8080, 9000, 8200])
            .map(|(host, inside)| format!("127.0.0.1:{host}:{inside}"))
            .collect();
        let env = [
            format!("ONYXIA_LITE_PUBLIC_URL={}", self.url(0)),
            format!("ONYXIA_LITE_S3_PUBLIC_URL={}", self.url(1)),
            format!("ONYXIA_LITE_VAULT_PUBLIC_URL={}", self.url(2)),
            // Cheap password hashing keeps the test quick; the defaults are for real use.
            "ONYXIA_LITE_PASSWORDS_ARGON2_MEMORY_KIB=64".into(),
            "ONYXIA_LITE_PASSWORDS_ARGON2_ITERATIONS=1".into(),
        ];
        let volume = format!("{}:/data", self.volume);
        // Read-only, as in deploy/kubernetes: the platform writes to /data and /tmp only.
        let mut args = vec![
            "run",
            "-d",
            "--read-only",
            "--name",
            &self.name,
            "-v",
            &volume,
        ];
        for p in &publish {
            args.extend(["-p", p]);
        }
        for e in &env {
            args.extend(["-e", e]);
        }
        args.push(IMAGE);
        podman_ok(&args);
    }

    /// Runs the image's HEALTHCHECK until it passes (Podman runs it on a timer only under
    /// systemd, so the test runs it itself), then checks the state Podman recorded.
    fn wait_healthy(&self) -> Duration {
        let started = Instant::now();
        while !podman(&["healthcheck", "run", &self.name]).status.success() {
            if started.elapsed() > Duration::from_secs(60) {
                let logs = podman(&["logs", &self.name]);
                panic!(
                    "not healthy within 60 s:\n{}",
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let status = podman_ok(&[
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            &self.name,
        ]);
        assert_eq!(status.trim(), "healthy");
        started.elapsed()
    }

    /// `onyxia-lite env` inside the container: what the platform tells clients.
    fn variables(&self) -> HashMap<String, String> {
        podman_ok(&["exec", &self.name, "onyxia-lite", "env"])
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
            .collect()
    }

    /// `podman stop`: SIGTERM, then SIGKILL after the grace period.
    fn stop(&self) -> Duration {
        let started = Instant::now();
        podman_ok(&["stop", "--time", "20", &self.name]);
        let elapsed = started.elapsed();
        let code = podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", &self.name]);
        assert_eq!(code.trim(), "0", "a clean exit on SIGTERM, not a kill");
        podman_ok(&["rm", &self.name]);
        elapsed
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", &self.name]);
        let _ = podman(&["volume", "rm", "--force", &self.volume]);
    }
}

fn image_config(format: &str) -> String {
    podman_ok(&["image", "inspect", "--format", format, IMAGE])
        .trim()
        .to_owned()
}

#[tokio::test]
#[ignore = "needs Podman: scripts/test.sh provides it and runs it"]
async fn image_serves_real_clients_and_its_volume_outlives_the_container() {
    build_image();
    assert_eq!(image_config("{{.Config.User}}"), "10001:10001");
    assert_eq!(image_config("{{json .Config.Volumes}}"), r#"{"/data":{}}"#);
    let ports = image_config("{{json .Config.ExposedPorts}}");
    for port in ["8080/tcp", "9000/tcp", "8200/tcp"] {
        assert!(ports.contains(port), "{ports}");
    }
    assert!(image_config("{{json .Config.Healthcheck}}").contains("healthcheck"));

    let container = Container::new();
    container.start();
    let first_start = container.wait_healthy();
    let vars = container.variables();
    assert_eq!(vars["ONYXIA_URL"], container.url(0));
    assert_eq!(vars["AWS_ENDPOINT_URL"], container.url(1));
    assert_eq!(vars["VAULT_ADDR"], container.url(2));
    assert_eq!(vars["ONYXIA_LITE_DATA_DIR"], "/data");

    // boto3 through STS to S3, hvac through the JWT login to KV v2: both leave data behind.
    run_python_with("s3_boto3.py", vars.clone()).await;
    run_python_with("vault_hvac.py", vars.clone()).await;
    let (token, key_ids) = oidc_login_and_onyxia_api(&vars).await;

    // Nothing runs in-process here: blocking on podman holds up no platform.
    let stopped_in = container.stop();
    assert!(
        stopped_in < Duration::from_secs(10),
        "stop took {stopped_in:?}"
    );

    // A new container on the same volume: same keys, same objects and secrets.
    container.start();
    let second_start = container.wait_healthy();
    let again = container.variables();
    assert_eq!(again, vars);
    let (_, key_ids_after) = oidc_login_and_onyxia_api(&again).await;
    assert_eq!(
        key_ids_after, key_ids,
        "the signing keys live in the volume"
    );
    let info = onyxia_user_info(&again["ONYXIA_URL"], &token).await;
    assert_eq!(info, 200, "a token from before the restart is still valid");
    assert_eq!(read_object(&again).await, b"hello from boto3");
    assert_eq!(read_secret(&again).await["k"], "v");
    eprintln!(
        "healthy after {first_start:?} (fresh volume), {second_start:?} (existing); stopped in {stopped_in:?}"
    );
}

/// An OIDC password grant through discovery with the openidconnect crate (the ID token
/// verified against the published keys), then the Onyxia API with the access token.
/// Returns the access token and the key ids the issuer publishes.
async fn oidc_login_and_onyxia_api(vars: &HashMap<String, String>) -> (String, Vec<String>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(vars["OIDC_ISSUER_URL"].clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery through the published port");
    let key_ids = metadata
        .jwks()
        .keys()
        .iter()
        .filter_map(|k| k.key_id().map(|id| id.to_string()))
        .collect();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("onyxia".into()), None);
    let response = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new("alice".into()),
        )
        .unwrap()
        .add_scope(Scope::new("openid".into()))
        .request_async(&http)
        .await
        .expect("password grant");
    let id_token = response
        .id_token()
        .expect("an ID token for the openid scope");
    let claims = id_token
        .claims(
            &client.id_token_verifier(),
            |_: Option<&openidconnect::Nonce>| Ok(()),
        )
        .expect("the ID token verifies against the JWKS");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "alice");
    let token = response.access_token().secret().clone();
    assert_eq!(onyxia_user_info(&vars["ONYXIA_URL"], &token).await, 200);
    (token, key_ids)
}

async fn onyxia_user_info(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/user/info"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What s3_boto3.py wrote, read back with the root keys through aws-sdk-s3.
async fn read_object(vars: &HashMap<String, String>) -> Vec<u8> {
    let credentials = Credentials::new(
        &vars["AWS_ACCESS_KEY_ID"],
        &vars["AWS_SECRET_ACCESS_KEY"],
        None,
        None,
        "test",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(vars["AWS_DEFAULT_REGION"].clone()))
        .endpoint_url(&vars["AWS_ENDPOINT_URL"])
        .credentials_provider(credentials)
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let object = aws_sdk_s3::Client::from_conf(config)
        .get_object()
        .bucket("user-alice")
        .key("hello.txt")
        .send()
        .await
        .expect("the object written before the restart");
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

/// What vault_hvac.py wrote (and left) in the project's secrets, read back with the root token.
async fn read_secret(vars: &HashMap<String, String>) -> serde_json::Value {
    let url = format!(
        "{}/v1/{}/data/projet-demo/shared",
        vars["VAULT_ADDR"], vars["VAULT_MOUNT"]
    );
    let body: serde_json::Value = reqwest::Client::new()
        .get(url)
        .header("X-Vault-Token", &vars["VAULT_TOKEN"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["data"].clone()
}

#[tokio::test]
#[ignore = "needs Podman: scripts/test.sh provides it and runs it"]
async fn the_testcontainers_fixture_of_the_docs_runs_against_the_image() {
    build_image();
    let engine = std::env::var("DOCKER_HOST")
        .unwrap_or_else(|_| "unix:///run/podman/podman.sock".to_owned());
    run_python_with(
        "testcontainers_image.py",
        [
            ("ONYXIA_LITE_IMAGE".to_owned(), IMAGE.to_owned()),
            ("DOCKER_HOST".to_owned(), engine),
            // Its reaper runs from an image of its own, which no registry here can provide;
            // the fixture stops its container itself.
            ("TESTCONTAINERS_RYUK_DISABLED".to_owned(), "true".to_owned()),
        ],
    )
    .await;
}
