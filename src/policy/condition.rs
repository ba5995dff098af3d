//! Condition operators of policy statements, as AWS IAM evaluates them: string (exact,
//! case-insensitive, wildcard), `Bool`, `Null` and numeric comparisons, each with its
//! `IfExists` form, and the negative ones true for a key the request does not have.

use super::{Request, pattern};

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "Bool",
    "Null",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
];

/// Whether an operator (with or without `IfExists`) is one this evaluator knows.
pub fn known(operator: &str) -> bool {
    OPERATORS.contains(&operator.trim_end_matches("IfExists"))
}

/// Whether a condition holds: `actual` is what the request has for the key (none when it
/// lacks it), `wanted` the statement's values, any of which may match.
pub fn holds(
    operator: &str,
    actual: Option<&[String]>,
    wanted: &[&str],
    req: &Request<'_>,
) -> bool {
    let if_exists = operator.ends_with("IfExists");
    let op = operator.trim_end_matches("IfExists");
    if op == "Null" {
        // `true`: the key must be absent; `false`: present.
        let absent = actual.is_none();
        return wanted
            .iter()
            .any(|w| w.eq_ignore_ascii_case("true") == absent);
    }
    let Some(actual) = actual else {
        // A missing key satisfies only negative operators, or *IfExists ones.
        return if_exists || op.contains("Not");
    };
    let hit = wanted
        .iter()
        .any(|w| actual.iter().any(|a| matches_one(op, w, a, req)));
    if op.contains("Not") { !hit } else { hit }
}

/// One statement value against one request value; negative operators answer the positive
/// question (their caller negates).
fn matches_one(op: &str, wanted: &str, actual: &str, req: &Request<'_>) -> bool {
    match op {
        "StringEquals" | "StringNotEquals" => pattern::matches(wanted, actual, req, false),
        "StringLike" | "StringNotLike" => pattern::matches(wanted, actual, req, true),
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            pattern::matches(&wanted.to_lowercase(), &actual.to_lowercase(), req, false)
        }
        "Bool" => wanted.eq_ignore_ascii_case(actual),
        numeric => {
            let (Ok(w), Ok(a)) = (wanted.parse::<f64>(), actual.parse::<f64>()) else {
                return false;
            };
            match numeric {
                "NumericEquals" | "NumericNotEquals" => a == w,
                "NumericLessThan" => a < w,
                "NumericLessThanEquals" => a <= w,
                "NumericGreaterThan" => a > w,
                "NumericGreaterThanEquals" => a >= w,
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: &str, actual: Option<&str>, wanted: &str) -> bool {
        let actual = actual.map(|a| vec![a.to_owned()]);
        holds(op, actual.as_deref(), &[wanted], &Request::default())
    }

    #[test]
    fn operators_compare_as_iam_does() {
        assert!(check("Null", None, "true"));
        assert!(!check("Null", Some("x"), "true"));
        assert!(check("Null", Some("x"), "false"));
        assert!(check("Bool", Some("true"), "TRUE"));
        assert!(!check("Bool", Some("false"), "true"));
        assert!(check("StringEqualsIgnoreCase", Some("Photos/"), "photos/"));
        assert!(check("StringNotEqualsIgnoreCase", Some("docs/"), "photos/"));
        assert!(check("NumericLessThanEquals", Some("100"), "100"));
        assert!(!check("NumericLessThan", Some("100"), "100"));
        assert!(check("NumericGreaterThan", Some("1000"), "999.5"));
        assert!(check("NumericNotEquals", Some("5"), "6"));
        assert!(
            !check("NumericEquals", Some("five"), "5"),
            "not a number: no match"
        );
        // Missing keys: negative operators and IfExists hold, the others do not.
        assert!(check("StringNotEquals", None, "a"));
        assert!(check("NumericLessThanIfExists", None, "5"));
        assert!(!check("NumericLessThan", None, "5"));
        assert!(known("BoolIfExists") && !known("DateEquals"));
    }
}
