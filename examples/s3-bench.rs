//! S3 load generator for scripts/bench-s3.sh: small-object PUT/GET rates and large-object
//! throughput with aws-sdk-s3, then small-object rates on a versioned bucket, against the server named by AWS_ENDPOINT_URL and the root keys
//! in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Every loop is bounded in time or count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use bytes::Bytes;

const CONCURRENCY: usize = 16;

fn client() -> aws_sdk_s3::Client {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} must be set"));
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(var("AWS_ENDPOINT_URL"))
        .credentials_provider(Credentials::new(
            var("AWS_ACCESS_KEY_ID"),
            var("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "bench",
        ))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Runs `op(worker, i)` on CONCURRENCY workers for `seconds`; returns operations per second.
async fn rate<F, Fut>(seconds: u64, op: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (op, done) = (op.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                op(w, i).await;
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let s3 = client();
    let _ = s3.create_bucket().bucket("bench").send().await;
    if let Ok(path) = std::env::var("BENCH_HUGE_FILE") {
        let started = Instant::now();
        let body = ByteStream::from_path(&path).await.expect("huge file");
        s3.put_object()
            .bucket("bench")
            .key("huge")
            .body(body)
            .send()
            .await
            .expect("huge PUT");
        println!("PUT {path}: {:.1} s", started.elapsed().as_secs_f64());
        return;
    }
    small_rates(&s3, "bench", "").await;

    let large = Bytes::from(
        (0..64 * 1024 * 1024)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let rounds = 3;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (c, body) = (s3.clone(), large.clone());
        tasks.push(tokio::spawn(async move {
            for r in 0..rounds {
                c.put_object()
                    .bucket("bench")
                    .key(format!("large/{w}/{r}"))
                    .body(ByteStream::from(body.clone()))
                    .send()
                    .await
                    .expect("large PUT");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let bytes = (CONCURRENCY * rounds) as f64 * large.len() as f64;
    println!(
        "PUT 64 MiB, {CONCURRENCY} clients: {:.0} MB/s",
        bytes / started.elapsed().as_secs_f64() / 1e6
    );

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let c = s3.clone();
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            for r in 0..rounds {
                let out = c
                    .get_object()
                    .bucket("bench")
                    .key(format!("large/{w}/{r}"))
                    .send()
                    .await
                    .expect("large GET");
                let mut body = out.body;
                while let Some(chunk) = body.try_next().await.expect("large GET body") {
                    total += chunk.len();
                }
            }
            total
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    println!(
        "GET 64 MiB, {CONCURRENCY} clients: {:.0} MB/s",
        total as f64 / started.elapsed().as_secs_f64() / 1e6
    );

    // The same small-object rates on a versioned bucket, where every PUT keeps the version it
    // replaces (about five versions a key by the end), then reads of noncurrent versions.
    let _ = s3.create_bucket().bucket("bench-versioned").send().await;
    let enabled = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning()
        .bucket("bench-versioned")
        .versioning_configuration(enabled)
        .send()
        .await
        .expect("enable versioning");
    small_rates(&s3, "bench-versioned", ", versioned bucket").await;
    let listed = s3
        .list_object_versions()
        .bucket("bench-versioned")
        .prefix("small/0/")
        .send()
        .await
        .expect("ListObjectVersions");
    let old: Arc<Vec<(String, String)>> = Arc::new(
        listed
            .versions()
            .iter()
            .filter(|v| v.is_latest() == Some(false))
            .map(|v| {
                (
                    v.key().unwrap().to_owned(),
                    v.version_id().unwrap().to_owned(),
                )
            })
            .collect(),
    );
    assert!(!old.is_empty(), "noncurrent versions to read");
    let c = s3.clone();
    let version_rate = rate(10, move |w, i| {
        let (c, old) = (c.clone(), old.clone());
        async move {
            let (key, version) = &old[(w * 7919 + i as usize) % old.len()];
            let out = c
                .get_object()
                .bucket("bench-versioned")
                .key(key)
                .version_id(version)
                .send()
                .await
                .expect("GET version");
            let body = out.body.collect().await.expect("GET body");
            assert_eq!(body.into_bytes().len(), 4096);
        }
    })
    .await;
    println!("GET 4 KiB noncurrent version, {CONCURRENCY} clients: {version_rate:.0} /s");
}

/// 4 KiB PUT then GET rates on `bucket` (PUTs cycle over 500 keys a worker).
async fn small_rates(s3: &aws_sdk_s3::Client, bucket: &'static str, label: &str) {
    let small = Bytes::from(vec![7u8; 4096]);
    let c = s3.clone();
    let put_rate = rate(10, move |w, i| {
        let (c, body) = (c.clone(), small.clone());
        async move {
            c.put_object()
                .bucket(bucket)
                .key(format!("small/{w}/{}", i % 500))
                .body(ByteStream::from(body))
                .send()
                .await
                .expect("PUT");
        }
    })
    .await;
    println!("PUT 4 KiB{label}, {CONCURRENCY} clients: {put_rate:.0} /s");

    let c = s3.clone();
    let get_rate = rate(10, move |w, i| {
        let c = c.clone();
        async move {
            let out = c
                .get_object()
                .bucket(bucket)
                .key(format!("small/{w}/{}", i % 100))
                .send()
                .await
                .expect("GET");
            let body = out.body.collect().await.expect("GET body");
            assert_eq!(body.into_bytes().len(), 4096);
        }
    })
    .await;
    println!("GET 4 KiB{label}, {CONCURRENCY} clients: {get_rate:.0} /s");
}
