//! Logs and port-forward of the fake, through kube's streaming APIs.

use std::time::Duration;

use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{api_error, backend, from};
use crate::kube_fake::FakeCluster;

#[tokio::test]
async fn logs_cut_and_follow_until_the_pod_goes() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    fake.add_image("app", backend("hi").await, "one\ntwo\nthree\n");
    let pods = Api::<Pod>::default_namespaced(client.clone());
    let pod: Pod = from(
        json!({"metadata": {"name": "w"}, "spec": {"containers": [{"name": "main", "image": "app"}]}}),
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(
        pods.logs("w", &LogParams::default()).await.unwrap(),
        "one\ntwo\nthree\n"
    );
    let tail = LogParams {
        tail_lines: Some(1),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("w", &tail).await.unwrap(), "three\n");
    let limit = LogParams {
        limit_bytes: Some(5),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("w", &limit).await.unwrap(), "one\nt");
    assert_eq!(
        api_error(pods.logs("gone", &LogParams::default()).await.unwrap_err()).0,
        404
    );
    let follow = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let mut lines = pods.log_stream("w", &follow).await.unwrap().lines();
    assert_eq!(lines.next().await.unwrap().unwrap(), "one");
    lines.next().await.unwrap().unwrap();
    lines.next().await.unwrap().unwrap();
    let still_open = tokio::time::timeout(Duration::from_millis(300), lines.next()).await;
    assert!(
        still_open.is_err(),
        "the followed log ended while the pod lives"
    );
    pods.delete("w", &DeleteParams::default()).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), lines.next())
        .await
        .expect("log follow ends");
    assert!(end.is_none());
}

#[tokio::test]
async fn port_forward_reaches_the_backend() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    fake.add_image("web:1", backend("hello from the pod").await, "");
    let pods = Api::<Pod>::default_namespaced(client.clone());
    let pod: Pod = from(
        json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "main", "image": "web:1", "ports": [{"containerPort": 8888}]}]}}),
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let mut pf = pods.portforward("web", &[8888]).await.unwrap();
    let mut stream = pf.take_stream(8888).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello from the pod"), "{answer}");
}

#[tokio::test]
async fn port_forward_without_a_backend_is_an_error() {
    let fake = FakeCluster::start().await;
    let pods = Api::<Pod>::default_namespaced(fake.client());
    let pod: Pod = from(
        json!({"metadata": {"name": "nobody"}, "spec": {"containers": [{"name": "main", "image": "unknown:1"}]}}),
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let mut pf = pods.portforward("nobody", &[80]).await.unwrap();
    let error = pf.take_error(80).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), error)
        .await
        .expect("an error, not a hang");
    let message = message.expect("an error message");
    assert!(message.contains("not running"), "{message}");
    let mut stream = pf.take_stream(80).unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok() && rest.is_empty());
    assert_eq!(
        api_error(pods.portforward("missing", &[80]).await.err().unwrap()).0,
        404
    );
}
