//! Canned ACLs with aws-sdk-s3 (and anonymous plain HTTP): what Get*Acl shows, what each ACL
//! really grants, who may set one, and the grants that are refused.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, Permission, Type,
};

use crate::python_clients::run_python;
use crate::s3_support::*;
use crate::support::*;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

async fn anonymous(tp: &TestPlatform, method: reqwest::Method, path: &str) -> u16 {
    reqwest::Client::new()
        .request(method, format!("{}/{path}", s3_url(tp)))
        .body(if path.contains("upload") { "x" } else { "" })
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, acl: Option<ObjectCannedAcl>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .set_acl(acl)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn canned_acls_grant_what_they_say() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    let get = reqwest::Method::GET;
    s3.create_bucket()
        .bucket("open")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&s3, "open", "public.txt", Some(ObjectCannedAcl::PublicRead)).await;
    put(&s3, "open", "private.txt", None).await;

    let acl = s3.get_bucket_acl().bucket("open").send().await.unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some("root"));
    let grants: Vec<(Option<&str>, Option<&str>)> = acl
        .grants()
        .iter()
        .map(|g| {
            let grantee = g.grantee().unwrap();
            (
                grantee.uri().or(grantee.id()),
                g.permission().map(|p| p.as_str()),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            (Some("root"), Some("FULL_CONTROL")),
            (Some(ALL_USERS), Some("READ"))
        ]
    );

    // A public-read bucket lists for anyone; each object reads by its own ACL.
    assert_eq!(anonymous(&tp, get.clone(), "open?list-type=2").await, 200);
    assert_eq!(anonymous(&tp, get.clone(), "open/public.txt").await, 200);
    assert_eq!(anonymous(&tp, get.clone(), "open/private.txt").await, 403);
    assert_eq!(
        anonymous(&tp, reqwest::Method::PUT, "open/upload.txt").await,
        403
    );
    let object_acl = s3
        .get_object_acl()
        .bucket("open")
        .key("private.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(object_acl.grants().len(), 1, "private: the owner alone");

    // public-read-write lets anyone write; back to private, nobody but the owner.
    s3.put_bucket_acl()
        .bucket("open")
        .acl(BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous(&tp, reqwest::Method::PUT, "open/upload.txt").await,
        200
    );
    s3.put_bucket_acl()
        .bucket("open")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&tp, get.clone(), "open?list-type=2").await, 403);
    s3.put_object_acl()
        .bucket("open")
        .key("public.txt")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&tp, get.clone(), "open/public.txt").await, 403);

    // authenticated-read: any signed-in caller, whatever their policies say, and not anonymous.
    put(
        &s3,
        "open",
        "members.txt",
        Some(ObjectCannedAcl::AuthenticatedRead),
    )
    .await;
    let bob = session_client(&tp, &sts_credentials(&tp, "bob", "bob").await);
    bob.get_object()
        .bucket("open")
        .key("members.txt")
        .send()
        .await
        .expect("signed in");
    let private = bob
        .get_object()
        .bucket("open")
        .key("private.txt")
        .send()
        .await;
    assert_eq!(code(&private.unwrap_err()), "AccessDenied");
    assert_eq!(anonymous(&tp, get, "open/members.txt").await, 403);
    tp.stop().await;
}

#[tokio::test]
async fn setting_acls_needs_their_permission_and_other_grantees_are_refused() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("docs").send().await.unwrap();
    // A document that spells out public-read is public-read.
    let owner = s3.get_bucket_acl().bucket("docs").send().await.unwrap();
    let mut grants = owner.grants().to_vec();
    grants.push(
        Grant::builder()
            .grantee(
                Grantee::builder()
                    .r#type(Type::Group)
                    .uri(ALL_USERS)
                    .build()
                    .unwrap(),
            )
            .permission(Permission::Read)
            .build(),
    );
    let document = AccessControlPolicy::builder()
        .set_owner(owner.owner().cloned())
        .set_grants(Some(grants))
        .build();
    s3.put_bucket_acl()
        .bucket("docs")
        .access_control_policy(document)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous(&tp, reqwest::Method::GET, "docs?list-type=2").await,
        200
    );
    // Grants to someone else cannot be kept.
    let to_bob = s3
        .put_bucket_acl()
        .bucket("docs")
        .grant_read("id=bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&to_bob), "NotImplemented");
    let unknown = s3
        .put_object()
        .bucket("docs")
        .key("x")
        .acl(ObjectCannedAcl::from("world-readable"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "InvalidArgument");

    // In the shared bucket alice may put objects under her prefix, but not make them public.
    let alice = session_client(&tp, &sts_credentials(&tp, "alice", "alice").await);
    let public = alice
        .put_object()
        .bucket("onyxia")
        .key("user-alice/page.html")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"<p>hi</p>"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&public), "AccessDenied");
    // In her own bucket she may.
    put(
        &alice,
        "user-alice",
        "page.html",
        Some(ObjectCannedAcl::PublicRead),
    )
    .await;
    assert_eq!(
        anonymous(&tp, reqwest::Method::GET, "user-alice/page.html").await,
        200
    );
    tp.stop().await;
}

#[tokio::test]
async fn boto3_publishes_an_object_with_a_canned_acl() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_acl_boto3.py").await;
    tp.stop().await;
}

