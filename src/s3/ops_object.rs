//! Object operations: put, get, head, delete, copy, list, tagging.

use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, etag, timestamp};
use super::conditions::Conditions;
use super::ops_bucket::{parse_tags, tag_set};
use super::ops_lock::{lock_headers, lock_of_input};
use super::ops_versions::parse_version;
use super::spec::{
    body_stream, checksum_algorithms_of, checksum_type_of, expected_of, header_tags,
    object_headers, set_checksums, stored_headers_of, user_metadata, write_precondition,
};
use crate::objects::list::ListQuery;
use crate::objects::{ObjectRecord, PutSpec, ReadError, Source, Target};

/// A key of a DeleteObjects request: key, version id (or why it is refused), and whether
/// policies refused it.
type BatchEntry = (String, Option<String>, Result<(), S3Error>, bool);

/// How a listing writes keys and prefixes: as they are, or url-encoded when the client asked
/// (`encoding-type=url`).
#[derive(Clone, Copy)]
pub(super) struct KeyEncoding {
    url: bool,
}

impl KeyEncoding {
    pub(super) fn of(requested: Option<&EncodingType>) -> Self {
        KeyEncoding {
            url: requested.is_some_and(|e| e.as_str() == EncodingType::URL),
        }
    }

    pub(super) fn apply(self, text: &str) -> String {
        if self.url {
            url_encode(text)
        } else {
            text.to_owned()
        }
    }

    /// A page's common prefixes, encoded.
    pub(super) fn prefixes(self, common_prefixes: &[String]) -> Vec<CommonPrefix> {
        common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(self.apply(p)),
            })
            .collect()
    }
}

/// A listing's page size: at most 1000, as S3 caps it; a negative one is refused.
pub(super) fn page_size(requested: Option<i32>) -> S3Result<i32> {
    match requested {
        Some(m) if m < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(m) => Ok(m.min(1000)),
        None => Ok(1000),
    }
}

