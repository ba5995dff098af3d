//! What the official onyxia-web needs of the platform, checked without a browser: schemas it
//! can read, notes whose first URL is the service, a catalog warning at start, and its
//! `dist/` served with `--web-root`. The browser scenarios driving it are in web_ui.rs.

use std::process::Stdio;

use serde_json::Value;

use crate::lab_support::{Api, config_without_engine};
use crate::support::TestPlatform;

/// The `type` names onyxia-web's schema reader accepts, one per property.
const READABLE_TYPES: [&str; 6] = ["object", "array", "string", "boolean", "integer", "number"];

/// Paths of properties whose `type` onyxia-web refuses (a list, or an unknown name).
fn unreadable_types(schema: &Value, path: &str, out: &mut Vec<String>) {
    match schema.get("type") {
        Some(Value::String(t)) if READABLE_TYPES.contains(&t.as_str()) => {}
        None if schema.get("const").is_some() => {}
        other => out.push(format!("{path}: {other:?}")),
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, child) in properties {
            unreadable_types(child, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        unreadable_types(items, &format!("{path}[]"), out);
    }
}

#[tokio::test]
async fn every_built_in_schema_has_one_type_per_property() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let api = Api::new(&tp, "alice");
    let (_, catalogs) = api.get("/my-lab/catalogs").await;
    let mut checked = 0;
    let mut problems = Vec::new();
    for catalog in catalogs["catalogs"].as_array().unwrap() {
        let id = catalog["id"].as_str().unwrap();
        for (chart, latest) in catalog["catalog"]["latestPackages"].as_object().unwrap() {
            let version = latest["version"].as_str().unwrap();
            let (status, schema) = api
                .get(&format!(
                    "/my-lab/schemas/{id}/charts/{chart}/versions/{version}"
                ))
                .await;
            assert_eq!(status, 200);
            if schema.is_null() {
                continue;
            }
            unreadable_types(&schema, &format!("{id}/{chart}"), &mut problems);
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} schemas checked");
    assert!(problems.is_empty(), "onyxia-web cannot read: {problems:#?}");
    tp.stop().await;
}

#[test]
fn a_catalog_the_official_ui_cannot_read_is_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("mine/hello-1");
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(
        dir.path().join("mine/catalog.toml"),
        "id = \"mine\"\nname = \"Mine\"\n",
    )
    .unwrap();
    std::fs::write(chart.join("Chart.yaml"), "name: hello\nversion: 0.1.0\n").unwrap();
    std::fs::write(chart.join("values.yaml"), "port: 80\n").unwrap();
    std::fs::write(chart.join("launch.yaml"), "image: busybox\nport: 80\n").unwrap();
    std::fs::write(
        chart.join("values.schema.json"),
        r#"{"type": "object", "properties": {"port": {"type": ["integer", "string"]}}}"#,
    )
    .unwrap();
    let catalog = dir.path().display().to_string();
    let (mut child, _) = crate::process::spawn_serve_with(
        &["--ephemeral", "--catalog", &catalog],
        &[("ONYXIA_LITE_ONYXIA_DOCKER_HOST", "none")],
        Stdio::piped(),
    );
    crate::process::terminate(&mut child);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    let warning = log
        .lines()
        .find(|l| l.contains("onyxia-web cannot read"))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("mine/hello-1/values.schema.json"),
        "{warning}"
    );
    assert!(warning.contains("properties.port"), "{warning}");
}

/// A `dist/` shaped like onyxia-web's: an index.html with a vite-envs block, hashed assets.
fn fake_dist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        concat!(
            "<!DOCTYPE html><html><head><script>\n  var envWithValuesInBase64 = {\n",
            "  \"ONYXIA_API_URL\": \"Ii9hcGki\",\n  \"DISABLE_AUTO_LAUNCH\": \"ImZhbHNlIg==\"\n};\n",
            "</script></head><body>official</body></html>"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/index-abc123.js"), "console.log(1)").unwrap();
    std::fs::write(dir.path().join("logo.svg"), "<svg/>").unwrap();
    dir
}

/// The value of one vite-envs setting in a served index.html.
fn setting(html: &str, name: &str) -> String {
    use base64::Engine;
    let start = html.find("var envWithValuesInBase64 = ").unwrap() + 28;
    let end = start + html[start..].find("};").unwrap() + 1;
    let values: Value = serde_json::from_str(&html[start..end]).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(values[name].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

#[tokio::test]
async fn web_root_serves_the_official_ui_with_its_settings() {
    let dist = fake_dist();
    let mut config = config_without_engine();
    config.web.root = Some(dist.path().to_owned());
    config.web.auto_launch = false;
    let tp = TestPlatform::start_with(config).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", tp.base)).send();

    for page in ["/", "/my-services", "/launcher/ide/jupyter-python"] {
        let r = get(page).await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let html = r.text().await.unwrap();
        assert!(html.contains("official"), "{page}: {html}");
        assert_eq!(setting(&html, "DISABLE_AUTO_LAUNCH"), "true");
        assert_eq!(setting(&html, "ONYXIA_API_URL"), "/api");
    }
    let head = http
        .head(format!("{}/my-services", tp.base))
        .send()
        .await
        .unwrap();
    let length = get("/my-services")
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        length.to_string(),
        "HEAD tells the length GET sends"
    );
    let asset = get("/assets/index-abc123.js").await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let logo = get("/logo.svg").await.unwrap();
    assert_eq!(logo.headers()["cache-control"], "no-cache");
    assert_eq!(get("/assets/missing.js").await.unwrap().status(), 404);
    let favicon = get("/favicon.ico").await.unwrap();
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()["content-type"], "image/svg+xml");
    // Platform routes stay the platform's.
    let api = get("/api/nothing").await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(get("/api/public/catalogs").await.unwrap().status(), 200);
    let discovery = get("/realms/datalab/.well-known/openid-configuration");
    assert_eq!(discovery.await.unwrap().status(), 200);
    let traversal = get("/assets/..%2f..%2fetc%2fpasswd").await.unwrap();
    assert_eq!(traversal.status(), 404);
    tp.stop().await;
}

#[tokio::test]
async fn a_web_root_without_index_html_stops_the_start() {
    let empty = tempfile::tempdir().unwrap();
    let mut config = config_without_engine();
    config.web.root = Some(empty.path().to_owned());
    let listeners = onyxia_lite::Listeners::bind(&config).await.unwrap();
    let err = onyxia_lite::Platform::start(config, listeners, std::future::pending())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("index.html"), "{err}");
}
