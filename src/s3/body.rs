//! Streaming bodies: request bodies into blobs (with digests checked), blobs out as responses.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::StreamExt;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

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

fn hasher_for(names: &[String]) -> s3s::checksum::ChecksumHasher {
    let mut h = s3s::checksum::ChecksumHasher::default();
    for name in names {
        match name.to_ascii_uppercase().as_str() {
            "CRC32" => h.crc32 = Some(Default::default()),
            "CRC32C" => h.crc32c = Some(Default::default()),
            "SHA1" => h.sha1 = Some(Default::default()),
            "SHA256" => h.sha256 = Some(Default::default()),
            "CRC64NVME" => h.crc64nvme = Some(Default::default()),
            _ => {}
        }
    }
    h
}

fn computed(c: s3s::dto::Checksum) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in [
        ("CRC32", c.checksum_crc32),
        ("CRC32C", c.checksum_crc32c),
        ("SHA1", c.checksum_sha1),
        ("SHA256", c.checksum_sha256),
        ("CRC64NVME", c.checksum_crc64nvme),
    ] {
        if let Some(v) = value {
            out.insert(name.to_owned(), v);
        }
    }
    out
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
    let mut names: Vec<String> = announced.checksums.iter().map(|(n, _)| n.clone()).collect();
    names.extend(announced.compute.iter().cloned());
    // A trailer may carry any algorithm: compute the common ones when a trailer is announced.
    if trailers.is_some() {
        names.extend(["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"].map(String::from));
    }
    let mut hasher = hasher_for(&names);
    let mut writer = objects.blobs.writer(max).await?;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::debug!(error = %e, "request body failed");
                S3Error::with_message(
                    S3ErrorCode::IncompleteBody,
                    "The request body terminated unexpectedly",
                )
            })?;
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
    let blob_md5_check = announced.content_md5.clone();
    let blob = writer.finish().await?;
    let discard = |e: S3Error| {
        objects.blobs.remove([blob.id.clone()]);
        Err(e)
    };
    if let Some(md5) = blob_md5_check {
        match STANDARD.decode(md5.trim()) {
            Ok(raw) if raw.len() == 16 => {
                if raw != blob.md5 {
                    return discard(s3_error!(
                        BadDigest,
                        "The Content-MD5 you specified did not match what we received"
                    ));
                }
            }
            _ => {
                return discard(s3_error!(
                    InvalidDigest,
                    "The Content-MD5 you specified is not valid"
                ));
            }
        }
    }
    for (alg, value) in &expected {
        match sums.get(alg) {
            Some(actual) if actual == value => {}
            Some(_) => {
                return discard(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!("The {alg} you specified did not match the calculated checksum"),
                ));
            }
            None => return discard(s3_error!(InvalidRequest, "Unsupported checksum algorithm")),
        }
    }
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
