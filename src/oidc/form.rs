//! Strict `application/x-www-form-urlencoded` parsing for OAuth parameters.

use std::collections::HashMap;

use percent_encoding::percent_decode;

/// Why parameters were refused; the text is what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("parameter `{0}` is repeated")]
    Repeated(String),
    #[error("parameters are not valid UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    #[error("Missing parameter: {0}")]
    Missing(String),
}

/// Parameters of a request; each may appear once (RFC 6749 §3.1).
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses a query string or form body. Refuses non-UTF-8 text and repeated parameters.
    pub fn parse(raw: &[u8]) -> Result<Self, FormError> {
        let mut map = HashMap::new();
        for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if map.insert(name.clone(), value).is_some() {
                return Err(FormError::Repeated(name));
            }
        }
        Ok(Params(map))
    }

    /// The value, with empty values treated as absent (as OAuth servers do).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, FormError> {
        self.get(name)
            .ok_or_else(|| FormError::Missing(name.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

fn decode(bytes: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Vec<u8> = bytes
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(FormError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let p = Params::parse(b"a=1&b=x+y%21&c=").unwrap();
        assert_eq!(p.get("b"), Some("x y!"));
        assert_eq!(p.get("c"), None);
        assert!(
            Params::parse(b"a=1&a=2")
                .unwrap_err()
                .to_string()
                .contains("repeated")
        );
        assert!(
            Params::parse(b"a=%ff")
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
        assert!(Params::parse(b"a=\xff").is_err());
    }
}
