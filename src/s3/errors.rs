//! Object-store errors as the S3 error codes a real S3 sends.

use s3s::{S3Error, S3ErrorCode};

use crate::objects::ObjectError;

impl From<ObjectError> for S3Error {
    fn from(e: ObjectError) -> Self {
        let code = match &e {
            ObjectError::NoSuchBucket => S3ErrorCode::NoSuchBucket,
            ObjectError::BucketAlreadyOwnedByYou => S3ErrorCode::BucketAlreadyOwnedByYou,
            ObjectError::BucketAlreadyExists => S3ErrorCode::BucketAlreadyExists,
            ObjectError::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
            ObjectError::InvalidBucketName(_) => S3ErrorCode::InvalidBucketName,
            ObjectError::NoSuchKey => S3ErrorCode::NoSuchKey,
            ObjectError::NoSuchVersion => S3ErrorCode::NoSuchVersion,
            ObjectError::DeleteMarker => S3ErrorCode::MethodNotAllowed,
            ObjectError::ObjectLocked => S3ErrorCode::AccessDenied,
            ObjectError::NoObjectLock => S3ErrorCode::InvalidRequest,
            ObjectError::InvalidBucketState(_) => S3ErrorCode::InvalidBucketState,
            ObjectError::InvalidObjectName(_) => {
                S3ErrorCode::Custom("XMinioInvalidObjectName".into())
            }
            ObjectError::KeyTooLong => S3ErrorCode::KeyTooLongError,
            ObjectError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
            ObjectError::InvalidPart => S3ErrorCode::InvalidPart,
            ObjectError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            ObjectError::EntityTooSmall => S3ErrorCode::EntityTooSmall,
            ObjectError::EntityTooLarge { .. } => S3ErrorCode::EntityTooLarge,
            ObjectError::PreconditionFailed => S3ErrorCode::PreconditionFailed,
            // MinIO's answer when a bucket quota is reached.
            ObjectError::QuotaExceeded { .. } => {
                S3ErrorCode::Custom("XMinioAdminBucketQuotaExceeded".into())
            }
            ObjectError::InvalidContentMd5 => S3ErrorCode::InvalidDigest,
            ObjectError::ContentMd5Mismatch | ObjectError::ChecksumMismatch(_) => {
                S3ErrorCode::BadDigest
            }
            ObjectError::UnsupportedChecksum => S3ErrorCode::InvalidRequest,
            ObjectError::IncompleteBody => S3ErrorCode::IncompleteBody,
            ObjectError::CopySourceChanged => S3ErrorCode::NoSuchKey,
            ObjectError::Body(cause) => return super::payload::body_error(cause.as_ref()),
            ObjectError::Io { .. }
            | ObjectError::Store(_)
            | ObjectError::CommitterStopped
            | ObjectError::GroupCommit(_) => {
                tracing::error!(error = %crate::markup::chain(&e), "object store failure");
                return S3Error::with_message(
                    S3ErrorCode::InternalError,
                    "storage failure, see the server log",
                );
            }
        };
        let status = match code {
            S3ErrorCode::Custom(_) => Some(axum::http::StatusCode::BAD_REQUEST),
            _ => None,
        };
        let mut err = S3Error::with_message(code, e.to_string());
        if let Some(status) = status {
            err.set_status_code(status);
        }
        err
    }
}
