//! `pods/{name}/portforward` over a WebSocket, in the channel protocol kube's
//! `Api::<Pod>::portforward` speaks: port i has data channel 2i and error channel 2i+1, every
//! binary frame starts with its channel byte, and each channel's first frame carries the port
//! number (u16, little-endian). Bytes are spliced to the backend of the container's image.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::store::{ApiError, Key, State as Store, kind_of};
use super::{Shared, kubelet};

pub async fn handler(
    State(shared): State<Arc<Shared>>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let q = super::routes::parse_query(query.as_deref());
    let ports: Result<Vec<u16>, _> = q
        .get("ports")
        .map_or("", String::as_str)
        .split(',')
        .map(|p| p.trim().parse::<u16>())
        .collect();
    let ports = match ports {
        // Two channels per port, numbered in one byte.
        Ok(p) if !p.is_empty() && p.len() <= 127 && !p.contains(&0) => p,
        _ => {
            return ApiError::bad_request(
                "query parameter \"ports\" must name ports between 1 and 65535",
            )
            .into_response();
        }
    };
    let targets = {
        let st = shared.lock();
        let pods = kind_of("", "pods").expect("pods kind");
        if st.port_forward_refused {
            return ApiError::forbidden(format!(
                "pods \"{name}\" is forbidden: User \"fake\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"{ns}\""
            ))
            .into_response();
        }
        let Some(pod) = st.get(&Key::new(pods, &ns, &name)) else {
            return ApiError::not_found(pods, &name).into_response();
        };
        ports
            .iter()
            .map(|p| target(&st, pod, *p))
            .collect::<Vec<_>>()
    };
    let Ok(ws) = ws else {
        return ApiError::bad_request("Upgrade request required").into_response();
    };
    ws.protocols(["v4.channel.k8s.io"])
        .on_upgrade(move |socket| serve(socket, ports, targets))
}

/// Where a port of the pod leads: the backend of the image of the container declaring it (or
/// of the first container), or why it cannot be reached.
fn target(st: &Store, pod: &Value, port: u16) -> Result<SocketAddr, String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let declares = |c: &&&Value| {
        c["ports"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["containerPort"] == json!(port)))
    };
    let container = containers
        .iter()
        .find(declares)
        .or(containers.first())
        .ok_or("pod has no containers")?;
    let cname = container["name"].as_str().unwrap_or_default();
    let fail =
        |why: String| format!("error forwarding port {port} to pod {name}, uid {uid}: {why}");
    if pod["status"]["phase"] != json!("Running") {
        return Err(fail(format!("pod {name} is not running")));
    }
    if !kubelet::running(pod, cname) {
        let why = kubelet::not_running(pod, cname);
        return Err(fail(why.unwrap_or_else(|| {
            format!("container \"{cname}\" is not running")
        })));
    }
    let image = container["image"].as_str().unwrap_or_default();
    st.images
        .get(image)
        .map(|i| i.backend)
        .ok_or_else(|| fail(format!("nothing listens on port {port}")))
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bin = Vec::with_capacity(data.len() + 1);
    bin.push(channel);
    bin.extend_from_slice(data);
    Message::Binary(Bytes::from(bin))
}

async fn serve(socket: WebSocket, ports: Vec<u16>, targets: Vec<Result<SocketAddr, String>>) {
    let (mut sink, mut stream) = socket.split();
    for (i, port) in ports.iter().enumerate() {
        for ch in [2 * i as u8, 2 * i as u8 + 1] {
            if sink.send(frame(ch, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
    }
    let (tx, mut rx) = mpsc::channel::<(usize, Option<Bytes>)>(16);
    let mut writers = Vec::new();
    let mut open = 0;
    for (i, t) in targets.into_iter().enumerate() {
        let conn = match t {
            Ok(addr) => TcpStream::connect(addr)
                .await
                .map_err(|e| format!("error forwarding port {}: {e}", ports[i])),
            Err(why) => Err(why),
        };
        match conn {
            Ok(tcp) => {
                let (read, write) = tcp.into_split();
                writers.push(Some(write));
                open += 1;
                tokio::spawn(pump(i, read, tx.clone()));
            }
            Err(why) => {
                writers.push(None);
                if sink
                    .send(frame(2 * i as u8 + 1, why.as_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    drop(tx);
    while open > 0 {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(b))) if b.len() > 1 && b[0] % 2 == 0 => {
                    let port = usize::from(b[0] / 2);
                    if let Some(Some(w)) = writers.get_mut(port)
                        && w.write_all(&b[1..]).await.is_err()
                    {
                        writers[port] = None;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            event = rx.recv() => match event {
                Some((i, Some(bytes))) => {
                    if sink.send(frame(2 * i as u8, &bytes)).await.is_err() {
                        break;
                    }
                }
                Some((_, None)) => open -= 1,
                None => break,
            },
        }
    }
    let _ = sink.send(Message::Close(None)).await;
}

/// Backend → WebSocket for one port; None marks the end.
async fn pump(
    i: usize,
    mut read: tokio::net::tcp::OwnedReadHalf,
    tx: mpsc::Sender<(usize, Option<Bytes>)>,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((i, Some(Bytes::copy_from_slice(&buf[..n]))))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = tx.send((i, None)).await;
}
