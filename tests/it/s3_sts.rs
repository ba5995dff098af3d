//! The Onyxia flow: a token of the embedded issuer → STS AssumeRoleWithWebIdentity →
//! temporary S3 keys limited by the `stsonly` policy.

use aws_sdk_s3::primitives::ByteStream;

use crate::s3_support::*;
use crate::support::*;

#[tokio::test]
async fn alice_reaches_her_buckets_only() {
    let tp = TestPlatform::start().await;
    let creds = sts_credentials(&tp, "alice", "alice").await;
    let s3 = session_client(&tp, &creds);
    s3.put_object()
        .bucket("user-alice")
        .key("notes.txt")
        .body(ByteStream::from_static(b"mine"))
        .send()
        .await
        .expect("own bucket");
    let got = s3
        .get_object()
        .bucket("user-alice")
        .key("notes.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"mine"
    );
    let denied = s3
        .put_object()
        .bucket("user-bob")
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&denied), "AccessDenied");
    let denied = s3
        .list_objects_v2()
        .bucket("user-bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&denied), "AccessDenied");
    // Her group's bucket, with the seeded dataset.
    let data = s3
        .get_object()
        .bucket("projet-demo")
        .key("datasets/penguins.csv")
        .send()
        .await
        .unwrap();
    let csv = data.body.collect().await.unwrap().into_bytes();
    assert!(csv.starts_with(b"species,island"));
    let buckets = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(
        names.contains(&"user-alice") && names.contains(&"projet-demo"),
        "{names:?}"
    );
    assert!(!names.contains(&"user-bob"), "{names:?}");
    // Shared mode: one bucket, a prefix per user.
    s3.put_object()
        .bucket("onyxia")
        .key("user-alice/a.csv")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .expect("own prefix");
    let listed = s3
        .list_objects_v2()
        .bucket("onyxia")
        .prefix("user-alice/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(1));
    let whole = s3
        .list_objects_v2()
        .bucket("onyxia")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&whole), "AccessDenied");
    let other = s3
        .list_objects_v2()
        .bucket("onyxia")
        .prefix("user-bob/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&other), "AccessDenied");
    let other = s3
        .put_object()
        .bucket("onyxia")
        .key("user-bob/x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&other), "AccessDenied");

    // A batch delete reports the keys she may not delete, one by one.
    let ids = ["user-alice/a.csv", "user-bob/x"]
        .map(|k| {
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key(k)
                .build()
                .unwrap()
        })
        .to_vec();
    let batch = s3
        .delete_objects()
        .bucket("onyxia")
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(ids))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.deleted().len(), 1);
    assert_eq!(batch.errors()[0].code(), Some("AccessDenied"));
    assert_eq!(batch.errors()[0].key(), Some("user-bob/x"));

    // The keys need their session token, and only theirs.
    let no_token = s3_client(&tp, &creds.access_key_id, &creds.secret_access_key, None);
    let e = no_token
        .list_objects_v2()
        .bucket("user-alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidToken");
    let wrong = s3_client(
        &tp,
        &creds.access_key_id,
        &creds.secret_access_key,
        Some("forged"),
    );
    let e = wrong
        .list_objects_v2()
        .bucket("user-alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidToken");
    tp.stop().await;
}

