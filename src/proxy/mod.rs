//! The service proxy: requests for `<release>.<expose domain>` on the main listener go to the
//! service's port, published on the host's loopback. HTTP/1.1, streamed both ways, and
//! protocol upgrades (WebSocket) spliced once the service agrees (`splice.rs`). Page loads,
//! writes and WebSocket messages from the client are reported to the lab as use of the
//! service, which idle culling reads.

mod splice;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;

use crate::markup::escape;
use crate::services::Lab;
use crate::tasks::Tasks;

pub struct Proxy {
    lab: Arc<Lab>,
    /// Lowercase, without a leading dot.
    domain: String,
    /// The platform's own host (never a service, even when under the domain).
    own_host: String,
    /// Scheme browsers use (`X-Forwarded-Proto` for services behind a TLS front).
    scheme: &'static str,
    client: Client<HttpConnector, Body>,
    /// Upgraded connections (WebSocket) being spliced: they have left their listener, so the
    /// platform ends them itself when it stops.
    splices: Tasks,
}

impl Proxy {
    pub fn new(lab: Arc<Lab>, domain: &str, public_url: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let public = url::Url::parse(public_url).ok();
        Proxy {
            lab,
            domain: domain.trim_start_matches('.').to_ascii_lowercase(),
            own_host: public
                .as_ref()
                .and_then(|u| u.host_str())
                .unwrap_or_default()
                .to_ascii_lowercase(),
            scheme: if public.as_ref().is_some_and(|u| u.scheme() == "https") {
                "https"
            } else {
                "http"
            },
            client: Client::builder(TokioExecutor::new()).build(connector),
            splices: Tasks::default(),
        }
    }

    /// Ends the upgraded connections still spliced, once the listeners have closed.
    pub async fn close_splices(&self) {
        let cut = self.splices.shutdown(std::time::Duration::ZERO).await;
        if cut > 0 {
            tracing::debug!(connections = cut, "closed upgraded connections to services");
        }
    }

    /// The release a `Host` header names, if it is `<release>.<domain>[:port]`.
    fn release_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        if name == self.own_host {
            return None;
        }
        let release = name.strip_suffix(&self.domain)?.strip_suffix('.')?;
        (!release.is_empty() && !release.contains('.')).then_some(release)
    }
}

/// Middleware: service hosts are proxied, everything else goes on to the platform's routes.
pub async fn route(State(proxy): State<Arc<Proxy>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host.as_deref().and_then(|h| proxy.release_of(h)) {
        Some(release) => {
            let release = release.to_owned();
            forward(&proxy, &release, request).await
        }
        None => next.run(request).await,
    }
}

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "proxy-authorization",
];

async fn forward(proxy: &Proxy, release: &str, mut request: Request) -> Response {
    let Some(address) = proxy.lab.route(release, false).await else {
        return page(
            StatusCode::NOT_FOUND,
            "No such service",
            &format!(
                "No running service is named <code>{}</code>. It may have been deleted or suspended; see My Services.",
                escape(release)
            ),
        );
    };
    let upgrade = request.headers().contains_key(header::UPGRADE);
    let protocol = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if is_use(request.method(), request.headers()) {
        proxy.lab.saw_use(release);
    }
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    strip_hop_by_hop(&mut parts.headers, upgrade);
    if let Some(ip) = peer {
        let chain = match parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(earlier) => format!("{earlier}, {ip}"),
            None => ip,
        };
        if let Ok(v) = HeaderValue::from_str(&chain) {
            parts.headers.insert("x-forwarded-for", v);
        }
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static(proxy.scheme));
    let build = |address: std::net::SocketAddr, parts: &axum::http::request::Parts| {
        let mut p = parts.clone();
        p.uri = Uri::try_from(format!("http://{address}{path}")).unwrap_or_default();
        p.version = axum::http::Version::HTTP_11;
        p
    };
    // Bodies cannot be replayed: retry on a fresh route only for requests without one.
    let replayable = body_is_empty(&parts);
    let first = proxy
        .client
        .request(Request::from_parts(build(address, &parts), body))
        .await;
    let response = match first {
        Ok(r) => r,
        Err(e) if e.is_connect() && replayable => match proxy.lab.route(release, true).await {
            Some(fresh) if fresh != address => {
                match proxy
                    .client
                    .request(Request::from_parts(build(fresh, &parts), Body::empty()))
                    .await
                {
                    Ok(r) => r,
                    Err(e) => return unreachable(release, &e),
                }
            }
            _ => return unreachable(release, &e),
        },
        Err(e) => return unreachable(release, &e),
    };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let (mut out_parts, incoming) = response.into_parts();
        let mut upstream_response = hyper::Response::from_parts(out_parts.clone(), incoming);
        let service_upgrade = hyper::upgrade::on(&mut upstream_response);
        let lab = proxy.lab.clone();
        let release = release.to_owned();
        proxy.splices.spawn("splice", async move {
            let (Ok(client), Ok(service)) = (client_upgrade.await, service_upgrade.await) else {
                return;
            };
            let (client_read, mut client_write) = tokio::io::split(TokioIo::new(client));
            let (mut service_read, service_write) = tokio::io::split(TokioIo::new(service));
            let watcher = splice::FrameWatcher::new(&protocol);
            let up = splice::copy_watched(client_read, service_write, watcher, || {
                lab.saw_use(&release)
            });
            let down = async {
                tokio::io::copy(&mut service_read, &mut client_write).await?;
                client_write.shutdown().await
            };
            // Either side failing ends both; a side that ends cleanly waits for the other.
            let _ = tokio::try_join!(up, down);
        });
        out_parts.extensions = Default::default();
        return Response::from_parts(out_parts, Body::empty());
    }
    let (mut out_parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut out_parts.headers, false);
    Response::from_parts(out_parts, Body::new(incoming))
}

/// Whether a request is someone using the service, as opposed to an open page keeping
/// itself up to date: a page load (a navigation) or a request that changes something
/// (anything but GET, HEAD and OPTIONS). Background polls of an open tab are GETs made by
/// scripts, which browsers mark with a `Sec-Fetch-Mode` other than `navigate`.
fn is_use(method: &axum::http::Method, headers: &axum::http::HeaderMap) -> bool {
    use axum::http::Method;
    if ![Method::GET, Method::HEAD, Method::OPTIONS].contains(method) {
        return true;
    }
    match headers.get("sec-fetch-mode").and_then(|v| v.to_str().ok()) {
        Some(mode) => mode == "navigate",
        // Clients that do not say: a request for a page is a page load.
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    }
}

/// Removes hop-by-hop headers, including those `Connection` names. An upgrade keeps
/// `Connection: upgrade` and `Upgrade`, which the service must see.
fn strip_hop_by_hop(headers: &mut axum::http::HeaderMap, upgrade: bool) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "upgrade")
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        if upgrade && name == "connection" {
            continue;
        }
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

fn body_is_empty(parts: &axum::http::request::Parts) -> bool {
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    length.unwrap_or(0) == 0 && !parts.headers.contains_key(header::TRANSFER_ENCODING)
}

fn unreachable(release: &str, e: &hyper_util::client::legacy::Error) -> Response {
    tracing::debug!(release, error = %e, "service did not answer");
    page(
        StatusCode::BAD_GATEWAY,
        "The service is not answering",
        &format!(
            "<code>{}</code> is not answering yet. If it was just launched it may still be starting: reload in a few seconds, or read its logs in My Services.",
            escape(release)
        ),
    )
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"color-scheme\" content=\"light dark\"></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem\">\
         <h1>{title}</h1><p>{message}</p></body></html>"
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
