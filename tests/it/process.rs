//! `onyxia-lite` as a real process: print-env, the token command, signals, exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_onyxia-lite");

/// Starts `serve` with `args` and reads `--print-env -` output until the last variable.
fn spawn_serve(args: &[&str]) -> (Child, std::collections::HashMap<String, String>) {
    spawn_serve_with(args, &[], Stdio::null())
}

/// [`spawn_serve`] with more environment (over the cheap argon2 settings) and stderr.
pub fn spawn_serve_with(
    args: &[&str],
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (Child, std::collections::HashMap<String, String>) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args([
            "--port",
            "0",
            "--s3-port",
            "0",
            "--vault-port",
            "0",
            "--print-env",
            "-",
        ])
        .args(args)
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_MEMORY_KIB", "64")
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_ITERATIONS", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn onyxia-lite");
    let mut vars = std::collections::HashMap::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.to_owned(), v.trim_matches('\'').to_owned());
            if k == "ONYXIA_LITE_DATA_DIR" {
                break;
            }
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, vars)
}

pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("onyxia-lite did not stop on SIGTERM");
}

#[tokio::test]
async fn serve_print_env_is_usable_and_sigterm_is_graceful() {
    let (mut child, vars) = tokio::task::spawn_blocking(|| spawn_serve(&["--ephemeral"]))
        .await
        .unwrap();
    let url = &vars["ONYXIA_URL"];
    let issuer = &vars["OIDC_ISSUER_URL"];
    assert_eq!(issuer, &format!("{url}/realms/datalab"));
    assert_eq!(vars["OIDC_CLIENT_ID"], "onyxia");
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_S3_ENDPOINT",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(vars.contains_key(name), "{name} printed");
    }
    let anonymous = reqwest::get(&vars["AWS_ENDPOINT_URL"]).await.unwrap();
    assert_eq!(
        anonymous.status(),
        403,
        "the S3 listener answers at the printed URL"
    );
    assert!(!url.ends_with(":0"), "real port printed: {url}");
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let discovery: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());
    let token: serde_json::Value = http
        .post(&vars["OIDC_TOKEN_URL"])
        .form(&[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "alice"),
            ("password", "alice"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(token["access_token"].is_string(), "{token}");
    let data_dir = std::path::PathBuf::from(&vars["ONYXIA_LITE_DATA_DIR"]);
    assert!(data_dir.exists());
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !data_dir.exists(),
        "ephemeral data directory removed at exit"
    );
}

#[tokio::test]
async fn token_command_signs_with_the_servers_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let dir_arg = data.clone();
    let (mut child, vars) =
        tokio::task::spawn_blocking(move || spawn_serve(&["--data-dir", dir_arg.as_str()]))
            .await
            .unwrap();
    let out = Command::new(BIN)
        .args(["token", "--user", "bob", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let info = reqwest::Client::new()
        .get(format!(
            "{}/protocol/openid-connect/userinfo",
            vars["OIDC_ISSUER_URL"]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!(info["preferred_username"], "bob");

    let unknown = Command::new(BIN)
        .args(["token", "--user", "nobody", "--data-dir", &data])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));
    assert!(terminate(&mut child).success());
}

#[tokio::test]
async fn json_output_describes_the_running_server() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--ephemeral",
            "--port",
            "0",
            "--s3-port",
            "0",
            "--vault-port",
            "0",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().next().unwrap().unwrap()
    })
    .await
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&line).expect("one JSON object on stdout");
    let url = json["ONYXIA_URL"].as_str().unwrap();
    assert_eq!(json["OIDC_ISSUER_URL"], format!("{url}/realms/datalab"));
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(terminate(&mut child).success());
    // The banner went to stderr, with the demo accounts.
    let mut banner = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut banner).unwrap();
    assert!(banner.contains("alice / alice"), "{banner}");
}

#[test]
fn usage_and_config_errors_have_meaningful_exit_codes() {
    let version = Command::new(BIN).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--print-env",
        "ONYXIA_LITE_OIDC_PASSWORD_GRANT",
        "ONYXIA_LITE_S3_PORT",
    ] {
        assert!(help.contains(needle), "serve --help lists {needle}");
    }
    let bad_flag = Command::new(BIN)
        .args(["serve", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(bad_flag.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "prot = 1\n").unwrap();
    let bad_file = Command::new(BIN)
        .args(["serve", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad_file.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_file.stderr).contains("prot"));

    std::fs::write(
        dir.path().join("users.toml"),
        "[[user]]\nusername = \"x\"\n",
    )
    .unwrap();
    let bad_fixture = Command::new(BIN)
        .args([
            "serve",
            "--ephemeral",
            "--port",
            "0",
            "--s3-port",
            "0",
            "--vault-port",
            "0",
            "--fixtures",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad_fixture.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_fixture.stderr);
    assert!(
        stderr.contains("users.toml") && stderr.contains("password"),
        "{stderr}"
    );

    let shown = Command::new(BIN)
        .args(["config", "show"])
        .env(
            "ONYXIA_LITE_OIDC_SIGNING_KEY",
            "-----BEGIN PRIVATE KEY-----secret",
        )
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("oidc.signing_key = ********"), "{shown}");
    assert!(shown.contains("s3.root_secret_key = ********"), "{shown}");
    assert!(
        !shown.contains("BEGIN PRIVATE") && !shown.contains("onyxia-admin-secret"),
        "{shown}"
    );
}

#[test]
fn port_in_use_is_a_runtime_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--ephemeral",
            "--port",
            &port,
            "--s3-port",
            "0",
            "--vault-port",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&port));
}

