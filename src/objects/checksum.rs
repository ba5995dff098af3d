//! Object digests: the MD5 behind every ETag and the checksums S3 clients announce
//! (`x-amz-checksum-<algorithm>`), all computed in one pass over the bytes, and the checks of
//! what a client said a body would hash to.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};

use super::ObjectError;

/// The checksum algorithms of S3, in the order S3 lists them in its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    #[serde(rename = "CRC32")]
    Crc32,
    #[serde(rename = "CRC32C")]
    Crc32c,
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "CRC64NVME")]
    Crc64Nvme,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Sha1,
        Self::Sha256,
        Self::Crc64Nvme,
    ];

    /// The name S3 gives it (`x-amz-checksum-<name>`, lower-cased there).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }

    /// The algorithm a name means, in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

/// Checksums by algorithm, base64 as S3 shows them; stored with objects and parts under the
/// algorithms' names.
pub type Checksums = BTreeMap<ChecksumAlgorithm, String>;

/// Checksums in S3's order, one slot per algorithm of [`ChecksumAlgorithm::ALL`].
pub fn in_order(checksums: &Checksums) -> [Option<String>; 5] {
    ChecksumAlgorithm::ALL.map(|a| checksums.get(&a).cloned())
}

enum State {
    Crc(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// Hashes bytes for the MD5 and any chosen checksums at once, as they pass.
pub struct Hasher {
    md5: Md5,
    checksums: Vec<(ChecksumAlgorithm, State)>,
}

/// What a [`Hasher`] computed.
#[derive(Debug, Clone)]
pub struct Digests {
    pub md5: [u8; 16],
    pub checksums: Checksums,
}

impl Hasher {
    pub fn new(algorithms: impl IntoIterator<Item = ChecksumAlgorithm>) -> Self {
        let mut chosen: Vec<ChecksumAlgorithm> = algorithms.into_iter().collect();
        chosen.sort();
        chosen.dedup();
        let checksums = chosen
            .into_iter()
            .map(|a| {
                let state = match a {
                    ChecksumAlgorithm::Crc32 => {
                        State::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc))
                    }
                    ChecksumAlgorithm::Crc32c => {
                        State::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi))
                    }
                    ChecksumAlgorithm::Crc64Nvme => {
                        State::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme))
                    }
                    ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
                    ChecksumAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
                };
                (a, state)
            })
            .collect();
        Hasher {
            md5: Md5::new(),
            checksums,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        for (_, state) in &mut self.checksums {
            match state {
                State::Crc(d) => d.update(bytes),
                State::Sha1(d) => d.update(bytes),
                State::Sha256(d) => d.update(bytes),
            }
        }
    }

    pub fn finish(self) -> Digests {
        let checksums = self
            .checksums
            .into_iter()
            .map(|(a, state)| {
                let raw = match state {
                    // CRC32 and CRC32C are 4 big-endian bytes, CRC64NVME 8.
                    State::Crc(d) if a == ChecksumAlgorithm::Crc64Nvme => {
                        d.finalize().to_be_bytes().to_vec()
                    }
                    State::Crc(d) => (d.finalize() as u32).to_be_bytes().to_vec(),
                    State::Sha1(d) => d.finalize().to_vec(),
                    State::Sha256(d) => d.finalize().to_vec(),
                };
                (a, STANDARD.encode(raw))
            })
            .collect();
        Digests {
            md5: self.md5.finalize().into(),
            checksums,
        }
    }

    /// The digests of bytes already in memory.
    pub fn digest(
        algorithms: impl IntoIterator<Item = ChecksumAlgorithm>,
        bytes: &[u8],
    ) -> Digests {
        let mut hasher = Hasher::new(algorithms);
        hasher.update(bytes);
        hasher.finish()
    }
}

/// The composite checksum of a multipart object, as S3 makes it: the algorithm over the
/// concatenated raw checksums of its parts, then `-<number of parts>`. `None` when a part's
/// value is not base64.
pub fn composite(algorithm: ChecksumAlgorithm, parts: &[&str]) -> Option<String> {
    let mut raw = Vec::new();
    for part in parts {
        raw.extend(STANDARD.decode(part).ok()?);
    }
    let digest = Hasher::digest([algorithm], &raw)
        .checksums
        .remove(&algorithm)?;
    Some(format!("{digest}-{}", parts.len()))
}

