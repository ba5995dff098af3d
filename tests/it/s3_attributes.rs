//! What S3 says about objects without reading them, with aws-sdk-s3: GetObjectAttributes of
//! simple and multipart objects and its errors, and the owners listings name.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
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
