//! Matching policy patterns (`*`, `?` and `${…}` variables) against a text.
//!
//! Variables are matched in place, never expanded: a pattern with `k` list-valued variables
//! would otherwise expand into the product of their value counts (`${jwt:aud}` twenty times
//! over two audiences is a million strings). The matcher walks the pattern once, keeping the
//! set of text positions reachable so far, so its cost is bounded by
//! `pattern length × text length × total length of the variables' values`, whatever the policy.

use serde_json::Value;

use super::Request;

/// One piece of a parsed pattern.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'p> {
    Literal(&'p str),
    /// `*`: any run of characters.
    AnyRun,
    /// `?`: any one character.
    AnyChar,
    /// `${name}`: one of the variable's values, literally.
    Variable(&'p str),
}

/// Splits a pattern into pieces. With `wildcards` off (`StringEquals`), `*` and `?` are
/// literal; with `variables` off, so is `${…}`. An unclosed `${` is literal text.
fn pieces(pattern: &str, wildcards: bool, variables: bool) -> Vec<Piece<'_>> {
    fn flush<'p>(out: &mut Vec<Piece<'p>>, pattern: &'p str, from: usize, to: usize) {
        if from < to {
            out.push(Piece::Literal(&pattern[from..to]));
        }
    }
    let mut out = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    let bytes = pattern.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'*' | b'?' if wildcards => {
                flush(&mut out, pattern, literal_start, i);
                out.push(if bytes[i] == b'*' {
                    Piece::AnyRun
                } else {
                    Piece::AnyChar
                });
                i += 1;
                literal_start = i;
            }
            b'$' if variables && bytes.get(i + 1) == Some(&b'{') => match pattern[i..].find('}') {
                Some(len) => {
                    flush(&mut out, pattern, literal_start, i);
                    out.push(Piece::Variable(&pattern[i + 2..i + len]));
                    i += len + 1;
                    literal_start = i;
                }
                // Unclosed: the `$` is plain text, and what follows is parsed as usual.
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    flush(&mut out, pattern, literal_start, pattern.len());
    out
}

/// The values of a claim, as strings (a list claim gives one per element).
pub(super) fn claim_values(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Bool(b) => Some(vec![b.to_string()]),
        _ => None,
    }
}

/// Values of `${aws:username}` or `${jwt:<claim>}`; an unknown variable has none. Values
/// holding `*` or `?` are dropped: a claim must never widen a pattern.
fn variable_values(name: &str, req: &Request<'_>) -> Vec<String> {
    let values = match name {
        "aws:username" => req.username.map(|u| vec![u.to_owned()]),
        v => v
            .strip_prefix("jwt:")
            .and_then(|c| req.claims.and_then(|m| m.get(c)).and_then(claim_values)),
    };
    let mut values = values.unwrap_or_default();
    values.retain(|v| !v.contains(['*', '?']));
    values
}

/// Whether `text` matches `pattern`, with `${…}` variables taken from `req`; `*` and `?` are
/// wildcards when `wildcards` is set (resources, `StringLike`), literal otherwise.
pub fn matches(pattern: &str, text: &str, req: &Request<'_>, wildcards: bool) -> bool {
    match_pieces(&pieces(pattern, wildcards, true), text, req)
}

/// `*` matches any run of characters, `?` any one character; `${` is plain text here.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    match_pieces(&pieces(pattern, true, false), text, &Request::default())
}

fn match_pieces(pieces: &[Piece<'_>], text: &str, req: &Request<'_>) -> bool {
    let n = text.len();
    // reachable[i]: the pieces so far can match text[..i] (i on a char boundary).
    let mut reachable = vec![false; n + 1];
    reachable[0] = true;
    let mut next = vec![false; n + 1];
    for piece in pieces {
        next.iter_mut().for_each(|r| *r = false);
        let mut any = false;
        match piece {
            Piece::Literal(lit) => {
                for i in (0..=n).filter(|&i| reachable[i]) {
                    if text[i..].starts_with(lit) {
                        next[i + lit.len()] = true;
                        any = true;
                    }
                }
            }
            Piece::AnyChar => {
                for i in (0..n).filter(|&i| reachable[i]) {
                    let width = text[i..].chars().next().map_or(1, char::len_utf8);
                    next[i + width] = true;
                    any = true;
                }
            }
            Piece::AnyRun => {
                if let Some(first) = reachable.iter().position(|r| *r) {
                    for i in (first..=n).filter(|&i| text.is_char_boundary(i)) {
                        next[i] = true;
                    }
                    any = true;
                }
            }
            Piece::Variable(name) => {
                let values = variable_values(name, req);
                for i in (0..=n).filter(|&i| reachable[i]) {
                    for value in &values {
                        if text[i..].starts_with(value.as_str()) {
                            next[i + value.len()] = true;
                            any = true;
                        }
                    }
                }
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut reachable, &mut next);
    }
    reachable[n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_claims(claims: &serde_json::Map<String, Value>) -> Request<'_> {
        Request {
            claims: Some(claims),
            username: Some("alice"),
            ..Default::default()
        }
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(wildcard("s3:get*", "s3:getobject"));
        assert!(wildcard("a?c*", "abcdef"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "a-b-b-c"));
        assert!(!wildcard("a*c", "abd"));
        assert!(!wildcard("a?", "a"));
        assert!(wildcard("é?", "éà"), "`?` is one character, not one byte");
        assert!(!wildcard("abc", "abcd"));
    }

    #[test]
    fn variables_match_any_of_their_values_in_place() {
        let claims = json!({"groups": ["demo", "x*", "data"], "aud": ["minio", "account"]});
        let claims = claims.as_object().unwrap();
        let req = with_claims(claims);
        assert!(matches(
            "projet-${jwt:groups}/*",
            "projet-data/a",
            &req,
            true
        ));
        assert!(!matches(
            "projet-${jwt:groups}/*",
            "projet-xy/a",
            &req,
            true
        ));
        assert!(matches("user-${aws:username}", "user-alice", &req, false));
        assert!(
            !matches("${jwt:missing}", "", &req, true),
            "unknown vars match nothing"
        );
        assert!(
            matches("a${jwt:aud", "a${jwt:aud", &req, true),
            "unclosed is literal"
        );
        assert!(
            matches("a*b", "a*b", &req, false),
            "StringEquals takes `*` literally"
        );
        assert!(!matches("a*b", "axb", &req, false));
    }

    #[test]
    fn repeated_list_variables_stay_cheap() {
        // 2^60 expansions if the product were built; one pass over the text here.
        let claims = json!({"aud": ["minio", "account"]});
        let claims = claims.as_object().unwrap();
        let req = with_claims(claims);
        let pattern = format!("user-alice/{}", "${jwt:aud}".repeat(60));
        assert!(!matches(&pattern, "user-alice/minio", &req, true));
        let text = format!("user-alice/{}", "account".repeat(60));
        assert!(matches(&pattern, &text, &req, true));
    }

    #[test]
    fn parsing_splits_literals_wildcards_and_variables() {
        assert_eq!(
            pieces("a*${jwt:x}?b", true, true),
            vec![
                Piece::Literal("a"),
                Piece::AnyRun,
                Piece::Variable("jwt:x"),
                Piece::AnyChar,
                Piece::Literal("b"),
            ]
        );
        assert_eq!(pieces("a*b", false, true), vec![Piece::Literal("a*b")]);
        assert_eq!(
            pieces("${x}*", true, false),
            vec![Piece::Literal("${x}"), Piece::AnyRun]
        );
    }
}
