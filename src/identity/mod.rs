//! The identity core: realm users and clients, passwords, SSO sessions, tokens.
//!
//! Knows nothing of HTTP; the OIDC endpoints (`crate::oidc`) and the `token` command drive it.

pub mod account;
pub mod enrol;
pub mod keys;
pub mod passwords;
pub mod realm;
pub mod records;
pub mod throttle;
pub mod tokens;
pub mod verifier;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::fixtures::Fixtures;
use crate::store::{Store, StoreError};
use keys::{RefreshKey, SigningKey};
use passwords::PasswordHasher;
use realm::{Client, Realm, User};
use records::{CREDENTIALS, REFRESH_TOKENS, RefreshRecord, SESSIONS, Session, StoredCredential};
use throttle::{Locked, LoginThrottle};
use tokens::{Claims, Subject, TokenRequest, TokenSet};

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Passwords(#[from] passwords::ParamsError),
}

/// Why a token could not be made without a login (the `token` command, test helpers).
#[derive(Debug, thiserror::Error)]
pub enum TokenCommandError {
    #[error("an ephemeral server's key is not reachable; pass --data-dir")]
    Ephemeral,
    #[error("no user `{username}` in realm {realm}")]
    NoUser { username: String, realm: String },
    #[error("no client `{client_id}` in realm {realm}")]
    NoClient { client_id: String, realm: String },
    #[error("issuer {issuer} does not end with {suffix}")]
    Issuer { issuer: String, suffix: String },
    #[error(transparent)]
    Fixtures(#[from] crate::config::fixtures::FixtureError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// Why a password login failed. Callers must not tell the user which part was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    InvalidCredentials,
    Locked(Duration),
}

/// How long after its rotation a refresh token may come back without ending the session.
const REUSE_GRACE_SECS: u64 = 2;

/// Why a refresh token was refused (all map to OAuth `invalid_grant`).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("Invalid refresh token")]
    Invalid,
    #[error("Invalid refresh token. Token client and authorized client don't match")]
    WrongClient,
    #[error("Stale token: this refresh token was already used")]
    Reused { used_at: u64, sid: Option<String> },
    #[error("Session not active")]
    SessionEnded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum PasswordState {
    Hashed(String),
    /// Fixture password not hashed yet (hashing runs in the background after start-up).
    Pending(String),
}

pub struct Identity {
    /// `<public_url>/realms/<realm>`: `iss` of every token.
    pub issuer: String,
    /// The platform's clock: token times, session and refresh expiry.
    pub clock: Clock,
    pub realm: Realm,
    pub signing: SigningKey,
    refresh_key: RefreshKey,
    store: Arc<Store>,
    throttle: LoginThrottle,
    hasher: PasswordHasher,
    passwords: RwLock<HashMap<String, PasswordState>>,
    /// Hash checked for unknown users; made on first need so start-up stays fast.
    dummy_hash: std::sync::OnceLock<String>,
    pub password_grant_enabled: bool,
}

impl Identity {
    /// Builds the realm from fixtures and loads (or creates) keys under `data_dir/keys`.
    /// Fixture passwords whose hash is already stored are not hashed again.
    pub fn new(
        config: &Config,
        fixtures: &Fixtures,
        public_url: &str,
        store: Arc<Store>,
        data_dir: &Path,
        clock: Clock,
    ) -> Result<Self, IdentityError> {
        let keys_dir = data_dir.join("keys");
        let signing = SigningKey::load_or_generate(
            config.oidc.signing_algorithm,
            config.oidc.signing_key.as_ref().map(|s| s.expose()),
            &keys_dir,
        )?;
        let refresh_key = RefreshKey::load_or_generate(&keys_dir)?;
        let realm = Realm::from_fixtures(fixtures, public_url);
        let issuer = format!("{public_url}/realms/{}", realm.settings.name);
        let mut passwords = HashMap::new();
        let mut stored: HashMap<String, StoredCredential> =
            store.scan(&CREDENTIALS)?.into_iter().collect();
        for user in &fixtures.users {
            let name = user.username.to_ascii_lowercase();
            let digest = refresh_key.fixture_digest(&user.password);
            let state = match stored.remove(&name) {
                Some(stored) if stored.set_by_user || stored.fixture_digest == digest => {
                    PasswordState::Hashed(stored.password_hash)
                }
                _ => PasswordState::Pending(user.password.clone()),
            };
            passwords.insert(name, state);
        }
        // Users enrolled since the fixtures, with their passwords.
        for (name, user) in store.scan(&records::USERS)? {
            if let Some(stored) = stored.remove(&name) {
                passwords.insert(name, PasswordState::Hashed(stored.password_hash));
            }
            realm.put_user(user);
        }
        let o = &config.oidc;
        Ok(Identity {
            issuer,
            clock,
            realm,
            signing,
            refresh_key,
            store,
            throttle: LoginThrottle::new(
                o.login_failures_per_user,
                o.login_failures_per_address,
                Duration::from_secs(o.login_failure_window_seconds),
            ),
            hasher: PasswordHasher::new(&config.passwords)?,
            passwords: RwLock::new(passwords),
            dummy_hash: std::sync::OnceLock::new(),
            password_grant_enabled: o.password_grant,
        })
    }

