//! The full browser-style login with the `openidconnect` crate as relying party.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::*;

/// The platform listens on 127.0.0.1 but its issuer says `localhost`: point the RP at the
/// issuer URL it publishes (both resolve to loopback).
pub async fn relying_party(
    tp: &TestPlatform,
    http: &reqwest::Client,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(tp.issuer.clone()).unwrap(), http)
            .await
            .expect("discovery accepted by openidconnect");
    CoreClient::from_provider_metadata(metadata, ClientId::new("onyxia".into()), None)
        .set_redirect_uri(
            RedirectUrl::new(format!("{}/callback", tp.running.endpoints.url)).unwrap(),
        )
}

#[tokio::test]
async fn code_flow_with_pkce_userinfo_refresh_logout() {
    let tp = TestPlatform::start().await;
    let http = browser();
    let rp = relying_party(&tp, &http).await;

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Bad password first: the form comes back with an error, no redirect.
    let failed = submit_login(&http, auth_url.as_str(), "alice", "wrong").await;
    assert_eq!(failed.status(), 401);
    assert!(
        failed
            .text()
            .await
            .unwrap()
            .contains("Invalid username or password.")
    );

    let done = submit_login(&http, auth_url.as_str(), "alice", "alice").await;
    let back = location(&done);
    assert!(
        back.as_str()
            .starts_with(&format!("{}/callback", tp.running.endpoints.url))
    );
    assert_eq!(
        query(&back, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(query(&back, "iss").as_deref(), Some(tp.issuer.as_str()));
    let code = query(&back, "code").expect("code in redirect");

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("id_token for the openid scope");
    let claims = id_token
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "alice");
    assert_eq!(claims.email().unwrap().as_str(), "alice@example.org");
    assert!(claims.auth_time().is_some());
    // at_hash is checked against the access token by the crate's helper.
    let at_hash = claims.access_token_hash().expect("at_hash");
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&rp.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(at_hash, &expected);

    let info: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username().unwrap().as_str(), "alice");

    // Access token: Keycloak-shaped claims a resource server reads.
    let access = decode_payload(tokens.access_token().secret());
    assert_eq!(access["iss"], tp.issuer.as_str());
    assert_eq!(access["azp"], "onyxia");
    assert_eq!(access["aud"], "onyxia");
    assert_eq!(access["typ"], "Bearer");
    assert_eq!(access["groups"], serde_json::json!(["demo"]));
    assert!(access["scope"].as_str().unwrap().contains("openid"));
    assert!(access["sid"].is_string());

    // A second authorization reuses the SSO session: no form, straight back with a code.
    let (challenge2, _) = PkceCodeChallenge::new_random_sha256();
    let (again, _, _) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge2)
        .url();
    let sso = http.get(again.as_str()).send().await.unwrap();
    assert!(
        query(&location(&sso), "code").is_some(),
        "SSO session reused"
    );

    let refresh = tokens.refresh_token().expect("refresh token").clone();
    let refreshed = rp
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let new_id = refreshed.id_token().expect("new id_token");
    let new_claims = new_id
        .claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(
        new_claims.subject(),
        claims.subject(),
        "sub stable across refresh"
    );
    assert_eq!(
        new_claims.auth_time(),
        claims.auth_time(),
        "auth_time stable across refresh"
    );
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret(),
        "rotated"
    );

    // RP-initiated logout with a registered post-logout URI.
    let logout = http
        .get(tp.oidc("logout"))
        .query(&[
            ("id_token_hint", new_id.to_string().as_str()),
            (
                "post_logout_redirect_uri",
                &format!("{}/bye", tp.running.endpoints.url),
            ),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    let bye = location(&logout);
    assert_eq!(bye.path(), "/bye");
    assert_eq!(query(&bye, "state").as_deref(), Some("s1"));

    // The session is over: its tokens stop working.
    let after = reqwest::Client::new()
        .get(tp.oidc("userinfo"))
        .bearer_auth(refreshed.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let (status, body) = token_request(
        &tp,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "onyxia"),
            ("refresh_token", refreshed.refresh_token().unwrap().secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // And the browser must log in again.
    let (challenge3, _) = PkceCodeChallenge::new_random_sha256();
    let (third, _, _) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge3)
        .url();
    assert_eq!(
        http.get(third.as_str()).send().await.unwrap().status(),
        200,
        "login form again"
    );
    tp.stop().await;
}

pub fn decode_payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn minio_client_token_carries_policy_and_audience() {
    let tp = TestPlatform::start().await;
    let body = password_grant(&tp, "onyxia-minio", "bob", "bob").await;
    let access = decode_payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["policy"], "stsonly");
    assert_eq!(access["aud"], serde_json::json!(["onyxia-minio", "minio"]));
    assert_eq!(access["preferred_username"], "bob");
    let header = decode_header(body["access_token"].as_str().unwrap());
    assert!(
        header["kid"].is_string(),
        "MinIO refuses tokens without kid"
    );
    let id = decode_payload(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], "onyxia-minio", "ID token has one audience");
    assert_eq!(id["policy"], "stsonly");
    tp.stop().await;
}

fn decode_header(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn client_credentials_and_basic_auth() {
    let tp = TestPlatform::start().await;
    let r = reqwest::Client::new()
        .post(tp.oidc("token"))
        .basic_auth("vault", Some("vault-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    let access = decode_payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["preferred_username"], "service-account-vault");
    // client_secret_post works too.
    let (status, _) = token_request(
        &tp,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "vault"),
            ("client_secret", "vault-secret"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    tp.stop().await;
}

#[tokio::test]
async fn es256_keys_verify_with_the_relying_party() {
    let mut config = test_config();
    config.oidc.signing_key = None;
    config.oidc.signing_algorithm = onyxia_lite::config::SigningAlgorithm::ES256;
    let tp = TestPlatform::start_with(config).await;
    let http = browser();
    let rp = relying_party(&tp, &http).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let done = submit_login(&http, auth_url.as_str(), "alice", "alice").await;
    let code = query(&location(&done), "code").unwrap();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let verifier = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&verifier, &nonce)
        .expect("ES256 ID token verifies");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "alice");
    tp.stop().await;
}

#[tokio::test]
async fn cors_for_registered_web_origins_only() {
    let tp = TestPlatform::start().await;
    let http = reqwest::Client::new();
    let origin = tp.running.endpoints.url.clone();
    let preflight = http
        .request(reqwest::Method::OPTIONS, tp.oidc("token"))
        .header("Origin", &origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        origin.as_str()
    );
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let evil = http
        .get(tp.oidc("certs"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        evil.headers()["access-control-allow-origin"],
        "https://evil.example",
        "keys are public"
    );
    let evil_token = http
        .post(tp.oidc("token"))
        .header("Origin", "https://evil.example")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(
        evil_token
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    tp.stop().await;
}
