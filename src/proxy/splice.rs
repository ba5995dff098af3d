//! Upgraded connections (WebSocket) spliced between a client and a service, watching the
//! client's side for use: every WebSocket message a client sends (a notebook cell run, a key
//! typed in a terminal) counts as activity; pings, pongs and closes, which an open but unused
//! tab keeps sending, do not. An upgrade to another protocol counts each byte the client sends.

use std::io::Cursor;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::OpCode;

/// Reports of use are sent at most this often per connection.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Follows a client's byte stream frame by frame.
pub struct FrameWatcher {
    /// Bytes of a frame header not complete yet.
    header: Vec<u8>,
    /// Payload bytes of the current frame still to pass.
    skip: u64,
    /// Not WebSocket: every byte is use.
    opaque: bool,
}

impl FrameWatcher {
    /// A watcher of a connection upgraded to `protocol` (the `Upgrade` header).
    pub fn new(protocol: &str) -> Self {
        FrameWatcher {
            header: Vec::new(),
            skip: 0,
            opaque: !protocol.trim().eq_ignore_ascii_case("websocket"),
        }
    }

    /// Whether `chunk` carries (the start of) a message from the user.
    pub fn feed(&mut self, mut chunk: &[u8]) -> bool {
        if self.opaque {
            return !chunk.is_empty();
        }
        let mut used = false;
        while !chunk.is_empty() {
            if self.skip > 0 {
                let n = chunk
                    .len()
                    .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                self.skip -= n as u64;
                chunk = &chunk[n..];
                continue;
            }
            self.header.extend_from_slice(chunk);
            let mut cursor = Cursor::new(&self.header);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some((header, length))) => {
                    used |= matches!(header.opcode, OpCode::Data(_));
                    // What followed the header in this buffer is payload (or later frames).
                    let rest = self.header.split_off(cursor.position() as usize);
                    self.header.clear();
                    self.skip = length;
                    let n = rest
                        .len()
                        .min(usize::try_from(length).unwrap_or(usize::MAX));
                    self.skip -= n as u64;
                    if rest.len() > n {
                        used |= self.feed(&rest[n..]);
                    }
                    return used;
                }
                Ok(None) => return used,
                // Reading from memory cannot fail; were it to, count the bytes.
                Err(_) => {
                    self.opaque = true;
                    return true;
                }
            }
        }
        used
    }
}

/// Copies `from` (the client) into `to` (the service), calling `on_use` when the client sends
/// a message (at most once a second); shuts `to` down at the client's end of stream.
pub async fn copy_watched(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut watcher: FrameWatcher,
    on_use: impl Fn(),
) -> std::io::Result<()> {
    let mut last_report: Option<Instant> = None;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        if watcher.feed(&buffer[..n]) && last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            last_report = Some(Instant::now());
            on_use();
        }
        to.write_all(&buffer[..n]).await?;
        to.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame with `opcode` and `payload`.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
        );
        out
    }

    #[test]
    fn messages_count_and_keep_alives_do_not() {
        let mut w = FrameWatcher::new("websocket");
        assert!(!w.feed(&frame(0x9, b"ping")), "a ping");
        assert!(!w.feed(&frame(0xA, b"pong")), "a pong");
        assert!(w.feed(&frame(0x1, b"run cell 3")), "a text message");
        assert!(
            w.feed(&frame(0x2, &[0u8; 300])),
            "a binary message, long length form"
        );
        // Split across reads anywhere: header byte by byte, payload in pieces.
        let split = [frame(0xA, b"p"), frame(0x1, &[b'x'; 200])].concat();
        let used: Vec<bool> = split.chunks(3).map(|c| w.feed(c)).collect();
        assert_eq!(used.iter().filter(|u| **u).count(), 1, "{used:?}");
        // Several frames in one read.
        assert!(w.feed(&[frame(0x9, b""), frame(0x1, b"a"), frame(0xA, b"")].concat()));
        // Another protocol: every byte counts.
        let mut other = FrameWatcher::new("h2c");
        assert!(other.feed(&frame(0x9, b"")));
        assert!(!other.feed(b""));
    }
}
