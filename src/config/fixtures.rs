//! The realm seed: realm settings, groups, users and clients, read from TOML files.
//!
//! The built-in files under `fixtures/` are embedded in the binary; `--fixtures DIR` replaces
//! any of them by a file of the same name. Errors name the file and the field; the checks are
//! in `fixtures/check.rs`.

mod check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Deserialize;

/// Claims the issuer sets itself; fixtures may not override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "typ",
    "azp",
    "nonce",
    "auth_time",
    "sid",
    "session_state",
    "at_hash",
    "acr",
    "scope",
    "preferred_username",
    "clientId",
];

static BUILT_IN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures");

/// A fixture problem, always naming the file.
#[derive(Debug, thiserror::Error)]
#[error("fixture {file}: {message}")]
pub struct FixtureError {
    pub file: String,
    pub message: String,
}

fn fail(file: &str, message: impl Into<String>) -> FixtureError {
    FixtureError {
        file: file.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmFixture {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default = "defaults::access_token_lifespan")]
    pub access_token_lifespan: u64,
    #[serde(default = "defaults::sso_session_idle")]
    pub sso_session_idle: u64,
    #[serde(default = "defaults::sso_session_max")]
    pub sso_session_max: u64,
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupFixture>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFixture {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFixture {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Extra claims, added as is to every token and to userinfo.
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// Attributes, put in tokens only by user-attribute mappers.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    Password,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFixture {
    pub client_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Public clients have no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub secret: Option<String>,
    /// Exact URIs, or a prefix ending in `*` (Keycloak's wildcard).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where logout may redirect; `+` (the default) means the redirect URIs.
    #[serde(default = "defaults::plus")]
    pub post_logout_redirect_uris: Vec<String>,
    /// CORS origins; `+` means the origins of the redirect URIs, `*` any origin.
    #[serde(default)]
    pub web_origins: Vec<String>,
    #[serde(default = "defaults::grants")]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub access_token_lifespan: Option<u64>,
    #[serde(default, rename = "mapper")]
    pub mappers: Vec<MapperFixture>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapperKind {
    HardcodedClaim,
    Audience,
    UserAttribute,
    Groups,
}

/// A protocol mapper: adds a claim to the tokens of one client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapperFixture {
    #[serde(rename = "type")]
    pub kind: MapperKind,
    /// Claim name (hardcoded-claim, user-attribute, groups).
    #[serde(default)]
    pub claim: Option<String>,
    /// Claim value (hardcoded-claim).
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    /// Audience to add to access tokens (audience).
    #[serde(default)]
    pub audience: Option<String>,
    /// User attribute to copy (user-attribute).
    #[serde(default)]
    pub attribute: Option<String>,
    /// Groups as paths (`/demo`) instead of names (groups).
    #[serde(default)]
    pub full_path: bool,
    #[serde(default = "defaults::yes")]
    pub access_token: bool,
    #[serde(default = "defaults::yes")]
    pub id_token: bool,
    #[serde(default = "defaults::yes")]
    pub userinfo: bool,
}

mod defaults {
    use super::Grant;
    pub fn access_token_lifespan() -> u64 {
        300
    }
    pub fn sso_session_idle() -> u64 {
        1800
    }
    pub fn sso_session_max() -> u64 {
        36_000
    }
    pub fn yes() -> bool {
        true
    }
    pub fn plus() -> Vec<String> {
        vec!["+".to_owned()]
    }
    pub fn jwt() -> String {
        "jwt".into()
    }
    pub fn token_ttl() -> u64 {
        3600
    }
    pub fn token_max_ttl() -> u64 {
        86_400
    }
    pub fn grants() -> Vec<Grant> {
        vec![Grant::AuthorizationCode, Grant::RefreshToken]
    }
}

/// Vault seed: mounts, JWT roles, ACL policies, secrets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultFixture {
    #[serde(default)]
    pub mounts: Vec<String>,
    #[serde(default, rename = "role")]
    pub roles: Vec<VaultRoleFixture>,
    #[serde(default, rename = "policy")]
    pub policies: Vec<VaultPolicyFixture>,
    #[serde(default, rename = "secret")]
    pub secrets: Vec<VaultSecretFixture>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultRoleFixture {
    pub name: String,
    #[serde(default = "defaults::jwt")]
    pub role_type: String,
    #[serde(default)]
    pub bound_audiences: Vec<String>,
    pub user_claim: String,
    #[serde(default)]
    pub groups_claim: Option<String>,
    #[serde(default)]
    pub token_policies: Vec<String>,
    #[serde(default = "defaults::token_ttl")]
    pub token_ttl: u64,
    #[serde(default = "defaults::token_max_ttl")]
    pub token_max_ttl: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPolicyFixture {
    pub name: String,
    #[serde(default, rename = "path")]
    pub paths: Vec<VaultPathRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPathRule {
    pub path: String,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSecretFixture {
    pub mount: String,
    pub path: String,
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// S3 seed: canned policies, static users, buckets with objects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Fixture {
    /// Create `user-<name>` for every user and `projet-<group>` for every group.
    #[serde(default)]
    pub create_user_buckets: bool,
    /// Canned policies by name, as IAM policy JSON.
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
    #[serde(default, rename = "user")]
    pub users: Vec<S3UserFixture>,
    #[serde(default, rename = "bucket")]
    pub buckets: Vec<BucketFixture>,
}

/// A static S3 user (like a MinIO user with access and secret keys).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3UserFixture {
    pub access_key: String,
    pub secret_key: String,
    #[serde(default)]
    pub policies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketFixture {
    pub name: String,
    /// Bucket policy JSON (e.g. public read of a prefix).
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default, rename = "object")]
    pub objects: Vec<ObjectFixture>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectFixture {
    pub key: String,
    /// Text content (leading newline of a TOML multi-line string removed).
    pub content: String,
    #[serde(default)]
    pub content_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserFixture>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    client: Vec<ClientFixture>,
}

/// The whole seed, validated.
#[derive(Debug, Clone)]
pub struct Fixtures {
    pub realm: RealmFixture,
    pub users: Vec<UserFixture>,
    pub clients: Vec<ClientFixture>,
    pub s3: S3Fixture,
    pub vault: VaultFixture,
}

/// Where a fixture file's text came from, for error messages.
fn read(dir: Option<&Path>, name: &str) -> Result<(String, String), FixtureError> {
    if let Some(dir) = dir {
        let path: PathBuf = dir.join(name);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| fail(&path.display().to_string(), e.to_string()))?;
            return Ok((path.display().to_string(), text));
        }
    }
    let file = BUILT_IN
        .get_file(name)
        .ok_or_else(|| fail(name, "missing from the built-in fixtures"))?;
    let text = file
        .contents_utf8()
        .ok_or_else(|| fail(name, "not UTF-8"))?
        .to_owned();
    Ok((format!("built-in fixtures/{name}"), text))
}

fn parse<T: for<'de> Deserialize<'de>>(label: &str, text: &str) -> Result<T, FixtureError> {
    toml::from_str(text).map_err(|e| fail(label, e.to_string()))
}

impl Fixtures {
    /// The built-in fixtures, each file replaced by its namesake in `dir` when present.
    pub fn load(dir: Option<&Path>) -> Result<Self, FixtureError> {
        if let Some(dir) = dir
            && !dir.is_dir()
        {
            return Err(fail(&dir.display().to_string(), "not a directory"));
        }
        let (realm_label, text) = read(dir, "realm.toml")?;
        let realm: RealmFixture = parse(&realm_label, &text)?;
        let (users_label, text) = read(dir, "users.toml")?;
        let users: UsersFile = parse(&users_label, &text)?;
        let (clients_label, text) = read(dir, "clients.toml")?;
        let clients: ClientsFile = parse(&clients_label, &text)?;
        let (s3_label, text) = read(dir, "s3.toml")?;
        let s3: S3Fixture = parse(&s3_label, &text)?;
        let (vault_label, text) = read(dir, "vault.toml")?;
        let vault: VaultFixture = parse(&vault_label, &text)?;
        let fixtures = Fixtures {
            realm,
            users: users.user,
            clients: clients.client,
            s3,
            vault,
        };
        fixtures.check(&check::Labels {
            realm: &realm_label,
            users: &users_label,
            clients: &clients_label,
            s3: &s3_label,
            vault: &vault_label,
        })?;
        Ok(fixtures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_fixtures_are_valid() {
        let f = Fixtures::load(None).unwrap();
        assert_eq!(f.realm.name, "datalab");
        assert!(f.clients.iter().any(|c| c.client_id == "onyxia-minio"));
    }

    #[test]
    fn errors_name_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("users.toml"),
            "[[user]]\nusername = \"x\"\npasword = \"y\"\n",
        )
        .unwrap();
        let err = Fixtures::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            err.contains("users.toml") && err.contains("pasword"),
            "{err}"
        );

        std::fs::write(
            dir.path().join("users.toml"),
            "[[user]]\nusername = \"x\"\npassword = \"y\"\ngroups = [\"nope\"]\n",
        )
        .unwrap();
        let err = Fixtures::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("users.toml") && err.contains("nope"), "{err}");
    }
}
