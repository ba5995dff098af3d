//! S3 requests to the object store's terms and back: the spec of a write (digests the client
//! announced, headers and metadata to keep, preconditions), and the headers of an object as
//! GetObject and HeadObject answer them.

use std::collections::BTreeMap;

use s3s::dto::{ETagCondition, Metadata, StreamingBlob, Tag, Tagging, Timestamp};
use s3s::{S3Result, TrailingHeaders};

use super::conditions::http_date;
use super::ops_bucket::parse_tags;
use crate::objects::{BodyStream, ChecksumAlgorithm, Expected, ObjectHeaders, Precondition};

/// A request's body as the object store reads it (no body is an empty one).
pub fn body_stream(body: Option<StreamingBlob>) -> BodyStream {
    match body {
        Some(body) => Box::pin(body),
        None => Box::pin(futures_util::stream::empty()),
    }
}

/// What a client announced about a body: its length, `Content-MD5`, the `x-amz-checksum-*`
/// values (in [`ChecksumAlgorithm::ALL`]'s order), the algorithm to compute without a value
/// (`x-amz-checksum-algorithm`), and checksums that may come as trailers.
pub fn expected(
    length: Option<i64>,
    md5: Option<String>,
    compute: Option<&s3s::dto::ChecksumAlgorithm>,
    values: [Option<String>; 5],
    trailers: Option<TrailingHeaders>,
) -> Expected {
    Expected {
        length: length.map(|l| l.max(0) as u64),
        md5,
        checksums: ChecksumAlgorithm::ALL
            .into_iter()
            .zip(values)
            .filter_map(|(a, v)| v.map(|v| (a, v)))
            .collect(),
        unknown_algorithm: false,
        compute: compute
            .and_then(|a| ChecksumAlgorithm::from_name(a.as_str()))
            .into_iter()
            .collect(),
        trailer: trailers.map(|t| {
            Box::new(move || {
                let Some(headers) = t.take() else {
                    return Vec::new();
                };
                headers
                    .iter()
                    .filter_map(|(name, value)| {
                        let algorithm = name.as_str().strip_prefix("x-amz-checksum-")?;
                        Some((algorithm.to_owned(), value.to_str().ok()?.to_owned()))
                    })
                    .collect()
            }) as crate::objects::checksum::Trailer
        }),
    }
}

/// [`expected`] from an input with S3's digest fields (PutObject, UploadPart).
macro_rules! expected_of {
    ($input:expr, $trailers:expr) => {
        $crate::s3::spec::expected(
            $input.content_length,
            $input.content_md5.take(),
            $input.checksum_algorithm.as_ref(),
            [
                $input.checksum_crc32.take(),
                $input.checksum_crc32c.take(),
                $input.checksum_sha1.take(),
                $input.checksum_sha256.take(),
                $input.checksum_crc64nvme.take(),
            ],
            $trailers,
        )
    };
}
pub(crate) use expected_of;

/// How stored checksums were made: of the whole object, or of its parts (composite).
pub fn checksum_type_of(checksums: &crate::objects::Checksums) -> Option<s3s::dto::ChecksumType> {
    let first = checksums.values().next()?;
    Some(s3s::dto::ChecksumType::from_static(
        if crate::objects::checksum::is_composite(first) {
            s3s::dto::ChecksumType::COMPOSITE
        } else {
            s3s::dto::ChecksumType::FULL_OBJECT
        },
    ))
}

/// The checksum algorithms an object was stored with, as listings name them.
pub fn checksum_algorithms_of(
    checksums: &crate::objects::Checksums,
) -> Option<Vec<s3s::dto::ChecksumAlgorithm>> {
    (!checksums.is_empty()).then(|| {
        checksums
            .keys()
            .map(|a| s3s::dto::ChecksumAlgorithm::from(a.name().to_owned()))
            .collect()
    })
}

