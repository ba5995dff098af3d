//! Authentication and authorization of S3 requests: which secret verifies a signature, who the
//! caller is (session-token rules), and whether their policies allow the operation.

use std::collections::BTreeMap;
use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::*;
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};

use super::acl::Canned;
use super::keys::{KeyProblem, KeyRing, TokenProblem};
use super::principal::Principal;
use super::visible::VisibleBuckets;
use crate::objects::ObjectStore;
use crate::policy::{self, Decision, Policy};

pub struct Auth {
    pub keys: Arc<KeyRing>,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.keys.secret_for(access_key) {
            Ok(secret) => Ok(SecretKey::from(secret)),
            Err(KeyProblem::Expired) => {
                Err(s3_error!(ExpiredToken, "The provided token has expired."))
            }
            Err(KeyProblem::Unknown) => Err(s3_error!(
                InvalidAccessKeyId,
                "The Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

pub struct Access {
    pub keys: Arc<KeyRing>,
    pub objects: Arc<ObjectStore>,
    pub region: String,
}

/// The region of a SigV4 credential scope (`AK/date/region/service/aws4_request`), from the
/// Authorization header or a presigned URL's query.
fn signed_region(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let scope = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("AWS4-"))
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|c| c.split(',').next().unwrap_or_default().to_owned())
        .or_else(|| {
            url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v.into_owned())
        })?;
    scope.split('/').nth(2).map(str::to_owned)
}

const MAX_PRESIGNED_SECS: u64 = 604_800;

fn denied() -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied.")
}

/// The IAM action of an S3 operation (AWS's names; see protocols §2.5).
pub fn action_of(op: &str) -> String {
    let action = match op {
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "ListBucket",
        "ListBuckets" => "ListAllMyBuckets",
        "HeadObject" => "GetObject",
        "UploadPart"
        | "CompleteMultipartUpload"
        | "CreateMultipartUpload"
        | "UploadPartCopy"
        | "CopyObject" => "PutObject",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        "DeleteObjects" => "DeleteObject",
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "DeleteBucketTagging" => "PutBucketTagging",
        "ListObjectVersions" => "ListBucketVersions",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutObjectLockConfiguration" => "PutBucketObjectLockConfiguration",
        "DeleteBucketOwnershipControls" => "PutBucketOwnershipControls",
        "GetBucketAccelerateConfiguration" => "GetAccelerateConfiguration",
        "GetBucketReplication" => "GetReplicationConfiguration",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "GetBucketNotificationConfiguration" => "GetBucketNotification",
        "GetObjectLockConfiguration" => "GetBucketObjectLockConfiguration",
        other => other,
    };
    format!("s3:{action}")
}

/// The IAM action of an operation on one version of an object (`?versionId=`), which AWS
/// and MinIO grant apart from the same operation on the object's current version.
fn version_action_of(op: &str) -> Option<&'static str> {
    Some(match op {
        "GetObject" | "HeadObject" => "s3:GetObjectVersion",
        "DeleteObject" => "s3:DeleteObjectVersion",
        "GetObjectTagging" => "s3:GetObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        "GetObjectAttributes" => "s3:GetObjectVersionAttributes",
        "GetObjectAcl" => "s3:GetObjectVersionAcl",
        "PutObjectAcl" => "s3:PutObjectVersionAcl",
        _ => return None,
    })
}

/// Whether a request asks to bypass GOVERNANCE retention.
fn bypasses_governance(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-amz-bypass-governance-retention")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The object-lock permissions a request needs besides its own action, as AWS asks them:
/// bypassing GOVERNANCE retention, and a write that sets a retention or a legal hold.
fn lock_actions(op: &str, headers: &axum::http::HeaderMap) -> Vec<&'static str> {
    let mut actions = Vec::new();
    if matches!(op, "DeleteObject" | "PutObjectRetention") && bypasses_governance(headers) {
        actions.push("s3:BypassGovernanceRetention");
    }
    if matches!(op, "PutObject" | "CreateMultipartUpload") {
        if headers.contains_key("x-amz-object-lock-mode") {
            actions.push("s3:PutObjectRetention");
        }
        if headers.contains_key("x-amz-object-lock-legal-hold") {
            actions.push("s3:PutObjectLegalHold");
        }
    }
    actions
}