#[tokio::test]
async fn a_public_access_block_overrides_acls_and_policies() {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration as Block;
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    let get = reqwest::Method::GET;
    s3.create_bucket().bucket("guarded").send().await.unwrap();
    put(&s3, "guarded", "acl.txt", Some(ObjectCannedAcl::PublicRead)).await;
    put(&s3, "guarded", "shared/policy.txt", None).await;
    let public_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::guarded/shared/*"]}]}"#;
    s3.put_bucket_policy()
        .bucket("guarded")
        .policy(public_policy)
        .send()
        .await
        .unwrap();
    let status = s3
        .get_bucket_policy_status()
        .bucket("guarded")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.policy_status().and_then(|s| s.is_public()),
        Some(true)
    );
    let none = s3
        .get_public_access_block()
        .bucket("guarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&none), "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(anonymous(&tp, get.clone(), "guarded/acl.txt").await, 200);
    assert_eq!(
        anonymous(&tp, get.clone(), "guarded/shared/policy.txt").await,
        200
    );

    let set = |config: Block| {
        s3.put_public_access_block()
            .bucket("guarded")
            .public_access_block_configuration(config)
            .send()
    };
    set(Block::builder().ignore_public_acls(true).build())
        .await
        .unwrap();
    assert_eq!(anonymous(&tp, get.clone(), "guarded/acl.txt").await, 403);
    assert_eq!(
        anonymous(&tp, get.clone(), "guarded/shared/policy.txt").await,
        200
    );
    set(Block::builder().restrict_public_buckets(true).build())
        .await
        .unwrap();
    assert_eq!(anonymous(&tp, get.clone(), "guarded/acl.txt").await, 200);
    assert_eq!(
        anonymous(&tp, get.clone(), "guarded/shared/policy.txt").await,
        403
    );

    set(Block::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .build())
    .await
    .unwrap();
    let stored = s3
        .get_public_access_block()
        .bucket("guarded")
        .send()
        .await
        .unwrap();
    let config = stored.public_access_block_configuration().unwrap();
    assert_eq!(config.block_public_acls(), Some(true));
    assert_eq!(config.ignore_public_acls(), Some(false));
    let acl_write = s3
        .put_object()
        .bucket("guarded")
        .key("new.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&acl_write), "AccessDenied");
    let acl_change = s3
        .put_object_acl()
        .bucket("guarded")
        .key("shared/policy.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&acl_change), "AccessDenied");
    put(
        &s3,
        "guarded",
        "private.txt",
        Some(ObjectCannedAcl::Private),
    )
    .await;
    let policy_change = s3
        .put_bucket_policy()
        .bucket("guarded")
        .policy(public_policy)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&policy_change), "AccessDenied");
    let pinned = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::guarded/*"],"Condition":{"StringEquals":{"aws:SourceVpce":["vpce-1a2b3c4d"]}}}]}"#;
    s3.put_bucket_policy()
        .bucket("guarded")
        .policy(pinned)
        .send()
        .await
        .expect("a policy pinned to an endpoint is not public");
    let status = s3
        .get_bucket_policy_status()
        .bucket("guarded")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.policy_status().and_then(|s| s.is_public()),
        Some(false)
    );

    s3.delete_public_access_block()
        .bucket("guarded")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous(&tp, get, "guarded/acl.txt").await,
        200,
        "the ACL was kept"
    );
    tp.stop().await;
}

#[tokio::test]
async fn creating_ones_bucket_again_answers_as_aws_does_in_each_region() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("again").send().await.unwrap();
    // us-east-1: 200, and the ACL of the new request replaces the bucket's.
    s3.create_bucket()
        .bucket("again")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .expect("us-east-1 answers 200");
    let public = |acl: &aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput| {
        acl.grants()
            .iter()
            .any(|g| g.grantee().and_then(|e| e.uri()) == Some(ALL_USERS))
    };
    let acl = s3.get_bucket_acl().bucket("again").send().await.unwrap();
    assert!(public(&acl), "{acl:?}");
    s3.create_bucket().bucket("again").send().await.unwrap();
    let acl = s3.get_bucket_acl().bucket("again").send().await.unwrap();
    assert!(!public(&acl), "reset to private: {acl:?}");
    tp.stop().await;

    // Any other region: 409 BucketAlreadyOwnedByYou.
    let mut config = test_config();
    config.s3.region = "eu-west-3".into();
    let tp = TestPlatform::start_with(config).await;
    let conf = root_client(&tp)
        .config()
        .to_builder()
        .region(aws_sdk_s3::config::Region::new("eu-west-3"))
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let located = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest3)
        .build();
    let create = || {
        s3.create_bucket()
            .bucket("again")
            .create_bucket_configuration(located.clone())
            .send()
    };
    create().await.unwrap();
    assert_eq!(
        code(&create().await.unwrap_err()),
        "BucketAlreadyOwnedByYou"
    );
    tp.stop().await;
}

#[tokio::test]
async fn a_named_version_is_judged_by_its_own_acl() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("history").send().await.unwrap();
    set_versioning(
        &s3,
        "history",
        aws_sdk_s3::types::BucketVersioningStatus::Enabled,
    )
    .await;
    let mut ids = Vec::new();
    for acl in [None, Some(ObjectCannedAcl::PublicRead)] {
        let out = s3
            .put_object()
            .bucket("history")
            .key("k")
            .set_acl(acl)
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
        ids.push(out.version_id().unwrap().to_owned());
    }
    let get = reqwest::Method::GET;
    assert_eq!(anonymous(&tp, get.clone(), "history/k").await, 200);
    let public = format!("history/k?versionId={}", ids[1]);
    assert_eq!(anonymous(&tp, get.clone(), &public).await, 200);
    // The private old version stays private although the current one is public.
    let private = format!("history/k?versionId={}", ids[0]);
    assert_eq!(anonymous(&tp, get, &private).await, 403);
    tp.stop().await;
}
