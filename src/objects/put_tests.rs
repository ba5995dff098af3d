//! The put API end to end over a real store: what is kept, what is refused, and that a refused
//! or replaced write leaves no file behind.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use md5::Digest as _;

use super::*;

/// Every file under `dir`, recursively.
pub(crate) fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        count_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

struct Fixture {
    dir: tempfile::TempDir,
    objects: ObjectStore,
}

fn fixture(max: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("db")).unwrap());
    let objects =
        ObjectStore::open(store, &dir.path().join("objects"), max, Clock::system()).unwrap();
    objects.create_bucket("bkt", None).unwrap();
    Fixture { dir, objects }
}

impl Fixture {
    /// Every file under the object directories (blobs and temp files).
    fn files(&self) -> usize {
        count_files(&self.dir.path().join("objects"))
    }

    async fn bytes(&self, key: &str) -> Vec<u8> {
        let object = self.objects.head("bkt", key).unwrap();
        let Ok(mut stream) = self.objects.read(&object.segments, 0, object.size).await else {
            panic!("unreadable object");
        };
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }
}

/// A body in chunks of at most 64 KiB.
fn body(bytes: &[u8]) -> Source {
    let chunks: Vec<std::result::Result<Bytes, BodyError>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Source::Body(Box::pin(futures_util::stream::iter(chunks)))
}

fn object<'a>(key: &'a str) -> Target<'a> {
    Target::Object { bucket: "bkt", key }
}

