//! Slow clients cannot wear the listeners down: headers have a deadline, bodies and idle
//! keep-alive connections time out, and each listener holds a bounded number of connections
//! without starving the others. Driven with raw sockets, as a slowloris attack would.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Test limits: small enough to reach, short enough to wait for.
fn limited_config() -> onyxia_lite::Config {
    let mut config = test_config();
    config.max_connections = 16;
    config.header_read_timeout_seconds = 2;
    config.idle_timeout_seconds = 2;
    config
}

/// Waits until the server closes `stream` (EOF or reset), or gives up after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or other answer before closing is fine; keep reading until the close.
            Ok(Ok(_)) => continue,
        }
    }
}

/// Sends one header byte every 500 ms, forever: a slowloris client.
fn dribble(mut stream: TcpStream) -> tokio::task::JoinHandle<TcpStream> {
    tokio::spawn(async move {
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle() {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        stream
    })
}

async fn get_status(url: String) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    client
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn slow_headers_are_cut_and_other_listeners_stay_reachable() {
    let tp = TestPlatform::start_with(limited_config()).await;
    let e = &tp.running.endpoints;
    let s3 = e.s3_addr;

    // Twice as many slow clients as the S3 listener holds.
    let mut slow = Vec::new();
    for _ in 0..32 {
        slow.push(dribble(TcpStream::connect(s3).await.unwrap()));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The other listeners do not notice.
    assert_eq!(get_status(format!("{}/healthz", tp.base)).await, Some(200));
    let vault = format!("http://{}/v1/sys/health", e.vault_addr);
    assert_eq!(get_status(vault).await, Some(200));

    // Each slow client is cut once its headers are late (the server closes, so its next
    // writes fail and the dribbling stops); then S3 serves again.
    for task in slow {
        let cut = tokio::time::timeout(Duration::from_secs(12), task).await;
        assert!(cut.is_ok(), "a slow client was never cut");
    }
    let anonymous = get_status(format!("http://{s3}/")).await;
    assert_eq!(anonymous, Some(403), "S3 answers again");
    tp.stop().await;
}

#[tokio::test]
async fn a_full_listener_makes_new_clients_wait_not_fail() {
    let tp = TestPlatform::start_with(limited_config()).await;
    let s3 = tp.running.endpoints.s3_addr;
    // Fill every slot with a client that sent nothing yet.
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(TcpStream::connect(s3).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A 17th client waits in the backlog and is served once the held ones are cut.
    let started = Instant::now();
    let status = get_status(format!("http://{s3}/")).await;
    assert_eq!(status, Some(403));
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "served only after a slot was freed ({:?})",
        started.elapsed()
    );
    for mut stream in held {
        assert!(closed_within(&mut stream, Duration::from_secs(8)).await);
    }
    tp.stop().await;
}

#[tokio::test]
async fn stalled_bodies_and_idle_keep_alive_connections_are_closed() {
    let tp = TestPlatform::start_with(limited_config()).await;
    let s3 = tp.running.endpoints.s3_addr;

    // A body that stops halfway: the connection is closed after the idle timeout.
    let mut stalled = TcpStream::connect(s3).await.unwrap();
    stalled
        .write_all(
            b"PUT /user-alice/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    assert!(closed_within(&mut stalled, Duration::from_secs(8)).await);

    // An idle keep-alive connection is closed once the header deadline passes.
    let mut idle = TcpStream::connect(tp.running.endpoints.main_addr)
        .await
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(closed_within(&mut idle, Duration::from_secs(8)).await);
    tp.stop().await;
}
