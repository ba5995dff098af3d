//! CORS on the S3 listener: a bucket's CORS rules when it has some, else any origin (MinIO's
//! default, which browser clients such as onyxia-web rely on). Preflights are answered here.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::objects::{CorsRule, ObjectStore};
use crate::policy::wildcard;

#[derive(Clone)]
pub struct CorsState {
    pub objects: Arc<ObjectStore>,
    pub domain: Option<String>,
}

/// Headers browsers may read from S3 responses (multipart uploads need ETag).
const EXPOSE: &str = "ETag, Content-Length, Content-Type, Content-Range, Last-Modified, x-amz-request-id, x-amz-version-id, x-amz-meta-*, x-amz-checksum-crc32, x-amz-checksum-crc32c, x-amz-checksum-sha1, x-amz-checksum-sha256";

fn bucket_of(state: &CorsState, request: &Request) -> Option<String> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if let Some(domain) = state.domain.as_deref().filter(|d| !d.is_empty())
        && let Some(bucket) = host.strip_suffix(domain).and_then(|h| h.strip_suffix('.'))
    {
        return Some(bucket.to_owned());
    }
    request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
}

/// What a matching rule grants: exposed headers and max age.
struct Grant {
    expose: String,
    max_age: Option<i32>,
}

/// `Ok(None)`: no CORS configuration, so any origin. `Err(())`: rules exist and none match.
fn matching_rule(
    rules: Option<&[CorsRule]>,
    origin: &str,
    method: &str,
    headers: &[String],
) -> Result<Option<Grant>, ()> {
    let Some(rules) = rules else { return Ok(None) };
    for rule in rules {
        let origin_ok = rule.allowed_origins.iter().any(|o| wildcard(o, origin));
        let method_ok = rule
            .allowed_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method));
        let headers_ok = headers.iter().all(|h| {
            rule.allowed_headers
                .iter()
                .any(|a| wildcard(&a.to_ascii_lowercase(), &h.to_ascii_lowercase()))
        });
        if origin_ok && method_ok && headers_ok {
            return Ok(Some(Grant {
                expose: rule.expose_headers.join(", "),
                max_age: rule.max_age_seconds,
            }));
        }
    }
    Err(())
}

fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

pub async fn cors(State(state): State<CorsState>, request: Request, next: Next) -> Response {
    let Some(origin) = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    let rules = bucket_of(&state, &request)
        .and_then(|b| state.objects.bucket(&b).ok())
        .and_then(|b| b.cors);
    if request.method() == Method::OPTIONS {
        let Some(method) = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
        else {
            return forbidden();
        };
        let asked: Vec<String> = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                h.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let Ok(grant) = matching_rule(rules.as_deref(), &origin, method, &asked) else {
            return forbidden();
        };
        let mut response = StatusCode::OK.into_response();
        let h = response.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, &origin);
        set(h, header::ACCESS_CONTROL_ALLOW_METHODS, method);
        if !asked.is_empty() {
            set(h, header::ACCESS_CONTROL_ALLOW_HEADERS, &asked.join(", "));
        }
        set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        if let Some(age) = grant.as_ref().and_then(|g| g.max_age) {
            set(h, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
        }
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        return response;
    }
    let method = request.method().as_str().to_owned();
    let mut response = next.run(request).await;
    if let Ok(grant) = matching_rule(rules.as_deref(), &origin, &method, &[]) {
        let h = response.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, &origin);
        set(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        let expose = grant
            .map(|g| g.expose)
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| EXPOSE.to_owned());
        set(h, header::ACCESS_CONTROL_EXPOSE_HEADERS, &expose);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessForbidden</Code>\
         <Message>CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.</Message></Error>",
    )
        .into_response()
}
