//! The classroom simulation (scripts/bench-class.sh): a teacher imports 100 students from a
//! CSV and fills a course bucket; every student logs in, gets S3 keys from STS as onyxia-web
//! does, and follows the same autolaunch link (the `tiny` package with `course.bucket` set),
//! the 100 arrivals spread over 10 s. Then every service must run and read the course from
//! inside — on Docker/Podman through the read-only course folder, on the Kubernetes fake with
//! the S3 keys in the service's Secret — and the teacher's usage report must show 100 students
//! with usage. Timed: each launch request's answer (target p99 < 100 ms), each login, and the
//! time until every service runs.
//!
//! `--runtime podman` (default; needs the engine and the test image) or `--runtime kube` (the
//! tests' in-process fake API server).

#[path = "../tests/it/kube_fake/mod.rs"]
#[allow(dead_code)]
mod kube_fake;

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

const IMAGE: &str = "localhost/onyxia-lite-test:1";
const STUDENTS: usize = 100;
const ARRIVALS: Duration = Duration::from_secs(10);
const COURSE: &str = "course-bench";
const SYLLABUS: &str = "Week 1: read the data, plot it.";

fn percentile(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn class_csv() -> String {
    let mut csv = String::from("username,email,display name,groups,password\n");
    for i in 1..=STUDENTS {
        csv.push_str(&format!(
            "student{i:03},s{i}@example.org,Student {i},bench,pass-{i:03}-word\n"
        ));
    }
    csv
}

/// A password login at the token endpoint: the access token.
async fn login(http: &reqwest::Client, issuer: &str, client: &str, user: &str, pw: &str) -> String {
    let r: Value = http
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", client),
            ("username", user),
            ("password", pw),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login of {user}: {r}"))
        .to_owned()
}

/// STS keys for a token of the S3 client: (access key, secret key, session token).
async fn sts(http: &reqwest::Client, s3_url: &str, token: &str) -> (String, String, String) {
    let xml = http
        .post(s3_url)
        .form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("WebIdentityToken", token),
            ("RoleArn", "arn:aws:iam::000000000000:role/onyxia"),
            ("RoleSessionName", "bench"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field = |name: &str| {
        let start = xml.find(&format!("<{name}>")).expect(name) + name.len() + 2;
        let end = xml[start..].find("</").unwrap() + start;
        xml[start..end].to_owned()
    };
    (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    )
}

fn s3_client(url: &str, keys: (&str, &str, Option<&str>)) -> aws_sdk_s3::Client {
    let credentials = aws_sdk_s3::config::Credentials::new(
        keys.0,
        keys.1,
        keys.2.map(str::to_owned),
        None,
        "bench",
    );
    let config = aws_sdk_s3::config::Builder::new()
        .endpoint_url(url)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .behavior_version_latest()
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// What one student saw.
struct Student {
    login: Duration,
    launch: Duration,
    status: u16,
    token: String,
    /// The release name the launcher made up (`tiny-<random>`, unique on the platform).
    release: String,
}

/// Where the students go.
#[derive(Clone)]
struct Urls {
    base: String,
    issuer: String,
    s3: String,
}

/// Logs in, gets STS keys and follows the autolaunch link `at` after the start.
async fn student(i: usize, at: Duration, http: reqwest::Client, urls: Urls) -> Student {
    let (issuer, s3_url, base) = (&urls.issuer, &urls.s3, &urls.base);
    let release = format!("tiny-{:08x}", rand::random::<u32>());
    tokio::time::sleep(at).await;
    let (user, password) = (format!("student{i:03}"), format!("pass-{i:03}-word"));
    let started = Instant::now();
    let token = login(&http, issuer, "onyxia", &user, &password).await;
    let login_took = started.elapsed();
    let s3_token = login(&http, issuer, "onyxia-minio", &user, &password).await;
    let (ak, sk, st) = sts(&http, s3_url, &s3_token).await;
    // What the launcher sends for the link `/launcher/test/tiny?autoLaunch=true&name=Lesson
    // 1&course.bucket=«course-bench»`: the package's values with the link's patch and the
    // user's S3 keys.
    let started = Instant::now();
    let r = http
        .put(format!("{base}/api/my-lab/app"))
        .bearer_auth(&token)
        .json(
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
            "name": release, "friendlyName": "Lesson 1", "options": {
                "course": {"bucket": COURSE},
                "vault": {"enabled": false},
                "s3": {"enabled": true, "accessKeyId": ak, "secretAccessKey": sk,
                    "sessionToken": st, "endpoint": s3_url, "port": 443}}}),
        )
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    Student {
        login: login_took,
        launch: started.elapsed(),
        status,
        token,
        release,
    }
}

async fn service(http: &reqwest::Client, base: &str, s: &Student) -> Value {
    http.get(format!("{base}/api/my-lab/app?serviceId={}", s.release))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default()
}

/// Reads the syllabus from inside student `i`'s service: `true` when it is the teacher's.
async fn reads_course(
    kube: Option<&kube::Client>,
    http: &reqwest::Client,
    running: &onyxia_lite::RunningPlatform,
    i: usize,
    release: &str,
) -> bool {
    let port = running.endpoints.main_addr.port();
    match kube {
        // The course folder, through the service's own page.
        None => {
            let text = http
                .get(format!(
                    "http://127.0.0.1:{port}/file?path=/course/week1/syllabus.md"
                ))
                .header("host", format!("{release}.localhost:{port}"))
                .send()
                .await;
            match text {
                Ok(r) => r.text().await.unwrap_or_default() == format!("ok\n{SYLLABUS}"),
                Err(_) => false,
            }
        }
        // The fake runs no containers: read with the keys the pod's environment holds.
        Some(client) => {
            let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
                kube::Api::namespaced(client.clone(), &format!("user-student{i:03}"));
            let Ok(secret) = secrets.get(&format!("{release}-env")).await else {
                return false;
            };
            let data = secret.data.unwrap_or_default();
            let env = |k: &str| {
                data.get(k)
                    .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                    .unwrap_or_default()
            };
            let s3 = s3_client(
                &env("AWS_ENDPOINT_URL"),
                (
                    &env("AWS_ACCESS_KEY_ID"),
                    &env("AWS_SECRET_ACCESS_KEY"),
                    Some(&env("AWS_SESSION_TOKEN")),
                ),
            );
            let got = s3
                .get_object()
                .bucket(env("COURSE_BUCKET"))
                .key("week1/syllabus.md")
                .send()
                .await;
            match got {
                Ok(o) => o.body.collect().await.unwrap().into_bytes() == SYLLABUS.as_bytes(),
                Err(e) => {
                    eprintln!("student {i} cannot read the course: {e:?}");
                    false
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let kube_runtime = std::env::args().any(|a| a == "kube");
    let dir = tempfile::tempdir().unwrap();
    let mut config = onyxia_lite::Config {
        ephemeral: true,
        port: 0,
        s3_port: 0,
        vault_port: 0,
        ..Default::default()
    };
    config.log = "warn".into();
    // Metering looks every 5 s, so the report has something to show after a short run.
    config.culling.interval_seconds = 5;
    let fake = if kube_runtime {
        let fake = kube_fake::FakeCluster::start().await;
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.add_image(IMAGE, backend.local_addr().unwrap(), "ok\n");
        tokio::spawn(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            axum::serve(backend, app).await
        });
        config.onyxia.docker_host = Some("none".into());
        config.runtime.kind = onyxia_lite::config::RuntimeKind::Kube;
        config.runtime.kubeconfig = Some(fake.write_kubeconfig(dir.path()));
        Some(fake)
    } else {
        None
    };
    let listeners = onyxia_lite::Listeners::bind(&config).await.unwrap();
    let running = onyxia_lite::Platform::start(config, listeners, std::future::pending())
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://{}", running.endpoints.main_addr);

    // The teacher: the class list, then the course.
    let teacher = login(
        &http,
        &running.endpoints.issuer,
        "onyxia",
        "teacher",
        "teacher",
    )
    .await;
    let started = Instant::now();
    let imported = http
        .post(format!("{base}/api/class/import"))
        .bearer_auth(&teacher)
        .header("content-type", "text/csv")
        .body(class_csv())
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 200, "{}", imported.text().await.unwrap());
    println!(
        "import of {STUDENTS} students: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let teacher_s3_token = login(
        &http,
        &running.endpoints.issuer,
        "onyxia-minio",
        "teacher",
        "teacher",
    )
    .await;
    let (ak, sk, st) = sts(&http, &running.endpoints.s3_url, &teacher_s3_token).await;
    let teacher_s3 = s3_client(&running.endpoints.s3_url, (&ak, &sk, Some(&st)));
    teacher_s3
        .create_bucket()
        .bucket(COURSE)
        .send()
        .await
        .unwrap();
    for (key, body) in [
        ("week1/syllabus.md", SYLLABUS.as_bytes().to_vec()),
        ("week1/data.csv", "x,y\n1,2\n".repeat(50_000).into_bytes()),
    ] {
        teacher_s3
            .put_object()
            .bucket(COURSE)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    run_class(&running, &http, fake.as_ref()).await;
    running.shutdown().await.unwrap();
}

async fn run_class(
    running: &onyxia_lite::RunningPlatform,
    http: &reqwest::Client,
    fake: Option<&kube_fake::FakeCluster>,
) {
    let base = format!("http://{}", running.endpoints.main_addr);
    let urls = Urls {
        base: base.clone(),
        issuer: running.endpoints.issuer.clone(),
        s3: running.endpoints.s3_url.clone(),
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=STUDENTS {
        let at = ARRIVALS * (i as u32 - 1) / STUDENTS as u32;
        let (http, urls) = (http.clone(), urls.clone());
        tasks.spawn(async move { (i, student(i, at, http, urls).await) });
    }
    let mut students = Vec::new();
    while let Some(done) = tasks.join_next().await {
        students.push(done.unwrap());
    }
    let arrived = started.elapsed();
    students.sort_by_key(|(i, _)| *i);
    let failed: Vec<_> = students.iter().filter(|(_, s)| s.status != 200).collect();
    let mut launches: Vec<Duration> = students.iter().map(|(_, s)| s.launch).collect();
    let mut logins: Vec<Duration> = students.iter().map(|(_, s)| s.login).collect();
    println!(
        "{STUDENTS} students over {:.1} s: launch answer p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 100 ms); {} refused",
        arrived.as_secs_f64(),
        percentile(&mut launches, 0.5),
        percentile(&mut launches, 0.99),
        percentile(&mut launches, 1.0),
        failed.len()
    );
    println!(
        "login (password grant, argon2): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&mut logins, 0.5),
        percentile(&mut logins, 0.99)
    );
    assert!(failed.is_empty(), "launches refused");

    // Every service runs, then reads the course from inside.
    let mut waiting: Vec<usize> = (1..=STUDENTS).collect();
    while !waiting.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{} never ran",
            waiting.len()
        );
        let mut still = Vec::new();
        for &i in &waiting {
            let s = service(http, &base, &students[i - 1].1).await;
            if s["tasks"][0]["containers"][0]["ready"] != true {
                still.push(i);
            }
        }
        waiting = still;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "all {STUDENTS} services ready {:.1} s after the first arrival",
        started.elapsed().as_secs_f64()
    );
    let kube = fake.map(|f| f.client());
    let mut read = 0;
    for (i, s) in &students {
        read += usize::from(reads_course(kube.as_ref(), http, running, *i, &s.release).await);
    }
    println!("services that read the course from inside: {read} of {STUDENTS}");
    assert_eq!(read, STUDENTS);
    report_and_clean(running, http, &students).await;
}

/// The teacher's usage report after a few metering looks, then every service deleted.
async fn report_and_clean(
    running: &onyxia_lite::RunningPlatform,
    http: &reqwest::Client,
    students: &[(usize, Student)],
) {
    let base = format!("http://{}", running.endpoints.main_addr);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let teacher = running.identity().token_for("teacher", "onyxia").unwrap();
    let report: Value = http
        .get(format!("{base}/api/class/report?since=1d"))
        .bearer_auth(&teacher)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users = report["users"].as_array().unwrap();
    let with_usage = users
        .iter()
        .filter(|u| u["groups"].as_array().unwrap().iter().any(|g| g == "bench"))
        .filter(|u| u["runningHours"].as_f64().unwrap() > 0.0 && u["servicesLaunched"] == 1)
        .count();
    let peak = report["concurrency"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[1].as_u64())
        .max()
        .unwrap_or(0);
    println!(
        "usage report: {with_usage} students of the class with running hours and one launch; peak {peak} services at once"
    );
    assert_eq!(with_usage, STUDENTS);
    let started = Instant::now();
    for (_, s) in students {
        let r = http
            .delete(format!("{base}/api/my-lab/app?path={}", s.release))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    println!(
        "{STUDENTS} services deleted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
