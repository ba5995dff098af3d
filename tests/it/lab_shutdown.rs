//! Shutdown and the deploys still running after their install answered: shutdown waits for
//! them, then cancels those that outlive the grace period. The engine is a fake Docker API
//! that answers what detection and an install ask, and takes its time with the image.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use reqwest::Method;
use serde_json::json;

use crate::lab_support::Api;
use crate::support::{TestPlatform, test_config};

/// A Docker API on a loopback port. Its image inspection answers "no such image" after
/// `image_delay` (never when `None`), and pulls always fail.
async fn fake_engine(image_delay: Option<Duration>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |uri: Uri| answer(uri, image_delay));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("tcp://{addr}")
}

async fn answer(uri: Uri, image_delay: Option<Duration>) -> axum::response::Response {
    let path = uri.path();
    let not_found = |what: &str| {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": format!("no such {what}")})),
        )
            .into_response()
    };
    if path.ends_with("/version") {
        axum::Json(json!({"Version": "0-fake", "ApiVersion": "1.41"})).into_response()
    } else if path.ends_with("/info") {
        axum::Json(json!({"OperatingSystem": "fake engine"})).into_response()
    } else if path.ends_with("/containers/json") {
        axum::Json(json!([])).into_response()
    } else if path.contains("/images/create") {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"message": "the fake engine pulls nothing"})),
        )
            .into_response()
    } else if path.contains("/images/") && path.ends_with("/json") {
        match image_delay {
            Some(delay) => tokio::time::sleep(delay).await,
            None => std::future::pending::<()>().await,
        }
        not_found("image")
    } else if path.ends_with("/events") {
        std::future::pending().await
    } else {
        not_found("thing")
    }
}

/// Starts a platform on the fake engine and installs the test package as alice.
async fn install_on(engine: String, release: &str) -> TestPlatform {
    let mut config = test_config();
    config.onyxia.docker_host = Some(engine);
    let tp = TestPlatform::start_with(config).await;
    assert!(
        tp.running.lab().runtime().is_some(),
        "the fake engine is found"
    );
    let (status, body) = Api::new(&tp, "alice")
        .send(
            Method::PUT,
            "/my-lab/app",
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
                    "name": release, "options": {}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    tp
}

fn reasons(lab: &onyxia_lite::services::Lab, release: &str) -> Vec<String> {
    let (past, _) = lab.events.follow("user-alice");
    past.into_iter()
        .filter(|e| e.release == release)
        .map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn shutdown_waits_for_a_deploy_in_flight() {
    let engine = fake_engine(Some(Duration::from_millis(800))).await;
    let tp = install_on(engine, "tiny-late").await;
    let lab = tp.running.lab().clone();
    assert!(
        reasons(&lab, "tiny-late").is_empty(),
        "the deploy is still waiting"
    );

    tp.stop().await;
    // The deploy ran to its end (the fake engine refuses the pull) before shutdown returned,
    // and nothing the platform started holds the lab any more.
    assert_eq!(reasons(&lab, "tiny-late"), ["Pulling", "Failed"]);
    assert_eq!(Arc::strong_count(&lab), 1);
}

#[tokio::test]
async fn shutdown_cancels_a_deploy_stuck_past_the_grace_period() {
    let engine = fake_engine(None).await;
    let tp = install_on(engine, "tiny-stuck").await;
    let lab = tp.running.lab().clone();

    let started = Instant::now();
    tp.stop().await;
    let took = started.elapsed();
    // Ten seconds of grace, then the deploy is cancelled: dropped, not left running.
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert!(reasons(&lab, "tiny-stuck").is_empty());
    assert_eq!(Arc::strong_count(&lab), 1);
}
