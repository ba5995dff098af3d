//! The web UI: the hand-written files under `web/`, embedded in the binary (debug builds read
//! them from disk, so editing a file and reloading the page is the whole development loop).
//!
//! Every path that is not a platform route and not a file is a page of the single-page app,
//! so deep links such as `/launcher/ide/jupyter-python?autoLaunch=true` load `index.html`.
//!
//! With `web.root`, a prebuilt official onyxia-web is served instead ([`official`]).

mod official;

pub use official::OfficialUiError;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Assets;

/// Marker in index.html replaced by the settings the server gives the UI (as onyxia-web's
/// container rewrites its index.html with its environment at start).
const ENV_MARKER: &str = "<!--onyxia-lite-env-->";

/// Path prefixes of platform routes: an unknown path there is a JSON 404, never the app.
const PLATFORM_PREFIXES: [&str; 4] = ["/api/", "/realms/", "/healthz", "/.well-known/"];

/// Scripts and styles come from this origin only; the UI talks to S3 and Vault on their own
/// listeners (other ports, or the operator's servers), so `connect-src` stays open.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob: http: https:; connect-src 'self' http: https:; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'self'";

struct WebState {
    /// JSON the UI reads at start (`auto_launch` and the version).
    env: String,
}

/// The UI's router, meant as the main listener's fallback: the embedded UI, or the official
/// one from `web.root`. Responses are compressed here only: API streams (SSE) and proxied
/// services must not be.
pub fn router(config: &crate::config::Config) -> Result<Router, OfficialUiError> {
    if let Some(root) = &config.web.root {
        return official::router(root, config.web.auto_launch);
    }
    let env = serde_json::json!({
        "autoLaunch": config.web.auto_launch,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let state = Arc::new(WebState {
        // `<` escaped so the JSON cannot close the script element it sits in.
        env: env.to_string().replace('<', "\\u003c"),
    });
    Ok(Router::new()
        .fallback(serve)
        .with_state(state)
        .layer(tower_http::compression::CompressionLayer::new()))
}

async fn serve(State(state): State<Arc<WebState>>, request: Request) -> Response {
    let path = request.uri().path();
    if PLATFORM_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return platform_not_found();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return method_not_allowed();
    }
    let name = match path.trim_start_matches('/') {
        // Browsers ask for it on every page, the issuer's included.
        "favicon.ico" => "icon.svg",
        other => other,
    };
    let (name, body) = match Assets::get(name).filter(|_| !name.is_empty()) {
        Some(file) => (name.to_owned(), file.data.into_owned()),
        // A missing script or image is a 404, not the app: only page paths fall back.
        None if last_segment_has_extension(name) => return file_not_found(),
        None => match Assets::get("index.html") {
            Some(index) => ("index.html".to_owned(), with_env(&index.data, &state.env)),
            None => return file_not_found(),
        },
    };
    let etag = format!("W/\"{}\"", hex_prefix(&Sha256::digest(&body)));
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, content_type(&name));
    // Files keep their names across releases, so browsers revalidate every time (a 304 is cheap).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if matches_etag(request.headers(), &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if request.method() == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        return (StatusCode::OK, headers).into_response();
    }
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

fn with_env(index: &[u8], env: &str) -> Vec<u8> {
    let html = String::from_utf8_lossy(index);
    let script = format!(r#"<script id="onyxia-lite-env" type="application/json">{env}</script>"#);
    html.replacen(ENV_MARKER, &script, 1).into_bytes()
}

fn last_segment_has_extension(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|s| s.contains('.'))
}

fn content_type(name: &str) -> HeaderValue {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let value = match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ if mime.subtype() == mime_guess::mime::JAVASCRIPT || mime.subtype() == "json" => {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    // Weak comparison (RFC 9110 §13.1.2): compression may have changed the bytes, not the file.
    let bare = etag.trim_start_matches("W/");
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == bare)
}

fn hex_prefix(digest: &[u8]) -> String {
    hex::encode(&digest[..16])
}

fn platform_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            serde_json::json!({"error": "not_found", "error_description": "No such endpoint"}),
        ),
    )
        .into_response()
}

/// The platform's icon, for `/favicon.ico` when the UI in use has none.
fn favicon() -> Response {
    match Assets::get("icon.svg") {
        Some(icon) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            icon.data.into_owned(),
        )
            .into_response(),
        None => file_not_found(),
    }
}

fn method_not_allowed() -> Response {
    let mut response = platform_not_found();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn file_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "No such file\n",
    )
        .into_response()
}

/// Total size of the embedded UI files, for the size budget test.
pub fn total_asset_bytes() -> usize {
    Assets::iter()
        .filter_map(|name| Assets::get(&name).map(|f| f.data.len()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_injected_once_and_cannot_close_the_script() {
        let html = b"<head><!--onyxia-lite-env--></head><!--onyxia-lite-env-->";
        let env = serde_json::json!({"x": "</script>"})
            .to_string()
            .replace('<', "\\u003c");
        let out = String::from_utf8(with_env(html, &env)).unwrap();
        assert_eq!(out.matches("</script>").count(), 1, "{out}");
        assert_eq!(out.matches("onyxia-lite-env\"").count(), 1);
    }

    #[test]
    fn weak_etags_match_either_form() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(matches_etag(&headers, "W/\"abc\""));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"x\", W/\"abc\""),
        );
        assert!(matches_etag(&headers, "W/\"abc\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"x\""));
        assert!(!matches_etag(&headers, "W/\"abc\""));
    }

    #[test]
    fn page_paths_fall_back_and_file_paths_do_not() {
        assert!(!last_segment_has_extension("launcher/ide/jupyter-python"));
        assert!(last_segment_has_extension("js/missing.js"));
        assert_eq!(
            content_type("app.css").to_str().unwrap(),
            "text/css; charset=utf-8"
        );
        assert!(
            content_type("js/main.js")
                .to_str()
                .unwrap()
                .contains("javascript")
        );
    }
}
