//! Secret values are sealed with AES-256-GCM under a key kept in the data directory (0600).

use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::durable;

/// Why the KV key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SealerError {
    #[error("key file {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("key file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    /// Loads `<keys_dir>/kv.key`, creating it on first use. A missing key while sealed values
    /// exist (`has_data`) is an error: a new key would make them unreadable.
    pub fn load_or_create(keys_dir: &Path, has_data: bool) -> Result<Self, SealerError> {
        let path = keys_dir.join("kv.key");
        let bytes = match std::fs::read(&path) {
            Ok(b) if b.len() == 32 => b,
            Ok(_) => {
                return Err(SealerError::Key {
                    path,
                    message: "must hold 32 bytes".into(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && has_data => {
                return Err(SealerError::Key {
                    path,
                    message: format!(
                        "is missing but the database holds sealed secrets ({e}); restore it from a backup"
                    ),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let b: [u8; 32] = rand::random();
                durable::write_private_file(&path, &b).map_err(|source| SealerError::File {
                    path: path.clone(),
                    source,
                })?;
                b.to_vec()
            }
            Err(source) => return Err(SealerError::File { path, source }),
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealerError::Key {
            path: keys_dir.join("kv.key"),
            message: "not an AES-256 key".into(),
        })?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// nonce ‖ ciphertext ‖ tag; `context` (the secret's path and version) is authenticated.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("system randomness");
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing");
        let mut out = nonce.to_vec();
        out.extend(buf);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}