    /// Hashes fixture passwords not hashed yet and stores the hashes. Blocking (argon2).
    pub fn hash_pending_passwords(&self) -> Result<usize, StoreError> {
        let pending: Vec<(String, String)> = {
            let passwords = crate::sync::read(&self.passwords);
            passwords
                .iter()
                .filter_map(|(name, state)| match state {
                    PasswordState::Pending(plain) => Some((name.clone(), plain.clone())),
                    PasswordState::Hashed(_) => None,
                })
                .collect()
        };
        for (name, plain) in &pending {
            let hash = self.hasher.hash(plain);
            let record = StoredCredential {
                password_hash: hash.clone(),
                fixture_digest: self.refresh_key.fixture_digest(plain),
                set_by_user: false,
                temporary: false,
            };
            // The user may have chosen a password of their own meanwhile: it wins.
            let mut passwords = crate::sync::write(&self.passwords);
            if matches!(passwords.get(name), Some(PasswordState::Pending(p)) if p == plain) {
                self.store.put(&CREDENTIALS, name, &record)?;
                passwords.insert(name.clone(), PasswordState::Hashed(hash));
            }
        }
        Ok(pending.len())
    }

    /// Checks a username and password, with throttling. Blocking (argon2): run it off the
    /// async workers.
    pub fn authenticate(
        &self,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<Arc<User>, LoginError> {
        let login = username.trim();
        self.throttle
            .begin(login, address)
            .map_err(|Locked { retry_after }| LoginError::Locked(retry_after))?;
        let user = self.realm.user_by_login(login).filter(|u| u.enabled);
        let phc = user.as_ref().and_then(|user| {
            let state = crate::sync::read(&self.passwords);
            match state.get(&user.username) {
                Some(PasswordState::Hashed(phc)) => Some(Ok(phc.clone())),
                Some(PasswordState::Pending(plain)) => Some(Err(plain.clone())),
                None => None,
            }
        });
        let ok = match phc {
            Some(Ok(phc)) => self.hasher.verify(password, &phc),
            Some(Err(plain)) => plain.as_bytes().ct_eq(password.as_bytes()).into(),
            // Unknown user: spend the same argon2 time, so timing does not reveal names.
            None => {
                let dummy = self
                    .dummy_hash
                    .get_or_init(|| self.hasher.hash("onyxia-lite dummy"));
                self.hasher.verify(password, dummy);
                false
            }
        };
        match (ok, user) {
            (true, Some(user)) => {
                self.throttle.succeeded(login, address);
                Ok(user)
            }
            _ => Err(LoginError::InvalidCredentials),
        }
    }

    /// Frees argon2's pooled working memory once no password was checked for `idle`.
    pub fn release_password_memory(&self, idle: Duration) -> usize {
        self.hasher.release_idle(idle)
    }

    fn session_alive(&self, s: &Session, now: u64) -> bool {
        let settings = &self.realm.settings;
        now.saturating_sub(s.last_seen) <= settings.sso_session_idle
            && now.saturating_sub(s.auth_time) <= settings.sso_session_max
            && self.realm.user(&s.username).is_some_and(|u| u.enabled)
    }

    /// Starts an SSO session; returns it and the cookie value that proves it.
    pub fn open_session(&self, user: &User) -> Result<(Session, String), StoreError> {
        let now = self.clock.secs();
        let secret = random_token();
        let session = Session {
            sid: uuid::Uuid::new_v4().to_string(),
            username: user.username.clone(),
            auth_time: now,
            last_seen: now,
            secret_hash: sha256_hex(&secret),
        };
        self.store.put(&SESSIONS, &session.sid, &session)?;
        let cookie = format!("{}.{}", session.sid, secret);
        Ok((session, cookie))
    }

    /// The live session a cookie proves, touched (idle timer reset).
    pub fn session_from_cookie(&self, cookie: &str) -> Option<Session> {
        let (sid, secret) = cookie.split_once('.')?;
        let now = self.clock.secs();
        // Check and touch in one transaction, so a concurrent logout cannot be undone.
        let touched = self.store.write(|w| {
            let Some(mut session) = w.get(&SESSIONS, sid)? else {
                return Ok::<_, StoreError>(None);
            };
            let proof: bool = session
                .secret_hash
                .as_bytes()
                .ct_eq(sha256_hex(secret).as_bytes())
                .into();
            if !proof || !self.session_alive(&session, now) {
                return Ok(None);
            }
            session.last_seen = now;
            w.put(&SESSIONS, sid, &session)?;
            Ok(Some(session))
        });
        touched.ok().flatten()
    }

    /// The session with this id, if it is still alive.
    pub fn live_session(&self, sid: &str) -> Option<Session> {
        let session = self.store.get(&SESSIONS, sid).ok()??;
        self.session_alive(&session, self.clock.secs())
            .then_some(session)
    }

    /// Ends a session and every refresh token issued in it.
    pub fn end_session(&self, sid: &str) -> Result<(), StoreError> {
        self.store.write(|w| {
            w.remove(&SESSIONS, sid)?;
            w.retain(&REFRESH_TOKENS, |_, r| r.sid.as_deref() != Some(sid))?;
            Ok::<_, StoreError>(())
        })
    }

    /// Tokens for a user, with a refresh token when the client may refresh.
    pub fn issue_for_user(
        &self,
        client: &Client,
        user: &User,
        session: Option<&Session>,
        scope: &str,
        nonce: Option<&str>,
    ) -> Result<TokenSet, StoreError> {
        let sid = session.map(|s| s.sid.as_str());
        let auth_time = session
            .map(|s| s.auth_time)
            .unwrap_or_else(|| self.clock.secs());
        let (access_token, id_token, expires_in) = self.mint(&TokenRequest {
            client,
            subject: Subject::User(user),
            scope,
            sid,
            auth_time: Some(auth_time),
            nonce,
        });
        let refresh =
            if client.allows(crate::config::fixtures::Grant::RefreshToken) {
                Some(self.store.write(|w| {
                    self.new_refresh(w, client, &user.username, sid, scope, auth_time)
                })?)
            } else {
                None
            };
        let (refresh_token, refresh_expires_in) = refresh.unzip();
        Ok(TokenSet {
            access_token,
            expires_in,
            id_token,
            refresh_token,
            refresh_expires_in: refresh_expires_in.unwrap_or(0),
            scope: scope.to_owned(),
            session_state: sid.map(str::to_owned),
        })
    }

    /// A token for the client itself (client_credentials): no ID token, no refresh token.
    pub fn issue_for_client(&self, client: &Client, scope: &str) -> TokenSet {
        let (access_token, _, expires_in) = self.mint(&TokenRequest {
            client,
            subject: Subject::Client,
            scope,
            sid: None,
            auth_time: None,
            nonce: None,
        });
        TokenSet {
            access_token,
            expires_in,
            id_token: None,
            refresh_token: None,
            refresh_expires_in: 0,
            scope: scope.to_owned(),
            session_state: None,
        }
    }

    fn new_refresh(
        &self,
        w: &mut crate::store::Writer<'_>,
        client: &Client,
        username: &str,
        sid: Option<&str>,
        scope: &str,
        auth_time: u64,
    ) -> Result<(String, u64), StoreError> {
        let now = self.clock.secs();
        let settings = &self.realm.settings;
        let expires = (now + settings.sso_session_idle).min(auth_time + settings.sso_session_max);
        let jti = uuid::Uuid::new_v4().to_string();
        let record = RefreshRecord {
            sid: sid.map(str::to_owned),
            client_id: client.id.clone(),
            username: username.to_owned(),
            scope: scope.to_owned(),
            auth_time,
            expires,
            used_at: None,
        };
        w.put(&REFRESH_TOKENS, &jti, &record)?;
        let mut claims = Claims::new();
        claims.insert("exp".into(), json!(expires));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(jti));
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("aud".into(), json!(self.issuer));
        claims.insert(
            "sub".into(),
            json!(realm::stable_subject(&settings.name, username)),
        );
        claims.insert("typ".into(), json!("Refresh"));
        claims.insert("azp".into(), json!(client.id));
        if let Some(sid) = sid {
            claims.insert("sid".into(), json!(sid));
        }
        claims.insert("scope".into(), json!(scope));
        Ok((self.sign_refresh(&claims), expires.saturating_sub(now)))
    }

