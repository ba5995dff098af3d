//! A mixed load for scripts/bench-memory.sh: CLIENTS clients for SECONDS seconds, each looping
//! over a password grant, STS AssumeRoleWithWebIdentity, a small S3 PUT and GET with the
//! temporary keys, and a Vault JWT login with a KV write and read — the traffic of many users
//! opening onyxia-web at once. Reads the `--print-env` variables; prints counts per kind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} must be set"))
}

fn number(k: &str, default: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Counts {
    grants: AtomicU64,
    sts: AtomicU64,
    s3: AtomicU64,
    vault: AtomicU64,
    errors: AtomicU64,
}

async fn grant(http: &reqwest::Client, client: &str, user: &str) -> Option<String> {
    let token_url = var("OIDC_TOKEN_URL").replace("localhost", "127.0.0.1");
    let r = http
        .post(token_url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", client),
            ("username", user),
            ("password", user),
        ])
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

async fn one_round(
    http: &reqwest::Client,
    worker: usize,
    round: u64,
    counts: &Counts,
) -> Option<()> {
    let user = ["alice", "bob", "teacher"][worker % 3];
    let s3_url = var("AWS_ENDPOINT_URL").replace("localhost", "127.0.0.1");
    let minio = grant(http, "onyxia-minio", user).await?;
    counts.grants.fetch_add(1, Ordering::Relaxed);
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&s3_url)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build(),
    );
    let creds = sts
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name(user)
        .web_identity_token(minio)
        .send()
        .await
        .ok()?
        .credentials?;
    counts.sts.fetch_add(1, Ordering::Relaxed);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&s3_url)
            .credentials_provider(Credentials::new(
                creds.access_key_id,
                creds.secret_access_key,
                Some(creds.session_token),
                None,
                "mix",
            ))
            .force_path_style(true)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build(),
    );
    let key = format!("mix/{worker}-{}", round % 8);
    s3.put_object()
        .bucket(format!("user-{user}"))
        .key(&key)
        .body(ByteStream::from(vec![b'x'; 4096]))
        .send()
        .await
        .ok()?;
    s3.get_object()
        .bucket(format!("user-{user}"))
        .key(&key)
        .send()
        .await
        .ok()?;
    counts.s3.fetch_add(2, Ordering::Relaxed);
    let web = grant(http, "onyxia", user).await?;
    counts.grants.fetch_add(1, Ordering::Relaxed);
    let vault = var("VAULT_ADDR").replace("localhost", "127.0.0.1");
    let login: Value = http
        .post(format!("{vault}/v1/auth/jwt/login"))
        .json(&json!({"role": "onyxia-user", "jwt": web}))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let token = login["auth"]["client_token"].as_str()?.to_owned();
    let path = format!("{vault}/v1/onyxia-kv/data/user-{user}/mix-{worker}");
    http.post(&path)
        .header("x-vault-token", &token)
        .json(&json!({"data": {"round": round}}))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?;
    http.get(&path)
        .header("x-vault-token", &token)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?;
    counts.vault.fetch_add(3, Ordering::Relaxed);
    Some(())
}

#[tokio::main]
async fn main() {
    let clients = number("CLIENTS", 200) as usize;
    let seconds = number("SECONDS", 60);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counts = Arc::new(Counts::default());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let (http, counts) = (http.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = 0;
            while Instant::now() < deadline {
                if one_round(&http, worker, round, &counts).await.is_none() {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
                round += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let c = &counts;
    println!(
        "{clients} clients, {seconds} s: {} token grants, {} STS, {} S3 requests, {} Vault requests, {} failed rounds",
        c.grants.load(Ordering::Relaxed),
        c.sts.load(Ordering::Relaxed),
        c.s3.load(Ordering::Relaxed),
        c.vault.load(Ordering::Relaxed),
        c.errors.load(Ordering::Relaxed)
    );
}
