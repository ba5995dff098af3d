//! What the edges share of wire formats: HTML/XML escaping, RFC 3339 times, bearer tokens,
//! and excerpts of client text for logs.

/// Nanoseconds since the epoch as RFC 3339 (`1970-01-01T00:00:00Z` form); empty when out of range.
pub fn rfc3339(nanos: i128) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Escapes `& < > " '` so text is safe in element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The bearer token of a request (RFC 6750 header form), if any.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Longest excerpt of client-sent text a log line carries.
const EXCERPT_CHARS: usize = 120;

/// A short, escaped excerpt of text a client sent, for logs: at most [`EXCERPT_CHARS`]
/// characters, with control characters, quotes and non-ASCII escaped, so no request can flood
/// the log or forge lines in it.
pub fn excerpt(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// An error with its causes, `outer: inner: root`, for a log line (a `Display` alone shows
/// only the outermost).
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod excerpt_tests {
    use super::excerpt;

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("/bucket/key"), "/bucket/key");
        assert_eq!(excerpt("a\nb\"c"), "a\\nb\\\"c");
        let long = "x".repeat(10_000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 121);
        assert!(e.ends_with('…'));
    }
}
