//! KV v2 with vaultrs, a Rust Vault client: write, read, versions, CAS, patch by merge, list,
//! soft delete, undelete, destroy, metadata, and a JWT login.

use std::collections::HashMap;

use vaultrs::api::kv2::requests::SetSecretRequestOptions;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use vaultrs::kv2;

use crate::support::*;

fn client(tp: &TestPlatform, token: &str) -> VaultClient {
    // vaultrs builds a TLS-capable client even for http:// URLs; give rustls its crypto.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = VaultClientSettingsBuilder::default()
        .address(format!("http://{}", tp.running.endpoints.vault_addr))
        .token(token)
        .build()
        .unwrap();
    VaultClient::new(settings).unwrap()
}

/// The HTTP status of a failed call (vaultrs reports a 404 without `errors` — Vault's answer
/// for deleted versions — as a REST error).
fn status(e: &ClientError) -> u16 {
    match e {
        ClientError::APIError { code, .. } => *code,
        other => {
            let text = format!("{other:?}");
            let at = text
                .find("code: ")
                .unwrap_or_else(|| panic!("no status in {text}"))
                + 6;
            text[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        }
    }
}

#[tokio::test]
async fn kv2_with_vaultrs() {
    let tp = TestPlatform::start().await;
    let root = client(&tp, "onyxia-root-token");
    let m = "onyxia-kv";
    let v1 = HashMap::from([("user", "app"), ("password", "one")]);
    let meta = kv2::set(&root, m, "apps/db", &v1).await.unwrap();
    assert_eq!(meta.version, 1);
    kv2::set_with_options(
        &root,
        m,
        "apps/db",
        &HashMap::from([("user", "app"), ("password", "two")]),
        SetSecretRequestOptions { cas: 1 },
    )
    .await
    .unwrap();
    let stale = kv2::set_with_options(&root, m, "apps/db", &v1, SetSecretRequestOptions { cas: 1 })
        .await
        .unwrap_err();
    assert_eq!(status(&stale), 400);
    let current: HashMap<String, String> = kv2::read(&root, m, "apps/db").await.unwrap();
    assert_eq!(current["password"], "two");
    let first: HashMap<String, String> = kv2::read_version(&root, m, "apps/db", 1).await.unwrap();
    assert_eq!(first["password"], "one");
    kv2::set(&root, m, "apps/cache", &HashMap::from([("k", "v")]))
        .await
        .unwrap();
    assert_eq!(kv2::list(&root, m, "apps").await.unwrap(), ["cache", "db"]);
    let metadata = kv2::read_metadata(&root, m, "apps/db").await.unwrap();
    assert_eq!((metadata.current_version, metadata.versions.len()), (2, 2));

    kv2::delete_latest(&root, m, "apps/db").await.unwrap();
    let gone = kv2::read::<HashMap<String, String>>(&root, m, "apps/db")
        .await
        .unwrap_err();
    assert_eq!(status(&gone), 404);
    kv2::undelete_versions(&root, m, "apps/db", vec![2])
        .await
        .unwrap();
    assert_eq!(
        kv2::read::<HashMap<String, String>>(&root, m, "apps/db")
            .await
            .unwrap()["password"],
        "two"
    );
    kv2::destroy_versions(&root, m, "apps/db", vec![1])
        .await
        .unwrap();
    let destroyed = kv2::read_version::<HashMap<String, String>>(&root, m, "apps/db", 1)
        .await
        .unwrap_err();
    assert_eq!(status(&destroyed), 404);
    assert!(
        kv2::read_metadata(&root, m, "apps/db")
            .await
            .unwrap()
            .versions["1"]
            .destroyed
    );
    kv2::delete_metadata(&root, m, "apps/db").await.unwrap();
    assert_eq!(kv2::list(&root, m, "apps").await.unwrap(), ["cache"]);

    // A user logs in with the OIDC token of the onyxia client and stays in her own space.
    let token = password_grant(&tp, "onyxia", "bob", "bob").await;
    let anonymous = client(&tp, "");
    let auth = vaultrs::auth::oidc::login(
        &anonymous,
        "jwt",
        token["access_token"].as_str().unwrap(),
        Some("onyxia-user".into()),
    )
    .await
    .expect("JWT login");
    let bob = client(&tp, &auth.client_token);
    kv2::set(&bob, m, "user-bob/notes", &HashMap::from([("a", "b")]))
        .await
        .expect("own secrets");
    let denied = kv2::set(&bob, m, "user-alice/notes", &HashMap::from([("a", "b")]))
        .await
        .unwrap_err();
    assert_eq!(status(&denied), 403);
    let denied = kv2::read::<HashMap<String, String>>(&bob, m, "apps/cache")
        .await
        .unwrap_err();
    assert_eq!(status(&denied), 403);
    tp.stop().await;
}
