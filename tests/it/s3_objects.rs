//! S3 operations with aws-sdk-s3 (root keys): buckets, objects, listing, copy, tagging,
//! multipart, conditionals, ranges, CORS, bucket policies, presigned URLs.

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, CorsConfiguration, CorsRule, Delete,
    MetadataDirective, ObjectIdentifier, Tag, Tagging,
};

use crate::s3_support::*;
use crate::support::*;

async fn body_of(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn buckets_objects_listing_copy_and_tags() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket()
        .bucket("data")
        .send()
        .await
        .expect("create bucket");
    // us-east-1 (the default region) answers the owner's second create with 200, as AWS does
    // there; s3_acl.rs checks the other regions' 409 and another owner's.
    s3.create_bucket()
        .bucket("data")
        .send()
        .await
        .expect("us-east-1: creating one's own bucket again succeeds");
    let bad = s3
        .create_bucket()
        .bucket("Bad_Name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "InvalidBucketName");
    s3.head_bucket()
        .bucket("data")
        .send()
        .await
        .expect("head bucket");
    let buckets = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(
        names.contains(&"data") && names.contains(&"projet-demo") && names.contains(&"user-alice"),
        "{names:?}"
    );

    for key in [
        "a.txt",
        "dir/1.csv",
        "dir/2.csv",
        "dir/sub/3.csv",
        "z é.txt",
    ] {
        s3.put_object()
            .bucket("data")
            .key(key)
            .body(ByteStream::from(format!("content of {key}").into_bytes()))
            .content_type("text/plain")
            .metadata("origin", "test")
            .cache_control("max-age=60")
            .send()
            .await
            .expect("put");
    }
    let got = s3
        .get_object()
        .bucket("data")
        .key("dir/1.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.metadata().unwrap()["origin"], "test");
    let etag = got.e_tag().unwrap().to_owned();
    assert_eq!(body_of(got).await, b"content of dir/1.csv");

    // Listing: delimiter, prefix, pagination with continuation tokens, url encoding.
    let top = s3
        .list_objects_v2()
        .bucket("data")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = top.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["a.txt", "z é.txt"], vec!["dir/"]));
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("data")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(
        seen,
        [
            "a.txt",
            "dir/1.csv",
            "dir/2.csv",
            "dir/sub/3.csv",
            "z é.txt"
        ]
    );
    let v1 = s3
        .list_objects()
        .bucket("data")
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(v1.contents().len(), 2);
    assert_eq!(v1.common_prefixes()[0].prefix(), Some("dir/sub/"));

    // Copy: metadata copied by default, replaced on request; copying onto itself needs REPLACE.
    s3.copy_object()
        .bucket("data")
        .key("copy.csv")
        .copy_source("data/dir/1.csv")
        .send()
        .await
        .expect("copy");
    let copy = s3
        .head_object()
        .bucket("data")
        .key("copy.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(copy.metadata().unwrap()["origin"], "test");
    assert_eq!(copy.e_tag(), Some(etag.as_str()));
    s3.copy_object()
        .bucket("data")
        .key("copy.csv")
        .copy_source("data/copy.csv")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "replaced")
        .content_type("text/csv")
        .send()
        .await
        .expect("copy with REPLACE");
    let replaced = s3
        .head_object()
        .bucket("data")
        .key("copy.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.metadata().unwrap()["origin"], "replaced");
    assert_eq!(replaced.content_type(), Some("text/csv"));
    let self_copy = s3
        .copy_object()
        .bucket("data")
        .key("a.txt")
        .copy_source("data/a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&self_copy), "InvalidRequest");

    // Tags on objects and buckets.
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("team").value("blue").build().unwrap())
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket("data")
        .key("a.txt")
        .tagging(tagging.clone())
        .send()
        .await
        .unwrap();
    let tags = s3
        .get_object_tagging()
        .bucket("data")
        .key("a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set()[0].value(), "blue");
    s3.delete_object_tagging()
        .bucket("data")
        .key("a.txt")
        .send()
        .await
        .unwrap();
    assert!(
        s3.get_object_tagging()
            .bucket("data")
            .key("a.txt")
            .send()
            .await
            .unwrap()
            .tag_set()
            .is_empty()
    );
    let none = s3
        .get_bucket_tagging()
        .bucket("data")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&none), "NoSuchTagSet");
    s3.put_bucket_tagging()
        .bucket("data")
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_bucket_tagging()
            .bucket("data")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        1
    );
    s3.put_object()
        .bucket("data")
        .key("tagged")
        .tagging("a=1&b=2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_object_tagging()
            .bucket("data")
            .key("tagged")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        2
    );

    // Deletes, one and many; then the bucket can go.
    let not_empty = s3.delete_bucket().bucket("data").send().await.unwrap_err();
    assert_eq!(code(&not_empty), "BucketNotEmpty");
    s3.delete_object()
        .bucket("data")
        .key("a.txt")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket("data")
        .key("never-existed")
        .send()
        .await
        .expect("deleting a missing key is fine");
    let missing = s3
        .get_object()
        .bucket("data")
        .key("a.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "NoSuchKey");
    let all = s3.list_objects_v2().bucket("data").send().await.unwrap();
    let ids: Vec<ObjectIdentifier> = all
        .contents()
        .iter()
        .map(|o| {
            ObjectIdentifier::builder()
                .key(o.key().unwrap())
                .build()
                .unwrap()
        })
        .collect();
    let deleted = s3
        .delete_objects()
        .bucket("data")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), 6);
    s3.delete_bucket()
        .bucket("data")
        .send()
        .await
        .expect("empty bucket deleted");
    let gone = s3.head_bucket().bucket("data").send().await.unwrap_err();
    assert!(
        gone.raw_response()
            .is_some_and(|r| r.status().as_u16() == 404)
    );
    tp.stop().await;
}

