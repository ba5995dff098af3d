//! Conditional requests (RFC 9110 §13 as S3 applies them) and stored-header helpers.

use s3s::dto::{ETagCondition, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::backend::millis;
use crate::objects::ObjectRecord;

fn etag_matches(cond: &ETagCondition, current: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value().trim_matches('"') == current,
    }
}

/// The `If-*` headers of a GET or HEAD (or the `x-amz-copy-source-if-*` of a copy).
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

impl Conditions<'_> {
    /// `Err(PreconditionFailed)` or `Err(NotModified)` when the request should not proceed.
    /// `not_modified_fails`: copies answer 412 where reads answer 304.
    pub fn check(&self, object: &ObjectRecord, not_modified_fails: bool) -> S3Result<()> {
        // HTTP dates have second precision.
        let modified_secs = object.last_modified / 1000;
        let fail = || {
            Err(S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ))
        };
        let not_modified = || {
            if not_modified_fails {
                fail()
            } else {
                Err(S3Error::new(S3ErrorCode::NotModified))
            }
        };
        if let Some(cond) = self.if_match {
            if !etag_matches(cond, &object.etag) {
                return fail();
            }
        } else if let Some(since) = self.if_unmodified_since
            && modified_secs > millis(since) / 1000
        {
            return fail();
        }
        if let Some(cond) = self.if_none_match {
            if etag_matches(cond, &object.etag) {
                return not_modified();
            }
        } else if let Some(since) = self.if_modified_since
            && modified_secs <= millis(since) / 1000
        {
            return not_modified();
        }
        Ok(())
    }
}

pub fn http_date(ts: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    ts.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

pub fn parse_http_date(text: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, text).ok()
}
