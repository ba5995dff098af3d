//! Checking that a request body is the one its client signed and described: the signed
//! `x-amz-content-sha256`, `Content-MD5` and `x-amz-checksum-*`, and the `aws-chunked` framing.
//!
//! Documents (what s3s buffers: DeleteObjects, tagging, CORS and policy bodies) are read and
//! checked here, before s3s parses anything. Object bodies (PutObject, UploadPart) are checked
//! by the object store as they stream in, with the same checksum rules
//! (`objects::checksum::Expected`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use s3s::{S3Error, S3ErrorCode, s3_error};
use sha2::{Digest as _, Sha256};

use crate::objects::checksum::{Expected, Hasher};

/// Documents are checked here up to s3s's own limit on them; larger ones s3s refuses.
const DOCUMENT_MAX: u64 = 20 * 1024 * 1024;

/// AWS's answer when the body is not the one whose SHA-256 was signed.
pub fn sha256_mismatch() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    e.set_status_code(axum::http::StatusCode::BAD_REQUEST);
    e
}

fn incomplete(message: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::IncompleteBody, message.to_owned())
}

/// The S3 error for a body stream that failed. s3s verifies the signed SHA-256 and the
/// `aws-chunked` framing while the body streams, and reports failures as stream errors whose
/// messages name the cause.
pub fn body_error(e: &(dyn std::error::Error + 'static)) -> S3Error {
    let message = e.to_string();
    tracing::debug!(error = %crate::markup::excerpt(&message), "request body failed");
    if message.contains("Sha256Mismatch") {
        sha256_mismatch()
    } else if message.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "The chunk signature we calculated does not match the signature you provided"
        )
    } else if message.contains("FormatError")
        || message.contains("TooLarge")
        || message.contains("TooMany")
    {
        incomplete("The aws-chunked body is malformed")
    } else {
        incomplete("The request body terminated unexpectedly")
    }
}

/// What a request's headers say its body is: `Content-MD5`, `x-amz-checksum-<algorithm>`.
fn announced(headers: &HeaderMap, with_checksums: bool) -> Expected {
    let mut expected = Expected {
        md5: header(headers, "content-md5").map(str::to_owned),
        ..Default::default()
    };
    for (name, value) in headers.iter().filter(|_| with_checksums) {
        let Some(algorithm) = name.as_str().strip_prefix("x-amz-checksum-") else {
            continue;
        };
        // `x-amz-checksum-algorithm` / `-type` describe, they carry no value.
        if matches!(algorithm, "algorithm" | "type" | "mode") {
            continue;
        }
        if let Ok(value) = value.to_str() {
            expected.announce(algorithm, value.to_owned());
        }
    }
    expected
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether any `Content-Encoding` header lists `aws-chunked`.
fn declares_aws_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all("content-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("aws-chunked"))
}

/// Names of the query parameters of a request.
fn query_keys(request: &Request) -> Vec<String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect()
}

/// Whether a request uploads object bytes (PutObject, UploadPart): a PUT whose query holds no
/// subresource, only part numbers, upload ids and presigning parameters.
fn is_object_upload(request: &Request, keys: &[String]) -> bool {
    request.method() == axum::http::Method::PUT
        && keys.iter().all(|k| {
            matches!(k.as_str(), "partNumber" | "uploadId" | "x-id") || k.starts_with("X-Amz-")
        })
}

fn hex_sha256(value: &str) -> Option<[u8; 32]> {
    if value.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(value.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

pub(super) fn error_response(e: S3Error) -> Response {
    let status = e
        .status_code()
        .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    let mut xml = Vec::with_capacity(256);
    let mut ser = s3s::xml::Serializer::new(&mut xml);
    if ser
        .decl()
        .and_then(|()| s3s::xml::Serialize::serialize(&e, &mut ser))
        .is_err()
    {
        return status.into_response();
    }
    (status, [("content-type", "application/xml")], xml).into_response()
}

/// Middleware: reads a document whose client described it (signed hash, MD5, checksums) and
/// checks it before s3s sees the request; refuses an `aws-chunked` body that s3s would not
/// decode.
pub async fn verify_documents(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let content_sha256 = header(headers, "x-amz-content-sha256").unwrap_or_default();
    let streaming = content_sha256.starts_with("STREAMING-");
    if declares_aws_chunked(headers) && !streaming {
        return error_response(incomplete(
            "The body is declared aws-chunked, but x-amz-content-sha256 is not a STREAMING-* value",
        ));
    }
    let signed = hex_sha256(content_sha256);
    let keys = query_keys(&request);
    // CompleteMultipartUpload's checksum headers describe the whole object, not its XML.
    let completes_upload =
        request.method() == axum::http::Method::POST && keys.iter().any(|k| k == "uploadId");
    let expected = announced(headers, !completes_upload);
    let length = header(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    let described = signed.is_some()
        || expected.md5.is_some()
        || !expected.checksums.is_empty()
        || expected.unknown_algorithm;
    // Object bodies are checked by the object store as they stream in, at any size.
    let document = !is_object_upload(&request, &keys);
    let Some(length) = length.filter(|l| document && !streaming && described && *l <= DOCUMENT_MAX)
    else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, DOCUMENT_MAX as usize).await {
        Ok(bytes) if bytes.len() as u64 == length => bytes,
        Ok(_) => {
            return error_response(incomplete(
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            ));
        }
        Err(e) => return error_response(body_error(&e)),
    };
    if let Some(signed) = signed
        && <[u8; 32]>::from(Sha256::digest(&bytes)) != signed
    {
        return error_response(sha256_mismatch());
    }
    let digests = Hasher::digest(expected.algorithms(), &bytes);
    if let Err(e) = expected.verify(bytes.len() as u64, digests) {
        return error_response(e.into());
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_hashes_are_64_hex_digits() {
        assert!(hex_sha256("UNSIGNED-PAYLOAD").is_none());
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            hex_sha256(empty).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b""))
        );
        assert!(hex_sha256(&empty.replace('e', "g")).is_none());
    }
}