/// Fills an output's checksum fields (every S3 output names them alike) from stored checksums.
macro_rules! set_checksums {
    ($output:expr, $checksums:expr) => {{
        let [crc32, crc32c, sha1, sha256, crc64nvme] =
            crate::objects::checksum::in_order($checksums);
        $output.checksum_crc32 = crc32;
        $output.checksum_crc32c = crc32c;
        $output.checksum_sha1 = sha1;
        $output.checksum_sha256 = sha256;
        $output.checksum_crc64nvme = crc64nvme;
    }};
}
pub(crate) use set_checksums;

/// GetObject's and HeadObject's shared headers from the stored object, each replaced by the
/// request's `response-*` override when it has one (both inputs and outputs name them alike).
macro_rules! object_headers {
    ($output:expr, $object:expr, $input:expr) => {{
        let object: &crate::objects::ObjectRecord = $object;
        let h = &object.headers;
        $output.accept_ranges = Some("bytes".into());
        $output.e_tag = Some(crate::s3::backend::etag(&object.etag));
        $output.last_modified = Some(crate::s3::backend::timestamp(object.last_modified));
        $output.content_type = $input.response_content_type.or(h.content_type.clone());
        $output.content_encoding = $input
            .response_content_encoding
            .or(h.content_encoding.clone());
        $output.content_disposition = $input
            .response_content_disposition
            .or(h.content_disposition.clone());
        $output.content_language = $input
            .response_content_language
            .or(h.content_language.clone());
        $output.cache_control = $input.response_cache_control.or(h.cache_control.clone());
        $output.expires = $input.response_expires.or_else(|| {
            h.expires
                .as_deref()
                .and_then(crate::s3::conditions::parse_http_date)
        });
        $output.metadata = Some(object.metadata.clone().into_iter().collect());
        $output.parts_count = object.parts.map(|p| p as i32);
    }};
}
pub(crate) use object_headers;

/// [`stored_headers`] from an input with S3's standard header fields.
macro_rules! stored_headers_of {
    ($input:expr) => {
        $crate::s3::spec::stored_headers(
            $input.content_type.take(),
            $input.content_encoding.take(),
            $input.content_disposition.take(),
            $input.content_language.take(),
            $input.cache_control.take(),
            $input.expires.as_ref(),
        )
    };
}
pub(crate) use stored_headers_of;

/// Tags from the `x-amz-tagging` header (`k1=v1&k2=v2`).
pub fn header_tags(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(text) = header.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let tag_set = url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| Tag {
            key: Some(k.into_owned()),
            value: Some(v.into_owned()),
        })
        .collect();
    parse_tags(Tagging { tag_set }, 10)
}

/// The write condition of `If-Match` / `If-None-Match: *` on a PUT or a completion.
pub fn write_precondition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> Precondition {
    Precondition {
        must_not_exist: matches!(if_none_match, Some(ETagCondition::Any)),
        etag_is: if_match.and_then(|c| match c {
            ETagCondition::ETag(t) => Some(t.value().to_owned()),
            ETagCondition::Any => None,
        }),
    }
}

/// The standard headers to store with an object, as a PUT, copy or multipart upload sent them.
pub fn stored_headers(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<&Timestamp>,
) -> ObjectHeaders {
    ObjectHeaders {
        content_type: Some(content_type.unwrap_or_else(|| "application/octet-stream".into())),
        content_encoding: content_encoding.and_then(|e| stored_encoding(&e)),
        content_disposition,
        content_language,
        cache_control,
        expires: expires.and_then(http_date),
    }
}

/// The object's own `Content-Encoding`: without `aws-chunked`, which only framed the request
/// (`aws-chunked, gzip` keeps `gzip`, `aws-chunked` alone keeps nothing), as S3 stores it.
fn stored_encoding(sent: &str) -> Option<String> {
    let kept: Vec<&str> = sent
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// `x-amz-meta-*` names are case-insensitive: keep them in lower case.
pub fn user_metadata(metadata: Option<Metadata>) -> BTreeMap<String, String> {
    metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}
