//! Enrolling a class with `onyxia-lite class import`: generated one-time passwords written
//! for the teacher, a student's first login through the login page replacing theirs (the
//! `openidconnect` crate as relying party), STS with the token, an idempotent re-import,
//! `--prune` disabling a student whose tokens then stop working, and the import refused while
//! the platform serves the data directory.

use std::path::Path;
use std::process::Command;

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, TokenResponse};

use crate::oidc_flow::relying_party;
use crate::process::BIN;
use crate::s3_support::*;
use crate::support::*;

/// Runs `class import` on `data`; returns (success, stdout, stderr).
fn import(data: &Path, list: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["class", "import", "--data-dir"])
        .arg(data)
        .arg(list)
        .args(extra)
        // Cheap hashing, as the test platforms use.
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_MEMORY_KIB", "64")
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_ITERATIONS", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The (username, password) rows of a passwords CSV.
fn passwords(csv: &str) -> Vec<(String, String)> {
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .collect()
}

/// A first login with a one-time password, as a browser does it: the login form, then the
/// "update password" form (after the refusals it must give), then the code exchange.
/// Returns the preferred_username of the ID token.
async fn first_login(tp: &TestPlatform, user: &str, one_time: &str, chosen: &str) -> String {
    let http = browser();
    let rp = relying_party(tp, &http).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let page = submit_login(&http, auth_url.as_str(), user, one_time).await;
    assert_eq!(page.status(), 200, "the update-password page");
    let html = page.text().await.unwrap();
    assert!(html.contains("Update password"), "{html}");
    let action = format!(
        "{}{}",
        tp.running.endpoints.url,
        html_attr(&html, "action=\"")
    );
    let csrf = html_attr(&html, "name=\"csrf\" value=\"");
    let post = |new: &str, again: &str| {
        let form = [
            ("csrf", csrf.clone()),
            ("password-new", new.to_owned()),
            ("password-confirm", again.to_owned()),
        ];
        http.post(&action).form(&form).send()
    };
    for (new, again, says) in [
        ("first-choice", "other-choice", "Passwords don&#39;t match."),
        ("short", "short", "at least 8 characters"),
        (one_time, one_time, "must differ from the current one"),
    ] {
        let refused = post(new, again).await.unwrap();
        assert_eq!(refused.status(), 400);
        let text = refused.text().await.unwrap();
        assert!(text.contains(says), "{says}: {text}");
    }
    let done = post(chosen, chosen).await.unwrap();
    let code = query(&location(&done), "code").expect("a code once the password is set");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &nonce)
        .unwrap();
    claims.preferred_username().unwrap().as_str().to_owned()
}

async fn platform_on(data: &Path) -> TestPlatform {
    let mut config = test_config();
    config.ephemeral = false;
    config.data_dir = Some(data.to_owned());
    TestPlatform::start_with(config).await
}

