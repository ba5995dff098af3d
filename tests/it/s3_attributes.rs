//! What S3 says about objects without reading them, with aws-sdk-s3: GetObjectAttributes of
//! simple and multipart objects and its errors, and the owners listings name.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};

use crate::s3_support::*;
use crate::support::*;

#[tokio::test]
async fn attributes_of_simple_and_multipart_objects() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("attrs").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("attrs")
        .key("one.csv")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();
    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::ObjectSize,
        ObjectAttributes::StorageClass,
    ];
    let attrs = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("one.csv")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs.e_tag().map(|e| e.trim_matches('"')),
        put.e_tag().map(|e| e.trim_matches('"'))
    );
    assert_eq!(attrs.object_size(), Some(8));
    assert_eq!(attrs.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    let checksum = attrs.checksum().expect("the checksum sent with the object");
    assert_eq!(checksum.checksum_sha256(), put.checksum_sha256());
    assert!(attrs.object_parts().is_none(), "one PUT has no parts");
    assert!(attrs.last_modified().is_some());

    // Only what is asked for.
    let size_only = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("one.csv")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(size_only.object_size(), Some(8));
    assert!(size_only.e_tag().is_none() && size_only.checksum().is_none());

    // A multipart object counts its parts.
    let upload = s3
        .create_multipart_upload()
        .bucket("attrs")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let mut parts = Vec::new();
    for (number, size) in [(1, 5 * 1024 * 1024), (2, 1024)] {
        let part = s3
            .upload_part()
            .bucket("attrs")
            .key("big.bin")
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(vec![b'x'; size]))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("attrs")
        .key("big.bin")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let big = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("big.bin")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        big.object_parts().and_then(|p| p.total_parts_count()),
        Some(2)
    );
    assert_eq!(big.object_size(), Some(5 * 1024 * 1024 + 1024));
    let big_etag = big.e_tag().unwrap().trim_matches('"');
    assert!(big_etag.ends_with("-2"), "{big_etag}");

    let unknown = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("one.csv")
        .object_attributes(ObjectAttributes::from("Colour"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "InvalidArgument");
    let missing = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("none")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "NoSuchKey");
    tp.stop().await;
}

/// Uploads `bodies` as the parts of a new upload created with `algorithm`, each part with
/// `part_algorithm`; returns the upload id and the parts as CompleteMultipartUpload lists them.
async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    key: &str,
    (algorithm, kind): (ChecksumAlgorithm, Option<ChecksumType>),
    part_algorithm: ChecksumAlgorithm,
    bodies: &[Vec<u8>],
) -> (String, Vec<CompletedPart>) {
    let upload = s3
        .create_multipart_upload()
        .bucket("attrs")
        .key(key)
        .checksum_algorithm(algorithm.clone())
        .set_checksum_type(kind)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.checksum_algorithm(), Some(&algorithm));
    let id = upload.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let number = i as i32 + 1;
        let part = s3
            .upload_part()
            .bucket("attrs")
            .key(key)
            .upload_id(&id)
            .part_number(number)
            .checksum_algorithm(part_algorithm.clone())
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(part.e_tag().unwrap())
                .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                .set_checksum_sha256(part.checksum_sha256().map(str::to_owned))
                .build(),
        );
    }
    (id, parts)
}

async fn complete(
    s3: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    parts: Vec<CompletedPart>,
) -> Result<aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput, String>
{
    s3.complete_multipart_upload()
        .bucket("attrs")
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| code(&e))
}

#[tokio::test]
async fn multipart_objects_get_the_composite_checksum_of_their_parts() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("attrs").send().await.unwrap();
    let bodies = [vec![b'a'; 5 * 1024 * 1024], b"tail".to_vec()];
    let crc32 = ChecksumAlgorithm::Crc32;
    let composite = (crc32.clone(), None);
    let (id, parts) = upload_parts(&s3, "composite", composite, crc32.clone(), &bodies).await;

    // The CRC32 of the parts' CRC32s, then the number of parts (computed here on its own).
    let mut raw = Vec::new();
    for part in &parts {
        raw.extend(b64.decode(part.checksum_crc32().unwrap()).unwrap());
    }
    let of_parts = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &raw) as u32;
    let expected = format!("{}-2", b64.encode(of_parts.to_be_bytes()));

    // A part checksum that is not the part's is refused.
    let mut wrong = parts.clone();
    wrong[1] = CompletedPart::builder()
        .part_number(2)
        .e_tag(parts[1].e_tag().unwrap())
        .checksum_crc32(b64.encode(7u32.to_be_bytes()))
        .build();
    assert_eq!(
        complete(&s3, "composite", &id, wrong).await.unwrap_err(),
        "InvalidPart"
    );
    let done = complete(&s3, "composite", &id, parts).await.unwrap();
    assert_eq!(done.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(done.checksum_type().map(|t| t.as_str()), Some("COMPOSITE"));
    let head = s3
        .head_object()
        .bucket("attrs")
        .key("composite")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(head.checksum_type().map(|t| t.as_str()), Some("COMPOSITE"));
    let listed = s3.list_objects_v2().bucket("attrs").send().await.unwrap();
    let entry = &listed.contents()[0];
    assert_eq!(entry.checksum_algorithm(), [ChecksumAlgorithm::Crc32]);
    assert_eq!(entry.checksum_type().map(|t| t.as_str()), Some("COMPOSITE"));
    // The SDK reads it back (a composite checksum is not one it can check on the body).
    let got = s3
        .get_object()
        .bucket("attrs")
        .key("composite")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), 5 * 1024 * 1024 + 4);

    // An upload created for SHA256 needs each part's SHA256.
    let sha = ChecksumAlgorithm::Sha256;
    let (id, parts) = upload_parts(&s3, "partial", (sha, None), crc32, &bodies).await;
    assert_eq!(
        complete(&s3, "partial", &id, parts).await.unwrap_err(),
        "InvalidPart"
    );
    tp.stop().await;
}

