//! The web UI: how its files are served (content types, ETag, compression, deep links), and
//! end-to-end scenarios in Chromium driven by Playwright (tests/browser/*.mjs), each against a
//! platform started here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lab_support::{require_engine, test_config_with_engine};
use crate::support::{TestPlatform, missing, test_config};

/// Chromium is heavy on two cores: at most this many run at once.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Fails the test unless Node, playwright-core and Chromium are installed
/// (scripts/install-test-deps.sh).
fn require_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let reason = if !Path::new(&chromium).exists() {
        format!("{chromium} is missing")
    } else if !browser_dir().join("node_modules/playwright-core").exists() {
        "tests/browser/node_modules/playwright-core is missing".to_owned()
    } else {
        return;
    };
    missing(
        "browser tests",
        &format!("{reason} (run scripts/install-test-deps.sh)"),
    );
}

/// Runs `tests/browser/<name>.mjs` against `tp`; its output is shown when it fails.
async fn run_scenario(tp: &TestPlatform, name: &str) {
    run_scenario_with(tp, name, &[]).await;
}

/// [`run_scenario`] with more variables for the scenario.
async fn run_scenario_with(tp: &TestPlatform, name: &str, extra: &[(&str, &str)]) {
    let _slot = BROWSERS.acquire().await.expect("semaphore open");
    let endpoints = &tp.running.endpoints;
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(format!("{name}.mjs"))
        .current_dir(browser_dir())
        // The UI must be opened at the platform's public URL: its login redirects go there.
        .env("BASE_URL", &endpoints.url)
        .env("S3_URL", &endpoints.s3_url)
        .env("VAULT_URL", &endpoints.vault_url)
        .env("SCREENSHOT_DIR", &screenshots)
        .envs(extra.iter().copied())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .unwrap_or_else(|_| panic!("browser scenario {name} took more than 4 minutes"))
        .expect("node runs (scripts/install-test-deps.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser scenario {name} failed ({}); screenshots in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        screenshots.display()
    );
    println!("{stdout}");
}

async fn scenario_without_engine(name: &str) {
    require_browser();
    let tp = TestPlatform::start_with(test_config()).await;
    run_scenario(&tp, name).await;
    tp.stop().await;
}

async fn scenario_with_engine(name: &str, edit: impl FnOnce(&mut onyxia_lite::Config)) {
    require_browser();
    require_engine().await;
    let mut config = test_config_with_engine();
    edit(&mut config);
    let tp = TestPlatform::start_with(config).await;
    run_scenario(&tp, name).await;
    tp.stop().await;
}