#[tokio::test]
async fn healthcheck_says_whether_the_platform_answers() {
    let (mut child, vars) = tokio::task::spawn_blocking(|| spawn_serve(&["--ephemeral"]))
        .await
        .unwrap();
    let port = vars["ONYXIA_URL"].rsplit(':').next().unwrap().to_owned();
    // The port from the configuration (here its environment), as a container's would be.
    let out = Command::new(BIN)
        .arg("healthcheck")
        .env("ONYXIA_LITE_PORT", &port)
        .env("ONYXIA_LITE_BIND", "0.0.0.0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("127.0.0.1:{port}/healthz")));
    // An answer that is not a success is not taken for health.
    let out = Command::new(BIN)
        .args([
            "healthcheck",
            "--url",
            &format!("{}/api/no-such-thing", vars["ONYXIA_URL"]),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert!(terminate(&mut child).success());
    // Nothing listens there any more.
    let out = Command::new(BIN)
        .args(["healthcheck", "--timeout", "2"])
        .env("ONYXIA_LITE_PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&port));
    // With port 0 the port is only known once started.
    let out = Command::new(BIN)
        .arg("healthcheck")
        .env("ONYXIA_LITE_PORT", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_docs_match_docs_config_md() {
    let out = Command::new(BIN).args(["config", "docs"]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIG.md")).unwrap();
    assert!(
        doc.contains(&table),
        "docs/CONFIG.md is stale: paste `onyxia-lite config docs` into it"
    );
}

#[test]
fn doctor_says_why_no_engine_was_used() {
    let out = std::process::Command::new(BIN)
        .args(["doctor"])
        .env(
            "ONYXIA_LITE_ONYXIA_DOCKER_HOST",
            "unix:///nonexistent/docker.sock",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no socket at /nonexistent/docker.sock"),
        "{text}"
    );
    assert!(text.contains("Podman"), "says how to start one: {text}");
    let out = std::process::Command::new(BIN)
        .args(["services"])
        .env(
            "ONYXIA_LITE_ONYXIA_DOCKER_HOST",
            "unix:///nonexistent/docker.sock",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn env_command_repeats_print_env_with_the_published_urls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    // As behind a container's published ports: each listener is announced elsewhere.
    let public = "http://onyxia.example.test:18080".to_owned();
    let args: Vec<String> = [
        "--data-dir",
        &data,
        "--public-url",
        &public,
        "--s3-public-url",
        "http://s3.example.test:19000/",
        "--vault-public-url",
        "https://vault.example.test",
    ]
    .map(str::to_owned)
    .into();
    let (mut child, vars) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        spawn_serve(&args)
    })
    .await
    .unwrap();
    assert_eq!(vars["ONYXIA_URL"], public);
    assert_eq!(vars["OIDC_ISSUER_URL"], format!("{public}/realms/datalab"));
    assert_eq!(vars["AWS_ENDPOINT_URL"], "http://s3.example.test:19000");
    assert_eq!(vars["VAULT_ADDR"], "https://vault.example.test");

    // The web UI is given the same addresses (asked at the real port, which running.json has).
    let running: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("running.json")).unwrap()).unwrap();
    let main = running["main_addr"].as_str().unwrap();
    let regions: serde_json::Value = reqwest::get(format!("http://{main}/api/public/regions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let region = &regions[0];
    assert_eq!(
        region["data"]["S3"][0]["URL"],
        "http://s3.example.test:19000"
    );
    assert_eq!(region["vault"]["URL"], "https://vault.example.test");

    let env = Command::new(BIN)
        .args(["env", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stderr)
    );
    let printed: std::collections::HashMap<String, String> = String::from_utf8(env.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect();
    assert_eq!(
        printed, vars,
        "env prints what --print-env printed, secrets included"
    );
    let json = Command::new(BIN)
        .args(["env", "--json", "--data-dir", &data])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["AWS_SECRET_ACCESS_KEY"], "onyxia-admin-secret");

    assert!(terminate(&mut child).success());
    let after = Command::new(BIN)
        .args(["env", "--data-dir", &data])
        .output()
        .unwrap();
    assert_eq!(after.status.code(), Some(1), "nothing serves any more");
    assert!(String::from_utf8_lossy(&after.stderr).contains("no platform is serving"));
}