/// The canned ACL a write names in its `x-amz-acl` header.
fn acl_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get("x-amz-acl").and_then(|v| v.to_str().ok())
}

/// The session token of a request: the header, or the query of a presigned URL.
fn session_token(headers: &axum::http::HeaderMap, query: &[(String, String)]) -> Option<String> {
    if let Some(v) = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.to_owned());
    }
    query
        .iter()
        .find(|(k, _)| k == "X-Amz-Security-Token")
        .map(|(_, v)| v.clone())
}

impl Access {
    fn resolve(&self, access_key: Option<&str>, token: Option<&str>) -> S3Result<Principal> {
        match access_key {
            None if token.is_some() => Err(s3_error!(
                InvalidToken,
                "The provided token is malformed or otherwise invalid."
            )),
            None => Ok(Principal::Anonymous),
            Some(ak) => self.keys.principal(ak, token).map_err(|p| match p {
                TokenProblem::Expired => s3_error!(ExpiredToken, "The provided token has expired."),
                TokenProblem::Invalid | TokenProblem::Unexpected => {
                    s3_error!(
                        InvalidToken,
                        "The provided token is malformed or otherwise invalid."
                    )
                }
            }),
        }
    }

    /// Judges one action on one resource (`bucket` or `bucket/key`) for a principal.
    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        context: BTreeMap<&str, String>,
    ) -> Decision {
        let (policies, claims, username) = match principal {
            Principal::Root => return Decision::Allow,
            Principal::Anonymous => {
                let Some(record) = self.bucket_of(resource) else {
                    return Decision::NotApplicable;
                };
                let Some(policy) = record.policy.as_deref().and_then(|t| Policy::parse(t).ok())
                else {
                    return Decision::NotApplicable;
                };
                let req = policy::Request {
                    action,
                    resource,
                    claims: None,
                    username: None,
                    context,
                };
                let decision = policy.evaluate_anonymous(&req);
                // RestrictPublicBuckets: a public policy grants anonymous callers nothing.
                let restricted = record
                    .public_access_block
                    .is_some_and(|b| b.restrict_public_buckets);
                if decision == Decision::Allow && restricted && policy.is_public() {
                    return Decision::NotApplicable;
                }
                return decision;
            }
            Principal::User { name, policies } => (policies, None, Some(name.as_str())),
            Principal::Session {
                username,
                claims,
                policies,
            } => (policies, Some(claims), Some(username.as_str())),
        };
        let req = policy::Request {
            action,
            resource,
            claims,
            username,
            context,
        };
        // The bucket's own policy binds everyone: its Deny wins, its Allow for `*` counts too.
        let bucket_policy = self
            .bucket_policy(resource)
            .map(|p| p.evaluate_anonymous(&req));
        policy::combine(
            policies
                .iter()
                .filter_map(|p| self.keys.policies.get(p))
                .map(|p| p.evaluate(&req))
                .chain(bucket_policy),
        )
    }

    /// A copy reads its source and writes its destination.
    fn require_copy(
        &self,
        principal: &Principal,
        source: &CopySource,
        bucket: &str,
        key: &str,
    ) -> S3Result<()> {
        if let CopySource::Bucket {
            bucket: from,
            key: from_key,
            version_id,
        } = source
        {
            let action = match version_id {
                Some(_) => "s3:GetObjectVersion",
                None => "s3:GetObject",
            };
            let context = version_id
                .as_ref()
                .map(|v| ("s3:versionid", v.to_string()))
                .into_iter()
                .collect();
            self.require(principal, action, &format!("{from}/{from_key}"), context)?;
        }
        self.require(
            principal,
            "s3:PutObject",
            &format!("{bucket}/{key}"),
            BTreeMap::new(),
        )
    }

    /// The policy of the bucket a resource lives in, if it has one.
    fn bucket_policy(&self, resource: &str) -> Option<Policy> {
        Policy::parse(self.bucket_of(resource)?.policy.as_deref()?).ok()
    }

    /// The bucket a resource (`bucket` or `bucket/key`) is in, if it exists.
    fn bucket_of(&self, resource: &str) -> Option<crate::objects::BucketRecord> {
        let bucket = resource.split('/').next().unwrap_or_default();
        self.objects.bucket(bucket).ok()
    }

    fn require(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        context: BTreeMap<&str, String>,
    ) -> S3Result<()> {
        if self.permits(principal, action, resource, context) {
            Ok(())
        } else {
            Err(denied())
        }
    }

    /// Policies first; what they leave undecided, a canned ACL may grant (an explicit Deny
    /// stands).
    pub(super) fn permits(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        context: BTreeMap<&str, String>,
    ) -> bool {
        // The version a request names (IAM's `s3:versionid` key) is the one whose ACL counts.
        let version = context.get("s3:versionid").cloned();
        match self.decide(principal, action, resource, context) {
            Decision::Allow => true,
            Decision::Deny => false,
            Decision::NotApplicable => {
                self.acl_allows(principal, action, resource, version.as_deref())
            }
        }
    }

    /// Whether the bucket's ACL (listing, and writing for public-read-write) or the object's
    /// (reading) grants the action.
    fn acl_allows(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        version: Option<&str>,
    ) -> bool {
        let anonymous = matches!(principal, Principal::Anonymous);
        let Some(record) = self.bucket_of(resource) else {
            return false;
        };
        let acls_disabled =
            record.ownership == Some(crate::objects::Ownership::BucketOwnerEnforced);
        if acls_disabled
            || record
                .public_access_block
                .is_some_and(|b| b.ignore_public_acls)
        {
            return false;
        }
        if Canned::of(record.acl.as_deref()).bucket_allows(anonymous, action) {
            return true;
        }
        resource.split_once('/').is_some_and(|(bucket, key)| {
            self.objects
                .head_version(bucket, key, version)
                .is_ok_and(|object| {
                    Canned::of(object.acl.as_deref()).object_allows(anonymous, action)
                })
        })
    }

    /// Setting an ACL with a write (an `x-amz-acl` other than private, as a header or a POST
    /// form's field) also needs the ACL's permission, as on AWS.
    fn require_acl_change(
        &self,
        principal: &Principal,
        acl: Option<&str>,
        action: &str,
        resource: &str,
    ) -> S3Result<()> {
        let Some(acl) = acl else {
            return Ok(());
        };
        if Canned::parse(acl).is_ok_and(|c| c == Canned::Private) {
            return Ok(());
        }
        if let Some(bucket) = self.bucket_of(resource) {
            super::ops_public::refuse_public_acl(&bucket)?;
        }
        self.require(principal, action, resource, BTreeMap::new())
    }

    fn visible_buckets(&self, principal: &Principal) -> VisibleBuckets {
        let (policies, claims, username) = match principal {
            Principal::Root => return VisibleBuckets::all(),
            Principal::Anonymous => return VisibleBuckets::none(),
            Principal::User { name, policies } => (policies.clone(), None, Some(name.clone())),
            Principal::Session {
                username,
                claims,
                policies,
            } => (
                policies.clone(),
                Some(claims.clone()),
                Some(username.clone()),
            ),
        };
        let keys = self.keys.clone();
        VisibleBuckets::new(move |bucket| {
            let req = policy::Request {
                action: "s3:ListBucket",
                resource: bucket,
                claims: claims.as_ref(),
                username: username.as_deref(),
                context: BTreeMap::new(),
            };
            policies
                .iter()
                .filter_map(|p| keys.policies.get(p))
                .any(|p| p.allows_something_in(bucket, &req))
        })
    }
}