    /// Rotates a refresh token: the old one is spent, a new set is issued in the same session.
    pub fn refresh(&self, client: &Client, token: &str) -> Result<TokenSet, RefreshError> {
        let claims = self
            .decode_refresh(token)
            .map_err(|_| RefreshError::Invalid)?;
        if claims.get("azp").and_then(Value::as_str) != Some(client.id.as_str()) {
            return Err(RefreshError::WrongClient);
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .ok_or(RefreshError::Invalid)?;
        let now = self.clock.secs();
        let rotated = self.store.write(|w| {
            let mut record = w.get(&REFRESH_TOKENS, jti)?.ok_or(RefreshError::Invalid)?;
            if let Some(used_at) = record.used_at {
                return Err(RefreshError::Reused {
                    used_at,
                    sid: record.sid.clone(),
                });
            }
            if record.expires < now {
                return Err(RefreshError::Invalid);
            }
            let session = match &record.sid {
                Some(sid) => {
                    let mut s = w.get(&SESSIONS, sid)?.ok_or(RefreshError::SessionEnded)?;
                    if !self.session_alive(&s, now) {
                        return Err(RefreshError::SessionEnded);
                    }
                    s.last_seen = now;
                    w.put(&SESSIONS, sid, &s)?;
                    Some(s)
                }
                None => None,
            };
            record.used_at = Some(now);
            w.put(&REFRESH_TOKENS, jti, &record)?;
            let sid = record.sid.as_deref();
            let new = self.new_refresh(
                w,
                client,
                &record.username,
                sid,
                &record.scope,
                record.auth_time,
            )?;
            Ok((record, session, new))
        });
        let (record, session, new_refresh) = match rotated {
            // A spent token back well after its rotation: someone else may hold the chain.
            // End the session, as OAuth's security best practice advises. A quick retry
            // (a lost response, two tabs racing) is only refused.
            Err(RefreshError::Reused {
                used_at,
                sid: Some(sid),
            }) if now > used_at + REUSE_GRACE_SECS => {
                tracing::warn!(
                    sid,
                    "refresh token reused after rotation; ending its session"
                );
                self.end_session(&sid)?;
                return Err(RefreshError::Reused {
                    used_at,
                    sid: Some(sid),
                });
            }
            other => other?,
        };
        let user = self
            .realm
            .user(&record.username)
            .filter(|u| u.enabled)
            .ok_or(RefreshError::SessionEnded)?;
        let (access_token, id_token, expires_in) = self.mint(&TokenRequest {
            client,
            subject: Subject::User(&user),
            scope: &record.scope,
            sid: record.sid.as_deref(),
            auth_time: Some(record.auth_time),
            nonce: None,
        });
        Ok(TokenSet {
            access_token,
            expires_in,
            id_token,
            refresh_token: Some(new_refresh.0),
            refresh_expires_in: new_refresh.1,
            scope: record.scope,
            session_state: session.map(|s| s.sid),
        })
    }

    /// Revokes one refresh token of `client` (RFC 7009: unknown tokens are not an error).
    pub fn revoke_refresh(&self, client: &Client, token: &str) -> Result<(), StoreError> {
        let Ok(claims) = self.decode_refresh(token) else {
            return Ok(());
        };
        if claims.get("azp").and_then(Value::as_str) != Some(client.id.as_str()) {
            return Ok(());
        }
        if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
            self.store.remove(&REFRESH_TOKENS, jti)?;
        }
        Ok(())
    }

