//! The realm as the issuer sees it: clients (redirect URIs, origins, grants) and users.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::config::fixtures::{ClientFixture, Fixtures, Grant, MapperFixture, UserFixture};

/// A redirect URI as registered: exact, or a prefix (Keycloak's trailing `*`).
#[derive(Debug, Clone)]
enum UriPattern {
    Exact(String),
    Prefix {
        prefix: String,
        host: Option<String>,
    },
}

impl UriPattern {
    fn new(text: &str) -> Self {
        match text.strip_suffix('*') {
            Some(prefix) => {
                // The host written in the prefix, so `http://localhost*` cannot match
                // `http://localhost.evil.example/`.
                let host = prefix.split_once("://").map(|(_, rest)| {
                    rest.split(['/', ':', '?', '#'])
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                });
                UriPattern::Prefix {
                    prefix: prefix.to_owned(),
                    host,
                }
            }
            None => UriPattern::Exact(text.to_owned()),
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        match self {
            UriPattern::Exact(exact) => exact == candidate,
            UriPattern::Prefix { prefix, host } => {
                if !candidate.starts_with(prefix.as_str()) {
                    return false;
                }
                let Ok(url) = url::Url::parse(candidate) else {
                    return false;
                };
                match host {
                    Some(host) if !host.is_empty() => {
                        url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host))
                    }
                    _ => true,
                }
            }
        }
    }
}

impl UriPattern {
    /// Whether a page at `origin` could be one of these redirect URIs (`+` web origins).
    fn allows_origin(&self, origin: &str) -> bool {
        let origin_of = |uri: &str| {
            url::Url::parse(uri)
                .ok()
                .map(|u| u.origin().ascii_serialization())
        };
        match self {
            UriPattern::Exact(uri) => origin_of(uri).as_deref() == Some(origin),
            UriPattern::Prefix { prefix, .. } => {
                self.matches(&format!("{origin}/")) || origin_of(prefix).as_deref() == Some(origin)
            }
        }
    }
}

/// Rejects URIs no client may use whatever is registered: unparsable, with user info or fragment.
fn acceptable_uri(candidate: &str) -> bool {
    match url::Url::parse(candidate) {
        Ok(url) if matches!(url.scheme(), "javascript" | "data" | "vbscript" | "file") => false,
        Ok(url) => {
            url.username().is_empty() && url.password().is_none() && url.fragment().is_none()
        }
        Err(_) => false,
    }
}

pub struct Client {
    pub id: String,
    pub name: Option<String>,
    pub public: bool,
    secret: Option<String>,
    redirect_uris: Vec<UriPattern>,
    post_logout_uris: Vec<UriPattern>,
    web_origins: Vec<String>,
    grants: HashSet<Grant>,
    pub access_token_lifespan: Option<u64>,
    pub mappers: Vec<MapperFixture>,
}

impl Client {
    fn from_fixture(fixture: &ClientFixture, public_url: &str) -> Self {
        let expand = |s: &String| s.replace("${PUBLIC_URL}", public_url);
        let redirect_texts: Vec<String> = fixture.redirect_uris.iter().map(expand).collect();
        let redirect_uris: Vec<UriPattern> =
            redirect_texts.iter().map(|s| UriPattern::new(s)).collect();
        let mut post_logout_uris = Vec::new();
        for uri in fixture.post_logout_redirect_uris.iter().map(expand) {
            if uri == "+" {
                post_logout_uris.extend(redirect_uris.iter().cloned());
            } else {
                post_logout_uris.push(UriPattern::new(&uri));
            }
        }
        Client {
            id: fixture.client_id.clone(),
            name: fixture.name.clone(),
            public: fixture.public,
            secret: fixture.secret.clone(),
            redirect_uris,
            post_logout_uris,
            web_origins: fixture.web_origins.iter().map(expand).collect(),
            grants: fixture.grants.iter().copied().collect(),
            access_token_lifespan: fixture.access_token_lifespan,
            mappers: fixture.mappers.clone(),
        }
    }

    pub fn redirect_allowed(&self, uri: &str) -> bool {
        acceptable_uri(uri) && self.redirect_uris.iter().any(|p| p.matches(uri))
    }

    pub fn post_logout_allowed(&self, uri: &str) -> bool {
        acceptable_uri(uri) && self.post_logout_uris.iter().any(|p| p.matches(uri))
    }

    /// CORS: `*` allows any origin, `+` the origins of the redirect URIs.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.web_origins
            .iter()
            .any(|allowed| match allowed.as_str() {
                "*" => true,
                "+" => self.redirect_uris.iter().any(|p| p.allows_origin(origin)),
                exact => exact.trim_end_matches('/') == origin,
            })
    }

    pub fn allows(&self, grant: Grant) -> bool {
        self.grants.contains(&grant)
    }

    /// Constant-time comparison with the registered secret; public clients have none.
    pub fn secret_matches(&self, candidate: &str) -> bool {
        match &self.secret {
            Some(secret) => secret.as_bytes().ct_eq(candidate.as_bytes()).into(),
            None => false,
        }
    }
}

