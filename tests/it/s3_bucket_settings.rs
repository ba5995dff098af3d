//! Bucket settings with aws-sdk-s3 and boto3: object ownership controls (BucketOwnerEnforced
//! disables ACLs), and the settings onyxia-lite does not have, read as never configured.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketCannedAcl, ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
};

use crate::python_clients::run_python;
use crate::s3_support::*;
use crate::support::*;

fn controls(ownership: ObjectOwnership) -> OwnershipControls {
    OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(ownership)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

async fn anonymous_get(tp: &TestPlatform, path: &str) -> u16 {
    reqwest::get(format!("{}/{path}", s3_url(tp)))
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn put(
    s3: &aws_sdk_s3::Client,
    key: &str,
    acl: Option<ObjectCannedAcl>,
) -> Result<(), String> {
    s3.put_object()
        .bucket("owned")
        .key(key)
        .set_acl(acl)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .map(drop)
        .map_err(|e| code(&e))
}

#[tokio::test]
async fn bucket_owner_enforced_disables_acls() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("owned").send().await.unwrap();
    let none = s3
        .get_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&none), "OwnershipControlsNotFoundError");
    put(&s3, "shared", Some(ObjectCannedAcl::PublicRead))
        .await
        .unwrap();
    assert_eq!(anonymous_get(&tp, "owned/shared").await, 200, "ACLs apply");

    s3.put_bucket_ownership_controls()
        .bucket("owned")
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap();
    let shown = s3
        .get_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    let rule = &shown.ownership_controls().unwrap().rules()[0];
    assert_eq!(
        rule.object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    assert_eq!(
        anonymous_get(&tp, "owned/shared").await,
        403,
        "ACLs no longer grant"
    );
    let refused = put(&s3, "more", Some(ObjectCannedAcl::PublicRead)).await;
    assert_eq!(refused.unwrap_err(), "AccessControlListNotSupported");
    put(&s3, "more", Some(ObjectCannedAcl::BucketOwnerFullControl))
        .await
        .expect("the owner-only ACLs are what BucketOwnerEnforced allows");
    let acl = s3
        .put_object_acl()
        .bucket("owned")
        .key("more")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&acl), "AccessControlListNotSupported");

    s3.delete_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous_get(&tp, "owned/shared").await,
        200,
        "ACLs apply again"
    );

    // A grant cannot come with BucketOwnerEnforced, at creation or after.
    let both = s3
        .create_bucket()
        .bucket("both")
        .acl(BucketCannedAcl::PublicRead)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&both), "InvalidBucketAclWithObjectOwnership");
    s3.create_bucket()
        .bucket("open")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let later = s3
        .put_bucket_ownership_controls()
        .bucket("open")
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&later), "InvalidBucketAclWithObjectOwnership");
    tp.stop().await;
}

#[tokio::test]
async fn settings_onyxia_lite_lacks_read_as_never_configured() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("plain").send().await.unwrap();
    let payment = s3
        .get_bucket_request_payment()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(payment.payer().map(|p| p.as_str()), Some("BucketOwner"));
    let accelerate = s3
        .get_bucket_accelerate_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert!(accelerate.status().is_none());
    let logging = s3
        .get_bucket_logging()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert!(logging.logging_enabled().is_none());
    let notifications = s3
        .get_bucket_notification_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert!(notifications.queue_configurations().is_empty());
    let website = s3
        .get_bucket_website()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&website), "NoSuchWebsiteConfiguration");
    let replication = s3
        .get_bucket_replication()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&replication), "ReplicationConfigurationNotFoundError");
    let encryption = s3
        .get_bucket_encryption()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&encryption),
        "ServerSideEncryptionConfigurationNotFoundError"
    );
    // Setting them is not supported, and says so.
    let set = s3
        .put_bucket_request_payment()
        .bucket("plain")
        .request_payment_configuration(
            aws_sdk_s3::types::RequestPaymentConfiguration::builder()
                .payer(aws_sdk_s3::types::Payer::Requester)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&set), "NotImplemented");
    let missing = s3
        .get_bucket_logging()
        .bucket("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "NoSuchBucket");
    tp.stop().await;
}

#[tokio::test]
async fn boto3_reads_every_setting_of_a_bucket() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_bucket_settings_boto3.py").await;
    tp.stop().await;
}
