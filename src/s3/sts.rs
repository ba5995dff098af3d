//! STS on the S3 listener (an `S3Route`): AssumeRoleWithWebIdentity (unsigned, with a token of
//! the embedded issuer) and AssumeRole (signed by a static user), answered in STS XML.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use serde_json::Value;

use super::keys::{Issued, KeyRing, TempOwner};
use crate::clock::Clock;
use crate::identity::verifier::{Verifier, VerifyError};
use crate::markup::escape as escape_xml;

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const BODY_LIMIT: usize = 64 * 1024;
const MIN_DURATION: u64 = 900;

pub struct Sts {
    pub verifier: Arc<Verifier>,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub client_id: String,
    pub max_duration: u64,
    pub policy_claim: String,
}

struct StsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> StsError {
    StsError {
        status,
        code,
        message: message.into(),
    }
}

fn bad(code: &'static str, message: impl Into<String>) -> StsError {
    err(StatusCode::BAD_REQUEST, code, message)
}

fn xml_response(status: StatusCode, body: String) -> S3Response<Body> {
    let mut response = S3Response::with_status(Body::from(body), status);
    response
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl StsError {
    fn into_response(self) -> S3Response<Body> {
        tracing::debug!(code = self.code, message = %self.message, "STS request refused");
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        xml_response(
            self.status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NS}\"><Error><Type>{kind}</Type>\
                 <Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                self.code,
                escape_xml(&self.message),
                request_id()
            ),
        )
    }
}