#[tokio::test]
async fn ui_files_have_types_etags_compression_and_deep_links() {
    let tp = TestPlatform::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A deep link loads the app with the server's settings in it.
    let page = http
        .get(format!("{}/launcher/test/tiny?autoLaunch=true", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<script id="onyxia-lite-env" type="application/json">{"autoLaunch":true"#),
        "{html}"
    );
    assert!(html.contains(r#"src="/js/main.js""#));

    // Modules: JavaScript type, a validator, and 304 when it still matches.
    let module = http
        .get(format!("{}/js/main.js", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(module.status(), 200);
    assert!(
        module.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(module.headers()["cache-control"], "no-cache");
    let etag = module.headers()["etag"].clone();
    let again = http
        .get(format!("{}/js/main.js", tp.base))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);

    // Compressed when the client accepts it (reqwest here does not decode: the raw header shows).
    let gzipped = http
        .get(format!("{}/app.css", tp.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert!(
        gzipped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // A missing file is a 404, not the app; unknown platform routes keep their JSON 404.
    let missing = http
        .get(format!("{}/js/missing.js", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let api = http
        .get(format!("{}/api/no-such-thing", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    assert!(
        api.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json")
    );
    let realm = http
        .get(format!("{}/realms/nope/x", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(realm.status(), 404);
    let post = http
        .post(format!("{}/catalog", tp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    tp.stop().await;
}

#[tokio::test]
async fn autolaunch_setting_reaches_the_page() {
    let mut config = test_config();
    config.web.auto_launch = false;
    let tp = TestPlatform::start_with(config).await;
    let html = reqwest::get(format!("{}/my-services", tp.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"{"autoLaunch":false"#), "{html}");
    tp.stop().await;
}

#[test]
fn ui_stays_under_its_size_budget() {
    let total = onyxia_lite::web::total_asset_bytes();
    assert!(total > 10_000, "the UI files are embedded ({total} bytes)");
    assert!(
        total < 300 * 1024,
        "web/ is {total} bytes; the budget is 300 KiB"
    );
}

#[test]
fn ui_logic_unit_tests_pass() {
    // Node alone: these tests load the UI's modules, not a browser.
    let output = std::process::Command::new("node")
        .args(["--test", "tests/web/"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("node runs (scripts/install-test-deps.sh installs it)");
    assert!(
        output.status.success(),
        "node --test tests/web/ failed\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_catalog_to_running_service() {
    scenario_with_engine("catalog-launch", |_| {}).await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_autolaunch_link_logs_in_then_launches() {
    require_browser();
    require_engine().await;
    let tp = TestPlatform::start_with(test_config_with_engine()).await;
    // The link names the demo class's course bucket.
    let s3 = crate::s3_support::root_client(&tp);
    s3.create_bucket()
        .bucket("course-demo")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("course-demo")
        .key("week1/welcome.md")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"Welcome to week 1",
        ))
        .send()
        .await
        .unwrap();
    run_scenario(&tp, "autolaunch").await;
    tp.stop().await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_autolaunch_disabled_asks_for_confirmation() {
    scenario_with_engine("autolaunch-disabled", |c| c.web.auto_launch = false).await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_malformed_launch_links_launch_nothing() {
    scenario_with_engine("bad-links", |_| {}).await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_my_services_lifecycle() {
    scenario_with_engine("services", |config| {
        config.culling.idle_minutes = 45;
        config.culling.max_age_hours = 48;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_my_files_upload_download_share() {
    scenario_without_engine("files").await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_my_secrets_create_edit_delete() {
    scenario_without_engine("secrets").await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_account_credentials_work() {
    scenario_without_engine("account").await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_login_logout_and_ended_session() {
    scenario_without_engine("login").await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_teacher_enrols_a_class() {
    scenario_without_engine("class").await;
}

#[tokio::test]
#[ignore = "needs Chromium and Podman: scripts/test.sh provides them and runs it"]
async fn browser_teacher_reads_the_usage_report() {
    scenario_with_engine("class-usage", |config| config.culling.interval_seconds = 1).await;
}

#[tokio::test]
#[ignore = "needs Chromium (and Podman to launch): scripts/test.sh provides them and runs it"]
async fn browser_first_login_replaces_a_one_time_password() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.ephemeral = false;
    config.data_dir = Some(dir.path().to_owned());
    // Enrolled as `onyxia-lite class import` does it, before the platform starts.
    let list = "username,display name,groups\nstudent1,Stu Dent,class-a\n";
    use onyxia_lite::identity::enrol::Prune;
    let report = onyxia_lite::identity::enrol::cli_import(&config, list, Prune::No).unwrap();
    let one_time = report.passwords[0].1.clone();
    let tp = TestPlatform::start_with(config).await;
    let env = [
        ("STUDENT", "student1"),
        ("ONE_TIME_PASSWORD", one_time.as_str()),
    ];
    run_scenario_with(&tp, "first-login", &env).await;
    tp.stop().await;
}

/// The official onyxia-web's `dist/`, unpacked once from the tarball beside the repository
/// (`../shared/onyxia-web/`) into `target/onyxia-web/`.
fn official_dist() -> PathBuf {
    static UNPACKED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    UNPACKED
        .get_or_init(|| {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            let tarball = manifest.join("../shared/onyxia-web/onyxia-web-5.5.1-dist.tar.gz");
            let target = manifest.join("target/onyxia-web");
            let dist = target.join("dist");
            if dist.join("index.html").exists() {
                return dist;
            }
            if !tarball.exists() {
                missing(
                    "the official onyxia-web",
                    &format!("{} is missing", tarball.display()),
                );
            }
            std::fs::create_dir_all(&target).unwrap();
            let status = std::process::Command::new("tar")
                .arg("xzf")
                .arg(&tarball)
                .arg("-C")
                .arg(&target)
                .status()
                .expect("tar runs");
            assert!(status.success(), "unpacking {} failed", tarball.display());
            dist
        })
        .clone()
}

/// The official scenarios run one at a time, with no other browser beside them: every
/// container the engine starts or stops changes the network, and Chromium drops the loads in
/// flight when it does.
static OFFICIAL: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Runs `tests/browser/<name>.mjs` against a platform serving the official onyxia-web.
async fn official_scenario(name: &str) {
    let dist = official_dist();
    let _one = OFFICIAL.acquire().await.expect("semaphore open");
    // With the permit run_scenario takes, both browser slots are this scenario's.
    let _alone = BROWSERS.acquire().await.expect("semaphore open");
    scenario_with_engine(name, |config| config.web.root = Some(dist)).await;
}

#[tokio::test]
#[ignore = "needs Chromium, Podman and the official onyxia-web tarball: scripts/test.sh provides them and runs it"]
async fn official_ui_login_and_logout() {
    official_scenario("official-login").await;
}

#[tokio::test]
#[ignore = "needs Chromium, Podman and the official onyxia-web tarball: scripts/test.sh provides them and runs it"]
async fn official_ui_catalog_and_every_launcher_form() {
    official_scenario("official-catalog").await;
}

#[tokio::test]
#[ignore = "needs Chromium, Podman and the official onyxia-web tarball: scripts/test.sh provides them and runs it"]
async fn official_ui_service_lifecycle() {
    official_scenario("official-services").await;
}

#[tokio::test]
#[ignore = "needs Chromium, Podman and the official onyxia-web tarball: scripts/test.sh provides them and runs it"]
async fn official_ui_files() {
    official_scenario("official-files").await;
}

#[tokio::test]
#[ignore = "needs Chromium, Podman and the official onyxia-web tarball: scripts/test.sh provides them and runs it"]
async fn official_ui_secrets() {
    official_scenario("official-secrets").await;
}

#[tokio::test]
#[ignore = "needs Chromium, Podman and the official onyxia-web tarball: scripts/test.sh provides them and runs it"]
async fn official_ui_account_management() {
    official_scenario("official-account").await;
}
