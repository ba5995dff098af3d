//! Streaming bodies: request bodies into blobs (with digests checked), blobs out as responses.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::payload::{
    CHECKSUM_ALGORITHMS, body_error, check_checksums, check_md5, computed, hasher_for,
};
use crate::objects::{Blob, ObjectStore, Segment};

/// Digests a client announced for a body (`Content-MD5`, `x-amz-checksum-*`), checked once
/// the body is in.
#[derive(Default, Clone)]
pub struct Announced {
    pub content_md5: Option<String>,
    /// (algorithm as S3 names it, base64 value), e.g. ("CRC32", "…").
    pub checksums: Vec<(String, String)>,
    /// Algorithms to compute without a value to compare (`x-amz-checksum-algorithm`).
    pub compute: Vec<String>,
    pub content_length: Option<u64>,
}

/// A body stored as a durable blob, with the checksums computed while it streamed.
pub struct Received {
    pub blob: Blob,
    pub checksums: BTreeMap<String, String>,
}

/// Streams `body` into a new blob of at most `max` bytes. A digest mismatch or a short body
/// discards the blob: nothing partial is ever stored.
pub async fn receive(
    objects: &ObjectStore,
    body: Option<StreamingBlob>,
    max: u64,
    announced: &Announced,
    trailers: Option<&s3s::TrailingHeaders>,
) -> S3Result<Received> {
    if let Some(len) = announced.content_length
        && len > max
    {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size of {max} bytes"
        ));
    }
    let mut names: Vec<&str> = announced
        .checksums
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    names.extend(announced.compute.iter().map(String::as_str));
    // A trailer may carry any algorithm: compute them all when a trailer is announced.
    if trailers.is_some() {
        names.extend(CHECKSUM_ALGORITHMS);
    }
    let mut hasher = hasher_for(names);
    let mut writer = objects.blobs.writer(max).await?;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| body_error(e.as_ref()))?;
            hasher.update(&chunk);
            writer.write(&chunk).await?;
        }
    }
    if let Some(len) = announced.content_length
        && writer.size() != len
    {
        return Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        ));
    }
    let mut sums = computed(hasher.finalize());
    let mut expected = announced.checksums.clone();
    if let Some(trailers) = trailers.and_then(|t| t.take()) {
        for (name, value) in trailers.iter() {
            if let Some(alg) = name.as_str().strip_prefix("x-amz-checksum-")
                && let Ok(v) = value.to_str()
            {
                expected.push((alg.to_ascii_uppercase(), v.to_owned()));
            }
        }
    }
    // Checked before the blob gets its final name: a refused body is only ever a temp file,
    // removed when the writer drops.
    if let Some(md5) = &announced.content_md5 {
        check_md5(md5, &writer.md5())?;
    }
    check_checksums(&expected, &sums)?;
    let blob = writer.finish().await?;
    // Keep only what the client asked for (announced or requested).
    let keep: Vec<String> = expected
        .iter()
        .map(|(a, _)| a.clone())
        .chain(announced.compute.iter().map(|a| a.to_ascii_uppercase()))
        .collect();
    sums.retain(|k, _| keep.contains(k));
    Ok(Received {
        blob,
        checksums: sums,
    })
}

/// A stream fed by a reader task through a bounded channel (back-pressure included).
struct ChannelStream(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_util::Stream for ChannelStream {
    type Item = Result<Bytes, std::io::Error>;
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

/// Why an object's bytes could not be opened.
pub enum SendError {
    /// A blob went away: the object was replaced or deleted meanwhile. Read its record again.
    Gone,
    Failed(S3Error),
}

/// Streams bytes `start..end` of an object made of `segments`. Every blob is opened before
/// this returns, so a concurrent overwrite or delete (which unlinks files) cannot cut the
/// body short: an open file stays readable.
pub async fn send(
    objects: &ObjectStore,
    segments: &[Segment],
    start: u64,
    end: u64,
) -> Result<StreamingBlob, SendError> {
    let mut pieces = Vec::new();
    let mut offset = 0;
    for s in segments {
        let (seg_start, seg_end) = (offset, offset + s.size);
        offset = seg_end;
        let from = start.max(seg_start);
        let to = end.min(seg_end);
        if from >= to {
            continue;
        }
        let (skip, len) = (from - seg_start, to - from);
        if s.is_inline() {
            let bytes = match objects.inline_bytes(&s.blob) {
                Ok(Some(b)) => Bytes::from(b),
                Ok(None) => return Err(SendError::Gone),
                Err(e) => return Err(SendError::Failed(e.into())),
            };
            if bytes.len() < (skip + len) as usize {
                return Err(SendError::Failed(s3_error!(
                    InternalError,
                    "stored object is shorter than recorded"
                )));
            }
            pieces.push(Piece::Bytes(
                bytes.slice(skip as usize..(skip + len) as usize),
            ));
        } else {
            let mut file = match tokio::fs::File::open(objects.blobs.path(&s.blob)).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SendError::Gone),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open an object file");
                    return Err(SendError::Failed(s3_error!(
                        InternalError,
                        "storage failure, see the server log"
                    )));
                }
            };
            if let Err(e) = file.seek(std::io::SeekFrom::Start(skip)).await {
                tracing::error!(error = %e, "cannot seek in an object file");
                return Err(SendError::Failed(s3_error!(
                    InternalError,
                    "storage failure, see the server log"
                )));
            }
            pieces.push(Piece::File(file, len));
        }
    }
    // Single small pieces need no reader task.
    if let [Piece::Bytes(bytes)] = pieces.as_slice() {
        let bytes = bytes.clone();
        return Ok(StreamingBlob::wrap(futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(bytes) },
        )));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
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
                        let _ = tx
                            .send(Err(std::io::Error::other(
                                "object file is shorter than recorded",
                            )))
                            .await;
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
    });
    Ok(StreamingBlob::wrap(ChannelStream(rx)))
}

/// Copies bytes `start..end` of an object into a new durable blob.
pub async fn copy(
    objects: &ObjectStore,
    segments: &[Segment],
    start: u64,
    end: u64,
) -> S3Result<Blob> {
    let mut stream = match send(objects, segments, start, end).await {
        Ok(stream) => stream,
        Err(SendError::Gone) => {
            return Err(s3_error!(
                NoSuchKey,
                "The copy source changed while it was read; try again"
            ));
        }
        Err(SendError::Failed(e)) => return Err(e),
    };
    let mut writer = objects.blobs.writer(objects.max_object_size).await?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::error!(error = %e, "reading a copy source failed");
            S3Error::with_message(S3ErrorCode::InternalError, "reading the copy source failed")
        })?;
        writer.write(&chunk).await?;
    }
    Ok(writer.finish().await?)
}