/// The full-object checksum of a multipart object from its parts' (value, size), as S3
/// computes it for `x-amz-checksum-type: FULL_OBJECT`: the parts' CRCs combined in order.
/// `None` for an algorithm that is not a CRC, or a part value that is not one.
pub fn combined(algorithm: ChecksumAlgorithm, parts: &[(&str, u64)]) -> Option<String> {
    let (crc, width) = match algorithm {
        ChecksumAlgorithm::Crc32 => (crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4),
        ChecksumAlgorithm::Crc32c => (crc_fast::CrcAlgorithm::Crc32Iscsi, 4),
        ChecksumAlgorithm::Crc64Nvme => (crc_fast::CrcAlgorithm::Crc64Nvme, 8),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => return None,
    };
    let mut whole: Option<u64> = None;
    for (value, size) in parts {
        let raw = STANDARD.decode(value).ok().filter(|r| r.len() == width)?;
        let part = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        whole = Some(match whole {
            None => part,
            Some(before) => crc_fast::checksum_combine(crc, before, part, *size),
        });
    }
    let bytes = whole?.to_be_bytes();
    Some(STANDARD.encode(&bytes[8 - width..]))
}

/// Whether a stored checksum is a composite one (of parts) rather than of the whole object.
pub fn is_composite(value: &str) -> bool {
    value.contains('-')
}

/// Late expectations: checksums a client sends after the body (HTTP trailers), as
/// (algorithm name, base64 value), read once the body has ended.
pub type Trailer = Box<dyn FnOnce() -> Vec<(String, String)> + Send>;

/// What a client said about a body before (or, with a trailer, after) sending it.
#[derive(Default)]
pub struct Expected {
    /// `Content-Length`.
    pub length: Option<u64>,
    /// `Content-MD5`, as sent (base64 of 16 bytes).
    pub md5: Option<String>,
    /// `x-amz-checksum-*` values.
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
    /// A checksum header named an algorithm S3 does not have.
    pub unknown_algorithm: bool,
    /// Algorithms to compute and keep without a value to compare (`x-amz-checksum-algorithm`).
    pub compute: Vec<ChecksumAlgorithm>,
    pub trailer: Option<Trailer>,
}

impl Expected {
    /// Adds an announced checksum by the algorithm's name.
    pub fn announce(&mut self, algorithm: &str, value: String) {
        match ChecksumAlgorithm::from_name(algorithm) {
            Some(a) => self.checksums.push((a, value)),
            None => self.unknown_algorithm = true,
        }
    }

    /// Every algorithm the body must be hashed with: any one when a trailer may name it.
    pub fn algorithms(&self) -> Vec<ChecksumAlgorithm> {
        if self.trailer.is_some() {
            return ChecksumAlgorithm::ALL.to_vec();
        }
        let announced = self.checksums.iter().map(|(a, _)| *a);
        announced.chain(self.compute.iter().copied()).collect()
    }

    /// Checks the length and every digest against what was computed; on success, the checksums
    /// to keep with the bytes (those announced or asked for).
    pub fn verify(mut self, size: u64, digests: Digests) -> Result<Checksums, ObjectError> {
        if self.length.is_some_and(|l| l != size) {
            return Err(ObjectError::IncompleteBody);
        }
        if let Some(trailer) = self.trailer.take() {
            for (name, value) in trailer() {
                self.announce(&name, value);
            }
        }
        if let Some(claimed) = &self.md5 {
            check_md5(claimed, &digests.md5)?;
        }
        for (algorithm, value) in &self.checksums {
            match digests.checksums.get(algorithm) {
                Some(actual) if actual == value => {}
                _ => return Err(ObjectError::ChecksumMismatch(*algorithm)),
            }
        }
        if self.unknown_algorithm {
            return Err(ObjectError::UnsupportedChecksum);
        }
        let keep: Vec<ChecksumAlgorithm> = self
            .checksums
            .iter()
            .map(|(a, _)| *a)
            .chain(self.compute.iter().copied())
            .collect();
        let mut checksums = digests.checksums;
        checksums.retain(|a, _| keep.contains(a));
        Ok(checksums)
    }
}

