//! Bucket and key rules (S3's bucket naming rules; MinIO's object-name rules).

use super::ObjectError;

pub const MAX_KEY_BYTES: usize = 1024;

/// S3's rules: 3–63 of `a-z 0-9 . -`, starting and ending with a letter or digit, no `..`,
/// not shaped like an IP address.
pub fn check_bucket(name: &str) -> Result<(), ObjectError> {
    let bad = |why: &str| Err(ObjectError::InvalidBucketName(format!("{name}: {why}")));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("may contain only lowercase letters, digits, dots and hyphens");
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(name.as_bytes()[0]) || !edge_ok(name.as_bytes()[name.len() - 1]) {
        return bad("must start and end with a letter or digit");
    }
    if name.contains("..") {
        return bad("must not contain two adjacent dots");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not be formatted as an IP address");
    }
    Ok(())
}

/// A key that names something stored: no NUL, which no stored key has and which would reach
/// into another key's versions (they are stored after `key\0`). Deletes and lookups check
/// only this, so odd keys that cannot exist still answer "nothing there" as S3 does.
pub fn check_lookup_key(key: &str) -> Result<(), ObjectError> {
    if key.contains('\0') {
        return Err(ObjectError::InvalidObjectName(
            "the key contains a NUL character".into(),
        ));
    }
    Ok(())
}

/// Keys: 1–1024 bytes, no NUL, and no `.` or `..` path segment (MinIO refuses those, and
/// file-system clients such as s3fs cannot represent them).
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    if key.is_empty() {
        return Err(ObjectError::InvalidObjectName("the key is empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ObjectError::KeyTooLong);
    }
    if key.contains('\0') {
        return Err(ObjectError::InvalidObjectName(
            "the key contains a NUL character".into(),
        ));
    }
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(ObjectError::InvalidObjectName(
            "the key contains a `.` or `..` path segment".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_and_key_rules() {
        for good in ["abc", "user-alice", "projet-demo", "a.b-c", "123"] {
            assert!(check_bucket(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
        assert!(check_key("a/b/c.txt").is_ok());
        assert!(check_key("dir/").is_ok());
        assert!(check_key("a/../b").is_err());
        assert!(check_key("a\0b").is_err());
        assert!(matches!(
            check_key(&"k".repeat(1025)),
            Err(ObjectError::KeyTooLong)
        ));
    }
}
