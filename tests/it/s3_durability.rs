//! Crash safety: SIGKILL in the middle of an upload, restart on the same data directory.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

const BIN: &str = env!("CARGO_BIN_EXE_onyxia-lite");

/// Starts `serve` on `data` with fixed ports chosen free now, and waits for its env file.
fn start(data: &std::path::Path, ports: (u16, u16, u16)) -> (Child, String) {
    let env_file = data.with_extension("env");
    let _ = std::fs::remove_file(&env_file);
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(data)
        .args([
            "--port",
            &ports.0.to_string(),
            "--s3-port",
            &ports.1.to_string(),
            "--vault-port",
            &ports.2.to_string(),
        ])
        .arg("--print-env")
        .arg(&env_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&env_file)
            && let Some(line) = text.lines().find(|l| l.starts_with("AWS_ENDPOINT_URL="))
        {
            return (child, line["AWS_ENDPOINT_URL=".len()..].to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "onyxia-admin",
            "onyxia-admin-secret",
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A versioned bucket `kept` with a small then a large version of `k` hidden behind a delete
/// marker; returns the version ids (newest first) and the marker's.
async fn versioned_history(
    s3: &aws_sdk_s3::Client,
    small: &[u8],
    large: &[u8],
) -> (Vec<String>, String) {
    s3.create_bucket().bucket("kept").send().await.unwrap();
    let enabled = aws_sdk_s3::types::BucketVersioningStatus::Enabled;
    crate::s3_support::set_versioning(s3, "kept", enabled).await;
    let mut ids = Vec::new();
    for body in [small, large] {
        let out = s3
            .put_object()
            .bucket("kept")
            .key("k")
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap();
        ids.insert(0, out.version_id().unwrap().to_owned());
    }
    let marker = s3
        .delete_object()
        .bucket("kept")
        .key("k")
        .send()
        .await
        .unwrap();
    (ids, marker.version_id().unwrap().to_owned())
}

async fn version_ids(s3: &aws_sdk_s3::Client) -> (Vec<String>, Vec<String>) {
    let out = s3
        .list_object_versions()
        .bucket("kept")
        .send()
        .await
        .unwrap();
    (
        out.versions()
            .iter()
            .map(|v| v.version_id().unwrap().to_owned())
            .collect(),
        out.delete_markers()
            .iter()
            .map(|m| m.version_id().unwrap().to_owned())
            .collect(),
    )
}

async fn read(s3: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let out = s3.get_object().bucket("safe").key(key).send().await.ok()?;
    Some(out.body.collect().await.unwrap().into_bytes().to_vec())
}

#[tokio::test]
async fn sigkill_during_upload_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ports = (free_port(), free_port(), free_port());
    let (mut server, endpoint) = tokio::task::spawn_blocking({
        let data = data.clone();
        move || start(&data, ports)
    })
    .await
    .unwrap();
    let s3 = client(&endpoint);
    s3.create_bucket().bucket("safe").send().await.unwrap();
    let small = b"acknowledged small object".to_vec();
    let large: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 241) as u8).collect();
    s3.put_object()
        .bucket("safe")
        .key("small")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("safe")
        .key("large")
        .body(ByteStream::from(large.clone()))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("safe")
        .key("target")
        .body(ByteStream::from_static(b"version 1"))
        .send()
        .await
        .unwrap();
    let versions = versioned_history(&s3, &small, &large).await;

    // Overwrite `target` with a 64 MiB body that stops arriving half-way; kill the server then.
    let url = s3
        .put_object()
        .bucket("safe")
        .key("target")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(url.uri())
            .header("content-length", (64 * 1024 * 1024).to_string())
            .body(body)
            .send(),
    );
    for _ in 0..32 {
        tx.send(Ok(vec![9u8; 1024 * 1024])).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    drop(tx);
    if let Ok(response) = upload.await.unwrap() {
        assert!(
            !response.status().is_success(),
            "the interrupted upload was never acknowledged"
        );
    }

    let (mut server, endpoint) = tokio::task::spawn_blocking(move || start(&data, ports))
        .await
        .unwrap();
    let s3 = client(&endpoint);
    assert_eq!(read(&s3, "small").await.as_deref(), Some(small.as_slice()));
    assert_eq!(read(&s3, "large").await.as_deref(), Some(large.as_slice()));
    assert_eq!(
        read(&s3, "target").await.as_deref(),
        Some(&b"version 1"[..]),
        "previous complete version"
    );
    // Every version, the delete marker on top of them included.
    let (listed, markers) = version_ids(&s3).await;
    assert_eq!(listed, versions.0);
    assert_eq!(markers, std::slice::from_ref(&versions.1));
    for (id, bytes) in versions.0.iter().zip([&large, &small]) {
        let got = s3
            .get_object()
            .bucket("kept")
            .key("k")
            .version_id(id)
            .send()
            .await
            .unwrap();
        let got = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(got.as_ref(), bytes.as_slice(), "version {id}");
    }
    let tmp = dir.path().join("data/objects/tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temp files swept at start"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
