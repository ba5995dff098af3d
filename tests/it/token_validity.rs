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
