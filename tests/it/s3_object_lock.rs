//! Object lock with aws-sdk-s3: a bucket created with object lock, its default retention,
//! retention and legal holds per version, deletes refused while a version is locked (and the
//! GOVERNANCE bypass), and the errors S3 answers.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};

use crate::python_clients::run_python;
use crate::s3_support::*;
use crate::support::*;

/// `days` from now on the platform's clock.
fn in_days(tp: &TestPlatform, days: i64) -> DateTime {
    let now = tp.running.clock().secs() as i64;
    DateTime::from_secs(now + days * 86_400)
}

async fn locked_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"record"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

async fn delete_version(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: &str,
    bypass: bool,
) -> Result<(), String> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .set_bypass_governance_retention(bypass.then_some(true))
        .send()
        .await
        .map(drop)
        .map_err(|e| code(&e))
}

fn retention(mode: ObjectLockRetentionMode, until: DateTime) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(until)
        .build()
}

#[tokio::test]
async fn locked_versions_cannot_be_deleted_before_their_date() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    locked_bucket(&s3, "vault").await;
    let versioning = s3
        .get_bucket_versioning()
        .bucket("vault")
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
    let suspend = s3
        .put_bucket_versioning()
        .bucket("vault")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&suspend), "InvalidBucketState");

    // COMPLIANCE named on the write: nobody deletes the version before its date.
    let until = in_days(&tp, 2);
    let out = s3
        .put_object()
        .bucket("vault")
        .key("ledger")
        .body(ByteStream::from_static(b"2026"))
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    let compliance = out.version_id().unwrap().to_owned();
    let head = s3
        .head_object()
        .bucket("vault")
        .key("ledger")
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(
        head.object_lock_retain_until_date().map(|d| d.secs()),
        Some(until.secs())
    );
    for bypass in [false, true] {
        let refused = delete_version(&s3, "vault", "ledger", &compliance, bypass).await;
        assert_eq!(refused.unwrap_err(), "AccessDenied");
    }
    let shorter = s3
        .put_object_retention()
        .bucket("vault")
        .key("ledger")
        .version_id(&compliance)
        .retention(retention(
            ObjectLockRetentionMode::Compliance,
            in_days(&tp, 1),
        ))
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&shorter), "AccessDenied");
    // A delete without a version id only adds a marker: always allowed.
    let marker = s3
        .delete_object()
        .bucket("vault")
        .key("ledger")
        .send()
        .await
        .unwrap();
    assert_eq!(marker.delete_marker(), Some(true));
    // Past its date the version goes.
    tp.advance(3 * 86_400);
    delete_version(&s3, "vault", "ledger", &compliance, false)
        .await
        .unwrap();

    // GOVERNANCE yields to the bypass, and may be lengthened by anyone who may set it.
    let governed = put(&s3, "vault", "draft").await;
    s3.put_object_retention()
        .bucket("vault")
        .key("draft")
        .retention(retention(
            ObjectLockRetentionMode::Governance,
            in_days(&tp, 5),
        ))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_retention()
        .bucket("vault")
        .key("draft")
        .version_id(&governed)
        .send()
        .await
        .unwrap();
    let shown = got.retention().unwrap();
    assert_eq!(shown.mode(), Some(&ObjectLockRetentionMode::Governance));
    let refused = delete_version(&s3, "vault", "draft", &governed, false).await;
    assert_eq!(refused.unwrap_err(), "AccessDenied");
    delete_version(&s3, "vault", "draft", &governed, true)
        .await
        .unwrap();

    // A legal hold keeps a version whatever its retention, until it is lifted.
    let held = put(&s3, "vault", "evidence").await;
    let hold = |status| ObjectLockLegalHold::builder().status(status).build();
    s3.put_object_legal_hold()
        .bucket("vault")
        .key("evidence")
        .legal_hold(hold(ObjectLockLegalHoldStatus::On))
        .send()
        .await
        .unwrap();
    let status = s3
        .get_object_legal_hold()
        .bucket("vault")
        .key("evidence")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.legal_hold().and_then(|h| h.status()),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    let refused = delete_version(&s3, "vault", "evidence", &held, true).await;
    assert_eq!(refused.unwrap_err(), "AccessDenied");
    s3.put_object_legal_hold()
        .bucket("vault")
        .key("evidence")
        .legal_hold(hold(ObjectLockLegalHoldStatus::Off))
        .send()
        .await
        .unwrap();
    delete_version(&s3, "vault", "evidence", &held, false)
        .await
        .unwrap();
    tp.stop().await;
}

