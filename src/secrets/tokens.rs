//! Vault tokens: the root token from config, and login tokens stored by SHA-256 digest with
//! their policies, identity, TTL and renewal limit.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::store::{Store, StoreError, Table};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub accessor: String,
    pub policies: Vec<String>,
    pub display_name: String,
    pub path: String,
    pub username: String,
    pub groups: Vec<String>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub created: u64,
    /// Seconds of the current lease (0: never expires).
    pub ttl: u64,
    pub expires: u64,
    /// Renewals cannot push `expires` past this (0: no limit).
    pub max_expires: u64,
    pub renewable: bool,
    pub entity_id: String,
}

const TOKENS: Table<TokenRecord> = Table::new("vault_tokens");

pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Tokens {
    store: Arc<Store>,
    root: String,
    clock: Clock,
}

/// A resolved token: the root, or a stored one.
#[derive(Debug, Clone)]
pub enum Caller {
    Root,
    Token(String, Box<TokenRecord>),
}

impl Tokens {
    pub fn new(store: Arc<Store>, root: String, clock: Clock) -> Self {
        Tokens { store, root, clock }
    }

    /// Seconds since the epoch on the platform's clock (token TTLs).
    pub fn now(&self) -> u64 {
        self.clock.secs()
    }

    pub fn lookup(&self, token: &str) -> Option<Caller> {
        if !token.is_empty()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                token.as_bytes(),
                self.root.as_bytes(),
            ))
        {
            return Some(Caller::Root);
        }
        let id = digest(token);
        let record = self.store.get(&TOKENS, &id).ok()??;
        if record.expires != 0 && record.expires <= self.clock.secs() {
            return None;
        }
        Some(Caller::Token(id, Box::new(record)))
    }

    /// Creates a token; returns (token, record).
    pub fn create(&self, mut record: TokenRecord) -> Result<(String, TokenRecord), StoreError> {
        use base64::Engine;
        let token = format!(
            "hvs.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
        );
        record.accessor =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>());
        record.entity_id = uuid::Uuid::new_v4().to_string();
        self.store.put(&TOKENS, &digest(&token), &record)?;
        Ok((token, record))
    }

    /// Extends a token's lease by `increment` seconds (its TTL by default), within its max.
    pub fn renew(
        &self,
        id: &str,
        increment: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.store.write(|w| {
            let Some(mut record) = w.get(&TOKENS, id)? else {
                return Ok(None);
            };
            if !record.renewable {
                return Ok(Some(record));
            }
            let now = self.clock.secs();
            let mut expires = now.saturating_add(increment.unwrap_or(record.ttl));
            if record.max_expires != 0 {
                expires = expires.min(record.max_expires);
            }
            record.expires = expires;
            w.put(&TOKENS, id, &record)?;
            Ok(Some(record))
        })
    }

    pub fn revoke(&self, id: &str) -> Result<(), StoreError> {
        self.store.remove(&TOKENS, id).map(|_| ())
    }

    pub fn sweep(&self) -> Result<usize, StoreError> {
        let now = self.clock.secs();
        self.store
            .write(|w| w.retain(&TOKENS, |_, t| t.expires == 0 || t.expires > now))
    }
}
