//! The naming rules the API server enforces and the types cannot: object names, label values,
//! quantities. Objects are named from releases and projects, which onyxia-lite already limits
//! to DNS labels; these functions make the remaining cases safe and let tests check every
//! generated object.

use sha2::{Digest, Sha256};

/// Longest StatefulSet name: its pods carry `controller-revision-hash: <name>-<10 chars>`,
/// a label value of at most 63 characters.
const MAX_STATEFULSET_NAME: usize = 52;

/// The base name of a release's objects: the release itself when it is a valid RFC 1035
/// label short enough for a StatefulSet (the usual case), else `s-` and a digest.
pub fn base_name(release: &str) -> String {
    let starts_with_letter = release.starts_with(|c: char| c.is_ascii_lowercase());
    if starts_with_letter && release.len() <= MAX_STATEFULSET_NAME && is_dns_label(release) {
        return release.to_owned();
    }
    let digest = hex::encode(Sha256::digest(release.as_bytes()));
    format!("s-{}", &digest[..16])
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (RFC 1123 label).
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Dot-separated DNS labels, at most 253 characters (RFC 1123 subdomain).
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9_.-]` starting and ending alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name like a label value.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(|p| !p.is_empty() && is_dns_subdomain(p))
        && !name.is_empty()
        && is_label_value(name)
}

/// `value` made into a label value: characters outside the charset become `-`, cut at 63,
/// trimmed to alphanumeric ends. The exact value is kept in an annotation.
pub fn label_value(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// A Kubernetes quantity: a decimal number with an optional exponent or unit suffix
/// (`100m`, `1.5`, `2Gi`, `512Mi`, `1e3`).
pub fn is_quantity(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let digits_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|exp| exp.strip_prefix(['+', '-']).unwrap_or(exp))
        .is_some_and(|exp| !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit()));
    digits_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_are_statefulset_safe() {
        assert_eq!(base_name("jupyter-python-1234"), "jupyter-python-1234");
        for release in ["1abc", &"a".repeat(53)] {
            let name = base_name(release);
            assert!(
                name.len() <= MAX_STATEFULSET_NAME && is_dns_label(&name),
                "{name}"
            );
            assert_eq!(name, base_name(release), "stable");
        }
        assert_ne!(base_name("1abc"), base_name("2abc"));
    }

    #[test]
    fn label_values_are_cleaned() {
        assert_eq!(label_value("Jane Doe"), "Jane-Doe");
        assert_eq!(label_value("jane@example.org"), "jane-example.org");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"a".repeat(70)).len(), 63);
        for v in ["Jane Doe", "@@", "a.b_c", "ünï"] {
            assert!(is_label_value(&label_value(v)), "{v}");
        }
        assert!(!is_label_value("a b") && !is_label_value("-a") && is_label_value(""));
    }

    #[test]
    fn label_keys_and_quantities() {
        assert!(is_label_key("app.kubernetes.io/name") && is_label_key("onyxia-lite/owner"));
        assert!(!is_label_key("/x") && !is_label_key("Bad_Prefix/x") && !is_label_key("a/"));
        for q in ["100m", "1.5", "2Gi", "512Mi", "1e3", "0", "10737418240"] {
            assert!(is_quantity(q), "{q}");
        }
        for q in ["", "1.2.3", "Gi", "1GB", "1e", "."] {
            assert!(!is_quantity(q), "{q}");
        }
    }
}