#[tokio::test]
async fn a_default_retention_locks_every_new_version() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("plain").send().await.unwrap();
    let missing = s3
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "ObjectLockConfigurationNotFoundError");
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(1)
                .build(),
        )
        .build();
    let config = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(rule)
        .build();
    // A century at most, as MinIO allows.
    let too_long = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder()
                        .mode(ObjectLockRetentionMode::Compliance)
                        .years(101)
                        .build(),
                )
                .build(),
        )
        .build();
    let refused = s3
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(too_long)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "InvalidArgument");
    // Object lock needs versioning; once on, the rule applies to each new version.
    let unversioned = s3
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(config.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unversioned), "InvalidBucketState");
    let header_lock = s3
        .put_object()
        .bucket("plain")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_days(&tp, 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&header_lock), "InvalidRequest");
    set_versioning(&s3, "plain", BucketVersioningStatus::Enabled).await;
    s3.put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(config)
        .send()
        .await
        .unwrap();
    let shown = s3
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    let shown = shown.object_lock_configuration().unwrap();
    let default = shown.rule().unwrap().default_retention().unwrap();
    assert_eq!(
        (default.mode(), default.days()),
        (Some(&ObjectLockRetentionMode::Governance), Some(1))
    );

    let version = put(&s3, "plain", "k").await;
    let got = s3
        .get_object()
        .bucket("plain")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(got.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let refused = delete_version(&s3, "plain", "k", &version, false).await;
    assert_eq!(refused.unwrap_err(), "AccessDenied");
    tp.advance(2 * 86_400);
    delete_version(&s3, "plain", "k", &version, false)
        .await
        .unwrap();

    // A retention in the past, or half a retention, is refused.
    let version = put(&s3, "plain", "k").await;
    let past = s3
        .put_object_retention()
        .bucket("plain")
        .key("k")
        .version_id(&version)
        .retention(retention(
            ObjectLockRetentionMode::Governance,
            in_days(&tp, -1),
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&past), "InvalidArgument");
    let no_retention = s3
        .get_object_retention()
        .bucket("vault-none")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&no_retention), "NoSuchBucket");
    tp.stop().await;
}

#[tokio::test]
async fn bypassing_governance_needs_its_permission() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    // alice's own bucket (seeded), given object lock by root.
    set_versioning(&s3, "user-alice", BucketVersioningStatus::Enabled).await;
    let enabled = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .build();
    s3.put_object_lock_configuration()
        .bucket("user-alice")
        .object_lock_configuration(enabled)
        .send()
        .await
        .unwrap();
    let version = put(&s3, "user-alice", "k").await;
    s3.put_object_retention()
        .bucket("user-alice")
        .key("k")
        .retention(retention(
            ObjectLockRetentionMode::Governance,
            in_days(&tp, 5),
        ))
        .send()
        .await
        .unwrap();
    // alice's policy (s3:* on her bucket) includes the bypass permission, which the bypass
    // needs (access.rs asks for it; its unit test checks when).
    let alice = session_client(&tp, &sts_credentials(&tp, "alice", "alice").await);
    let plain = delete_version(&alice, "user-alice", "k", &version, false).await;
    assert_eq!(plain.unwrap_err(), "AccessDenied");
    delete_version(&alice, "user-alice", "k", &version, true)
        .await
        .unwrap();
    tp.stop().await;
}

#[tokio::test]
async fn boto3_locks_and_keeps_versions() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_object_lock_boto3.py").await;
    tp.stop().await;
}