/// A realm user, as tokens describe them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub username: String,
    /// Stable subject id, derived from realm and username so every start agrees on it.
    pub sub: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
    pub claims: BTreeMap<String, serde_json::Value>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub enabled: bool,
}

impl User {
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A subject id in UUID form, the same for the same realm and name at every start.
pub fn stable_subject(realm: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("onyxia-lite/{realm}/{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Realm-wide settings.
pub struct RealmSettings {
    pub name: String,
    pub display_name: String,
    pub access_token_lifespan: u64,
    pub sso_session_idle: u64,
    pub sso_session_max: u64,
}

/// Clients and users of the realm, looked up by id and (case-insensitive) username.
pub struct Realm {
    pub settings: RealmSettings,
    clients: HashMap<String, Client>,
    /// Fixture users, then the users enrolled since (kept in the store), by lower-case name.
    users: std::sync::RwLock<HashMap<String, Arc<User>>>,
}

impl Realm {
    pub fn from_fixtures(fixtures: &Fixtures, public_url: &str) -> Self {
        let realm = &fixtures.realm;
        let settings = RealmSettings {
            name: realm.name.clone(),
            display_name: realm
                .display_name
                .clone()
                .unwrap_or_else(|| realm.name.clone()),
            access_token_lifespan: realm.access_token_lifespan,
            sso_session_idle: realm.sso_session_idle,
            sso_session_max: realm.sso_session_max,
        };
        let clients = fixtures
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), Client::from_fixture(c, public_url)))
            .collect();
        let users = fixtures
            .users
            .iter()
            .map(|u| {
                (
                    u.username.to_ascii_lowercase(),
                    Arc::new(user_from_fixture(&realm.name, u)),
                )
            })
            .collect();
        Realm {
            settings,
            clients,
            users: std::sync::RwLock::new(users),
        }
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    pub fn user(&self, username: &str) -> Option<Arc<User>> {
        crate::sync::read(&self.users)
            .get(&username.to_ascii_lowercase())
            .cloned()
    }

    /// The user a login form names: by username, else by email (as Keycloak allows).
    pub fn user_by_login(&self, login: &str) -> Option<Arc<User>> {
        self.user(login).or_else(|| {
            crate::sync::read(&self.users)
                .values()
                .find(|u| {
                    u.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(login))
                })
                .cloned()
        })
    }

    pub fn users(&self) -> Vec<Arc<User>> {
        crate::sync::read(&self.users).values().cloned().collect()
    }

    /// Adds or replaces a user (an enrolment, or a stored user loaded at start).
    pub fn put_user(&self, user: User) {
        crate::sync::write(&self.users).insert(user.username.clone(), Arc::new(user));
    }

    /// True when some client accepts requests from this browser origin.
    pub fn any_client_allows_origin(&self, origin: &str) -> bool {
        self.clients.values().any(|c| c.origin_allowed(origin))
    }
}

fn user_from_fixture(realm: &str, u: &UserFixture) -> User {
    User {
        username: u.username.to_ascii_lowercase(),
        sub: stable_subject(realm, &u.username.to_ascii_lowercase()),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        groups: u.groups.clone(),
        claims: u.claims.clone(),
        attributes: u.attributes.clone(),
        enabled: u.enabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(redirects: &[&str], origins: &[&str]) -> Client {
        let fixture: ClientFixture = toml::from_str(&format!(
            "client_id = \"c\"\npublic = true\nredirect_uris = {:?}\nweb_origins = {:?}\n",
            redirects, origins
        ))
        .unwrap();
        Client::from_fixture(&fixture, "http://localhost:8080")
    }

    #[test]
    fn redirect_matching() {
        let c = client(
            &[
                "${PUBLIC_URL}/*",
                "https://app.example/cb",
                "http://localhost*",
            ],
            &["+"],
        );
        assert!(c.redirect_allowed("http://localhost:8080/x?y=1"));
        assert!(c.redirect_allowed("https://app.example/cb"));
        assert!(!c.redirect_allowed("https://app.example/cb/more"));
        assert!(!c.redirect_allowed("http://localhost.evil.example/"));
        assert!(!c.redirect_allowed("http://localhost:8080@evil.example/"));
        assert!(!c.redirect_allowed("http://localhost:8080/#frag"));
        assert!(c.post_logout_allowed("http://localhost:8080/bye"));
        assert!(c.origin_allowed("http://localhost:8080"));
        assert!(c.origin_allowed("https://app.example"));
        assert!(!c.origin_allowed("https://evil.example"));
    }
}