/// Checks a `Content-MD5` value: the base64 of 16 bytes, equal to the body's MD5.
pub fn check_md5(claimed: &str, actual: &[u8; 16]) -> Result<(), ObjectError> {
    match STANDARD.decode(claimed.trim()) {
        Ok(raw) if raw.len() == 16 && raw.as_slice() == actual => Ok(()),
        Ok(raw) if raw.len() == 16 => Err(ObjectError::ContentMd5Mismatch),
        _ => Err(ObjectError::InvalidContentMd5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        let d = Hasher::digest(ChecksumAlgorithm::ALL, b"hello");
        assert_eq!(hex::encode(d.md5), "5d41402abc4b2a76b9719d911017c592");
        let sums: Vec<&str> = d.checksums.values().map(String::as_str).collect();
        // CRC32 0x3610a686, CRC32C 0x9a71bb4c, SHA1 and SHA256 of "hello", CRC64NVME.
        assert_eq!(sums[0], "NhCmhg==");
        assert_eq!(sums[1], "mnG7TA==");
        assert_eq!(sums[2], "qvTGHdzF6KLavt4PO0gs2a6pQ00=");
        assert_eq!(sums[3], "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(sums.len(), 5);
    }

    #[test]
    fn algorithms_are_stored_under_their_s3_names() {
        let mut sums = Checksums::new();
        sums.insert(ChecksumAlgorithm::Crc64Nvme, "x".into());
        assert_eq!(
            serde_json::to_string(&sums).unwrap(),
            r#"{"CRC64NVME":"x"}"#
        );
        assert_eq!(
            ChecksumAlgorithm::from_name("crc32c"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(ChecksumAlgorithm::from_name("md5"), None);
    }

    #[test]
    fn verification_refuses_what_does_not_match_and_keeps_what_was_asked() {
        let digests = || Hasher::digest(ChecksumAlgorithm::ALL, b"hello");
        let crc32 = digests().checksums[&ChecksumAlgorithm::Crc32].clone();
        let mut ok = Expected {
            md5: Some("XUFAKrxLKna5cZ2REBfFkg==".into()),
            compute: vec![ChecksumAlgorithm::Sha1],
            ..Default::default()
        };
        ok.announce("crc32", crc32);
        let kept = ok.verify(5, digests()).unwrap();
        let kept: Vec<_> = kept.keys().copied().collect();
        assert_eq!(
            kept,
            [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Sha1].to_vec()
        );

        let short = Expected {
            length: Some(6),
            ..Default::default()
        };
        assert!(matches!(
            short.verify(5, digests()),
            Err(ObjectError::IncompleteBody)
        ));
        let mut wrong = Expected::default();
        wrong.announce("SHA256", "AAAA".into());
        assert!(matches!(
            wrong.verify(5, digests()),
            Err(ObjectError::ChecksumMismatch(ChecksumAlgorithm::Sha256))
        ));
        let mut unknown = Expected::default();
        unknown.announce("MD6", "AAAA".into());
        assert!(matches!(
            unknown.verify(5, digests()),
            Err(ObjectError::UnsupportedChecksum)
        ));
        let late = Expected {
            trailer: Some(Box::new(|| vec![("crc32".into(), "AAAAAA==".into())])),
            ..Default::default()
        };
        assert_eq!(late.algorithms().len(), 5);
        assert!(matches!(
            late.verify(5, digests()),
            Err(ObjectError::ChecksumMismatch(ChecksumAlgorithm::Crc32))
        ));
    }

    #[test]
    fn combined_part_crcs_are_the_whole_objects_crc() {
        let (a, b) = (b"hello, ".as_slice(), b"multipart world".as_slice());
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let of =
                |bytes: &[u8]| Hasher::digest([algorithm], bytes).checksums[&algorithm].clone();
            let whole = of(&[a, b].concat());
            let parts = [(of(a), a.len() as u64), (of(b), b.len() as u64)];
            let parts: Vec<(&str, u64)> = parts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
            assert_eq!(combined(algorithm, &parts), Some(whole), "{algorithm:?}");
        }
        assert_eq!(combined(ChecksumAlgorithm::Sha256, &[("AAAA", 3)]), None);
    }

    #[test]
    fn md5_values_must_be_16_bytes_of_base64_and_match() {
        let md5: [u8; 16] = Md5::digest(b"").into();
        assert!(check_md5("1B2M2Y8AsgTpgAmY7PhCfg==", &md5).is_ok());
        let other: [u8; 16] = Md5::digest(b"x").into();
        assert!(matches!(
            check_md5("1B2M2Y8AsgTpgAmY7PhCfg==", &other),
            Err(ObjectError::ContentMd5Mismatch)
        ));
        assert!(matches!(
            check_md5("AAAA", &md5),
            Err(ObjectError::InvalidContentMd5)
        ));
        assert!(matches!(
            check_md5("%%%", &md5),
            Err(ObjectError::InvalidContentMd5)
        ));
    }
}
