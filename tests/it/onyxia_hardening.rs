//! The Onyxia API under hostile input: usernames that fold to the same label keep their own
//! projects, and every error is problem+json whatever the Content-Type says.

use reqwest::Method;
use serde_json::{Value, json};

use crate::lab_support::{Api, config_without_engine, status_and_json};
use crate::support::TestPlatform;

/// A realm with users whose names differ only in characters a namespace cannot hold.
fn lookalike_users(dir: &std::path::Path) {
    let users = ["jane.doe", "jane-doe", "jane_doe"]
        .iter()
        .map(|u| format!("[[user]]\nusername = \"{u}\"\npassword = \"pw-{u}\"\n"))
        .collect::<String>();
    std::fs::write(dir.join("users.toml"), users).unwrap();
}

#[tokio::test]
async fn lookalike_usernames_get_distinct_personal_projects() {
    let fixtures = tempfile::tempdir().unwrap();
    lookalike_users(fixtures.path());
    let mut config = config_without_engine();
    config.fixtures = Some(fixtures.path().to_owned());
    let tp = TestPlatform::start_with(config).await;
    let mut ids = Vec::new();
    for user in ["jane.doe", "jane-doe", "jane_doe"] {
        let (status, info) = Api::new(&tp, user).get("/user/info").await;
        assert_eq!(status, 200, "{info}");
        let personal = info["projects"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(info["projects"][0]["vaultTopDir"], format!("user-{user}"));
        ids.push((user, personal));
    }
    assert_eq!(ids[1].1, "user-jane-doe", "a name that is a label keeps it");
    for (i, (a, pa)) in ids.iter().enumerate() {
        for (b, pb) in &ids[i + 1..] {
            assert_ne!(pa, pb, "{a} and {b} share a project");
        }
    }
    // Nobody may act in another's personal project.
    for (user, _) in &ids {
        for (other, project) in &ids {
            if user == other {
                continue;
            }
            let mut api = Api::new(&tp, user);
            api.project = Some(project.clone());
            let (status, problem) = api.get("/my-lab/services").await;
            assert_eq!(status, 403, "{user} in {other}'s project: {problem}");
        }
    }
    tp.stop().await;
}

async fn expect_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {}",
        response.status()
    );
    let (got, body) = status_and_json(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

#[tokio::test]
async fn every_api_error_is_problem_json_whatever_the_content_type() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let bob = Api::new(&tp, "bob");

    // Malformed JSON: 400, on every endpoint that reads a body.
    for (method, path) in [
        (Method::PUT, "/my-lab/app"),
        (Method::POST, "/my-lab/app/rename"),
        (Method::POST, "/onboarding"),
    ] {
        for content_type in ["application/json", "text/plain", ""] {
            let mut request = bob.request(method.clone(), path).body("{not json");
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            expect_problem(request.send().await.unwrap(), 400).await;
        }
    }

    // A body over the limit: 413.
    let big = vec![b' '; 2 * 1024 * 1024];
    let response = bob
        .request(Method::PUT, "/my-lab/app")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_problem(response, 413).await;

    // The same onboarding request answers the same with or without a Content-Type.
    let body = json!({"group": "teachers"}).to_string();
    for content_type in ["application/json", "text/plain", ""] {
        let mut request = bob.request(Method::POST, "/onboarding").body(body.clone());
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        expect_problem(request.send().await.unwrap(), 403).await;
    }

    // A method the endpoint does not have: 405 with Allow, as problem+json too.
    let response = bob
        .request(Method::PATCH, "/my-lab/app")
        .send()
        .await
        .unwrap();
    let allow = response.headers().get("allow").cloned();
    expect_problem(response, 405).await;
    assert!(allow.is_some(), "405 keeps its Allow header");
    tp.stop().await;
}
