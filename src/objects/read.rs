//! Reading an object's bytes: a byte range over its segments, as a stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{ObjectError, ObjectStore, Segment};

/// An object's bytes on their way out.
pub type ByteStream =
    Pin<Box<dyn futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Sync>>;

/// Why an object's bytes could not be opened.
#[derive(Debug)]
pub enum ReadError {
    /// A blob went away: the object was replaced or deleted meanwhile. Read its record again.
    Gone,
    Failed(ObjectError),
}

/// A stream fed by a reader task through a bounded channel (back-pressure included).
struct ChannelStream(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_util::Stream for ChannelStream {
    type Item = std::io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

const CHUNK: usize = 256 * 1024;

enum Piece {
    /// An opened blob file (already positioned), and how many bytes to read from it.
    File(tokio::fs::File, u64),
    Bytes(Bytes),
}

fn failed(context: &'static str) -> impl FnOnce(std::io::Error) -> ReadError {
    move |source| ReadError::Failed(ObjectError::Io { context, source })
}

impl ObjectStore {
    /// Streams bytes `start..end` of an object made of `segments`. Every blob is opened before
    /// this returns, so a concurrent overwrite or delete (which unlinks files) cannot cut the
    /// body short: an open file stays readable.
    pub async fn read(
        &self,
        segments: &[Segment],
        start: u64,
        end: u64,
    ) -> Result<ByteStream, ReadError> {
        let mut pieces = Vec::new();
        let mut offset = 0;
        for s in segments {
            let (seg_start, seg_end) = (offset, offset + s.size);
            offset = seg_end;
            let (from, to) = (start.max(seg_start), end.min(seg_end));
            if from >= to {
                continue;
            }
            let (skip, len) = (from - seg_start, to - from);
            pieces.push(self.open_piece(s, skip, len).await?);
        }
        // Single small pieces need no reader task.
        if let [Piece::Bytes(bytes)] = pieces.as_slice() {
            let bytes = bytes.clone();
            return Ok(Box::pin(futures_util::stream::once(
                async move { Ok(bytes) },
            )));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(feed(pieces, tx));
        Ok(Box::pin(ChannelStream(rx)))
    }

    async fn open_piece(&self, s: &Segment, skip: u64, len: u64) -> Result<Piece, ReadError> {
        if s.blob.is_inline() {
            let bytes = match self.inline_bytes(&s.blob) {
                Ok(Some(b)) => Bytes::from(b),
                Ok(None) => return Err(ReadError::Gone),
                Err(e) => return Err(ReadError::Failed(e)),
            };
            let range = skip as usize..(skip + len) as usize;
            if bytes.len() < range.end {
                return Err(failed("reading an inline blob")(std::io::Error::other(
                    "stored object is shorter than recorded",
                )));
            }
            return Ok(Piece::Bytes(bytes.slice(range)));
        }
        let mut file = match tokio::fs::File::open(self.blobs.path(&s.blob)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Gone),
            Err(e) => return Err(failed("opening an object file")(e)),
        };
        file.seek(std::io::SeekFrom::Start(skip))
            .await
            .map_err(failed("seeking in an object file"))?;
        Ok(Piece::File(file, len))
    }
}

/// Sends the pieces' bytes in order until done, or until the reader goes away.
async fn feed(pieces: Vec<Piece>, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
    for piece in pieces {
        let (mut file, mut left) = match piece {
            Piece::Bytes(bytes) => {
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
                continue;
            }
            Piece::File(file, len) => (file, len),
        };
        while left > 0 {
            let mut buf = vec![0u8; CHUNK.min(left as usize)];
            match file.read(&mut buf).await {
                Ok(0) => {
                    let short = std::io::Error::other("object file is shorter than recorded");
                    let _ = tx.send(Err(short)).await;
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        return; // the client went away
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    }
}