/// Keys of a DeleteObjects request the caller may not delete.
#[derive(Clone, Default)]
pub struct DeniedKeys(pub std::collections::HashSet<String>);

fn principal_of<T>(req: &S3Request<T>) -> Principal {
    req.extensions
        .get::<Principal>()
        .cloned()
        .unwrap_or(Principal::Anonymous)
}

/// Condition keys of a listing request.
fn list_context(prefix: Option<&str>, delimiter: Option<&str>) -> BTreeMap<&'static str, String> {
    let mut context = BTreeMap::new();
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        context.insert("s3:prefix", p.to_owned());
    }
    if let Some(d) = delimiter.filter(|d| !d.is_empty()) {
        context.insert("s3:delimiter", d.to_owned());
    }
    context
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if let Some(region) = signed_region(cx.headers(), cx.uri())
            && region != self.region
        {
            return Err(S3Error::with_message(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!(
                    "The authorization header is malformed; the region '{region}' is wrong; expecting '{}'",
                    self.region
                ),
            ));
        }
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(cx.uri().query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        // s3s 0.14 does not cap presigned lifetimes; AWS allows at most 7 days.
        if let Some((_, expires)) = query.iter().find(|(k, _)| k == "X-Amz-Expires")
            && expires
                .parse::<u64>()
                .map_or(true, |e| e > MAX_PRESIGNED_SECS)
        {
            return Err(S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            ));
        }
        let token = session_token(cx.headers(), &query);
        let access_key = cx.credentials().map(|c| c.access_key.clone());
        let principal = self.resolve(access_key.as_deref(), token.as_deref())?;
        let op = cx.s3_op().name().to_owned();
        let resource = match cx.s3_path() {
            S3Path::Root => None,
            S3Path::Bucket { bucket } => Some(bucket.to_string()),
            S3Path::Object { bucket, key } => Some(format!("{bucket}/{key}")),
        };
        match (op.as_str(), resource) {
            // Anyone signed in may list buckets; they see those their policies reach.
            ("ListBuckets", _) => {
                if matches!(principal, Principal::Anonymous) {
                    return Err(denied());
                }
                let visible = self.visible_buckets(&principal);
                cx.extensions_mut().insert(visible);
            }
            // Decided in the per-operation hooks below, which see the typed input.
            (
                "ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "CopyObject"
                | "UploadPartCopy" | "DeleteObjects" | "PostObject",
                _,
            ) => {}
            (_, Some(resource)) => {
                let version = query.iter().find(|(k, _)| k == "versionId");
                let action = version_action_of(&op)
                    .filter(|_| version.is_some())
                    .map_or_else(|| action_of(&op), str::to_owned);
                let context = version
                    .map(|(_, v)| ("s3:versionid", v.clone()))
                    .into_iter()
                    .collect();
                self.require(&principal, &action, &resource, context)?;
                let acl_action = match op.as_str() {
                    "PutObject" | "CreateMultipartUpload" => "s3:PutObjectAcl",
                    "CreateBucket" => "s3:PutBucketAcl",
                    _ => "",
                };
                if !acl_action.is_empty() {
                    let acl = acl_header(cx.headers());
                    self.require_acl_change(&principal, acl, acl_action, &resource)?;
                }
                for action in lock_actions(&op, cx.headers()) {
                    self.require(&principal, action, &resource, BTreeMap::new())?;
                }
            }
            (_, None) => {
                if !matches!(principal, Principal::Root) {
                    return Err(denied());
                }
            }
        }
        cx.extensions_mut().insert(principal);
        Ok(())
    }

    async fn list_objects(&self, req: &mut S3Request<ListObjectsInput>) -> S3Result<()> {
        let context = list_context(req.input.prefix.as_deref(), req.input.delimiter.as_deref());
        self.require(
            &principal_of(req),
            "s3:ListBucket",
            &req.input.bucket,
            context,
        )
    }

    async fn list_objects_v2(&self, req: &mut S3Request<ListObjectsV2Input>) -> S3Result<()> {
        let context = list_context(req.input.prefix.as_deref(), req.input.delimiter.as_deref());
        self.require(
            &principal_of(req),
            "s3:ListBucket",
            &req.input.bucket,
            context,
        )
    }

    /// A browser POST upload names its key in the form, which s3s reads after `check`: it is
    /// judged here, as the PUT it becomes. (A PUT was judged in `check`.)
    async fn put_object(&self, req: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        if req.method != axum::http::Method::POST {
            return Ok(());
        }
        let principal = principal_of(req);
        let resource = format!("{}/{}", req.input.bucket, req.input.key);
        self.require(&principal, "s3:PutObject", &resource, BTreeMap::new())?;
        let acl = req.input.acl.as_ref().map(|a| a.as_str());
        self.require_acl_change(&principal, acl, "s3:PutObjectAcl", &resource)
    }

    async fn list_object_versions(
        &self,
        req: &mut S3Request<ListObjectVersionsInput>,
    ) -> S3Result<()> {
        let context = list_context(req.input.prefix.as_deref(), req.input.delimiter.as_deref());
        self.require(
            &principal_of(req),
            "s3:ListBucketVersions",
            &req.input.bucket,
            context,
        )
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let input = &req.input;
        let principal = principal_of(req);
        self.require_copy(&principal, &input.copy_source, &input.bucket, &input.key)?;
        let resource = format!("{}/{}", input.bucket, input.key);
        for action in lock_actions("PutObject", &req.headers) {
            self.require(&principal, action, &resource, BTreeMap::new())?;
        }
        let acl = acl_header(&req.headers);
        self.require_acl_change(&principal, acl, "s3:PutObjectAcl", &resource)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let input = &req.input;
        self.require_copy(
            &principal_of(req),
            &input.copy_source,
            &input.bucket,
            &input.key,
        )
    }

    /// Keys the caller may not delete are reported one by one in the response (as S3 does),
    /// not by failing the whole request.
    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let principal = principal_of(req);
        let denied: std::collections::HashSet<String> = req
            .input
            .delete
            .objects
            .iter()
            .filter(|o| {
                let resource = format!("{}/{}", req.input.bucket, o.key);
                let action = match o.version_id {
                    Some(_) => "s3:DeleteObjectVersion",
                    None => "s3:DeleteObject",
                };
                let bypass = "s3:BypassGovernanceRetention";
                !self.permits(&principal, action, &resource, BTreeMap::new())
                    || (bypasses_governance(&req.headers)
                        && !self.permits(&principal, bypass, &resource, BTreeMap::new()))
            })
            .map(|o| o.key.clone())
            .collect();
        req.extensions.insert(DeniedKeys(denied));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_requests_need_the_lock_permissions() {
        let mut headers = axum::http::HeaderMap::new();
        assert!(lock_actions("DeleteObject", &headers).is_empty());
        headers.insert("x-amz-bypass-governance-retention", "TRUE".parse().unwrap());
        assert_eq!(
            lock_actions("DeleteObject", &headers),
            ["s3:BypassGovernanceRetention"]
        );
        assert!(lock_actions("GetObject", &headers).is_empty());
        headers.insert("x-amz-object-lock-mode", "GOVERNANCE".parse().unwrap());
        headers.insert("x-amz-object-lock-legal-hold", "ON".parse().unwrap());
        assert_eq!(
            lock_actions("PutObject", &headers),
            ["s3:PutObjectRetention", "s3:PutObjectLegalHold"]
        );
    }
}
