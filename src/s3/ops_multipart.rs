//! Multipart uploads: create, upload part (and part copy), complete, abort, list.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, etag, principal, timestamp};
use super::conditions::Conditions;
use super::ops_lock::lock_of_input;
use super::spec::checksum_type_of;
use super::spec::{
    body_stream, expected_of, header_tags, set_checksums, stored_headers_of, user_metadata,
    write_precondition,
};
use crate::objects::{
    ChecksumAlgorithm, Checksums, CompletedPart, Expected, MAX_PARTS, PutSpec, Source, Target,
    UploadRecord,
};

fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and {MAX_PARTS}, inclusive"
            )
        })
}

/// Checksums named in S3's order (CRC32, CRC32C, SHA1, SHA256, CRC64NVME).
fn checksums_named(values: [Option<String>; 5]) -> Checksums {
    ChecksumAlgorithm::ALL
        .into_iter()
        .zip(values)
        .filter_map(|(a, value)| value.map(|v| (a, v)))
        .collect()
}

/// The checksum an upload's object gets: its algorithm, and whether it is of the whole object
/// (the parts' CRCs combined) rather than composite. As S3: the type needs an algorithm,
/// SHA checksums can only be composite, CRC64NVME only full-object (its default), the other
/// CRCs either (composite by default).
fn upload_checksum(
    algorithm: Option<&s3s::dto::ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> S3Result<(Option<ChecksumAlgorithm>, bool)> {
    let Some(algorithm) = algorithm else {
        return match kind {
            None => Ok((None, false)),
            Some(_) => Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header"
            )),
        };
    };
    let algorithm = ChecksumAlgorithm::from_name(algorithm.as_str())
        .ok_or_else(|| s3_error!(InvalidRequest, "Unsupported checksum algorithm"))?;
    let crc = !matches!(
        algorithm,
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256
    );
    let full = match kind.map(|k| k.as_str()) {
        None => algorithm == ChecksumAlgorithm::Crc64Nvme,
        Some(ChecksumType::FULL_OBJECT) => true,
        Some(ChecksumType::COMPOSITE) => false,
        Some(other) => {
            return Err(s3_error!(InvalidRequest, "Unknown checksum type {other}"));
        }
    };
    if (full && !crc) || (!full && algorithm == ChecksumAlgorithm::Crc64Nvme) {
        return Err(s3_error!(
            InvalidRequest,
            "The {} checksum algorithm does not support the {} checksum type",
            algorithm.name(),
            if full { "FULL_OBJECT" } else { "COMPOSITE" }
        ));
    }
    Ok((Some(algorithm), full))
}

