//! The account page at Keycloak's path, where onyxia-web's "Account management" link goes:
//! sign-in, profile, password change (other sessions end, the new password survives a
//! restart), sign out everywhere, the link back, and refusals of forged forms.

use crate::support::{TestPlatform, browser, html_attr, test_config, token_request};

struct Account<'a> {
    tp: &'a TestPlatform,
    http: reqwest::Client,
    query: String,
}

impl<'a> Account<'a> {
    fn new(tp: &'a TestPlatform) -> Self {
        // The referrer's redirect URIs and the browser's Origin are the public URL's.
        let back = format!("{}/my-services", tp.running.endpoints.url);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("referrer", "onyxia")
            .append_pair("referrer_uri", &back)
            .append_pair("kc_locale", "en")
            .finish();
        Account {
            tp,
            http: browser(),
            query,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/realms/datalab/account{path}?{}",
            self.tp.base, self.query
        )
    }

    async fn page(&self) -> (u16, String) {
        let r = self.http.get(self.url("")).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn sign_in(&self, user: &str, password: &str) -> u16 {
        let (status, html) = self.page().await;
        assert_eq!(status, 200);
        assert!(html.contains("name=\"password\""), "a sign-in form: {html}");
        let r = self
            .http
            .post(self.url("/login"))
            .header("origin", &self.tp.running.endpoints.url)
            .form(&[("username", user), ("password", password)])
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let (_, html) = self.page().await;
        let token = html_attr(&html, "name=\"token\" value=\"");
        let mut form = vec![("token", token.as_str())];
        form.extend_from_slice(fields);
        let r = self
            .http
            .post(self.url(path))
            .header("origin", &self.tp.running.endpoints.url)
            .form(&form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

async fn grant(tp: &TestPlatform, password: &str) -> (u16, serde_json::Value) {
    token_request(
        tp,
        &[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "alice"),
            ("password", password),
        ],
    )
    .await
}

#[tokio::test]
async fn profile_password_change_and_sign_out_everywhere() {
    let data = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.ephemeral = false;
    config.data_dir = Some(data.path().to_owned());
    let tp = TestPlatform::start_with(config.clone()).await;

    // Signed out: the page asks for a sign-in, which lands back on the page.
    let laptop = Account::new(&tp);
    assert_eq!(laptop.sign_in("alice", "wrong").await, 401);
    assert_eq!(laptop.sign_in("alice", "alice").await, 303);
    let (status, html) = laptop.page().await;
    assert_eq!(status, 200);
    for shown in ["alice", "Alice", "alice@example.org", "Change password"] {
        assert!(html.contains(shown), "{shown} missing: {html}");
    }
    assert!(
        html.contains(&format!(
            "href=\"{}/my-services\"",
            tp.running.endpoints.url
        )),
        "link back to the referrer: {html}"
    );

    // A second device, and a token from the password grant.
    let phone = Account::new(&tp);
    assert_eq!(phone.sign_in("alice", "alice").await, 303);
    let (status, tokens) = grant(&tp, "alice").await;
    assert_eq!(status, 200);
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Refusals: a wrong current password, a mismatch, a short one, a forged form.
    let (status, html) = laptop
        .post(
            "/password",
            &[
                ("password", "nope"),
                ("password-new", "correct horse"),
                ("password-confirm", "correct horse"),
            ],
        )
        .await;
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("current password is not right"), "{html}");
    let (status, _) = laptop
        .post(
            "/password",
            &[
                ("password", "alice"),
                ("password-new", "correct horse"),
                ("password-confirm", "correct hose"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (status, html) = laptop
        .post(
            "/password",
            &[
                ("password", "alice"),
                ("password-new", "short"),
                ("password-confirm", "short"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("at least 8 characters"), "{html}");
    let forged = laptop
        .http
        .post(laptop.url("/password"))
        .header("origin", &tp.running.endpoints.url)
        .form(&[
            ("token", "forged"),
            ("password", "alice"),
            ("password-new", "correct horse"),
            ("password-confirm", "correct horse"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross_site = laptop
        .http
        .post(laptop.url("/sign-out-everywhere"))
        .header("origin", "http://evil.example")
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(grant(&tp, "alice").await.0, 200, "nothing changed yet");

    // The change: the other device and the refresh token are signed out; this page is not.
    let (status, html) = laptop
        .post(
            "/password",
            &[
                ("password", "alice"),
                ("password-new", "correct horse"),
                ("password-confirm", "correct horse"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Your password was changed"), "{html}");
    let (_, on_phone) = phone.page().await;
    assert!(on_phone.contains("Sign in"), "the phone is signed out");
    let (_, on_laptop) = laptop.page().await;
    assert!(on_laptop.contains("Change password"), "the laptop stays in");
    let (status, refused) = token_request(
        &tp,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "onyxia"),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, old) = grant(&tp, "alice").await;
    assert_eq!(old["error"], "invalid_grant", "the old password is gone");
    assert_eq!(grant(&tp, "correct horse").await.0, 200);

    // Sign out everywhere ends the page's own session too.
    let (status, html) = laptop.post("/sign-out-everywhere", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("signed out everywhere"), "{html}");
    assert!(
        html.contains(&format!("{}/my-services", tp.running.endpoints.url)),
        "{html}"
    );
    let (_, after) = laptop.page().await;
    assert!(after.contains("Sign in"), "{after}");

    // A redirect the referrer client does not list gets no link.
    let stranger = Account {
        tp: &tp,
        http: browser(),
        query: "referrer=onyxia&referrer_uri=https%3A%2F%2Fevil.example%2F".into(),
    };
    assert_eq!(stranger.sign_in("alice", "correct horse").await, 303);
    let (_, html) = stranger.page().await;
    assert!(html.contains("Change password"), "{html}");
    assert!(!html.contains("id=\"back\""), "{html}");
    tp.stop().await;

    // The chosen password survives a restart; the fixture's does not come back.
    let tp = TestPlatform::start_with(config).await;
    assert_eq!(grant(&tp, "correct horse").await.0, 200);
    assert_eq!(grant(&tp, "alice").await.1["error"], "invalid_grant");
    tp.stop().await;
}
