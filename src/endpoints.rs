//! Where everything is once the listeners are bound: printed as a banner, as shell
//! `KEY=value` lines (`--print-env`), as JSON (`--json`), and kept in the data directory
//! for the `token` command.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The real addresses and identifiers of a running platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    pub main_addr: SocketAddr,
    pub s3_addr: SocketAddr,
    pub vault_addr: SocketAddr,
    /// Public URL of the main listener.
    pub url: String,
    pub issuer: String,
    pub realm: String,
    pub client_id: String,
    /// S3 (and STS) endpoint URL.
    pub s3_url: String,
    pub s3_region: String,
    /// Root S3 keys (printed like `vault server -dev` prints its root token).
    pub s3_access_key: String,
    #[serde(default)]
    pub s3_secret_key: String,
    /// Vault listener URL, root token and first KV mount.
    pub vault_url: String,
    #[serde(default)]
    pub vault_token: String,
    pub vault_mount: String,
    pub data_dir: PathBuf,
    /// Demo accounts (username, password) from the fixtures, for the banner.
    #[serde(skip)]
    pub demo_users: Vec<(String, String)>,
}

/// File in the data directory recording the running server's issuer.
pub const RUNNING_FILE: &str = "running.json";

impl Endpoints {
    /// Variables test authors can rely on, in a stable order.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ONYXIA_URL", self.url.clone()),
            ("OIDC_ISSUER_URL", self.issuer.clone()),
            ("OIDC_CLIENT_ID", self.client_id.clone()),
            ("OIDC_REALM", self.realm.clone()),
            (
                "OIDC_TOKEN_URL",
                format!("{}/protocol/openid-connect/token", self.issuer),
            ),
            (
                "OIDC_JWKS_URL",
                format!("{}/protocol/openid-connect/certs", self.issuer),
            ),
            ("AWS_ENDPOINT_URL", self.s3_url.clone()),
            ("AWS_S3_ENDPOINT", self.s3_url.clone()),
            ("AWS_DEFAULT_REGION", self.s3_region.clone()),
            ("AWS_ACCESS_KEY_ID", self.s3_access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.s3_secret_key.clone()),
            ("VAULT_ADDR", self.vault_url.clone()),
            ("VAULT_TOKEN", self.vault_token.clone()),
            ("VAULT_MOUNT", self.vault_mount.clone()),
            ("ONYXIA_LITE_DATA_DIR", self.data_dir.display().to_string()),
        ]
    }

    pub fn env_lines(&self) -> String {
        self.variables()
            .into_iter()
            .map(|(k, v)| format!("{k}={}\n", shell_quote(&v)))
            .collect()
    }

    pub fn json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .variables()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    pub fn banner(&self) -> String {
        let mut out = format!(
            "\n  onyxia-lite {} is ready\n\n  Web UI and API   {}\n  OIDC issuer      {}\n  \
             S3 and STS       {} (root keys {} / {})\n  Vault (KV v2)    {} (root token {}, mount {})\n  \
             Data directory   {}\n",
            env!("CARGO_PKG_VERSION"),
            self.url,
            self.issuer,
            self.s3_url,
            self.s3_access_key,
            self.s3_secret_key,
            self.vault_url,
            self.vault_token,
            self.vault_mount,
            self.data_dir.display(),
        );
        if !self.demo_users.is_empty() {
            out.push_str("\n  Demo accounts (username / password):\n");
            for (user, password) in &self.demo_users {
                out.push_str(&format!("    {user} / {password}\n"));
            }
        }
        out.push_str("\n  Press Ctrl+C to stop.\n");
        out
    }

    /// Records the endpoints (root keys included, so 0600) for the `token` and `env` commands.
    pub fn write_running_file(&self, data_dir: &Path) -> std::io::Result<()> {
        crate::durable::write(
            &data_dir.join(RUNNING_FILE),
            &serde_json::to_vec_pretty(self).unwrap_or_default(),
            crate::durable::Access::Private,
        )
    }

    pub fn read_running_file(data_dir: &Path) -> Option<Endpoints> {
        let bytes = std::fs::read(data_dir.join(RUNNING_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Quotes a value for POSIX shells only when it needs it.
fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+,=".contains(&b));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting() {
        assert_eq!(
            super::shell_quote("http://localhost:80/x"),
            "http://localhost:80/x"
        );
        assert_eq!(super::shell_quote("a b'c"), "'a b'\\''c'");
    }
}
