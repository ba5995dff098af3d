//! Real AWS SDK clients pointed at a test platform's S3 listener.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::support::TestPlatform;

fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

pub fn s3_url(tp: &TestPlatform) -> String {
    format!("http://{}", tp.running.endpoints.s3_addr)
}

pub fn s3_client(
    tp: &TestPlatform,
    access_key: &str,
    secret_key: &str,
    token: Option<&str>,
) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        access_key,
        secret_key,
        token.map(str::to_owned),
        None,
        "test",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(s3_url(tp))
        .credentials_provider(credentials)
        .force_path_style(true)
        .http_client(http_client())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn root_client(tp: &TestPlatform) -> aws_sdk_s3::Client {
    let e = &tp.running.endpoints;
    s3_client(tp, &e.s3_access_key, &e.s3_secret_key, None)
}

pub fn sts_client(tp: &TestPlatform) -> aws_sdk_sts::Client {
    sts_client_with(tp, None)
}

/// An STS client signing with `(access key, secret key)` when given (AssumeRole).
pub fn sts_client_with(tp: &TestPlatform, keys: Option<(&str, &str)>) -> aws_sdk_sts::Client {
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(s3_url(tp))
        .http_client(http_client());
    if let Some((ak, sk)) = keys {
        config = config.credentials_provider(aws_sdk_sts::config::Credentials::new(
            ak, sk, None, None, "test",
        ));
    }
    aws_sdk_sts::Client::from_conf(config.build())
}

/// The S3 (or STS) error code of a failed call.
pub fn code<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Temporary S3 credentials for `user` through AssumeRoleWithWebIdentity with a token of the
/// `onyxia-minio` client, as onyxia-web does.
pub async fn sts_credentials(
    tp: &TestPlatform,
    user: &str,
    password: &str,
) -> aws_sdk_sts::types::Credentials {
    let tokens = crate::support::password_grant(tp, "onyxia-minio", user, password).await;
    let token = tokens["access_token"].as_str().unwrap();
    let out = sts_client(tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name(user)
        .web_identity_token(token)
        .send()
        .await
        .expect("AssumeRoleWithWebIdentity");
    out.credentials.expect("credentials")
}

pub fn session_client(
    tp: &TestPlatform,
    c: &aws_sdk_sts::types::Credentials,
) -> aws_sdk_s3::Client {
    s3_client(
        tp,
        &c.access_key_id,
        &c.secret_access_key,
        Some(&c.session_token),
    )
}

/// Sets a bucket's versioning state (Enabled or Suspended).
pub async fn set_versioning(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    status: aws_sdk_s3::types::BucketVersioningStatus,
) {
    let config = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(status)
        .build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(config)
        .send()
        .await
        .unwrap();
}
