//! Benchmark of the Kubernetes runtime against the in-process fake API server of the tests
//! (scripts/bench-kube.sh): install answers and listings with 100 services in the cluster,
//! then a classroom burst — 100 students installing at once, each asking for one service more
//! than the quota allows.
//!
//! The fake runs in this process, on the same two cores: an install answered while earlier
//! deploys still keep the fake busy measures the fake as much as onyxia-lite. So install
//! answers are timed with the cluster settled (the previous service Ready), as a user with
//! 100 services would see them, and separately back to back.

#[path = "../tests/it/kube_fake/mod.rs"]
#[allow(dead_code)]
mod kube_fake;

use std::time::{Duration, Instant};

use serde_json::json;

const IMAGE: &str = "localhost/onyxia-lite-test:1";
const STUDENTS: usize = 100;

fn percentile(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

async fn platform(
    kubeconfig: &std::path::Path,
    fixtures: &std::path::Path,
    quota_services: u32,
) -> onyxia_lite::RunningPlatform {
    let mut config = onyxia_lite::Config {
        ephemeral: true,
        port: 0,
        s3_port: 0,
        vault_port: 0,
        fixtures: Some(fixtures.to_owned()),
        ..Default::default()
    };
    config.log = "warn".into();
    config.onyxia.docker_host = Some("none".into());
    config.onyxia.quota_services = quota_services;
    config.runtime.kind = onyxia_lite::config::RuntimeKind::Kube;
    config.runtime.kubeconfig = Some(kubeconfig.to_owned());
    config.passwords.argon2_memory_kib = 64;
    config.passwords.argon2_iterations = 1;
    let listeners = onyxia_lite::Listeners::bind(&config).await.unwrap();
    onyxia_lite::Platform::start(config, listeners, std::future::pending())
        .await
        .unwrap()
}

/// Waits until the service's pod is Ready.
async fn wait_ready(http: &reqwest::Client, base: &str, token: &str, name: &str) {
    for _ in 0..600 {
        let r: serde_json::Value = http
            .get(format!("{base}/api/my-lab/app?serviceId={name}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        if r["tasks"][0]["containers"][0]["ready"] == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} did not become ready");
}

/// PUT /my-lab/app → (status, time to the answer).
async fn install(http: &reqwest::Client, base: &str, token: &str, name: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = http
        .put(format!("{base}/api/my-lab/app"))
        .bearer_auth(token)
        .json(
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
            "name": name, "options": {"s3": {"enabled": false}, "vault": {"enabled": false}}}),
        )
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (status, started.elapsed())
}

fn students_fixtures(dir: &std::path::Path) {
    let mut users = String::from(
        "[[user]]\nusername = \"alice\"\npassword = \"alice\"\nemail = \"alice@example.org\"\n",
    );
    for i in 1..=STUDENTS {
        users.push_str(&format!(
            "[[user]]\nusername = \"student{i:03}\"\npassword = \"p{i}\"\nemail = \"s{i}@example.org\"\ngroups = [\"demo\"]\n"
        ));
    }
    std::fs::write(dir.join("users.toml"), users).unwrap();
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    students_fixtures(dir.path());
    let fake = kube_fake::FakeCluster::start().await;
    let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    fake.add_image(IMAGE, backend.local_addr().unwrap(), "ok\n");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // 100 services for one user, then 50 more installs timed, and listings of 100+ services.
    let running = platform(&kubeconfig, dir.path(), 1000).await;
    let base = format!("http://{}", running.endpoints.main_addr);
    let token = running.identity().token_for("alice", "onyxia").unwrap();
    for i in 0..100 {
        assert_eq!(
            install(&http, &base, &token, &format!("seed-{i}")).await.0,
            200
        );
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut answers = Vec::new();
    for i in 0..50 {
        let name = format!("timed-{i}");
        let (status, took) = install(&http, &base, &token, &name).await;
        assert_eq!(status, 200);
        answers.push(took);
        wait_ready(&http, &base, &token, &name).await;
    }
    let mut back_to_back = Vec::new();
    for i in 0..50 {
        let (status, took) = install(&http, &base, &token, &format!("rapid-{i}")).await;
        assert_eq!(status, 200);
        back_to_back.push(took);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut listings = Vec::new();
    let mut count = 0;
    for _ in 0..50 {
        let started = Instant::now();
        let r: serde_json::Value = http
            .get(format!("{base}/api/my-lab/services"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listings.push(started.elapsed());
        count = r["apps"].as_array().unwrap().len();
    }
    println!(
        "install answer with 100+ services in the cluster, settled: p50 {:.1} ms, p99 {:.1} ms (target p99 < 50 ms)",
        percentile(&mut answers, 0.5),
        percentile(&mut answers, 0.99)
    );
    println!(
        "install answer back to back (earlier deploys still running in the fake): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&mut back_to_back, 0.5),
        percentile(&mut back_to_back, 0.99)
    );
    println!(
        "GET /my-lab/services listing {count} services: p50 {:.1} ms, p99 {:.1} ms (target < 20 ms)",
        percentile(&mut listings, 0.5),
        percentile(&mut listings, 0.99)
    );
    running.shutdown().await.unwrap();

    // The classroom burst: quota of one service per project, every student asks for two, at
    // a platform that has been up a moment (its watches follow the cluster).
    let running = platform(&kubeconfig, dir.path(), 1).await;
    let base = format!("http://{}", running.endpoints.main_addr);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut tasks = Vec::new();
    for i in 1..=STUDENTS {
        let token = running
            .identity()
            .token_for(&format!("student{i:03}"), "onyxia")
            .unwrap();
        for attempt in 0..2 {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                install(&http, &base, &token, &format!("s{i:03}-{attempt}")).await
            }));
        }
    }
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    let mut answers = Vec::new();
    for task in tasks {
        let (status, took) = task.await.unwrap();
        *statuses.entry(status).or_insert(0) += 1;
        answers.push(took);
    }
    let wall = started.elapsed();
    println!(
        "classroom burst, {} installs from {STUDENTS} students at once (quota 1 each): {statuses:?} in {:.0} ms; answers p50 {:.1} ms, p99 {:.1} ms",
        answers.len(),
        wall.as_secs_f64() * 1000.0,
        percentile(&mut answers, 0.5),
        percentile(&mut answers, 0.99)
    );
    assert_eq!(
        statuses.get(&200),
        Some(&STUDENTS),
        "one service per student"
    );
    assert_eq!(
        statuses.values().sum::<usize>(),
        2 * STUDENTS,
        "every other request refused by the quota"
    );
    assert!(
        statuses.keys().all(|s| *s == 200 || (400..500).contains(s)),
        "refusals are client errors, never server errors: {statuses:?}"
    );
    // Every admitted install lands on the cluster: one StatefulSet per student, none more.
    let students = |fake: &kube_fake::FakeCluster| {
        fake.objects("apps", "statefulsets")
            .iter()
            .filter_map(|s| s["metadata"]["namespace"].as_str().map(str::to_owned))
            .filter(|ns| ns.starts_with("user-student"))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while students(&fake).len() < STUDENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut namespaces = students(&fake);
    println!(
        "burst: {} student StatefulSets on the cluster {:.1} s after the first request",
        namespaces.len(),
        started.elapsed().as_secs_f64()
    );
    namespaces.sort();
    namespaces.dedup();
    assert_eq!(
        namespaces.len(),
        STUDENTS,
        "one StatefulSet in every student's namespace"
    );
    assert_eq!(students(&fake).len(), STUDENTS, "no student got two");
    running.shutdown().await.unwrap();
}