    /// The session a refresh token belongs to, if it verifies and belongs to `client`.
    pub fn refresh_token_session(&self, client: &Client, token: &str) -> Option<String> {
        let claims = self.decode_refresh(token).ok()?;
        (claims.get("azp").and_then(Value::as_str) == Some(client.id.as_str()))
            .then(|| claims.get("sid").and_then(Value::as_str).map(str::to_owned))
            .flatten()
    }

    /// Drops expired sessions and refresh records.
    pub fn sweep_expired(&self) -> Result<usize, StoreError> {
        let now = self.clock.secs();
        self.store.write(|w| {
            let sessions = w.retain(&SESSIONS, |_, s| self.session_alive(s, now))?;
            let refresh = w.retain(&REFRESH_TOKENS, |_, r| r.expires >= now)?;
            Ok::<_, StoreError>(sessions + refresh)
        })
    }

    /// A token for a user without a login (the `token` command and test helpers).
    pub fn token_for(&self, username: &str, client_id: &str) -> Result<String, TokenCommandError> {
        let realm = || self.realm.settings.name.clone();
        let user = self
            .realm
            .user(username)
            .ok_or_else(|| TokenCommandError::NoUser {
                username: username.to_owned(),
                realm: realm(),
            })?;
        let client = self
            .realm
            .client(client_id)
            .ok_or_else(|| TokenCommandError::NoClient {
                client_id: client_id.to_owned(),
                realm: realm(),
            })?;
        let (access, _, _) = self.mint(&TokenRequest {
            client,
            subject: Subject::User(&user),
            scope: "openid profile email",
            sid: None,
            auth_time: Some(self.clock.secs()),
            nonce: None,
        });
        Ok(access)
    }
}

/// The `token` command: a token signed with the data directory's key, without a server.
/// The issuer is `issuer`, else the running server's (recorded in the data directory), else
/// the configured one.
pub fn cli_token(
    config: &Config,
    username: &str,
    client_id: &str,
    issuer: Option<&str>,
) -> Result<String, TokenCommandError> {
    if config.ephemeral {
        return Err(TokenCommandError::Ephemeral);
    }
    let data_dir = config.persistent_data_dir();
    let fixtures = Fixtures::load(config.fixtures.as_deref())?;
    let running = crate::endpoints::Endpoints::read_running_file(&data_dir);
    let issuer = issuer
        .map(str::to_owned)
        .or(running.map(|r| r.issuer))
        .unwrap_or_else(|| {
            format!(
                "{}/realms/{}",
                config.public_base_url(config.port),
                fixtures.realm.name
            )
        });
    let suffix = format!("/realms/{}", fixtures.realm.name);
    let public_url = issuer
        .strip_suffix(&suffix)
        .ok_or_else(|| TokenCommandError::Issuer {
            issuer: issuer.clone(),
            suffix: suffix.clone(),
        })?;
    let store = Arc::new(Store::in_memory()?);
    let identity = Identity::new(
        config,
        &fixtures,
        public_url,
        store,
        &data_dir,
        Clock::system(),
    )?;
    identity.token_for(username, client_id)
}