#[tokio::test]
async fn a_class_list_enrols_students_who_log_in_and_prune_disables_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let list = dir.path().join("students.csv");
    std::fs::write(
        &list,
        "username,email,display name,groups,password\n\
         s1,s1@school.org,Sam One,class-a,\n\
         s2,,Sue Two,class-a,\n\
         s3,,Sid Three,class-a;teachers,chosen-by-teacher\n",
    )
    .unwrap();
    let out_file = dir.path().join("passwords.csv");
    let out_arg = out_file.to_str().unwrap();
    let (ok, _, stderr) = import(&data, &list, &["--passwords-out", out_arg]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("3 added"), "{stderr}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&out_file).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "one-time passwords are for the teacher only"
    );
    let generated = passwords(&std::fs::read_to_string(&out_file).unwrap());
    let names: Vec<&str> = generated.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["s1", "s2"], "s3's password came with the list");

    // A one-time password opens nothing until it is replaced on the login page.
    let tp = platform_on(&data).await;
    let (status, body) = token_request(
        &tp,
        &[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "s1"),
            ("password", &generated[0].1),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_description"], "Account is not fully set up");
    assert_eq!(
        first_login(&tp, "s1", &generated[0].1, "s1-own-secret").await,
        "s1"
    );
    assert_eq!(
        first_login(&tp, "s2", &generated[1].1, "s2-own-secret").await,
        "s2"
    );
    // Then students log in with their own password, and get S3 keys from their token.
    password_grant(&tp, "onyxia", "s1", "s1-own-secret").await;
    password_grant(&tp, "onyxia", "s3", "chosen-by-teacher").await;
    let s2_token = password_grant(&tp, "onyxia-minio", "s2", "s2-own-secret").await;
    let s2_token = s2_token["access_token"].as_str().unwrap().to_owned();
    sts_credentials(&tp, "s2", "s2-own-secret").await;

    // While it serves, the data directory cannot be imported into.
    let (ok, _, stderr) = import(&data, &list, &[]);
    assert!(!ok && stderr.contains("stop the platform"), "{stderr}");
    tp.stop().await;

    // Again: nothing changes, nobody gets a new password.
    let (ok, stdout, stderr) = import(&data, &list, &[]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("3 unchanged") && stdout.is_empty(),
        "{stderr}"
    );

    // s2 leaves the class: disabled, their login and their token refused.
    std::fs::write(&list, "username,groups\ns1,class-a\ns3,class-a;teachers\n").unwrap();
    let (ok, _, stderr) = import(&data, &list, &["--prune"]);
    assert!(ok && stderr.contains("1 disabled"), "{stderr}");
    let tp = platform_on(&data).await;
    let (status, body) = token_request(
        &tp,
        &[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "s2"),
            ("password", "s2-own-secret"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let refused = sts_client(&tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name("s2")
        .web_identity_token(s2_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "InvalidIdentityToken");
    // s1 still logs in with the password they chose.
    password_grant(&tp, "onyxia", "s1", "s1-own-secret").await;
    tp.stop().await;

    // A list with a mistake changes nothing and names the line.
    std::fs::write(&list, "username\ns1\nnot valid\n").unwrap();
    let (ok, _, stderr) = import(&data, &list, &[]);
    assert!(!ok && stderr.contains("line 3"), "{stderr}");
}

/// POSTs a class list to the running platform's API with `user`'s token.
async fn api_import(
    tp: &TestPlatform,
    user: &str,
    list: &str,
    prune: bool,
) -> (u16, serde_json::Value) {
    let token = password_grant(tp, "onyxia", user, user).await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/class/import?prune={prune}",
            tp.running.endpoints.url
        ))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(list.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn names(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_teacher_enrols_a_class_through_the_api_within_their_rights() {
    let tp = TestPlatform::start().await;
    // Not a teacher: refused.
    let (status, body) = api_import(&tp, "alice", "username\nx1\n", false).await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = api_import(
        &tp,
        "teacher",
        "username,groups\na1,class-a\na2,class-a\n",
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body["added"]), ["a1", "a2"]);
    assert_eq!(body["passwords"].as_array().unwrap().len(), 2);
    let a2_password = body["passwords"][1]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = api_import(&tp, "teacher", "username,groups\nb1,class-b\n", false).await;
    assert_eq!(status, 200);
    // The enrolled student exists at once: their one-time password is waiting to be replaced.
    let (status, body) = token_request(
        &tp,
        &[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "a2"),
            ("password", &a2_password),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_description"], "Account is not fully set up");

    // A teacher's prune reaches only the groups their list names: class-b stays.
    let (status, body) = api_import(&tp, "teacher", "username,groups\na1,class-a\n", true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body["disabled"]), ["a2"]);
    assert!(body["passwords"].as_array().unwrap().is_empty());

    // The platform's own accounts and teachers are not a teacher's to change.
    for list in [
        "username,password\nalice,taken-over!\n",
        "username,groups\nnew-teacher,teachers\n",
    ] {
        let (status, body) = api_import(&tp, "teacher", list, false).await;
        assert_eq!(status, 403, "{list}: {body}");
    }
    password_grant(&tp, "onyxia", "alice", "alice").await;
    // A list with a mistake is refused whole, in the API's problem format.
    let (status, body) = api_import(&tp, "teacher", "username\na1\nbad name\n", false).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("line 3"),
        "{body}"
    );
    tp.stop().await;
}