/// ISO-8601 UTC, as STS writes `Expiration`.
fn iso8601(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[async_trait::async_trait]
impl S3Route for Sts {
    fn is_match(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        _: &mut axum::http::Extensions,
    ) -> bool {
        if method != Method::POST || uri.path() != "/" {
            return false;
        }
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        form || uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")))
    }

    /// AssumeRoleWithWebIdentity is unsigned by design; AssumeRole checks its signature itself.
    async fn check_access(&self, _req: &mut S3Request<Body>) -> S3Result<()> {
        Ok(())
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let body = match req.input.store_all_limited(BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return Ok(bad(
                    "InvalidParameterValue",
                    format!("request body exceeds {BODY_LIMIT} bytes"),
                )
                .into_response());
            }
        };
        let mut params: Vec<(String, String)> =
            url::form_urlencoded::parse(req.uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        params.extend(url::form_urlencoded::parse(&body).into_owned());
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        // Session policies would narrow the credentials; ignoring one would silently grant more.
        if get("Policy").is_some() || params.iter().any(|(k, _)| k.starts_with("PolicyArns.")) {
            return Ok(bad(
                "InvalidParameterValue",
                "session policies (Policy, PolicyArns) are not supported",
            )
            .into_response());
        }
        let outcome = match (get("Action"), get("Version")) {
            (None, _) => Err(bad("MissingParameter", "Action is missing")),
            (_, None) => Err(bad("MissingParameter", "Version is missing")),
            (_, Some(v)) if v != "2011-06-15" => Err(bad(
                "InvalidParameterValue",
                format!("unsupported Version {v}"),
            )),
            (Some("AssumeRoleWithWebIdentity"), _) => self.web_identity(&get).await,
            (Some("AssumeRole"), _) => {
                let signer = req.credentials.as_ref().map(|c| c.access_key.clone());
                let temporary = req.headers.contains_key("x-amz-security-token");
                self.assume_role(signer, temporary, &get).await
            }
            (Some(other), _) => Err(bad(
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            )),
        };
        Ok(match outcome {
            Ok(xml) => xml_response(StatusCode::OK, xml),
            Err(e) => e.into_response(),
        })
    }
}

impl Sts {
    /// Stores new temporary keys; the redb write runs on the blocking pool.
    async fn issue(
        &self,
        owner: TempOwner,
        policies: Vec<String>,
        expires: u64,
    ) -> Result<Issued, StsError> {
        let keys = self.keys.clone();
        let internal = |message: String| {
            tracing::error!(error = %message, "cannot store temporary credentials");
            err(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
        };
        match crate::blocking::run(move || keys.issue(owner, policies, expires)).await {
            Ok(Ok(issued)) => Ok(issued),
            Ok(Err(e)) => Err(internal(e.to_string())),
            Err(e) => Err(internal(e.to_string())),
        }
    }

    fn duration(&self, requested: Option<&str>) -> Result<Option<u64>, StsError> {
        let Some(text) = requested else {
            return Ok(None);
        };
        let seconds: u64 = text
            .parse()
            .map_err(|_| bad("InvalidParameterValue", "DurationSeconds must be a number"))?;
        if !(MIN_DURATION..=self.max_duration).contains(&seconds) {
            return Err(bad(
                "InvalidParameterValue",
                format!(
                    "DurationSeconds must be between {MIN_DURATION} and {} seconds",
                    self.max_duration
                ),
            ));
        }
        Ok(Some(seconds))
    }

    async fn web_identity<'a>(
        &self,
        get: &(impl Fn(&str) -> Option<&'a str> + Sync),
    ) -> Result<String, StsError> {
        let token = get("WebIdentityToken")
            .or_else(|| get("Token"))
            .ok_or_else(|| bad("MissingParameter", "WebIdentityToken is missing"))?;
        let duration = self.duration(get("DurationSeconds"))?;
        let claims = self
            .verifier
            .for_sts(token, &self.client_id)
            .await
            .map_err(|e| match e {
                VerifyError::Expired => bad("ExpiredToken", "The web identity token has expired"),
                other => bad("InvalidIdentityToken", other.to_string()),
            })?;
        let now = self.clock.secs();
        let token_exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(now);
        let expires = match duration {
            Some(d) => now + d,
            None => token_exp,
        };
        let names = crate::policy::names_in_claim(claims.get(&self.policy_claim));
        if names.is_empty() {
            return Err(err(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!(
                    "the token has no {} claim: no credentials are issued",
                    self.policy_claim
                ),
            ));
        }
        let known: Vec<String> = names
            .into_iter()
            .filter(|n| self.keys.policies.contains_key(n))
            .collect();
        if known.is_empty() {
            return Err(bad(
                "InvalidParameterValue",
                "none of the token's policies exist",
            ));
        }
        let username = claims
            .get("preferred_username")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let session = get("RoleSessionName").unwrap_or(&username).to_owned();
        let provider = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let issued = self
            .issue(
                TempOwner::Web {
                    username: username.clone(),
                    claims,
                },
                known,
                expires,
            )
            .await?;
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AssumeRoleWithWebIdentityResponse xmlns=\"{NS}\">\
             <AssumeRoleWithWebIdentityResult>{}<SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\
             <AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/onyxia/{}</Arn><AssumedRoleId>{}:{}</AssumedRoleId></AssumedRoleUser>\
             <Audience>{}</Audience><Provider>{}</Provider></AssumeRoleWithWebIdentityResult>\
             <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
            credentials_xml(&issued),
            escape_xml(&sub),
            escape_xml(&session),
            issued.access_key,
            escape_xml(&session),
            escape_xml(&self.client_id),
            escape_xml(&provider),
            request_id()
        ))
    }

    /// `signer`: the access key that signed the request; `temporary`: it carried a session
    /// token.
    async fn assume_role<'a>(
        &self,
        signer: Option<String>,
        temporary: bool,
        get: &(impl Fn(&str) -> Option<&'a str> + Sync),
    ) -> Result<String, StsError> {
        let Some(user) = signer else {
            return Err(err(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "AssumeRole must be signed with a user's keys",
            ));
        };
        if temporary {
            return Err(err(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "temporary credentials cannot assume a role",
            ));
        }
        let duration = self.duration(get("DurationSeconds"))?.unwrap_or(3600);
        // Like MinIO: the root keys cannot mint long-lived root sessions, nor can temporary keys.
        let policies = self.keys.user_policies(&user).ok_or_else(|| {
            err(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "only static users may call AssumeRole",
            )
        })?;
        let owner = user;
        let session = get("RoleSessionName").unwrap_or("session").to_owned();
        let issued = self
            .issue(
                TempOwner::Assumed { user: owner },
                policies,
                self.clock.secs() + duration,
            )
            .await?;
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AssumeRoleResponse xmlns=\"{NS}\"><AssumeRoleResult>{}\
             <AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/onyxia/{}</Arn><AssumedRoleId>{}:{}</AssumedRoleId></AssumedRoleUser>\
             </AssumeRoleResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></AssumeRoleResponse>",
            credentials_xml(&issued),
            escape_xml(&session),
            issued.access_key,
            escape_xml(&session),
            request_id()
        ))
    }
}

fn credentials_xml(issued: &Issued) -> String {
    format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken>\
         <Expiration>{}</Expiration></Credentials>",
        issued.access_key,
        escape_xml(&issued.secret_key),
        issued.session_token,
        iso8601(issued.expires)
    )
}
