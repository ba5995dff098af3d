//! Signed payloads are verified: a body altered after signing, a wrong `Content-MD5`, or a
//! broken `aws-chunked` body is refused as AWS refuses it, and nothing is stored or deleted.
//! The requests are real aws-sdk-s3 requests, altered on the wire by an interceptor after the
//! SDK signed them, as a man in the middle would.

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RequestChecksumCalculation, RuntimeComponents};
use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::s3_support::*;
use crate::support::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Rewrites a request around its signing: headers set before (so the signature covers them),
/// then a body edit and header changes after (so it does not).
#[derive(Debug, Clone, Default)]
struct Tamper {
    /// Headers to set before signing.
    signed: Vec<(&'static str, String)>,
    /// Spaces appended to the body before signing (the signature covers them).
    padding: usize,
    /// (from, to): replaces the first `from` in the body with `to`, after signing.
    body: Option<(Vec<u8>, Vec<u8>)>,
    /// Headers to set (or, with an empty value, to remove) after signing.
    headers: Vec<(&'static str, String)>,
}

impl Intercept for Tamper {
    fn name(&self) -> &'static str {
        "Tamper"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        for (name, value) in &self.signed {
            request.headers_mut().insert(*name, value.clone());
        }
        if self.padding > 0 {
            let mut body = request
                .body()
                .bytes()
                .ok_or("the body is not in memory")?
                .to_vec();
            body.resize(body.len() + self.padding, b' ');
            request
                .headers_mut()
                .insert("content-length", body.len().to_string());
            *request.body_mut() = SdkBody::from(body);
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some((from, to)) = &self.body {
            let body = request
                .body()
                .bytes()
                .ok_or("the body is not in memory")?
                .to_vec();
            let at = body
                .windows(from.len())
                .position(|w| w == from.as_slice())
                .ok_or("nothing to replace in the body")?;
            let mut altered = body[..at].to_vec();
            altered.extend_from_slice(to);
            altered.extend_from_slice(&body[at + from.len()..]);
            request
                .headers_mut()
                .insert("content-length", altered.len().to_string());
            *request.body_mut() = SdkBody::from(altered);
        }
        for (name, value) in &self.headers {
            if value.is_empty() {
                request.headers_mut().remove(*name);
            } else {
                request.headers_mut().insert(*name, value.clone());
            }
        }
        Ok(())
    }
}

/// A root client whose requests `tamper` rewrites after signing. Checksums are sent only where
/// S3 requires them, so the signed `x-amz-content-sha256` covers the body itself.
fn tampering_client(tp: &TestPlatform, tamper: Tamper) -> aws_sdk_s3::Client {
    let base = root_client(tp);
    let config = base
        .config()
        .to_builder()
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .interceptor(tamper)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn object_exists(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_body_altered_after_signing_is_refused_and_not_stored() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("signed").send().await.unwrap();

    let altered = tampering_client(
        &tp,
        Tamper {
            body: Some((b"pay".to_vec(), b"PAY".to_vec())),
            ..Default::default()
        },
    );
    let err = altered
        .put_object()
        .bucket("signed")
        .key("doc.txt")
        .body(ByteStream::from_static(b"the signed payload"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "XAmzContentSHA256Mismatch", "{err:?}");
    assert!(!object_exists(&s3, "signed", "doc.txt").await);

    // The same on a part of a multipart upload: the part is not recorded.
    let upload = s3
        .create_multipart_upload()
        .bucket("signed")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let err = altered
        .upload_part()
        .bucket("signed")
        .key("big.bin")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"a part whose payload was signed"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "XAmzContentSHA256Mismatch", "{err:?}");
    let parts = s3
        .list_parts()
        .bucket("signed")
        .key("big.bin")
        .upload_id(upload_id)
        .send()
        .await
        .unwrap();
    assert!(parts.parts().is_empty(), "{:?}", parts.parts());
    tp.stop().await;
}

#[tokio::test]
async fn delete_objects_carries_only_the_keys_that_were_signed() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("keep").send().await.unwrap();
    for key in ["victim", "keep-me"] {
        s3.put_object()
            .bucket("keep")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let delete = |key: &str| {
        Delete::builder()
            .objects(ObjectIdentifier::builder().key(key).build().unwrap())
            .build()
            .unwrap()
    };
    // The signature and the checksum cover `victim`; the body names `keep-me`.
    let swapped = Tamper {
        body: Some((b"victim".to_vec(), b"keep-me".to_vec())),
        ..Default::default()
    };
    let err = tampering_client(&tp, swapped)
        .delete_objects()
        .bucket("keep")
        .delete(delete("victim"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "XAmzContentSHA256Mismatch", "{err:?}");
    assert!(object_exists(&s3, "keep", "keep-me").await);
    assert!(object_exists(&s3, "keep", "victim").await);

    // A signed Content-MD5 that is not the body's digest: BadDigest; one that is not base64
    // of 16 bytes: InvalidDigest. Nothing is deleted either way.
    for (md5, expected) in [
        ("1B2M2Y8AsgTpgAmY7PhCfg==", "BadDigest"),
        ("not base64!", "InvalidDigest"),
        ("AAAA", "InvalidDigest"),
    ] {
        let err = tampering_client(&tp, wrong_md5(md5))
            .delete_objects()
            .bucket("keep")
            .delete(delete("keep-me"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), expected, "{md5}: {err:?}");
    }
    assert!(object_exists(&s3, "keep", "keep-me").await);
    tp.stop().await;
}

/// Signs a wrong `Content-MD5` into the request, in place of the SDK's checksum header.
fn wrong_md5(md5: &str) -> Tamper {
    Tamper {
        signed: vec![("content-md5", md5.to_owned())],
        ..Default::default()
    }
}

#[tokio::test]
async fn bucket_tagging_and_cors_check_their_content_md5() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("conf").send().await.unwrap();
    for (md5, expected) in [
        ("1B2M2Y8AsgTpgAmY7PhCfg==", "BadDigest"),
        ("%%%", "InvalidDigest"),
    ] {
        let client = tampering_client(&tp, wrong_md5(md5));
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .tag_set(
                aws_sdk_s3::types::Tag::builder()
                    .key("k")
                    .value("v")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let err = client
            .put_bucket_tagging()
            .bucket("conf")
            .tagging(tagging)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), expected, "tagging, {md5}: {err:?}");
        let cors = aws_sdk_s3::types::CorsConfiguration::builder()
            .cors_rules(
                aws_sdk_s3::types::CorsRule::builder()
                    .allowed_methods("GET")
                    .allowed_origins("*")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let err = client
            .put_bucket_cors()
            .bucket("conf")
            .cors_configuration(cors)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), expected, "cors, {md5}: {err:?}");
    }
    // A document padded past the size of buffered object bodies is checked all the same.
    let padded = Tamper {
        padding: 2 * 1024 * 1024,
        ..wrong_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
    };
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("k")
                .value("v")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = tampering_client(&tp, padded)
        .put_bucket_tagging()
        .bucket("conf")
        .tagging(tagging)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest", "padded tagging: {err:?}");
    // Nothing was stored.
    assert!(s3.get_bucket_tagging().bucket("conf").send().await.is_err());
    assert!(s3.get_bucket_cors().bucket("conf").send().await.is_err());
    tp.stop().await;
}

/// A PUT signed with aws-sigv4 (the SDK's signer) as a streaming upload with a CRC32 trailer:
/// `payload` names the streaming kind, `body` is sent as it is.
async fn streaming_put(
    tp: &TestPlatform,
    path: &str,
    payload: &str,
    content_encoding: &str,
    body: &str,
) -> reqwest::Response {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let e = &tp.running.endpoints;
    let identity = aws_sdk_s3::config::Credentials::new(
        e.s3_access_key.clone(),
        e.s3_secret_key.clone(),
        None,
        None,
        "test",
    )
    .into();
    let url = format!("{}/{path}", s3_url(tp));
    let headers = [
        ("host", e.s3_addr.to_string()),
        ("x-amz-content-sha256", payload.to_owned()),
        ("content-encoding", content_encoding.to_owned()),
        ("x-amz-decoded-content-length", "5".to_owned()),
        ("x-amz-trailer", "x-amz-checksum-crc32".to_owned()),
    ];
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "PUT",
        &url,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Precomputed(payload.to_owned()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = reqwest::Client::new().put(&url).body(body.to_owned());
    for (k, v) in &headers {
        if *k != "host" {
            request = request.header(*k, v);
        }
    }
    for (k, v) in instructions.headers() {
        request = request.header(k, v);
    }
    request.send().await.unwrap()
}

/// The `aws-chunked` of a streaming upload framed the request, not the object: S3 keeps the
/// other encodings only.
#[tokio::test]
async fn aws_chunked_is_not_the_objects_content_encoding() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("chunks").send().await.unwrap();
    let body = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    for (key, sent, kept) in [
        ("plain", "aws-chunked", None),
        ("zipped", "aws-chunked, gzip", Some("gzip")),
    ] {
        let path = format!("chunks/{key}");
        let response =
            streaming_put(&tp, &path, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", sent, body).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let head = s3
            .head_object()
            .bucket("chunks")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_encoding(), kept, "{sent}");
        assert_eq!(head.content_length(), Some(5));
    }
    tp.stop().await;
}

/// `aws-chunked` bodies are decoded or refused, never stored as they came: a body declared
/// aws-chunked whose signature is not a streaming one, and streaming PUTs (signed with
/// aws-sigv4, the SDK's signer) whose bodies are not in that encoding.
#[tokio::test]
async fn an_unparseable_aws_chunked_body_is_refused() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("chunks").send().await.unwrap();
    let err = tampering_client(&tp, Tamper::default())
        .put_object()
        .bucket("chunks")
        .key("garbage.bin")
        .content_encoding("aws-chunked")
        .body(ByteStream::from_static(b"5\r\nhello\r\n0\r\n\r\n"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncompleteBody", "{err:?}");
    assert!(!object_exists(&s3, "chunks", "garbage.bin").await);
    for (payload, body) in [
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "this is not aws-chunked at all",
        ),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "zz;\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    ] {
        let response = streaming_put(&tp, "chunks/garbage.bin", payload, "aws-chunked", body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            (400..500).contains(&status)
                && (text.contains("<Code>IncompleteBody</Code>")
                    || text.contains("<Code>InvalidRequest</Code>")
                    || text.contains("<Code>SignatureDoesNotMatch</Code>")),
            "{payload} {body:?}: {status} {text}"
        );
        assert!(!object_exists(&s3, "chunks", "garbage.bin").await);
    }
    tp.stop().await;
}