#[tokio::test]
async fn sts_refuses_bad_tokens_with_sts_errors() {
    let dir = tempfile::tempdir().unwrap();
    fixtures_with_realm(dir.path(), |t| {
        t.replace("access_token_lifespan = 300", "access_token_lifespan = 1")
    });
    let mut config = test_config();
    config.fixtures = Some(dir.path().to_owned());
    let tp = TestPlatform::start_with(config).await;
    let sts = sts_client(&tp);
    let assume = |token: String, duration: Option<i32>| {
        sts.assume_role_with_web_identity()
            .role_arn("arn:aws:iam::000000000000:role/onyxia")
            .role_session_name("test")
            .web_identity_token(token)
            .set_duration_seconds(duration)
            .send()
    };
    // A token for another client (aud/azp onyxia, not onyxia-minio).
    let other = password_grant(&tp, "onyxia", "alice", "alice").await;
    let e = assume(other["access_token"].as_str().unwrap().to_owned(), None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidIdentityToken");
    // A token signed by another key.
    let key = onyxia_lite::identity::keys::generate_signing_pem(
        onyxia_lite::config::SigningAlgorithm::ES256,
    );
    let foreign = onyxia_lite::identity::keys::SigningKey::from_pem(
        onyxia_lite::config::SigningAlgorithm::ES256,
        &key,
    )
    .unwrap();
    let mut header = jsonwebtoken::Header::new(foreign.algorithm);
    header.kid = Some(foreign.kid.clone());
    let claims = serde_json::json!({"iss": tp.issuer, "sub": "x", "aud": "onyxia-minio", "exp": 4_000_000_000u64, "policy": "stsonly"});
    let forged = jsonwebtoken::encode(&header, &claims, &foreign.encoding).unwrap();
    let e = assume(forged, None).await.unwrap_err();
    assert_eq!(code(&e), "InvalidIdentityToken");
    let e = assume("not-a-jwt".into(), None).await.unwrap_err();
    assert_eq!(code(&e), "InvalidIdentityToken");

    let good = password_grant(&tp, "onyxia-minio", "alice", "alice").await;
    let token = good["access_token"].as_str().unwrap().to_owned();
    let e = assume(token.clone(), Some(60)).await.unwrap_err();
    assert_eq!(
        code(&e),
        "InvalidParameterValue",
        "DurationSeconds below 900"
    );
    // Without DurationSeconds the keys expire with the token (1 s here).
    let out = assume(token.clone(), None)
        .await
        .expect("fresh token accepted");
    let creds = out.credentials.unwrap();
    let s3 = session_client(&tp, &creds);
    s3.list_objects_v2()
        .bucket("user-alice")
        .send()
        .await
        .expect("keys work while the token lives");
    tp.advance(2);
    let e = s3
        .list_objects_v2()
        .bucket("user-alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
    let e = assume(token, None).await.unwrap_err();
    assert_eq!(code(&e), "ExpiredToken");
    tp.stop().await;
}

#[tokio::test]
async fn assume_role_refused_for_root_and_session_policies() {
    let tp = TestPlatform::start().await;
    let e = &tp.running.endpoints;
    let err = sts_client_with(&tp, Some((&e.s3_access_key, &e.s3_secret_key)))
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/admin")
        .role_session_name("admin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied", "no long-lived root sessions");
    let token = password_grant(&tp, "onyxia-minio", "alice", "alice").await;
    let err = sts_client(&tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name("alice")
        .web_identity_token(token["access_token"].as_str().unwrap())
        .policy(r#"{"Statement":[]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        "InvalidParameterValue",
        "session policies are refused, not ignored"
    );
    tp.stop().await;
}

#[tokio::test]
async fn query_string_sts_static_users_and_wrong_region() {
    let dir = tempfile::tempdir().unwrap();
    let built_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/s3.toml")).unwrap();
    std::fs::write(
        dir.path().join("s3.toml"),
        format!("{built_in}\n[[user]]\naccess_key = \"analyst\"\nsecret_key = \"analyst-secret\"\npolicies = [\"readonly\"]\n"),
    )
    .unwrap();
    let mut config = test_config();
    config.fixtures = Some(dir.path().to_owned());
    let tp = TestPlatform::start_with(config).await;

    // A static user with the readonly policy reads but cannot write.
    let analyst = s3_client(&tp, "analyst", "analyst-secret", None);
    let csv = analyst
        .get_object()
        .bucket("projet-demo")
        .key("datasets/penguins.csv")
        .send()
        .await;
    assert!(csv.is_ok(), "readonly may read");
    let e = analyst
        .put_object()
        .bucket("projet-demo")
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // …and may assume a role that keeps its policies.
    let assumed = sts_client_with(&tp, Some(("analyst", "analyst-secret")))
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/analyst")
        .role_session_name("analysis")
        .send()
        .await
        .unwrap();
    let session = session_client(&tp, &assumed.credentials.unwrap());
    let e = session
        .put_object()
        .bucket("projet-demo")
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "AccessDenied",
        "the session keeps the readonly policy"
    );

    // minio-go style: every parameter in the query string, empty body.
    let token = password_grant(&tp, "onyxia-minio", "bob", "bob").await;
    let url = format!(
        "{}/?Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken={}&DurationSeconds=900",
        s3_url(&tp),
        token["access_token"].as_str().unwrap()
    );
    let r = reqwest::Client::new().post(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains("<AssumeRoleWithWebIdentityResponse") && xml.contains("<SessionToken>"),
        "{xml}"
    );
    let r = reqwest::Client::new()
        .post(format!("{}/?Action=AssumeRoleWithWebIdentity", s3_url(&tp)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains("<ErrorResponse") && xml.contains("<Code>MissingParameter</Code>"),
        "{xml}"
    );

    // Signatures for another region are refused as S3 does.
    let e = &tp.running.endpoints;
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("eu-west-3"))
        .endpoint_url(s3_url(&tp))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            &e.s3_access_key,
            &e.s3_secret_key,
            None,
            None,
            "t",
        ))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let err = aws_sdk_s3::Client::from_conf(config)
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AuthorizationHeaderMalformed");
    tp.stop().await;
}

#[tokio::test]
async fn tokens_of_an_external_issuer() {
    // One platform plays the external Keycloak (with keys of its own); the other's STS trusts it.
    let keycloak = external_provider().await;
    let mut config = test_config();
    config.s3.sts_external_issuer = Some(keycloak.issuer.clone());
    let tp = TestPlatform::start_with(config).await;
    let token = password_grant(&keycloak, "onyxia-minio", "alice", "alice").await;
    let out = sts_client(&tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name("alice")
        .web_identity_token(token["access_token"].as_str().unwrap())
        .send()
        .await
        .expect("a token of the external issuer is accepted");
    let s3 = session_client(&tp, &out.credentials.unwrap());
    s3.put_object()
        .bucket("user-alice")
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    // Tokens of the platform's own issuer still work; a third issuer's do not.
    sts_credentials(&tp, "bob", "bob").await;
    let stranger = TestPlatform::start().await;
    let foreign = password_grant(&stranger, "onyxia-minio", "alice", "alice").await;
    let e = sts_client(&tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name("alice")
        .web_identity_token(foreign["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidIdentityToken");
    for p in [tp, keycloak, stranger] {
        p.stop().await;
    }
}
