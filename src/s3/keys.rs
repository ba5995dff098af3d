//! S3 credentials: the root keys, static users from fixtures, and STS temporary keys (in redb,
//! session tokens stored as SHA-256 digests).

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::principal::Principal;
use crate::clock::Clock;
use crate::config::fixtures::S3UserFixture;
use crate::policy::Policy;
use crate::store::{Store, StoreError, Table};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TempOwner {
    /// AssumeRoleWithWebIdentity: an OIDC user.
    Web {
        username: String,
        claims: serde_json::Map<String, serde_json::Value>,
    },
    /// AssumeRole by a static user (or root).
    Assumed { user: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TempCredential {
    pub secret_key: String,
    pub token_sha256: String,
    /// Unix seconds.
    pub expires: u64,
    pub owner: TempOwner,
    pub policies: Vec<String>,
}

pub const STS_CREDENTIALS: Table<TempCredential> = Table::new("sts_credentials");

/// Why a key cannot sign requests.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyProblem {
    Unknown,
    Expired,
}

/// Why a signed request's identity is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// A temporary key without its session token, or with another one.
    Invalid,
    /// A static key with a session token.
    Unexpected,
    Expired,
}

pub struct KeyRing {
    root_access: String,
    root_secret: String,
    users: HashMap<String, S3UserFixture>,
    pub policies: HashMap<String, Policy>,
    store: Arc<Store>,
    clock: Clock,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// Freshly issued temporary credentials.
pub struct Issued {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: String,
    pub expires: u64,
}

impl KeyRing {
    pub fn new(
        root_access: String,
        root_secret: String,
        users: &[S3UserFixture],
        policies: HashMap<String, Policy>,
        store: Arc<Store>,
        clock: Clock,
    ) -> Self {
        let users = users
            .iter()
            .map(|u| (u.access_key.clone(), u.clone()))
            .collect();
        KeyRing {
            root_access,
            root_secret,
            users,
            policies,
            store,
            clock,
        }
    }

    pub fn root_access_key(&self) -> &str {
        &self.root_access
    }

    /// The secret that signs requests made with `access_key`.
    pub fn secret_for(&self, access_key: &str) -> Result<String, KeyProblem> {
        if access_key == self.root_access {
            return Ok(self.root_secret.clone());
        }
        if let Some(user) = self.users.get(access_key) {
            return Ok(user.secret_key.clone());
        }
        match self.store.get(&STS_CREDENTIALS, access_key) {
            Ok(Some(temp)) if temp.expires > self.clock.secs() => Ok(temp.secret_key),
            Ok(Some(_)) => Err(KeyProblem::Expired),
            _ => Err(KeyProblem::Unknown),
        }
    }

    /// The principal of a verified access key, checking the session token rules: temporary
    /// keys need their token, static keys must not send one.
    pub fn principal(
        &self,
        access_key: &str,
        token: Option<&str>,
    ) -> Result<Principal, TokenProblem> {
        let static_key = access_key == self.root_access || self.users.contains_key(access_key);
        if static_key {
            if token.is_some() {
                return Err(TokenProblem::Unexpected);
            }
            if access_key == self.root_access {
                return Ok(Principal::Root);
            }
            let user = &self.users[access_key];
            return Ok(Principal::User {
                name: user.access_key.clone(),
                policies: user.policies.clone(),
            });
        }
        let temp = self
            .store
            .get(&STS_CREDENTIALS, access_key)
            .ok()
            .flatten()
            .ok_or(TokenProblem::Invalid)?;
        if temp.expires <= self.clock.secs() {
            return Err(TokenProblem::Expired);
        }
        let given = token.ok_or(TokenProblem::Invalid)?;
        if !bool::from(
            sha256_hex(given)
                .as_bytes()
                .ct_eq(temp.token_sha256.as_bytes()),
        ) {
            return Err(TokenProblem::Invalid);
        }
        Ok(match temp.owner {
            TempOwner::Web { username, claims } => Principal::Session {
                username,
                claims,
                policies: temp.policies,
            },
            TempOwner::Assumed { user } => Principal::User {
                name: user,
                policies: temp.policies,
            },
        })
    }

    /// Issues temporary credentials valid until `expires` (Unix seconds).
    pub fn issue(
        &self,
        owner: TempOwner,
        policies: Vec<String>,
        expires: u64,
    ) -> Result<Issued, StoreError> {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let access_key = random_string(20, UPPER);
        let secret_key = random_string(40, MIXED);
        let session_token = random_string(128, &MIXED[..62]);
        let record = TempCredential {
            secret_key: secret_key.clone(),
            token_sha256: sha256_hex(&session_token),
            expires,
            owner,
            policies,
        };
        self.store.put(&STS_CREDENTIALS, &access_key, &record)?;
        Ok(Issued {
            access_key,
            secret_key,
            session_token,
            expires,
        })
    }

    /// The canned policies of a static user.
    pub fn user_policies(&self, access_key: &str) -> Option<Vec<String>> {
        self.users.get(access_key).map(|u| u.policies.clone())
    }

    /// Drops expired temporary credentials.
    pub fn sweep(&self) -> Result<usize, StoreError> {
        let now = self.clock.secs();
        self.store
            .write(|w| w.retain(&STS_CREDENTIALS, |_, c| c.expires > now))
    }
}
