//! Serving one listener over HTTP/1.1 with the limits a slow or hostile client cannot wear
//! down: a cap on connections held at once, a deadline for request headers (which also ends
//! idle keep-alive connections), and idle timeouts for request bodies and stalled responses.
//! Accept errors (such as running out of file descriptors) back off instead of spinning.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// How long shutdown waits for open connections (long polls, event streams) to finish, and
/// then for background work (deploys in flight).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long to wait after a failed accept before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `stopped` turns true, then lets open connections finish
/// their requests (at most [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut connections = JoinSet::new();
    loop {
        // A full listener stops accepting: new clients wait in the kernel's backlog.
        // Finished connections are reaped while waiting, so an idle listener holds nothing.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = stop_requested(&mut stopped) => break,
        };
        let accepted = loop {
            tokio::select! {
                accepted = listener.accept() => break Some(accepted),
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = stop_requested(&mut stopped) => break None,
            }
        };
        let Some(accepted) = accepted else { break };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Without TCP_NODELAY, small responses wait on delayed ACKs (~40 ms each).
        let _ = tcp.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutStream::new(Held {
            tcp,
            _permit: permit,
        });
        io.set_write_timeout(Some(limits.idle_timeout));
        let app = app.clone();
        let idle = limits.idle_timeout;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let request = request.map(|body| axum::body::Body::new(IdleBody::new(idle, body)));
            app.clone().oneshot(request)
        });
        let connection = http
            .serve_connection(TokioIo::new(Box::pin(io)), service)
            .with_upgrades();
        let mut stopping = stopped.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = stop_requested(&mut stopping) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// A request body that fails when the client pauses longer than the idle timeout between
/// two chunks. Unlike tower-http's `TimeoutBody` it keeps the body's size hint: S3 reads the
/// exact length of bodies that have no `Content-Length` (a GET's empty one).
struct IdleBody<B> {
    inner: Pin<Box<tower_http::timeout::TimeoutBody<B>>>,
    hint: http_body::SizeHint,
    end: bool,
}

impl<B: http_body::Body> IdleBody<B> {
    fn new(idle: Duration, body: B) -> Self {
        let (hint, end) = (body.size_hint(), body.is_end_stream());
        IdleBody {
            inner: Box::pin(tower_http::timeout::TimeoutBody::new(idle, body)),
            hint,
            end,
        }
    }
}

impl<B> http_body::Body for IdleBody<B>
where
    B: http_body::Body,
    B::Error: Into<tower_http::BoxError>,
{
    type Data = B::Data;
    type Error = tower_http::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let read = bytes::Buf::remaining(data) as u64;
                    let lower = self.hint.lower().saturating_sub(read);
                    let upper = self.hint.upper().map(|u| u.saturating_sub(read));
                    self.hint = http_body::SizeHint::default();
                    self.hint.set_lower(lower);
                    if let Some(upper) = upper {
                        self.hint.set_upper(upper);
                    }
                }
            }
            Poll::Ready(None) => self.end = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.end
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.hint
    }
}

/// Resolves once `stopped` turns true (or its sender is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// A connection with its slot: the slot is given back when the socket closes, which for an
/// upgraded connection (WebSocket) is long after its HTTP exchange ended.
struct Held {
    tcp: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Connections per listener when `max_connections` is 0: three quarters of the open-file
/// limit, shared by `listeners` (the rest is for the database, object files and clients).
pub fn default_max_connections(open_files: u64, listeners: usize) -> usize {
    let budget = open_files.saturating_mul(3) / 4;
    let share = budget / listeners.max(1) as u64;
    share.clamp(16, 65_536) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_share_stays_below_the_open_file_limit() {
        assert_eq!(default_max_connections(1024, 6), 128);
        assert_eq!(default_max_connections(20_000, 3), 5_000);
        assert_eq!(default_max_connections(u64::MAX, 3), 65_536);
        assert_eq!(default_max_connections(10, 6), 16);
    }
}
