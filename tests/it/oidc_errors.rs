//! Refusals, each with the exact OAuth error a client would see.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::support::*;

pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn callback(tp: &TestPlatform) -> String {
    format!("{}/callback", tp.running.endpoints.url)
}

pub fn auth_url(
    tp: &TestPlatform,
    client: &str,
    redirect: &str,
    challenge: Option<&str>,
) -> String {
    let mut url = url::Url::parse(&tp.oidc("auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "st");
    if let Some(c) = challenge {
        url.query_pairs_mut()
            .append_pair("code_challenge", c)
            .append_pair("code_challenge_method", "S256");
    }
    url.to_string()
}

/// Logs alice in through the form and returns (code, verifier).
pub async fn code_for_alice(tp: &TestPlatform) -> (String, String) {
    let (verifier, challenge) = pkce();
    let http = browser();
    let done = submit_login(
        &http,
        &auth_url(tp, "onyxia", &callback(tp), Some(&challenge)),
        "alice",
        "alice",
    )
    .await;
    (query(&location(&done), "code").unwrap(), verifier)
}

pub async fn exchange(
    tp: &TestPlatform,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> (u16, serde_json::Value) {
    token_request(
        tp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "onyxia"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
        ],
    )
    .await
}

pub fn error_of(reply: &(u16, serde_json::Value)) -> (u16, &str) {
    (reply.0, reply.1["error"].as_str().unwrap_or("<none>"))
}

#[tokio::test]
async fn wrong_redirect_uri_is_never_followed() {
    let tp = TestPlatform::start().await;
    let (_, challenge) = pkce();
    let page = browser()
        .get(auth_url(
            &tp,
            "onyxia",
            "https://evil.example/cb",
            Some(&challenge),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Invalid parameter: redirect_uri")
    );

    // At the token endpoint, the redirect_uri must repeat the authorization request's.
    let (code, verifier) = code_for_alice(&tp).await;
    let reply = exchange(
        &tp,
        &code,
        &verifier,
        &format!("{}/other", tp.running.endpoints.url),
    )
    .await;
    assert_eq!(error_of(&reply), (400, "invalid_grant"));
    assert_eq!(reply.1["error_description"], "Incorrect redirect_uri");
    tp.stop().await;
}

#[tokio::test]
async fn pkce_mismatch_code_reuse_and_success() {
    let tp = TestPlatform::start().await;
    let (code, verifier) = code_for_alice(&tp).await;
    let (other_verifier, _) = pkce();
    let reply = exchange(&tp, &code, &other_verifier, &callback(&tp)).await;
    assert_eq!(error_of(&reply), (400, "invalid_grant"));
    assert_eq!(
        reply.1["error_description"],
        "PKCE verification failed: Code mismatch"
    );
    // The failed attempt spent the code: single use, whatever the outcome.
    let reply = exchange(&tp, &code, &verifier, &callback(&tp)).await;
    assert_eq!(error_of(&reply), (400, "invalid_grant"));
    assert_eq!(reply.1["error_description"], "Code not valid");

    let (code, verifier) = code_for_alice(&tp).await;
    let ok = exchange(&tp, &code, &verifier, &callback(&tp)).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let reused = exchange(&tp, &code, &verifier, &callback(&tp)).await;
    assert_eq!(error_of(&reused), (400, "invalid_grant"));
    tp.stop().await;
}

#[tokio::test]
async fn expired_code_is_refused() {
    let mut config = test_config();
    config.oidc.code_lifespan_seconds = 1;
    let tp = TestPlatform::start_with(config).await;
    let (code, verifier) = code_for_alice(&tp).await;
    tp.advance(2);
    let reply = exchange(&tp, &code, &verifier, &callback(&tp)).await;
    assert_eq!(error_of(&reply), (400, "invalid_grant"));
    assert_eq!(reply.1["error_description"], "Code is expired");
    tp.stop().await;
}

#[tokio::test]
async fn wrong_client_secret() {
    let tp = TestPlatform::start().await;
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .basic_auth("vault", Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let reply = token_request(
        &tp,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "vault"),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!(error_of(&reply), (401, "invalid_client"));
    let unknown = token_request(
        &tp,
        &[("grant_type", "client_credentials"), ("client_id", "ghost")],
    )
    .await;
    assert_eq!(error_of(&unknown), (401, "invalid_client"));
    // A public client cannot use client_credentials.
    let public = token_request(
        &tp,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "onyxia"),
        ],
    )
    .await;
    assert_eq!(error_of(&public), (400, "unauthorized_client"));
    tp.stop().await;
}

#[tokio::test]
async fn public_client_without_pkce() {
    let tp = TestPlatform::start().await;
    let r = browser()
        .get(auth_url(&tp, "onyxia", &callback(&tp), None))
        .send()
        .await
        .unwrap();
    let back = location(&r);
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query(&back, "state").as_deref(), Some("st"));
    tp.stop().await;
}

#[tokio::test]
async fn refresh_token_reuse_after_rotation() {
    let tp = TestPlatform::start().await;
    let first = password_grant(&tp, "onyxia", "alice", "alice").await;
    let old = first["refresh_token"].as_str().unwrap();
    let form = |t: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", "onyxia".into()),
            ("refresh_token", t.into()),
        ]
    };
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .form(&form(old))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated: serde_json::Value = r.json().await.unwrap();
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .form(&form(old))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Stale token")
    );
    // The rotated one still works, once; another client cannot use it.
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "onyxia-minio"),
            ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .form(&form(rotated["refresh_token"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tp.stop().await;
}

#[tokio::test]
async fn tampered_and_expired_access_tokens_at_userinfo() {
    let dir = tempfile::tempdir().unwrap();
    fixtures_with_realm(dir.path(), |t| {
        t.replace("access_token_lifespan = 300", "access_token_lifespan = 1")
    });
    let mut config = test_config();
    config.fixtures = Some(dir.path().to_owned());
    let tp = TestPlatform::start_with(config).await;
    let tokens = password_grant(&tp, "onyxia", "alice", "alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let ok = http
        .get(tp.oidc("userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // Change one claim but keep the signature: refused.
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let mut payload = crate::oidc_flow::decode_payload(access);
    payload["preferred_username"] = "bob".into();
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    for bad in [tampered.as_str(), "not-a-jwt", ""] {
        let r = http
            .get(tp.oidc("userinfo"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");
    }
    tp.advance(2);
    let expired = http
        .get(tp.oidc("userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    let body: serde_json::Value = expired.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Expired"),
        "{body}"
    );
    tp.stop().await;
}

#[tokio::test]
async fn bad_password_then_rate_limit() {
    let tp = TestPlatform::start().await;
    for _ in 0..5 {
        let reply = token_request(
            &tp,
            &[
                ("grant_type", "password"),
                ("client_id", "onyxia"),
                ("username", "bob"),
                ("password", "guess"),
            ],
        )
        .await;
        assert_eq!(error_of(&reply), (400, "invalid_grant"));
        assert_eq!(reply.1["error_description"], "Invalid user credentials");
    }
    // Locked now, even with the right password; another user is not affected.
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "bob"),
            ("password", "bob"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("retry-after").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Too many failed login attempts")
    );
    password_grant(&tp, "onyxia", "alice", "alice").await;

    // The login form says so too.
    let (_, challenge) = pkce();
    let page = submit_login(
        &browser(),
        &auth_url(&tp, "onyxia", &callback(&tp), Some(&challenge)),
        "bob",
        "bob",
    )
    .await;
    assert_eq!(page.status(), 429);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts")
    );
    tp.stop().await;
}

#[tokio::test]
async fn password_grant_can_be_switched_off() {
    let mut config = test_config();
    config.oidc.password_grant = false;
    let tp = TestPlatform::start_with(config).await;
    let reply = token_request(
        &tp,
        &[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "alice"),
            ("password", "alice"),
        ],
    )
    .await;
    assert_eq!(error_of(&reply), (400, "unauthorized_client"));
    tp.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_oauth_errors() {
    let tp = TestPlatform::start().await;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        http.post(tp.oidc("token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"client_id=onyxia".to_vec(), 400, "invalid_request"),
        (
            b"grant_type=password&grant_type=password&client_id=onyxia".to_vec(),
            400,
            "invalid_request",
        ),
        (
            b"grant_type=%ff%fe&client_id=onyxia".to_vec(),
            400,
            "invalid_request",
        ),
        (
            b"grant_type=\xff&client_id=onyxia".to_vec(),
            400,
            "invalid_request",
        ),
        (
            b"grant_type=magic&client_id=onyxia".to_vec(),
            400,
            "unsupported_grant_type",
        ),
        (
            b"grant_type=authorization_code&client_id=onyxia".to_vec(),
            400,
            "invalid_request",
        ),
        (b"grant_type=password".to_vec(), 401, "invalid_client"),
        (vec![b'a'; 2 * 1024 * 1024], 413, "invalid_request"),
    ];
    for (body, status, error) in cases {
        let preview = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let r = post(body).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{preview}");
        let json: serde_json::Value = r.json().await.unwrap();
        assert_eq!(json["error"], error, "{preview}");
    }
    let json_body = http
        .post(tp.oidc("token"))
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400);

    // Authorization endpoint: unknown client and malformed query stay on an error page.
    let r = browser()
        .get(format!(
            "{}?client_id=ghost&response_type=code",
            tp.oidc("auth")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Client not found."));
    let r = browser()
        .get(format!("{}?client_id=%ff", tp.oidc("auth")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Unknown realm: Keycloak's 404.
    let r = http
        .get(format!(
            "{}/realms/nope/.well-known/openid-configuration",
            tp.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Login form POST without its CSRF cookie is refused.
    let (_, challenge) = pkce();
    let page = browser()
        .get(auth_url(&tp, "onyxia", &callback(&tp), Some(&challenge)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = html_attr(&page, "action=\"");
    let csrf = html_attr(&page, "name=\"csrf\" value=\"");
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = forged
        .post(format!("{}{action}", tp.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "alice"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    tp.stop().await;
}
