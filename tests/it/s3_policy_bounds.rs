//! Bucket-policy evaluation is bounded whatever the policy says: list-valued claims repeated
//! in a resource (`${jwt:aud}` forty times over two audiences is 2^40 strings if expanded)
//! are matched in place, so a user's own policy cannot stall the server.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::s3_support::*;
use crate::support::*;

/// The audiences of alice's `onyxia-minio` token, as policies see `${jwt:aud}`.
async fn audiences(tp: &TestPlatform) -> Vec<String> {
    let tokens = password_grant(tp, "onyxia-minio", "alice", "alice").await;
    let token = tokens["access_token"].as_str().unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    match &claims["aud"] {
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::String(a) => vec![a.clone()],
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn repeated_list_variables_in_a_bucket_policy_stay_cheap() {
    let tp = TestPlatform::start().await;
    let aud = audiences(&tp).await;
    assert!(aud.len() >= 2, "the token has several audiences: {aud:?}");
    let credentials = sts_credentials(&tp, "alice", "alice").await;
    let alice = session_client(&tp, &credentials);
    alice
        .put_object()
        .bucket("user-alice")
        .key("data.csv")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // Forty copies deny a key no one has; one copy denies `secret-<an audience>`.
    let deny_many = "${jwt:aud}".repeat(40);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::user-alice/{deny_many}"]}},
            {{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::user-alice/secret-${{jwt:aud}}"]}}]}}"#
    );
    alice
        .put_bucket_policy()
        .bucket("user-alice")
        .policy(policy)
        .send()
        .await
        .expect("a policy of 40 variables is accepted");
    alice
        .put_object()
        .bucket("user-alice")
        .key(format!("secret-{}", aud[1]))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();

    // Each answer comes at once (expanding would take hours and terabytes), and the main
    // listener keeps answering meanwhile.
    let bounded = Duration::from_secs(20);
    let get = |key: String| {
        let alice = alice.clone();
        async move {
            alice
                .get_object()
                .bucket("user-alice")
                .key(key)
                .send()
                .await
        }
    };
    let allowed = tokio::time::timeout(bounded, get("data.csv".into()))
        .await
        .expect("evaluation is bounded");
    assert!(allowed.is_ok(), "{allowed:?}");
    let denied = tokio::time::timeout(bounded, get(format!("secret-{}", aud[1])))
        .await
        .expect("evaluation is bounded")
        .unwrap_err();
    assert_eq!(code(&denied), "AccessDenied");
    let health = tokio::time::timeout(bounded, reqwest::get(format!("{}/healthz", tp.base)))
        .await
        .expect("the main listener answers")
        .unwrap();
    assert_eq!(health.status(), 200);
    tp.stop().await;
}
