//! What the identity core keeps in the store.

use serde::{Deserialize, Serialize};

use crate::store::Table;

/// An SSO session: one browser login, shared by every client it signs in to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub sid: String,
    pub username: String,
    /// Unix seconds of the password login.
    pub auth_time: u64,
    /// Unix seconds of the last use (login, SSO reuse, refresh): drives the idle timeout.
    pub last_seen: u64,
    /// SHA-256 (hex) of the secret half of the session cookie.
    pub secret_hash: String,
}

/// State of one refresh token, keyed by its `jti`, so rotation can refuse reuse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub sid: Option<String>,
    pub client_id: String,
    pub username: String,
    pub scope: String,
    pub auth_time: u64,
    pub expires: u64,
    /// Unix seconds of its rotation; a spent token presented again is refused.
    pub used_at: Option<u64>,
}

/// A user's password hash: either a fixture's, with a keyed digest of the fixture password it
/// came from so an unchanged fixture is not hashed again at the next start, or one the user
/// chose on their account page, which is kept over the fixture's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCredential {
    pub password_hash: String,
    pub fixture_digest: String,
    #[serde(default)]
    pub set_by_user: bool,
    /// A one-time password (enrolment): to be changed at the first login.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
}

pub const SESSIONS: Table<Session> = Table::new("sso_sessions");
pub const REFRESH_TOKENS: Table<RefreshRecord> = Table::new("refresh_tokens");
pub const CREDENTIALS: Table<StoredCredential> = Table::new("credentials");
/// Users enrolled or changed since the fixtures (a class import), keyed by lower-case name;
/// loaded over the fixture users at start.
pub const USERS: Table<super::realm::User> = Table::new("realm_users");