#[tokio::test]
async fn full_object_checksums_combine_the_parts_crcs() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("attrs").send().await.unwrap();
    s3.put_object()
        .bucket("attrs")
        .key("source")
        .body(ByteStream::from(vec![b'c'; 1000]))
        .send()
        .await
        .unwrap();
    let bodies = [vec![b'a'; 5 * 1024 * 1024], vec![b'b'; 5 * 1024 * 1024]];
    let full = (ChecksumAlgorithm::Crc32C, Some(ChecksumType::FullObject));
    let crc32c = ChecksumAlgorithm::Crc32C;
    let (id, mut parts) = upload_parts(&s3, "full", full, crc32c, &bodies).await;
    // A last part copied from another object carries the upload's checksum too.
    let copied = s3
        .upload_part_copy()
        .bucket("attrs")
        .key("full")
        .upload_id(&id)
        .part_number(3)
        .copy_source("attrs/source")
        .send()
        .await
        .unwrap();
    let result = copied.copy_part_result().unwrap();
    let copied_crc = result
        .checksum_crc32_c()
        .expect("the copy's CRC32C")
        .to_owned();
    parts.push(
        CompletedPart::builder()
            .part_number(3)
            .e_tag(result.e_tag().unwrap())
            .checksum_crc32_c(copied_crc)
            .build(),
    );
    let whole = [bodies[0].clone(), bodies[1].clone(), vec![b'c'; 1000]].concat();
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &whole) as u32;
    let expected = b64.encode(crc.to_be_bytes());

    // The whole object's checksum, named on completion, must be the one the parts make.
    let complete_full = |named: String| {
        s3.complete_multipart_upload()
            .bucket("attrs")
            .key("full")
            .upload_id(&id)
            .checksum_crc32_c(named)
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts.clone()))
                    .build(),
            )
            .send()
    };
    let wrong = complete_full(b64.encode(1u32.to_be_bytes())).await;
    assert_eq!(code(&wrong.unwrap_err()), "BadDigest");
    let done = complete_full(expected.clone()).await.unwrap();
    assert_eq!(done.checksum_crc32_c(), Some(expected.as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));
    // The SDK checks the body against it on GET.
    let got = s3
        .get_object()
        .bucket("attrs")
        .key("full")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32_c(), Some(expected.as_str()));
    let body = got
        .body
        .collect()
        .await
        .expect("the SDK's checksum check passes");
    assert_eq!(body.into_bytes().len(), whole.len());

    // SHA checksums are composite only; CRC64NVME is full-object only.
    for (algorithm, kind) in [
        (ChecksumAlgorithm::Sha256, ChecksumType::FullObject),
        (ChecksumAlgorithm::Crc64Nvme, ChecksumType::Composite),
    ] {
        let refused = s3
            .create_multipart_upload()
            .bucket("attrs")
            .key("no")
            .checksum_algorithm(algorithm)
            .checksum_type(kind)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "InvalidRequest");
    }
    tp.stop().await;
}

#[tokio::test]
async fn listings_name_the_owner_as_asked() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("owned").send().await.unwrap();
    s3.put_object()
        .bucket("owned")
        .key("k")
        .body(ByteStream::from_static(b"k"))
        .send()
        .await
        .unwrap();
    let v2 = s3.list_objects_v2().bucket("owned").send().await.unwrap();
    assert!(v2.contents()[0].owner().is_none(), "v2 without fetch-owner");
    let fetched = s3
        .list_objects_v2()
        .bucket("owned")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner = fetched.contents()[0].owner().expect("fetch-owner");
    assert_eq!(owner.id(), Some("root"), "the bucket's creator");
    let v1 = s3.list_objects().bucket("owned").send().await.unwrap();
    assert_eq!(v1.contents()[0].owner().and_then(|o| o.id()), Some("root"));
    tp.stop().await;
}

#[tokio::test]
async fn boto3_completes_uploads_with_composite_and_full_object_checksums() {
    let tp = TestPlatform::start().await;
    crate::python_clients::run_python(&tp, "s3_checksums_boto3.py").await;
    tp.stop().await;
}