/// Encodes for `encoding-type=url` (everything but unreserved characters and `/`).
fn url_encode(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

impl S3Backend {
    pub(super) async fn op_put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut input = req.input;
        let spec = PutSpec {
            expected: expected_of!(input, req.trailing_headers),
            headers: stored_headers_of!(input),
            metadata: user_metadata(input.metadata),
            tags: header_tags(input.tagging.as_deref())?,
            precondition: write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref()),
            acl: super::ops_acl::acl_of_write(input.acl.as_ref().map(|a| a.as_str()))?,
            lock: lock_of_input!(input, self.objects.now())?,
        };
        let target = Target::Object {
            bucket: &input.bucket,
            key: &input.key,
        };
        let source = Source::Body(body_stream(input.body));
        let stored = self.objects.put(target, source, spec).await?;
        let mut out = PutObjectOutput {
            e_tag: Some(etag(&stored.etag)),
            size: Some(stored.size as i64),
            version_id: stored.version_id,
            ..Default::default()
        };
        set_checksums!(out, &stored.checksums);
        Ok(S3Response::new(out))
    }

    pub(super) async fn op_get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        // A concurrent overwrite or delete can remove the blobs just read about: read again.
        let mut attempts = 0;
        let (object, stream, content_range, start, end) = loop {
            let object = self.object_at(&input.bucket, &input.key, input.version_id.as_deref())?;
            Conditions {
                if_match: input.if_match.as_ref(),
                if_none_match: input.if_none_match.as_ref(),
                if_modified_since: input.if_modified_since.as_ref(),
                if_unmodified_since: input.if_unmodified_since.as_ref(),
            }
            .check(&object, false)?;
            let (start, end, content_range) = match input.range {
                Some(range) => {
                    let r = range.check(object.size)?;
                    if r.is_empty() {
                        return Err(s3_error!(
                            InvalidRange,
                            "The requested range is not satisfiable"
                        ));
                    }
                    (
                        r.start,
                        r.end,
                        Some(format!("bytes {}-{}/{}", r.start, r.end - 1, object.size)),
                    )
                }
                None => (0, object.size, None),
            };
            match self.objects.read(&object.segments, start, end).await {
                Ok(stream) => break (object, stream, content_range, start, end),
                Err(ReadError::Gone) if attempts < 3 => attempts += 1,
                Err(ReadError::Gone) => {
                    return Err(s3_error!(
                        SlowDown,
                        "The object is being rewritten; try again"
                    ));
                }
                Err(ReadError::Failed(e)) => return Err(e.into()),
            }
        };
        let partial = content_range.is_some();
        let mut out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some((end - start) as i64),
            content_range,
            tag_count: (!object.tags.is_empty()).then_some(object.tags.len() as i32),
            version_id: object.version_id.clone(),
            ..Default::default()
        };
        object_headers!(out, &object, input);
        lock_headers!(out, &object);
        // A range's bytes do not have the whole object's checksums.
        if !partial {
            set_checksums!(out, &object.checksums);
            out.checksum_type = checksum_type_of(&object.checksums);
        }
        let mut response = S3Response::new(out);
        if partial {
            response.status = Some(axum::http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(response)
    }

    pub(super) async fn op_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let object = self.object_at(&input.bucket, &input.key, input.version_id.as_deref())?;
        Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(&object, false)?;
        let mut out = HeadObjectOutput {
            content_length: Some(object.size as i64),
            version_id: object.version_id.clone(),
            ..Default::default()
        };
        object_headers!(out, &object, input);
        lock_headers!(out, &object);
        set_checksums!(out, &object.checksums);
        out.checksum_type = checksum_type_of(&object.checksums);
        Ok(S3Response::new(out))
    }

    pub(super) async fn op_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        let version = parse_version(input.version_id.as_deref())?.map(str::to_owned);
        if let Some(ETagCondition::ETag(expected)) = &input.if_match {
            let current = self.objects.head(&input.bucket, &input.key)?;
            if current.etag != expected.value().trim_matches('"') {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        let bypass = input.bypass_governance_retention.unwrap_or(false);
        let deleted = self
            .write(move |o| o.delete(&input.bucket, &input.key, version.as_deref(), bypass))
            .await?
            .unwrap_or_default();
        Ok(S3Response::with_status(
            DeleteObjectOutput {
                delete_marker: deleted.delete_marker.then_some(true),
                version_id: deleted.version_id,
                ..Default::default()
            },
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "A DeleteObjects request names at most 1000 keys"
            ));
        }
        self.objects.bucket(&input.bucket)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let bypass = input.bypass_governance_retention.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        let denied = req
            .extensions
            .get::<super::access::DeniedKeys>()
            .cloned()
            .unwrap_or_default();
        let bucket = input.bucket;
        // Per key: refused by policy, a malformed version id, or a delete to make.
        let entries: Vec<BatchEntry> = input
            .delete
            .objects
            .into_iter()
            .map(|id| {
                let refused = denied.0.contains(&id.key);
                let valid = parse_version(id.version_id.as_deref()).map(drop);
                (id.key, id.version_id, valid, refused)
            })
            .collect();
        // One trip to the blocking pool for the whole list, each key in its own transaction.
        let outcomes = self
            .write(move |o| {
                Ok(entries
                    .into_iter()
                    .map(|(key, version, valid, refused)| {
                        let outcome = match (refused, valid) {
                            (true, _) => None,
                            (false, Ok(())) => Some(
                                o.delete(&bucket, &key, version.as_deref(), bypass)
                                    .map(Option::unwrap_or_default)
                                    .map_err(S3Error::from),
                            ),
                            (false, Err(e)) => Some(Err(e)),
                        };
                        (key, version, outcome)
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        for (key, version_id, outcome) in outcomes {
            match outcome {
                None => errors.push(Error {
                    code: Some("AccessDenied".into()),
                    key: Some(key),
                    message: Some("Access Denied.".into()),
                    version_id,
                }),
                Some(Ok(_)) if quiet => {}
                Some(Ok(done)) => deleted.push(DeletedObject {
                    key: Some(key),
                    delete_marker: done.delete_marker.then_some(true),
                    // A delete that added or removed a marker names it.
                    delete_marker_version_id: done.version_id.filter(|_| done.delete_marker),
                    version_id,
                }),
                Some(Err(e)) => errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(key),
                    message: e.message().map(str::to_owned),
                    version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            ..Default::default()
        }))
    }

    pub(super) async fn op_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let mut input = req.input;
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
        crate::objects::names::check_key(&input.key)?;
        let source = self.copy_source(src_bucket, src_key, version_id.as_deref())?;
        self.objects.bucket(&input.bucket)?;
        Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        }
        .check(&source, true)?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let replace_tags = input
            .tagging_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
        if **src_bucket == *input.bucket && **src_key == *input.key && !replace && !replace_tags {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let (headers, metadata) = if replace {
            (stored_headers_of!(input), user_metadata(input.metadata))
        } else {
            (source.headers.clone(), source.metadata.clone())
        };
        let tags = if replace_tags {
            header_tags(input.tagging.as_deref())?
        } else {
            source.tags.clone()
        };
        let spec = PutSpec {
            headers,
            metadata,
            tags,
            acl: super::ops_acl::acl_of_write(input.acl.as_ref().map(|a| a.as_str()))?,
            lock: lock_of_input!(input, self.objects.now())?,
            ..Default::default()
        };
        let target = Target::Object {
            bucket: &input.bucket,
            key: &input.key,
        };
        let range = 0..source.size;
        let copy_source_version_id = source.version_id.clone();
        let copy = Source::Copy {
            object: Box::new(source),
            range,
        };
        let stored = self.objects.put(target, copy, spec).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&stored.etag)),
                last_modified: Some(timestamp(stored.last_modified)),
                ..Default::default()
            }),
            copy_source_version_id,
            version_id: stored.version_id,
            ..Default::default()
        }))
    }

    /// The owner of a bucket's objects (its creator), as listings name it.
    pub(super) fn bucket_owner(&self, bucket: &str) -> S3Result<Option<Owner>> {
        let name = self
            .objects
            .bucket(bucket)?
            .owner
            .unwrap_or_else(|| "root".to_owned());
        Ok(Some(Owner {
            display_name: Some(name.clone()),
            id: Some(name),
        }))
    }

    pub(super) fn list_page(
        &self,
        bucket: &str,
        prefix: Option<String>,
        delimiter: Option<String>,
        after: Option<String>,
        max_keys: Option<i32>,
    ) -> S3Result<(crate::objects::list::ListPage, i32)> {
        let max = page_size(max_keys)?;
        let query = ListQuery {
            prefix: prefix.unwrap_or_default(),
            delimiter: delimiter.filter(|d| !d.is_empty()),
            after,
            max_keys: max as usize,
        };
        Ok((self.objects.list(bucket, &query)?, max))
    }

    pub(super) async fn op_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let encoding = KeyEncoding::of(input.encoding_type.as_ref());
        let enc = |s: &str| encoding.apply(s);
        let (page, max) = self.list_page(
            &input.bucket,
            input.prefix.clone(),
            input.delimiter.clone(),
            input.marker.clone().filter(|m| !m.is_empty()),
            input.max_keys,
        )?;
        // Version 1 names every object's owner.
        let owner = self.bucket_owner(&input.bucket)?;
        let contents = page
            .objects
            .iter()
            .map(|(k, o)| {
                let mut entry = object_entry(&enc(k), o);
                entry.owner = owner.clone();
                entry
            })
            .collect();
        let common_prefixes = encoding.prefixes(&page.common_prefixes);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(input.prefix.as_deref().unwrap_or_default())),
            marker: Some(enc(input.marker.as_deref().unwrap_or_default())),
            delimiter: input.delimiter.as_deref().map(enc),
            max_keys: Some(max),
            is_truncated: Some(page.truncated),
            next_marker: page
                .truncated
                .then(|| page.last.as_deref().map(enc))
                .flatten(),
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(super) async fn op_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let input = req.input;
        let encoding = KeyEncoding::of(input.encoding_type.as_ref());
        let enc = |s: &str| encoding.apply(s);
        let after = match input
            .continuation_token
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            Some(token) => Some(
                b64.decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "The continuation token provided is incorrect"
                        )
                    })?,
            ),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let (page, max) = self.list_page(
            &input.bucket,
            input.prefix.clone(),
            input.delimiter.clone(),
            after,
            input.max_keys,
        )?;
        let key_count = (page.objects.len() + page.common_prefixes.len()) as i32;
        // Version 2 names owners when asked to (`fetch-owner`).
        let owner = match input.fetch_owner {
            Some(true) => self.bucket_owner(&input.bucket)?,
            _ => None,
        };
        let contents = page
            .objects
            .iter()
            .map(|(k, o)| {
                let mut entry = object_entry(&enc(k), o);
                entry.owner = owner.clone();
                entry
            })
            .collect();
        let common_prefixes = encoding.prefixes(&page.common_prefixes);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(input.prefix.as_deref().unwrap_or_default())),
            delimiter: input.delimiter.as_deref().map(enc),
            max_keys: Some(max),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            start_after: input.start_after.as_deref().map(enc),
            is_truncated: Some(page.truncated),
            next_continuation_token: page
                .truncated
                .then(|| page.last.as_ref().map(|l| b64.encode(l)))
                .flatten(),
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(super) async fn op_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = req.input;
        let object = self.object_at(&input.bucket, &input.key, input.version_id.as_deref())?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tag_set(&object.tags),
            version_id: object.version_id,
        }))
    }

    pub(super) async fn op_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let version = parse_version(req.input.version_id.as_deref())?.map(str::to_owned);
        let tags = parse_tags(req.input.tagging, 10)?;
        let (bucket, key) = (req.input.bucket, req.input.key);
        let version_id = version
            .clone()
            .filter(|v| v != crate::objects::NULL_VERSION);
        self.write(move |o| {
            o.update_object(&bucket, &key, version.as_deref(), |obj| obj.tags = tags)
        })
        .await?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    pub(super) async fn op_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let version = parse_version(req.input.version_id.as_deref())?.map(str::to_owned);
        let (bucket, key) = (req.input.bucket, req.input.key);
        let version_id = version
            .clone()
            .filter(|v| v != crate::objects::NULL_VERSION);
        self.write(move |o| {
            o.update_object(&bucket, &key, version.as_deref(), |obj| obj.tags.clear())
        })
        .await?;
        Ok(S3Response::with_status(
            DeleteObjectTaggingOutput { version_id },
            axum::http::StatusCode::NO_CONTENT,
        ))
    }
}

fn object_entry(key: &str, o: &ObjectRecord) -> Object {
    Object {
        key: Some(key.to_owned()),
        e_tag: Some(etag(&o.etag)),
        last_modified: Some(timestamp(o.last_modified)),
        size: Some(o.size as i64),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        checksum_algorithm: checksum_algorithms_of(&o.checksums),
        checksum_type: checksum_type_of(&o.checksums),
        ..Default::default()
    }
}
