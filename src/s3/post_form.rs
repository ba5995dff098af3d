//! Browser POST uploads: S3 puts the uploaded file's name where the form's key says
//! `${filename}`; s3s does not. This layer reads such a form first (bounded as s3s bounds the
//! file), writes the key out with the file's name, and hands the form on. The policy's
//! signature covers the policy document, not the fields, so the rewrite keeps it valid; the
//! policy's conditions then judge the completed key.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use s3s::s3_error;

const FILENAME: &str = "${filename}";
/// Room for the form's other fields besides the file (s3s allows 20 MiB of them).
const FIELDS_BYTES: u64 = 20 * 1024 * 1024;

pub async fn complete_key(limit: u64, request: Request, next: Next) -> Response {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| request.method() == Method::POST)
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, (limit + FIELDS_BYTES) as usize).await else {
        return super::payload::error_response(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size."
        ));
    };
    let bytes = match with_file_name(bytes.clone(), &boundary).await {
        Some(rewritten) => {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(rewritten.len()));
            Bytes::from(rewritten)
        }
        None => bytes,
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    refusal_as_s3_says(response).await
}

/// A form outside its policy's conditions is refused as S3 refuses it, `403 AccessDenied`
/// ("Invalid according to Policy"); s3s answers 400 InvalidPolicyDocument, which S3 keeps for
/// a policy that does not parse.
async fn refusal_as_s3_says(response: Response) -> Response {
    if response.status() != axum::http::StatusCode::BAD_REQUEST {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("<Code>InvalidPolicyDocument</Code>") || !text.contains("Policy condition") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let condition = text
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map_or("", |(message, _)| message);
    super::payload::error_response(s3s::S3Error::with_message(
        s3s::S3ErrorCode::AccessDenied,
        format!(
            "Invalid according to Policy: {}",
            markup_unescape(condition)
        ),
    ))
}

/// The text of an XML message (s3s escapes quotes, ampersands and brackets).
fn markup_unescape(text: &str) -> String {
    text.replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

struct Field {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

/// The form again with `${filename}` in its key replaced, or `None` when there is nothing to
/// replace (or the form does not parse: s3s then says what is wrong with it).
async fn with_file_name(bytes: Bytes, boundary: &str) -> Option<Vec<u8>> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    while let Some(field) = form.next_field().await.ok()? {
        fields.push(Field {
            name: field.name()?.to_owned(),
            file_name: field.file_name().map(str::to_owned),
            content_type: field.content_type().map(ToString::to_string),
            data: field.bytes().await.ok()?,
        });
    }
    let file_name = fields
        .iter()
        .find(|f| f.name == "file")?
        .file_name
        .clone()?;
    let key = fields
        .iter_mut()
        .find(|f| f.name.eq_ignore_ascii_case("key"))?;
    let text = std::str::from_utf8(&key.data).ok()?;
    if !text.contains(FILENAME) {
        return None;
    }
    key.data = Bytes::from(text.replace(FILENAME, &file_name));
    Some(write_form(&fields, boundary))
}

/// A name or file name inside `Content-Disposition`'s quotes, escaped as browsers do.
fn quoted(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn write_form(fields: &[Field], boundary: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            quoted(&field.name)
        );
        if let Some(file_name) = &field.file_name {
            disposition.push_str(&format!("; filename=\"{}\"", quoted(file_name)));
        }
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(content_type) = &field.content_type {
            out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&field.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    const FORM: &str = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/${filename}\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report 2026.pdf\"\r\n\
        Content-Type: application/pdf\r\n\r\n%PDF\r\n--XyZ--\r\n";

    #[tokio::test]
    async fn the_key_gets_the_file_name_and_the_rest_stays() {
        let rewritten = super::with_file_name(FORM.into(), "XyZ").await.unwrap();
        let expected = FORM.replace("uploads/${filename}", "uploads/report 2026.pdf");
        assert_eq!(String::from_utf8(rewritten).unwrap(), expected);
        let plain = FORM.replace("${filename}", "fixed.pdf");
        assert!(super::with_file_name(plain.into(), "XyZ").await.is_none());
        assert!(
            super::with_file_name("garbage".into(), "XyZ")
                .await
                .is_none()
        );
    }
}
