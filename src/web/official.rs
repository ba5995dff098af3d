//! A prebuilt onyxia-web (`dist/` of the official front end) served from a directory instead of
//! the embedded UI (`web.root`): files as they are, hashed assets cached for good, page paths
//! answered with its `index.html`, into which the deployment settings are written the way its
//! own container writes them (the `vite-envs` block that becomes `window.__VITE_ENVS`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::{PLATFORM_PREFIXES, file_not_found, last_segment_has_extension, matches_etag};

/// Why the official UI cannot be served from a directory.
#[derive(Debug, thiserror::Error)]
pub enum OfficialUiError {
    #[error("web.root {}: cannot read index.html: {source}", .root.display())]
    NoIndex {
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Opening and closing of the settings block in onyxia-web's `index.html`.
const ENV_START: &str = "var envWithValuesInBase64 = ";
const ENV_END: &str = "};";

struct OfficialUi {
    files: ServeDir,
    /// `index.html` with this platform's settings written in.
    index: Vec<u8>,
    index_etag: String,
}

/// The router serving onyxia-web's files from `root`.
pub fn router(root: &Path, auto_launch: bool) -> Result<Router, OfficialUiError> {
    let index =
        std::fs::read(root.join("index.html")).map_err(|source| OfficialUiError::NoIndex {
            root: root.to_owned(),
            source,
        })?;
    let settings = [
        // The API is on the origin that serves the UI.
        ("ONYXIA_API_URL", "/api".to_owned()),
        ("DISABLE_AUTO_LAUNCH", (!auto_launch).to_string()),
    ];
    let index = match with_settings(&String::from_utf8_lossy(&index), &settings) {
        Some(html) => html.into_bytes(),
        None => {
            tracing::warn!(
                root = %root.display(),
                "index.html has no vite-envs settings block; it is served as it is"
            );
            index
        }
    };
    let state = Arc::new(OfficialUi {
        files: ServeDir::new(root).append_index_html_on_directories(false),
        index_etag: format!("W/\"{}\"", hex::encode(&Sha256::digest(&index)[..16])),
        index,
    });
    Ok(Router::new()
        .fallback(serve)
        .with_state(state)
        .layer(tower_http::compression::CompressionLayer::new()))
}

/// Rewrites the values of `settings` in the vite-envs block (each value is the base64 of its
/// JSON text); `None` when the page has no such block.
fn with_settings(html: &str, settings: &[(&str, String)]) -> Option<String> {
    let start = html.find(ENV_START)? + ENV_START.len();
    let end = start + html[start..].find(ENV_END)? + 1;
    let mut values: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&html[start..end]).ok()?;
    for (name, value) in settings {
        let json = serde_json::Value::String(value.clone()).to_string();
        values.insert((*name).to_owned(), STANDARD.encode(json).into());
    }
    let block = serde_json::to_string_pretty(&values).ok()?;
    Some(format!("{}{block}{}", &html[..start], &html[end..]))
}

async fn serve(State(ui): State<Arc<OfficialUi>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if PLATFORM_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return super::platform_not_found();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return super::method_not_allowed();
    }
    if path == "/" || path == "/index.html" {
        return index(&ui, &request);
    }
    let head = request.method() == Method::HEAD;
    let mut response = match ui.files.clone().oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        if path == "/favicon.ico" {
            return super::favicon();
        }
        // A missing script or image is a 404, not the app: only page paths fall back.
        if last_segment_has_extension(&path) {
            return file_not_found();
        }
        let mut page = index_response(&ui);
        if head {
            head_only(&mut page, ui.index.len());
        }
        return page;
    }
    // Vite names assets by their content: a name never changes meaning.
    let cache = if path.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn index(ui: &OfficialUi, request: &Request) -> Response {
    if matches_etag(request.headers(), &ui.index_etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        set_index_headers(ui, &mut response);
        return response;
    }
    let mut response = index_response(ui);
    if request.method() == Method::HEAD {
        head_only(&mut response, ui.index.len());
    }
    response
}

/// Drops a response's body for HEAD, keeping the length GET would send.
fn head_only(response: &mut Response, length: usize) {
    *response.body_mut() = axum::body::Body::empty();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
}

fn index_response(ui: &OfficialUi) -> Response {
    let mut response = (StatusCode::OK, ui.index.clone()).into_response();
    set_index_headers(ui, &mut response);
    response
}

fn set_index_headers(ui: &OfficialUi, response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The page carries the settings: always revalidated.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&ui.index_etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(html: &str, name: &str) -> String {
        let start = html.find(ENV_START).unwrap() + ENV_START.len();
        let end = start + html[start..].find(ENV_END).unwrap() + 1;
        let values: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        let raw = STANDARD.decode(values[name].as_str().unwrap()).unwrap();
        serde_json::from_slice::<String>(&raw).unwrap()
    }

    #[test]
    fn settings_are_written_into_the_vite_envs_block() {
        let html = concat!(
            "<script>\n  var envWithValuesInBase64 = {\n  \"ONYXIA_API_URL\": \"Ii9hcGki\",\n",
            "  \"DISABLE_AUTO_LAUNCH\": \"ImZhbHNlIg==\",\n  \"TAB_TITLE\": \"Ik9ueXhpYSI=\"\n};\n",
            "  var env = {};\n</script>"
        );
        let out = with_settings(html, &[("DISABLE_AUTO_LAUNCH", "true".into())]).unwrap();
        assert_eq!(decode(&out, "DISABLE_AUTO_LAUNCH"), "true");
        assert_eq!(decode(&out, "TAB_TITLE"), "Onyxia");
        assert!(out.ends_with("};\n  var env = {};\n</script>"), "{out}");
        assert!(with_settings("<html></html>", &[]).is_none());
    }
}