#[tokio::test]
async fn ranges_conditionals_and_digests() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("cond").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let part = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .range("bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.content_range(), Some("bytes 2-5/10"));
    assert_eq!(body_of(part).await, b"2345");
    let tail = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .range("bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(tail).await, b"789");
    let beyond = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .range("bytes=20-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&beyond), "InvalidRange");

    let same = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(same.raw_response().unwrap().status().as_u16(), 304);
    let other = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&other), "PreconditionFailed");
    s3.get_object()
        .bucket("cond")
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .expect("If-Match with the current ETag");
    let future = aws_sdk_s3::primitives::DateTime::from_secs(4_000_000_000);
    let unchanged = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_modified_since(future)
        .send()
        .await
        .unwrap_err();
    assert_eq!(unchanged.raw_response().unwrap().status().as_u16(), 304);
    let past = aws_sdk_s3::primitives::DateTime::from_secs(1_000_000_000);
    let modified = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .if_unmodified_since(past)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&modified), "PreconditionFailed");
    // Response header overrides.
    let over = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .response_content_type("application/json")
        .response_content_disposition("attachment")
        .send()
        .await
        .unwrap();
    assert_eq!(over.content_type(), Some("application/json"));
    assert_eq!(over.content_disposition(), Some("attachment"));

    // If-None-Match: * on PUT refuses to overwrite.
    let exists = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&exists), "PreconditionFailed");
    // A wrong Content-MD5 is refused and stores nothing.
    let bad_md5 = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from_static(b"not empty"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_md5), "BadDigest");
    let wrong_crc = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"not empty"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&wrong_crc), "BadDigest");
    let still = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        body_of(still).await,
        b"0123456789",
        "failed writes left the object alone"
    );
    let dotdot = s3
        .put_object()
        .bucket("cond")
        .key("a/../b")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dotdot), "XMinioInvalidObjectName");
    let long = s3
        .put_object()
        .bucket("cond")
        .key("k".repeat(1025))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&long), "KeyTooLongError");
    tp.stop().await;
}

#[tokio::test]
async fn multipart_upload_with_five_mib_parts() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("big").send().await.unwrap();
    let upload = s3
        .create_multipart_upload()
        .bucket("big")
        .key("blob.bin")
        .content_type("application/x-test")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap().to_owned();
    let part_size = 5 * 1024 * 1024;
    let data: Vec<u8> = (0..(2 * part_size + 1234))
        .map(|i| (i % 251) as u8)
        .collect();
    let mut completed = Vec::new();
    for (i, chunk) in data.chunks(part_size).enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket("big")
            .key("blob.bin")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        completed.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    let parts = s3
        .list_parts()
        .bucket("big")
        .key("blob.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 3);
    let uploads = s3
        .list_multipart_uploads()
        .bucket("big")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));
    // Parts out of order are refused.
    let mut reversed = completed.clone();
    reversed.reverse();
    let bad = s3
        .complete_multipart_upload()
        .bucket("big")
        .key("blob.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(reversed))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "InvalidPartOrder");
    let done = s3
        .complete_multipart_upload()
        .bucket("big")
        .key("blob.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-3\""),
        "{:?}",
        done.e_tag()
    );
    let got = s3
        .get_object()
        .bucket("big")
        .key("blob.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(body_of(got).await, data);
    // A range across the part boundary.
    let edge = s3
        .get_object()
        .bucket("big")
        .key("blob.bin")
        .range(format!("bytes={}-{}", part_size - 2, part_size + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(edge).await, &data[part_size - 2..part_size + 2]);
    // UploadPartCopy and abort.
    let second = s3
        .create_multipart_upload()
        .bucket("big")
        .key("copy.bin")
        .send()
        .await
        .unwrap();
    let id2 = second.upload_id().unwrap();
    s3.upload_part_copy()
        .bucket("big")
        .key("copy.bin")
        .upload_id(id2)
        .part_number(1)
        .copy_source("big/blob.bin")
        .copy_source_range("bytes=0-99")
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload()
        .bucket("big")
        .key("copy.bin")
        .upload_id(id2)
        .send()
        .await
        .unwrap();
    let aborted = s3
        .list_parts()
        .bucket("big")
        .key("copy.bin")
        .upload_id(id2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&aborted), "NoSuchUpload");
    tp.stop().await;
}

