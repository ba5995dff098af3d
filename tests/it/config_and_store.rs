//! Restarts on the same data directory, schema versions, health.

use onyxia_lite::store::{SCHEMA_VERSION, Store};
use onyxia_lite::{Listeners, Platform, StartError};

use crate::support::*;

#[tokio::test]
async fn restart_keeps_key_users_sessions_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = test_config();
        c.ephemeral = false;
        c.data_dir = Some(dir.path().to_owned());
        c.oidc.signing_key = None; // generated and kept in the data directory
        c.public_url = Some("http://onyxia.test".into()); // same issuer on every start
        c
    };
    let tp = TestPlatform::start_with(config()).await;
    let http = reqwest::Client::new();
    let jwks1: serde_json::Value = http
        .get(tp.oidc("certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens = password_grant(&tp, "onyxia", "alice", "alice").await;
    let key_file = dir.path().join("keys/signing-rs256.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    tp.stop().await;

    let tp = TestPlatform::start_with(config()).await;
    let jwks2: serde_json::Value = http
        .get(tp.oidc("certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks1, jwks2, "same signing key and kid");
    let info = http
        .get(tp.oidc("userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        info.status(),
        200,
        "token from before the restart still verifies"
    );
    let info: serde_json::Value = info.json().await.unwrap();
    let before = crate::oidc_flow::decode_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(info["sub"], before["sub"], "same user");
    let (status, _) = token_request(
        &tp,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "onyxia"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "refresh token survives the restart");
    // Passwords were hashed at the first start and are still accepted.
    password_grant(&tp, "onyxia", "bob", "bob").await;
    tp.stop().await;
}

#[tokio::test]
async fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(&dir.path().join("onyxia-lite.redb"))
        .unwrap()
        .force_schema_version(SCHEMA_VERSION + 1)
        .unwrap();
    let mut config = test_config();
    config.ephemeral = false;
    config.data_dir = Some(dir.path().to_owned());
    let listeners = Listeners::bind(&config).await.unwrap();
    let err = Platform::start(config, listeners, std::future::pending())
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, StartError::Store(_)));
    assert!(err.to_string().contains("newer onyxia-lite"), "{err}");
}

#[tokio::test]
async fn health_discovery_and_realm_document() {
    let tp = TestPlatform::start().await;
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let d: serde_json::Value = http
        .get(format!(
            "{}/realms/datalab/.well-known/openid-configuration",
            tp.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], tp.issuer.as_str());
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["jwks_uri"],
        format!("{}/protocol/openid-connect/certs", tp.issuer)
    );
    let realm: serde_json::Value = http
        .get(format!("{}/realms/datalab", tp.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(realm["public_key"].as_str().unwrap().len() > 200);
    // Unknown platform paths are JSON 404s; other paths are pages of the web UI.
    let missing = http
        .get(format!("{}/api/nope", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let page = http.get(format!("{}/nope", tp.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // S3 and Vault answer callers without credentials in their own formats.
    let s3 = http
        .get(format!("http://{}/", tp.running.endpoints.s3_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(s3.status(), 403);
    assert!(
        s3.text()
            .await
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );
    let vault = http
        .get(format!(
            "http://{}/v1/secret/data/x",
            tp.running.endpoints.vault_addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(vault.status(), 403);
    let body: serde_json::Value = vault.json().await.unwrap();
    assert_eq!(body["errors"][0], "permission denied");
    tp.stop().await;
}
