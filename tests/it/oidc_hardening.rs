//! Defences against misuse: replays, races, downgrades, cross-site tricks.

use crate::oidc_errors::{auth_url, callback, code_for_alice, error_of, exchange, pkce};
use crate::support::*;

#[tokio::test]
async fn reused_code_ends_the_session_it_started() {
    let tp = TestPlatform::start().await;
    let (code, verifier) = code_for_alice(&tp).await;
    let ok = exchange(&tp, &code, &verifier, &callback(&tp)).await;
    assert_eq!(ok.0, 200);
    let access = ok.1["access_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let url = tp.oidc("userinfo");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access.clone()).await, 200);
    let replay = exchange(&tp, &code, &verifier, &callback(&tp)).await;
    assert_eq!(error_of(&replay), (400, "invalid_grant"));
    assert_eq!(
        userinfo(access).await,
        401,
        "tokens of a replayed code are revoked"
    );
    tp.stop().await;
}

#[tokio::test]
async fn refresh_token_replayed_late_ends_the_session() {
    let tp = TestPlatform::start().await;
    let first = password_grant(&tp, "onyxia", "alice", "alice").await;
    let old = first["refresh_token"].as_str().unwrap();
    let refresh = |t: String| {
        let tp = &tp;
        async move {
            token_request(
                tp,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", "onyxia"),
                    ("refresh_token", &t),
                ],
            )
            .await
        }
    };
    let rotated = refresh(old.to_owned()).await;
    assert_eq!(rotated.0, 200);
    tp.advance(4);
    let replay = refresh(old.to_owned()).await;
    assert_eq!(error_of(&replay), (400, "invalid_grant"));
    // Whoever held the newer token loses it too.
    let newer = refresh(rotated.1["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(error_of(&newer), (400, "invalid_grant"));
    tp.stop().await;
}

#[tokio::test]
async fn pkce_verifier_without_challenge_is_refused() {
    let tp = TestPlatform::start().await;
    let http = browser();
    let url = auth_url(&tp, "vault", &callback(&tp), None);
    // The browser talks to the issuer's host, where its cookies live.
    let url = url.replace(&tp.base, &tp.running.endpoints.url);
    let done = submit_login(&http, &url, "alice", "alice").await;
    let code = query(&location(&done), "code").unwrap();
    let (verifier, _) = pkce();
    let reply = token_request(
        &tp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "vault"),
            ("client_secret", "vault-secret"),
            ("code", &code),
            ("redirect_uri", &callback(&tp)),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(error_of(&reply), (400, "invalid_grant"));
    tp.stop().await;
}

#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_limit() {
    let tp = TestPlatform::start().await;
    let guesses = (0..20).map(|i| {
        let tp = &tp;
        async move {
            let guess = format!("guess{i}");
            token_request(
                tp,
                &[
                    ("grant_type", "password"),
                    ("client_id", "onyxia"),
                    ("username", "bob"),
                    ("password", &guess),
                ],
            )
            .await
        }
    });
    let replies = futures_join_all(guesses).await;
    let checked = replies
        .iter()
        .filter(|r| r.1["error_description"] == "Invalid user credentials")
        .count();
    assert_eq!(
        checked, 5,
        "exactly the per-user limit of guesses reached the password check"
    );
    tp.stop().await;
}

/// Runs futures concurrently on this task (no extra crate needed).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn logout_hint_of_another_session_asks_first() {
    let tp = TestPlatform::start().await;
    let issuer_host = tp.running.endpoints.url.clone();
    // Mallory's own ID token, opened in Alice's signed-in browser.
    let mallory = password_grant(&tp, "onyxia", "bob", "bob").await;
    let http = browser();
    let (_, challenge) = pkce();
    let url =
        auth_url(&tp, "onyxia", &callback(&tp), Some(&challenge)).replace(&tp.base, &issuer_host);
    submit_login(&http, &url, "alice", "alice").await;
    let logout = format!("{issuer_host}/realms/datalab/protocol/openid-connect/logout");
    let page = http
        .get(&logout)
        .query(&[("id_token_hint", mallory["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Do you want to sign out")
    );
    // Alice is still signed in: a new authorization needs no form.
    let (_, challenge) = pkce();
    let again = http
        .get(
            auth_url(&tp, "onyxia", &callback(&tp), Some(&challenge))
                .replace(&tp.base, &issuer_host),
        )
        .send()
        .await
        .unwrap();
    assert!(query(&location(&again), "code").is_some());
    // An access token is not an ID token hint.
    let wrong = http
        .get(&logout)
        .query(&[("id_token_hint", mallory["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    tp.stop().await;
}

#[tokio::test]
async fn login_by_email_keycloak_js_probe_and_no_cors_on_navigation() {
    let tp = TestPlatform::start().await;
    password_grant(&tp, "onyxia", "alice@example.org", "alice").await;
    let http = reqwest::Client::new();
    let probe = http
        .get(tp.oidc("3p-cookies/step1.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    assert!(probe.text().await.unwrap().contains("unsupported"));
    let (_, challenge) = pkce();
    let page = http
        .get(auth_url(&tp, "onyxia", &callback(&tp), Some(&challenge)))
        .header("Origin", &tp.running.endpoints.url)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get("access-control-allow-origin").is_none(),
        "a login page is never readable cross-origin"
    );
    tp.stop().await;
}