#[tokio::test]
async fn presigned_urls_cors_and_public_bucket_policy() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("web").send().await.unwrap();
    let http = reqwest::Client::new();
    let expires = PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap();
    let put = s3
        .put_object()
        .bucket("web")
        .key("up.txt")
        .presigned(expires.clone())
        .await
        .unwrap();
    let r = http
        .put(put.uri())
        .body("presigned body")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let get = s3
        .get_object()
        .bucket("web")
        .key("up.txt")
        .presigned(expires)
        .await
        .unwrap();
    let r = http.get(get.uri()).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "presigned body");
    let tampered = get.uri().replace("up.txt", "other.txt");
    assert_eq!(http.get(tampered).send().await.unwrap().status(), 403);

    // Anonymous access is denied until a bucket policy grants it, for that prefix only.
    let url = format!("{}/web/up.txt", s3_url(&tp));
    assert_eq!(http.get(&url).send().await.unwrap().status(), 403);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::web/up.txt"]}]}"#;
    s3.put_bucket_policy()
        .bucket("web")
        .policy(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_bucket_policy()
            .bucket("web")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(policy)
    );
    assert_eq!(
        http.get(&url).send().await.unwrap().text().await.unwrap(),
        "presigned body"
    );
    let anon_put = http.put(&url).body("nope").send().await.unwrap();
    assert_eq!(anon_put.status(), 403);
    let malformed = s3
        .put_bucket_policy()
        .bucket("web")
        .policy("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&malformed), "MalformedPolicy");
    s3.delete_bucket_policy()
        .bucket("web")
        .send()
        .await
        .unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 403);

    // CORS: any origin by default; once configured, only the rules' origins.
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/web/up.txt", s3_url(&tp)),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
    };
    let open = preflight("http://anywhere.example").await.unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(
        open.headers()["access-control-allow-origin"],
        "http://anywhere.example"
    );
    let rule = CorsRule::builder()
        .allowed_origins("https://app.example")
        .allowed_methods("PUT")
        .allowed_methods("GET")
        .allowed_headers("*")
        .max_age_seconds(600)
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket("web")
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_bucket_cors()
            .bucket("web")
            .send()
            .await
            .unwrap()
            .cors_rules()
            .len(),
        1
    );
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-max-age"], "600");
    assert_eq!(
        preflight("http://anywhere.example").await.unwrap().status(),
        403
    );
    s3.delete_bucket_cors().bucket("web").send().await.unwrap();
    let none = s3.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!(code(&none), "NoSuchCORSConfiguration");
    tp.stop().await;
}

#[tokio::test]
async fn virtual_host_style_and_size_limit() {
    let mut config = test_config();
    config.s3.domain = Some("s3.test".into());
    config.s3.max_object_size = 1024;
    let tp = TestPlatform::start_with(config).await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("vhost").send().await.unwrap();
    s3.put_object()
        .bucket("vhost")
        .key("dir/file.txt")
        .body(ByteStream::from_static(b"by host"))
        .send()
        .await
        .unwrap();
    let too_big = s3
        .put_object()
        .bucket("vhost")
        .key("big")
        .body(ByteStream::from(vec![0u8; 2048]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&too_big), "EntityTooLarge");
    let policy = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::vhost/*"}]}"#;
    s3.put_bucket_policy()
        .bucket("vhost")
        .policy(policy)
        .send()
        .await
        .unwrap();
    // `<bucket>.<domain>` names the bucket; the path is the key.
    let port = tp.running.endpoints.s3_addr.port();
    let r = reqwest::Client::new()
        .get(format!("{}/dir/file.txt", s3_url(&tp)))
        .header("host", format!("vhost.s3.test:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "by host");
    tp.stop().await;
}
