//! The secrets core (no HTTP): a Vault-KV-v2-like versioned store sealed at rest, tokens, and
//! ACL policies. `crate::vault` exposes it with Vault's HTTP API.

pub mod acl;
pub mod crypto;
pub mod kv;
pub mod tokens;
