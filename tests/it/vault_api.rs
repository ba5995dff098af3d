//! The Vault listener over HTTP: envelope, errors, LIST, login refusals, restarts, sealing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

struct Vault {
    url: String,
    http: reqwest::Client,
}

impl Vault {
    fn of(tp: &TestPlatform) -> Self {
        Vault {
            url: format!("http://{}", tp.running.endpoints.vault_addr),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}/v1/{path}", self.url),
        );
        if let Some(t) = token {
            req = req.header("X-Vault-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, jwt: &str) -> (u16, Value) {
        self.call(
            "POST",
            "auth/jwt/login",
            None,
            Some(json!({"role": "onyxia-user", "jwt": jwt})),
        )
        .await
    }
}

const ROOT: &str = "onyxia-root-token";

#[tokio::test]
async fn envelope_list_and_bad_input() {
    let tp = TestPlatform::start().await;
    let v = Vault::of(&tp);
    let (status, written) = v
        .call(
            "POST",
            "secret/data/app/config",
            Some(ROOT),
            Some(json!({"data": {"a": "1"}})),
        )
        .await;
    assert_eq!(status, 200);
    for field in [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
    ] {
        assert!(
            written.get(field).is_some(),
            "envelope has {field}: {written}"
        );
    }
    assert_eq!(written["data"]["version"], 1);
    // LIST both ways; an empty list is a 404 with no errors.
    let (status, listed) = v
        .call("LIST", "secret/metadata/app", Some(ROOT), None)
        .await;
    assert_eq!(
        (status, listed["data"]["keys"].clone()),
        (200, json!(["config"]))
    );
    let (status, listed) = v
        .call("GET", "secret/metadata/?list=true", Some(ROOT), None)
        .await;
    assert_eq!(
        (status, listed["data"]["keys"].clone()),
        (200, json!(["app/"]))
    );
    let (status, empty) = v
        .call("LIST", "secret/metadata/nothing", Some(ROOT), None)
        .await;
    assert_eq!((status, empty), (404, json!({"errors": []})));
    // Refusals in Vault's shape.
    let (status, body) = v
        .call("GET", "secret/data/app/config", Some("nope"), None)
        .await;
    assert_eq!(
        (status, body),
        (403, json!({"errors": ["permission denied"]}))
    );
    let (status, body) = v
        .call("GET", "secret/data/app/missing", Some(ROOT), None)
        .await;
    assert_eq!((status, body), (404, json!({"errors": []})));
    let bad = v
        .http
        .post(format!("{}/v1/secret/data/x", v.url))
        .header("X-Vault-Token", ROOT)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(
        bad.json::<Value>().await.unwrap()["errors"][0]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    let (status, _) = v
        .call(
            "POST",
            "secret/data/x",
            Some(ROOT),
            Some(json!({"data": "a string"})),
        )
        .await;
    assert_eq!(status, 400, "wrong type");
    // (`..` segments never reach the server from URL-normalising clients; see the unit tests.)
    let (status, spaced) = v
        .call(
            "POST",
            "secret/data/with%20space",
            Some(ROOT),
            Some(json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(status, 200, "{spaced}");
    let (_, listed) = v.call("LIST", "secret/metadata/", Some(ROOT), None).await;
    assert!(
        listed["data"]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!("with space")),
        "{listed}"
    );
    let (status, _) = v
        .call(
            "POST",
            "secret/data/a//b",
            Some(ROOT),
            Some(json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(status, 400, "empty segment");
    let (status, _) = v.call("GET", "nomount/data/x", Some(ROOT), None).await;
    assert_eq!(status, 404);
    let (status, _) = v
        .call("PUT", "secret/subkeys/app/config", Some(ROOT), None)
        .await;
    assert_eq!(status, 405);
    let (status, cas) = v
        .call(
            "POST",
            "secret/data/app/config",
            Some(ROOT),
            Some(json!({"options": {"cas": 7}, "data": {"a": "2"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        cas["errors"][0],
        "check-and-set parameter did not match the current version"
    );
    // The CLI's preflight.
    let (status, mount) = v
        .call("GET", "sys/internal/ui/mounts/secret/app", Some(ROOT), None)
        .await;
    assert_eq!(
        (
            status,
            mount["data"]["options"]["version"].clone(),
            mount["data"]["path"].clone()
        ),
        (200, json!("2"), json!("secret/"))
    );
    // Browsers: a preflight needs no token.
    let preflight = v
        .http
        .request(
            Method::OPTIONS,
            format!("{}/v1/onyxia-kv/data/user-alice/x", v.url),
        )
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "x-vault-token, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("X-Vault-Token")
    );
    // Metadata: PATCH merges custom metadata (null removes a key); bad values change nothing.
    v.call(
        "POST",
        "secret/metadata/app/config",
        Some(ROOT),
        Some(json!({"custom_metadata": {"a": "1", "b": "2"}})),
    )
    .await;
    let (status, _) = v
        .call(
            "PATCH",
            "secret/metadata/app/config",
            Some(ROOT),
            Some(json!({"custom_metadata": {"b": null, "c": "3"}})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = v
        .call(
            "POST",
            "secret/metadata/app/config",
            Some(ROOT),
            Some(json!({"max_versions": "many", "custom_metadata": {}})),
        )
        .await;
    assert_eq!(status, 400);
    let (_, meta) = v
        .call("GET", "secret/metadata/app/config", Some(ROOT), None)
        .await;
    assert_eq!(meta["data"]["custom_metadata"], json!({"a": "1", "c": "3"}));
    // The mount's config refuses a null setting (metadata bodies may send null for "leave it").
    let (status, _) = v
        .call(
            "POST",
            "secret/config",
            Some(ROOT),
            Some(json!({"max_versions": 7})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = v
        .call(
            "POST",
            "secret/config",
            Some(ROOT),
            Some(json!({"max_versions": null})),
        )
        .await;
    assert_eq!(status, 400);
    let (_, config) = v.call("GET", "secret/config", Some(ROOT), None).await;
    assert_eq!(config["data"]["max_versions"], 7);
    let (status, _) = v
        .call(
            "POST",
            "secret/delete/app/config",
            Some(ROOT),
            Some(json!({"versions": []})),
        )
        .await;
    assert_eq!(status, 400, "an empty version list deletes nothing");
    let (status, health) = v.call("GET", "sys/health", None, None).await;
    assert_eq!((status, health["sealed"].clone()), (200, json!(false)));
    tp.stop().await;
}

#[tokio::test]
async fn logins_refused_for_wrong_audience_foreign_issuer_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    fixtures_with_realm(dir.path(), |t| {
        t.replace("access_token_lifespan = 300", "access_token_lifespan = 1")
    });
    let mut config = test_config();
    config.fixtures = Some(dir.path().to_owned());
    let tp = TestPlatform::start_with(config).await;
    let v = Vault::of(&tp);
    let minio = password_grant(&tp, "onyxia-minio", "alice", "alice").await;
    let (status, body) = v.login(minio["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status, 400,
        "the onyxia-minio token is not for Vault: {body}"
    );
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("error validating token")
    );
    let stranger = TestPlatform::start().await;
    let foreign = password_grant(&stranger, "onyxia", "alice", "alice").await;
    let (status, _) = v.login(foreign["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "another issuer");
    let good = password_grant(&tp, "onyxia", "alice", "alice").await;
    let (status, login) = v.login(good["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(login["auth"]["metadata"]["username"], "alice");
    tp.advance(2);
    let (status, _) = v.login(good["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "expired token");
    let (status, _) = v
        .call(
            "POST",
            "auth/jwt/login",
            None,
            Some(json!({"role": "nope", "jwt": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    stranger.stop().await;
    tp.stop().await;
}

#[tokio::test]
async fn secrets_and_tokens_survive_restart_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = test_config();
        c.ephemeral = false;
        c.data_dir = Some(dir.path().to_owned());
        c
    };
    let tp = TestPlatform::start_with(config()).await;
    let v = Vault::of(&tp);
    let token = password_grant(&tp, "onyxia", "alice", "alice").await;
    let (_, login) = v.login(token["access_token"].as_str().unwrap()).await;
    let client_token = login["auth"]["client_token"].as_str().unwrap().to_owned();
    let marker = "plaintext-marker-7f3a9c";
    let (status, _) = v
        .call(
            "POST",
            "onyxia-kv/data/user-alice/k",
            Some(&client_token),
            Some(json!({"data": {"v": marker}})),
        )
        .await;
    assert_eq!(status, 200);
    v.call(
        "POST",
        "onyxia-kv/data/user-alice/k",
        Some(&client_token),
        Some(json!({"data": {"v": "second"}})),
    )
    .await;
    tp.stop().await;

    let db = std::fs::read(dir.path().join("onyxia-lite.redb")).unwrap();
    assert!(
        !db.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "values are encrypted at rest"
    );
    assert!(!db.windows(7).any(|w| w == b"Secrets"), "seeded values too");
    let tp = TestPlatform::start_with(config()).await;
    let v = Vault::of(&tp);
    let (status, first) = v
        .call(
            "GET",
            "onyxia-kv/data/user-alice/k?version=1",
            Some(&client_token),
            None,
        )
        .await;
    assert_eq!(status, 200, "the token survives: {first}");
    assert_eq!(first["data"]["data"]["v"], marker);
    let (_, meta) = v
        .call(
            "GET",
            "onyxia-kv/metadata/user-alice/k",
            Some(&client_token),
            None,
        )
        .await;
    assert_eq!(meta["data"]["current_version"], 2);
    tp.stop().await;
}

#[tokio::test]
async fn merge_patch_and_external_issuer_logins() {
    // An external provider with its own key; this platform's Vault trusts it.
    let keycloak = external_provider().await;
    let mut config = test_config();
    config.vault.jwt_external_issuer = Some(keycloak.issuer.clone());
    let tp = TestPlatform::start_with(config).await;
    let v = Vault::of(&tp);
    let token = password_grant(&keycloak, "onyxia", "alice", "alice").await;
    let (status, login) = v.login(token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{login}");
    let alice = login["auth"]["client_token"].as_str().unwrap().to_owned();

    // RFC 7396 merge patch on data, as `vault kv patch` sends it.
    v.call(
        "POST",
        "onyxia-kv/data/user-alice/app",
        Some(&alice),
        Some(json!({"data": {"a": "1", "nested": {"x": "1", "y": "2"}}})),
    )
    .await;
    let patched = v
        .http
        .patch(format!("{}/v1/onyxia-kv/data/user-alice/app", v.url))
        .header("X-Vault-Token", &alice)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"data": {"a": null, "b": "2", "nested": {"y": "3"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let (_, read) = v
        .call("GET", "onyxia-kv/data/user-alice/app", Some(&alice), None)
        .await;
    assert_eq!(
        read["data"]["data"],
        json!({"b": "2", "nested": {"x": "1", "y": "3"}})
    );
    assert_eq!(read["data"]["metadata"]["version"], 2);
    let (status, _) = v
        .call(
            "PATCH",
            "onyxia-kv/data/user-alice/none",
            Some(&alice),
            Some(json!({"data": {"a": "1"}})),
        )
        .await;
    assert_eq!(status, 404, "patching a missing secret");
    for p in [tp, keycloak] {
        p.stop().await;
    }
}