impl S3Backend {
    pub(super) async fn op_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let owner = principal(&req).name();
        let mut input = req.input;
        let (checksum_algorithm, full_object_checksum) = upload_checksum(
            input.checksum_algorithm.as_ref(),
            input.checksum_type.as_ref(),
        )?;
        let record = UploadRecord {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated: 0,
            headers: stored_headers_of!(input),
            metadata: user_metadata(input.metadata),
            tags: header_tags(input.tagging.as_deref())?,
            owner,
            acl: super::ops_acl::acl_of_write(input.acl.as_ref().map(|a| a.as_str()))?,
            checksum_algorithm,
            full_object_checksum,
            lock: lock_of_input!(input, self.objects.now())?,
        };
        let id = self.write(move |o| o.create_upload(record)).await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: checksum_algorithm.map(|_| {
                ChecksumType::from_static(if full_object_checksum {
                    ChecksumType::FULL_OBJECT
                } else {
                    ChecksumType::COMPOSITE
                })
            }),
            ..Default::default()
        }))
    }

    pub(super) async fn op_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let mut input = req.input;
        let number = part_number(input.part_number)?;
        let spec = PutSpec {
            expected: expected_of!(input, req.trailing_headers),
            ..Default::default()
        };
        let target = Target::Part {
            upload_id: &input.upload_id,
            bucket: &input.bucket,
            key: &input.key,
            number,
        };
        let source = Source::Body(body_stream(input.body));
        let stored = self.objects.put(target, source, spec).await?;
        let mut out = UploadPartOutput {
            e_tag: Some(etag(&stored.etag)),
            ..Default::default()
        };
        set_checksums!(out, &stored.checksums);
        Ok(S3Response::new(out))
    }

    pub(super) async fn op_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let number = part_number(input.part_number)?;
        let upload = self
            .objects
            .upload(&input.upload_id, &input.bucket, &input.key)?;
        let CopySource::Bucket {
            bucket: src_bucket,
            key: src_key,
            version_id,
        } = &input.copy_source
        else {
            return Err(s3_error!(
                NotImplemented,
                "Only bucket copy sources are supported"
            ));
        };
        let source = self.copy_source(src_bucket, src_key, version_id.as_deref())?;
        Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        }
        .check(&source, true)?;
        let (start, end) = match input.copy_source_range.as_deref() {
            None => (0, source.size),
            Some(text) => {
                let bad = || {
                    s3_error!(
                        InvalidArgument,
                        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
                    )
                };
                let (a, b) = text
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split_once('-'))
                    .ok_or_else(bad)?;
                let (a, b): (u64, u64) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b >= source.size {
                    return Err(s3_error!(
                        InvalidRange,
                        "Range specified is not valid for source object of size: {}",
                        source.size
                    ));
                }
                (a, b + 1)
            }
        };
        let target = Target::Part {
            upload_id: &input.upload_id,
            bucket: &input.bucket,
            key: &input.key,
            number,
        };
        let copy = Source::Copy {
            object: Box::new(source),
            range: start..end,
        };
        // A part of an upload that names a checksum algorithm carries that checksum.
        let spec = PutSpec {
            expected: Expected {
                compute: upload.checksum_algorithm.into_iter().collect(),
                ..Default::default()
            },
            ..Default::default()
        };
        let stored = self.objects.put(target, copy, spec).await?;
        let mut result = CopyPartResult {
            e_tag: Some(etag(&stored.etag)),
            last_modified: Some(timestamp(stored.last_modified)),
            ..Default::default()
        };
        set_checksums!(result, &stored.checksums);
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            ..Default::default()
        }))
    }

    pub(super) async fn op_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let mut requested = Vec::new();
        for part in input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
        {
            let number = part_number(part.part_number.unwrap_or(0))?;
            let etag = part
                .e_tag
                .as_ref()
                .map(|t| t.value().to_owned())
                .ok_or_else(|| s3_error!(InvalidPart, "Each part needs an ETag"))?;
            let checksums = checksums_named([
                part.checksum_crc32,
                part.checksum_crc32c,
                part.checksum_sha1,
                part.checksum_sha256,
                part.checksum_crc64nvme,
            ]);
            requested.push(CompletedPart {
                number,
                etag,
                checksums,
            });
        }
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let whole = checksums_named([
            input.checksum_crc32.clone(),
            input.checksum_crc32c.clone(),
            input.checksum_sha1.clone(),
            input.checksum_sha256.clone(),
            input.checksum_crc64nvme.clone(),
        ]);
        let precondition =
            write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref());
        let (id, bucket, key) = (
            input.upload_id.clone(),
            input.bucket.clone(),
            input.key.clone(),
        );
        let record = self
            .write(move |o| {
                o.complete_upload(&id, &bucket, &key, &requested, &whole, &precondition)
            })
            .await?;
        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&record.etag)),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            version_id: record.version_id,
            checksum_type: checksum_type_of(&record.checksums),
            ..Default::default()
        };
        set_checksums!(out, &record.checksums);
        Ok(S3Response::new(out))
    }

    pub(super) async fn op_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.write(move |o| o.abort_upload(&input.upload_id, &input.bucket, &input.key))
            .await?;
        Ok(S3Response::with_status(
            AbortMultipartUploadOutput::default(),
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        self.objects
            .upload(&input.upload_id, &input.bucket, &input.key)?;
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = input.part_number_marker.unwrap_or(0).max(0) as u32;
        let mut parts = self.objects.parts(&input.upload_id, after, max + 1)?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        let next = parts.last().map(|(n, _)| *n as i32);
        let parts = parts
            .into_iter()
            .map(|(n, p)| {
                let mut part = Part {
                    part_number: Some(n as i32),
                    e_tag: Some(etag(&p.etag)),
                    size: Some(p.segment.size as i64),
                    last_modified: Some(timestamp(p.last_modified)),
                    ..Default::default()
                };
                set_checksums!(part, &p.checksums);
                part
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            is_truncated: Some(truncated),
            parts: Some(parts),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    pub(super) async fn op_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = input.upload_id_marker.clone().unwrap_or_default();
        let all: Vec<_> = self
            .objects
            .uploads(&input.bucket)?
            .into_iter()
            .filter(|(id, u)| {
                u.key.starts_with(&prefix)
                    && (u.key > key_marker
                        || (u.key == key_marker && !id_marker.is_empty() && *id > id_marker))
            })
            .collect();
        let truncated = all.len() > max;
        let page: Vec<_> = all.into_iter().take(max).collect();
        let (next_key, next_id) = match page.last() {
            Some((id, u)) if truncated => (Some(u.key.clone()), Some(id.clone())),
            _ => (None, None),
        };
        let uploads = page
            .into_iter()
            .map(|(id, u)| MultipartUpload {
                key: Some(u.key),
                upload_id: Some(id),
                initiated: Some(timestamp(u.initiated)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            uploads: Some(uploads),
            ..Default::default()
        }))
    }
}
