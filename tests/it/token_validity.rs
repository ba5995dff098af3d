//! A token is valid only inside its window: one whose `nbf` is ahead is refused by every
//! place that verifies tokens — userinfo, STS, Vault's JWT login and the Onyxia API — while
//! the same token with a past `nbf` is accepted (so the refusal is the window's doing).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::s3_support::*;
use crate::support::*;

/// `token` with `nbf` moved by `offset` seconds from now, signed again with the issuer's key.
fn with_nbf(tp: &TestPlatform, token: &str, offset: i64) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    claims.insert("nbf".into(), (now + offset).into());
    let signing = &tp.running.identity().signing;
    let mut header = jsonwebtoken::Header::new(signing.algorithm);
    header.kid = Some(signing.kid.clone());
    header.typ = Some("JWT".into());
    signing.sign_jwt(&header, &claims)
}

async fn userinfo(tp: &TestPlatform, token: &str) -> u16 {
    reqwest::Client::new()
        .get(tp.oidc("userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn onyxia_user_info(tp: &TestPlatform, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/user/info", tp.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sts(tp: &TestPlatform, token: &str) -> Result<(), String> {
    sts_client(tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name("alice")
        .web_identity_token(token)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn vault_login(tp: &TestPlatform, token: &str) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = vaultrs::client::VaultClientSettingsBuilder::default()
        .address(format!("http://{}", tp.running.endpoints.vault_addr))
        .build()
        .unwrap();
    let client = vaultrs::client::VaultClient::new(settings).unwrap();
    vaultrs::auth::oidc::login(&client, "jwt", token, Some("onyxia-user".into()))
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn tokens_whose_nbf_is_ahead_are_refused_everywhere() {
    let tp = TestPlatform::start().await;
    let web = password_grant(&tp, "onyxia", "alice", "alice").await;
    let web = web["access_token"].as_str().unwrap();
    let minio = password_grant(&tp, "onyxia-minio", "alice", "alice").await;
    let minio = minio["access_token"].as_str().unwrap();

    // Re-signed with a past nbf: accepted everywhere.
    let (web_ok, minio_ok) = (with_nbf(&tp, web, -60), with_nbf(&tp, minio, -60));
    assert_eq!(userinfo(&tp, &web_ok).await, 200);
    assert_eq!(onyxia_user_info(&tp, &web_ok).await, 200);
    sts(&tp, &minio_ok).await.expect("STS with a valid token");
    vault_login(&tp, &web_ok)
        .await
        .expect("Vault login with a valid token");

    // An hour ahead: refused everywhere.
    let (web_early, minio_early) = (with_nbf(&tp, web, 3600), with_nbf(&tp, minio, 3600));
    assert_eq!(userinfo(&tp, &web_early).await, 401);
    assert_eq!(onyxia_user_info(&tp, &web_early).await, 401);
    assert_eq!(
        sts(&tp, &minio_early).await.unwrap_err(),
        "InvalidIdentityToken"
    );
    let refused = vault_login(&tp, &web_early).await.unwrap_err();
    assert!(refused.contains("not yet valid"), "{refused}");
    tp.stop().await;
}

/// Requests an external issuer saw, by path.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A pass-through in front of `upstream` that records each request's path; its URL.
async fn recording_proxy(upstream: String, seen: Seen) -> String {
    use axum::extract::{Request, State};
    let http = reqwest::Client::new();
    let forward = move |State(seen): State<Seen>, req: Request| {
        let (http, upstream) = (http.clone(), upstream.clone());
        async move {
            let path = req.uri().path_and_query().unwrap().to_string();
            seen.lock().unwrap().push(req.uri().path().to_owned());
            let r = http.get(format!("{upstream}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        }
    };
    let app = axum::Router::new().fallback(forward).with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn one_verifier_fetches_the_external_issuers_keys_once_for_every_consumer() {
    // The external provider is reached through a recording proxy, which is its public URL.
    let seen = Seen::default();
    let mut provider = test_config();
    provider.oidc.signing_key = None;
    provider.oidc.signing_algorithm = onyxia_lite::config::SigningAlgorithm::ES256;
    let listeners = onyxia_lite::Listeners::bind(&provider).await.unwrap();
    let upstream = format!("http://{}", listeners.main.local_addr().unwrap());
    provider.public_url = Some(recording_proxy(upstream, seen.clone()).await);
    let keycloak = TestPlatform::start_bound(provider, listeners).await;

    let mut config = test_config();
    config.oidc.external_issuer = Some(keycloak.issuer.clone());
    let tp = TestPlatform::start_with(config).await;
    let web = password_grant(&keycloak, "onyxia", "alice", "alice").await;
    let web = web["access_token"].as_str().unwrap();
    let minio = password_grant(&keycloak, "onyxia-minio", "alice", "alice").await;
    let minio = minio["access_token"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(onyxia_user_info(&tp, web).await, 200);
        sts(&tp, minio).await.expect("STS takes the external token");
        vault_login(&tp, web)
            .await
            .expect("Vault takes the external token");
    }
    // The Onyxia API trusts only the external issuer; STS and Vault also the embedded one.
    let own = password_grant(&tp, "onyxia", "alice", "alice").await;
    let own = own["access_token"].as_str().unwrap();
    assert_eq!(onyxia_user_info(&tp, own).await, 401);
    vault_login(&tp, own).await.expect("Vault takes its own");
    let seen = seen.lock().unwrap().clone();
    let count = |suffix: &str| seen.iter().filter(|p| p.ends_with(suffix)).count();
    assert_eq!(count("/.well-known/openid-configuration"), 1, "{seen:?}");
    assert_eq!(count("/certs"), 1, "{seen:?}");
    for p in [tp, keycloak] {
        p.stop().await;
    }
}
