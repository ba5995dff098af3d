//! The tiny service the `tiny` test package runs in a container: its page, a WebSocket echo,
//! its environment, a fetch helper to check what the container can reach, and `/burn` to keep
//! a CPU busy for a while (a model training with nobody watching), and `/file` and `/write`
//! to read and try to write files (mounted course data).
//!
//! `scripts/build-test-image.sh` puts this binary (with the libraries it links) in the local
//! image `localhost/onyxia-lite-test:1`.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::Query;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{Html, IntoResponse};
use axum::routing::get;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let app = Router::new()
        .route("/", get(page))
        .route("/env", get(env))
        .route("/ws", get(ws))
        .route("/fetch", get(fetch))
        .route("/burn", get(burn))
        .route("/file", get(file))
        .route("/write", get(write));
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}"))
        .await
        .expect("bind");
    println!("tiny service listening on port {port}");
    // As PID 1 the process gets no default SIGTERM handling: stop on it explicitly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            term.recv().await;
        })
        .await
        .expect("serve");
}

async fn page() -> Html<String> {
    let message = std::env::var("MESSAGE").unwrap_or_default();
    let release = std::env::var("RELEASE").unwrap_or_default();
    println!("page requested");
    Html(format!(
        "<!doctype html><title>{release}</title><h1>{message}</h1><p>release {release}</p>"
    ))
}

async fn env() -> impl IntoResponse {
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    axum::Json(vars)
}

async fn ws(upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade.on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(t) => Message::Text(format!("echo: {t}").into()),
            Message::Binary(b) => Message::Binary(b),
            Message::Close(_) => return,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// Spins one CPU for `seconds` (default 10) on a thread of its own; answers at once.
async fn burn(Query(q): Query<BTreeMap<String, String>>) -> String {
    let seconds: u64 = q.get("seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    std::thread::spawn(move || {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        let mut x = 0u64;
        while std::time::Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    });
    format!("burning for {seconds} s")
}

/// GET `url` with an optional `header` (`Name: value`); answers `status\nbody`.
async fn fetch(Query(q): Query<BTreeMap<String, String>>) -> String {
    let Some(url) = q.get("url") else {
        return "missing url".into();
    };
    let mut request = reqwest::Client::new().get(url);
    if let Some((name, value)) = q.get("header").and_then(|h| h.split_once(':')) {
        request = request.header(name.trim(), value.trim());
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            format!("{status}\n{}", r.text().await.unwrap_or_default())
        }
        Err(e) => format!("error\n{e}"),
    }
}

/// The file at `path`, or its directory's entries one per line; answers `ok\n…` or `error\n…`.
async fn file(Query(q): Query<BTreeMap<String, String>>) -> String {
    let Some(path) = q.get("path") else {
        return "missing path".into();
    };
    let read = match std::fs::read_dir(path) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            Ok(names.join("\n"))
        }
        Err(_) => std::fs::read_to_string(path),
    };
    match read {
        Ok(text) => format!("ok\n{text}"),
        Err(e) => format!("error\n{e}"),
    }
}

/// Tries to write `text` to `path`; answers `ok` or `error\n…`.
async fn write(Query(q): Query<BTreeMap<String, String>>) -> String {
    let Some(path) = q.get("path") else {
        return "missing path".into();
    };
    match std::fs::write(path, q.get("text").map_or("", String::as_str)) {
        Ok(()) => "ok".into(),
        Err(e) => format!("error\n{e}"),
    }
}
