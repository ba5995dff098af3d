//! Signing keys: the issuer's asymmetric key (RS256 or ES256) and the refresh-token HMAC key.
//!
//! Keys are generated once, written 0600 under `<data_dir>/keys/`, and reused at every start,
//! so tokens issued before a restart still verify.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use sha2::{Digest, Sha256};

use crate::config::SigningAlgorithm;
use crate::durable;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("signing key: {0}")]
    Invalid(String),
}

/// The issuer's signing key with everything derived from it.
pub struct SigningKey {
    pub algorithm: Algorithm,
    /// RS256 signs through ring: about three times faster than the pure-Rust RSA that
    /// jsonwebtoken uses, and token grants are bound by RSA signing.
    rsa: Option<ring::signature::RsaKeyPair>,
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public key as published in the JWKS.
    pub jwk: Jwk,
    /// Base64 DER SubjectPublicKeyInfo, as Keycloak's realm endpoint shows `public_key`.
    pub public_key_der_b64: String,
}

/// The symmetric key that signs refresh tokens (never leaves the server).
pub struct RefreshKey {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    secret: Vec<u8>,
}

fn file_error(path: &Path, message: impl ToString) -> KeyError {
    KeyError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// Writes key material to `path` durably with mode 0600, its directory created 0700.
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    durable::write_private_file(path, bytes).map_err(|e| file_error(path, e))
}

fn generate_pem(algorithm: SigningAlgorithm) -> Result<String, KeyError> {
    let mut rng = rand::rngs::OsRng;
    let pem = match algorithm {
        SigningAlgorithm::RS256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
                .map_err(|e| KeyError::Invalid(e.to_string()))?;
            key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| KeyError::Invalid(e.to_string()))?
                .to_string()
        }
        SigningAlgorithm::ES256 => {
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::SecretKey::random(&mut rng);
            key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| KeyError::Invalid(e.to_string()))?
                .to_string()
        }
    };
    Ok(pem)
}

/// A fresh PKCS#8 PEM key; exposed so tests can share one key across many platforms.
pub fn generate_signing_pem(algorithm: SigningAlgorithm) -> String {
    generate_pem(algorithm).expect("key generation with the OS RNG")
}

impl SigningKey {
    /// The configured PEM if given, else the key in `keys_dir`, generated on first use.
    pub fn load_or_generate(
        algorithm: SigningAlgorithm,
        configured_pem: Option<&str>,
        keys_dir: &Path,
    ) -> Result<Self, KeyError> {
        if let Some(pem) = configured_pem {
            return Self::from_pem(algorithm, pem);
        }
        let file = match algorithm {
            SigningAlgorithm::RS256 => "signing-rs256.pem",
            SigningAlgorithm::ES256 => "signing-es256.pem",
        };
        let path = keys_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(pem) => Self::from_pem(algorithm, &pem).map_err(|e| file_error(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem(algorithm)?;
                write_private_file(&path, pem.as_bytes())?;
                tracing::info!(path = %path.display(), "generated a new {algorithm:?} signing key");
                Self::from_pem(algorithm, &pem)
            }
            Err(e) => Err(file_error(&path, e)),
        }
    }

    pub fn from_pem(algorithm: SigningAlgorithm, pem: &str) -> Result<Self, KeyError> {
        let invalid = |e: &dyn std::fmt::Display| KeyError::Invalid(e.to_string());
        let (alg, encoding, spki_der, rsa_pair) = match algorithm {
            SigningAlgorithm::RS256 => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                    .map_err(|e| invalid(&format!("not an RSA private key in PEM: {e}")))?;
                let spki = key
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| invalid(&e))?;
                let enc = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| invalid(&e))?;
                let pkcs8 = key.to_pkcs8_der().map_err(|e| invalid(&e))?;
                let pair = ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes())
                    .map_err(|e| invalid(&format!("RSA key refused: {e}")))?;
                (Algorithm::RS256, enc, spki.as_bytes().to_vec(), Some(pair))
            }
            SigningAlgorithm::ES256 => {
                use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
                let key = p256::SecretKey::from_pkcs8_pem(pem)
                    .map_err(|e| invalid(&format!("not a P-256 private key in PKCS#8 PEM: {e}")))?;
                let spki = key
                    .public_key()
                    .to_public_key_der()
                    .map_err(|e| invalid(&e))?;
                let enc = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| invalid(&e))?;
                (Algorithm::ES256, enc, spki.as_bytes().to_vec(), None)
            }
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).map_err(|e| invalid(&e))?;
        let kid = thumbprint(&jwk.algorithm)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&e))?;
        Ok(SigningKey {
            algorithm: alg,
            rsa: rsa_pair,
            kid,
            encoding,
            decoding,
            jwk,
            public_key_der_b64: STANDARD.encode(spki_der),
        })
    }
}

impl SigningKey {
    /// A compact JWS of `claims` under `header`.
    pub fn sign_jwt(&self, header: &Header, claims: &impl serde::Serialize) -> String {
        let Some(pair) = &self.rsa else {
            return jsonwebtoken::encode(header, claims, &self.encoding)
                .expect("signing with a loaded key");
        };
        let part = |value: &dyn erased::Json| URL_SAFE_NO_PAD.encode(value.to_json());
        let message = format!("{}.{}", part(header), part(claims));
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .expect("RSA signing with a loaded key");
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

mod erased {
    /// Serializes anything to JSON bytes (plain data; cannot fail).
    pub trait Json {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize + ?Sized> Json for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

/// RFC 7638 thumbprint: stable across restarts, so `kid` never changes for one key.
fn thumbprint(params: &AlgorithmParameters) -> Result<String, KeyError> {
    let canonical = match params {
        AlgorithmParameters::RSA(rsa) => {
            format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, rsa.e, rsa.n)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                ec.x, ec.y
            )
        }
        _ => return Err(KeyError::Invalid("unsupported key type".into())),
    };
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

impl RefreshKey {
    pub fn load_or_generate(keys_dir: &Path) -> Result<Self, KeyError> {
        let path = keys_dir.join("refresh-hs256.key");
        let secret = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= 32 => bytes,
            Ok(_) => return Err(file_error(&path, "shorter than 32 bytes")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes: [u8; 32] = rand::random();
                write_private_file(&path, &bytes)?;
                bytes.to_vec()
            }
            Err(e) => return Err(file_error(&path, e)),
        };
        Ok(RefreshKey {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            secret,
        })
    }

    /// A keyed digest of a fixture password (HMAC-SHA256, hex): tells whether a fixture
    /// changed without leaving a fast, unkeyed hash of the password in the database.
    pub fn fixture_digest(&self, password: &str) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.secret);
        let tag = ring::hmac::sign(&key, format!("fixture-password\0{password}").as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}