#[tokio::test]
async fn a_put_keeps_bytes_digests_and_headers() {
    let f = fixture(1 << 30);
    let big = vec![7u8; 300_000];
    let spec = PutSpec {
        expected: Expected {
            length: Some(big.len() as u64),
            compute: vec![ChecksumAlgorithm::Sha256],
            ..Default::default()
        },
        headers: ObjectHeaders {
            content_type: Some("text/plain".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let stored = f.objects.put(object("k"), body(&big), spec).await.unwrap();
    assert_eq!(stored.size, 300_000);
    assert_eq!(stored.etag, hex::encode(md5::Md5::digest(&big)));
    let record = f.objects.head("bkt", "k").unwrap();
    assert_eq!(record.etag, stored.etag);
    assert_eq!(record.headers.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        record.checksums.keys().copied().collect::<Vec<_>>(),
        [ChecksumAlgorithm::Sha256].to_vec()
    );
    assert_eq!(f.bytes("k").await, big);
    assert_eq!(f.files(), 1, "one blob file, no temp file");
}

#[tokio::test]
async fn refused_bodies_store_nothing_and_keep_the_old_object() {
    let f = fixture(200_000);
    f.objects
        .put(object("k"), body(b"old"), PutSpec::default())
        .await
        .unwrap();
    let big = vec![1u8; 150_000];
    let wrong_md5 = PutSpec {
        expected: Expected {
            md5: Some("1B2M2Y8AsgTpgAmY7PhCfg==".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = f.objects.put(object("k"), body(&big), wrong_md5).await;
    assert!(matches!(e, Err(ObjectError::ContentMd5Mismatch)), "{e:?}");
    let short = PutSpec {
        expected: Expected {
            length: Some(150_001),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = f.objects.put(object("k"), body(&big), short).await;
    assert!(matches!(e, Err(ObjectError::IncompleteBody)), "{e:?}");
    let e = f
        .objects
        .put(object("k"), body(&[0u8; 200_001]), PutSpec::default())
        .await;
    assert!(
        matches!(e, Err(ObjectError::EntityTooLarge { .. })),
        "{e:?}"
    );
    let failing: Vec<std::result::Result<Bytes, BodyError>> =
        vec![Ok(Bytes::from(big.clone())), Err("connection reset".into())];
    let e = f
        .objects
        .put(
            object("k"),
            Source::Body(Box::pin(futures_util::stream::iter(failing))),
            PutSpec::default(),
        )
        .await;
    assert!(matches!(e, Err(ObjectError::Body(_))), "{e:?}");
    let must_not_exist = PutSpec {
        precondition: Precondition {
            must_not_exist: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = f.objects.put(object("k"), body(&big), must_not_exist).await;
    assert!(matches!(e, Err(ObjectError::PreconditionFailed)), "{e:?}");
    assert_eq!(f.bytes("k").await, b"old");
    assert_eq!(
        f.files(),
        0,
        "the old object is inline; nothing else remains"
    );
}

#[tokio::test]
async fn replaced_and_deleted_objects_leave_no_file() {
    let f = fixture(1 << 30);
    let big = vec![3u8; 100_000];
    for _ in 0..3 {
        f.objects
            .put(object("k"), body(&big), PutSpec::default())
            .await
            .unwrap();
    }
    assert_eq!(f.files(), 1);
    f.objects.delete("bkt", "k", None, false).unwrap();
    assert_eq!(f.files(), 0);
}

#[tokio::test]
async fn copies_and_parts_go_through_the_same_put() {
    let f = fixture(1 << 30);
    let part = vec![9u8; MIN_PART];
    let spec = PutSpec {
        expected: Expected {
            compute: vec![ChecksumAlgorithm::Crc32],
            ..Default::default()
        },
        ..Default::default()
    };
    f.objects
        .put(object("src"), body(&part), spec)
        .await
        .unwrap();
    let source = f.objects.head("bkt", "src").unwrap();

    let copy = Source::Copy {
        range: 0..source.size,
        object: Box::new(source.clone()),
    };
    let copied = f
        .objects
        .put(object("dst"), copy, PutSpec::default())
        .await
        .unwrap();
    assert_eq!(copied.etag, source.etag);
    // A whole copy of a single-part object keeps its checksums.
    assert_eq!(
        f.objects.head("bkt", "dst").unwrap().checksums,
        source.checksums
    );

    let upload = f
        .objects
        .create_upload(UploadRecord {
            bucket: "bkt".into(),
            key: "mp".into(),
            initiated: 0,
            headers: ObjectHeaders::default(),
            metadata: Default::default(),
            tags: Vec::new(),
            owner: None,
            acl: None,
            lock: Default::default(),
            checksum_algorithm: None,
            full_object_checksum: false,
        })
        .unwrap();
    let target = |number| Target::Part {
        upload_id: &upload,
        bucket: "bkt",
        key: "mp",
        number,
    };
    let first = f
        .objects
        .put(target(1), body(&part), PutSpec::default())
        .await
        .unwrap();
    let range = Source::Copy {
        range: 10..20,
        object: Box::new(source),
    };
    let second = f
        .objects
        .put(target(2), range, PutSpec::default())
        .await
        .unwrap();
    assert_eq!(second.size, 10);
    assert!(second.checksums.is_empty(), "a range copy has no checksums");
    let done = f
        .objects
        .complete_upload(
            &upload,
            "bkt",
            "mp",
            &[completed(1, first.etag), completed(2, second.etag)],
            &Checksums::new(),
            &Precondition::default(),
        )
        .unwrap();
    assert!(done.etag.ends_with("-2"));
    let mut expected = part.clone();
    expected.extend_from_slice(&[9u8; 10]);
    assert_eq!(f.bytes("mp").await, expected);

    let missing = Target::Part {
        upload_id: "nope",
        bucket: "bkt",
        key: "mp",
        number: 1,
    };
    let e = f.objects.put(missing, body(b"x"), PutSpec::default()).await;
    assert!(matches!(e, Err(ObjectError::NoSuchUpload)), "{e:?}");
}

const MIN_PART: usize = multipart::MIN_PART_SIZE as usize;

#[test]
fn seeding_writes_through_the_same_checks() {
    let f = fixture(1 << 20);
    let stored = f
        .objects
        .put_blocking("bkt", "seed", b"hello".to_vec(), PutSpec::default())
        .unwrap();
    assert_eq!(stored.etag, "5d41402abc4b2a76b9719d911017c592");
    let e = f
        .objects
        .put_blocking("nope", "seed", b"hello".to_vec(), PutSpec::default());
    assert!(matches!(e, Err(ObjectError::NoSuchBucket)), "{e:?}");
}

fn completed(number: u32, etag: String) -> CompletedPart {
    CompletedPart {
        number,
        etag,
        checksums: Checksums::new(),
    }
}
