//! Configuration: layered built-in defaults → TOML file → `ONYXIA_LITE_*` env → command-line flags.
//!
//! Every option is declared once below (doc, type, default); env names derive from the key.

pub mod fixtures;
pub mod options;
pub mod value;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use options::{OptionDoc, config_section};
pub use value::{RuntimeKind, Secret, SigningAlgorithm, ValueError};

config_section! {
    /// The whole configuration of one platform.
    pub struct Config {
        /// Address every listener binds to. Use 0.0.0.0 to accept connections from other machines.
        bind: IpAddr = "127.0.0.1",
        /// Port of the main listener (web UI, Onyxia API, OIDC issuer, service proxy). 0 picks a free port.
        port: u16 = "8080",
        /// Port of the S3 and STS listener. 0 picks a free port.
        s3_port: u16 = "9000",
        /// Port of the Vault-compatible listener. 0 picks a free port.
        vault_port: u16 = "8200",
        /// URL browsers and clients use to reach the main listener, without trailing slash. Empty: http://localhost:<port> when bound to loopback or all addresses, else http://<bind>:<port>. The OIDC issuer is <public_url>/realms/<realm>.
        public_url: Option<String> = "",
        /// URL clients use to reach the S3 and STS listener (printed, and given to the web UI), e.g. where a container's port is published. Empty: http://<host>:<s3_port> as for public_url.
        s3_public_url: Option<String> = "",
        /// URL clients use to reach the Vault listener (printed, and given to the web UI). Empty: http://<host>:<vault_port> as for public_url.
        vault_public_url: Option<String> = "",
        /// Directory for the database, object files and keys. Empty: $XDG_DATA_HOME/onyxia-lite (~/.local/share/onyxia-lite).
        data_dir: Option<PathBuf> = "",
        /// Use a temporary data directory that is deleted at exit (overrides data_dir).
        ephemeral: bool = "false",
        /// Directory whose realm.toml, users.toml and clients.toml replace the built-in fixtures of the same name.
        fixtures: Option<PathBuf> = "",
        /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `onyxia_lite=debug`.
        log: String = "info",
        /// Largest request body accepted by the main listener's form and JSON endpoints, in bytes.
        max_body_bytes: usize = "1048576",
        /// Connections each listener holds at once; more wait until one closes. 0: three quarters of the open-file limit (raised to its hard limit at start), shared between the listeners.
        max_connections: usize = "0",
        /// Seconds a client has to send a request's headers, counted from the connection's start or the end of its previous response (so it also bounds idle keep-alive connections).
        header_read_timeout_seconds: u64 = "30",
        /// Seconds a request body may pause between two chunks, and a response may wait for the client to read, before the connection is closed.
        idle_timeout_seconds: u64 = "60",
    }
    sections { oidc: OidcConfig, passwords: PasswordConfig, s3: S3Config, vault: VaultConfig, onyxia: OnyxiaConfig, web: WebConfig, runtime: RuntimeConfig, culling: CullingConfig }
}

config_section! {
    /// The Onyxia API, its catalogs, and the services it launches.
    pub struct OnyxiaConfig {
        /// JSON file with the operator's Onyxia regions (an array, as onyxia-api's `regions` property), replacing the generated region. Empty: one region pointing at this platform's own issuer, S3 and Vault.
        regions: Option<PathBuf> = "",
        /// Directory of more catalogs (one catalog with a catalog.toml, or a directory of them), added to the built-in ones; a catalog with a built-in id replaces it.
        catalog: Option<PathBuf> = "",
        /// Directory of JSON schemas that `x-onyxia.overwriteSchemaWith` and named `$ref`s in values.schema.json refer to (e.g. ide/resources.json).
        schemas: Option<PathBuf> = "",
        /// Domain of service URLs: a service answers at http://<release>.<domain>:<port> on the main listener. Browsers resolve *.localhost to this machine.
        expose_domain: String = "localhost",
        /// One project for everybody (onyxia's singleNamespace) instead of a personal project per user and a project per group.
        single_namespace: bool = "false",
        /// Container engine address (unix:///path or tcp://host:port). Empty: detect DOCKER_HOST, Docker's socket, then rootful and rootless Podman. `none`: launch nothing.
        docker_host: Option<String> = "",
        /// Quota of the generated region, per project: services running at once.
        quota_services: u32 = "20",
        /// Quota of the generated region, per project: total CPU requests (e.g. 8 or 4000m). Empty: no limit.
        quota_cpu: Option<String> = "",
        /// Quota of the generated region, per project: total memory requests (e.g. 16Gi). Empty: no limit.
        quota_memory: Option<String> = "",
        /// Alias of oidc.external_issuer (kept for existing configurations).
        external_issuer: Option<String> = "",
    }
}

config_section! {
    /// Where services run: a container engine (onyxia.docker_host) or a Kubernetes cluster. See docs/KUBERNETES.md.
    pub struct RuntimeConfig {
        /// docker: a container engine (Docker, Podman). kube: a Kubernetes cluster, reached in a pod with its service account, else with KUBECONFIG or ~/.kube/config. auto: the cluster when running in a pod, else a container engine.
        kind: RuntimeKind = "auto",
        /// Kubeconfig file of the kube runtime. Empty: KUBECONFIG, else ~/.kube/config (or the pod's service account inside a cluster).
        kubeconfig: Option<PathBuf> = "",
        /// Context of the kubeconfig to use. Empty: its current context.
        kube_context: Option<String> = "",
        /// Address (host or IP) pods reach this platform's S3, Vault and issuer at. Empty: detected for Kind (the `kind` network's gateway), none elsewhere: set it (e.g. the platform's Service name when it runs in the cluster).
        kube_platform_host: Option<String> = "",
        /// Make an Ingress per service on the region's expose domain (ignored while it is localhost).
        kube_ingress: bool = "true",
        /// Ingress class of the services' Ingresses. Empty: the cluster's default class.
        kube_ingress_class: Option<String> = "",
        /// TLS secret (in each project namespace) the services' Ingresses use. Empty: plain HTTP.
        kube_tls_secret: Option<String> = "",
        /// Storage class of the services' persistent volume claims. Empty: the cluster's default.
        kube_storage_class: Option<String> = "",
        /// Size of a persistent volume claim whose launch template names none (a Kubernetes quantity).
        kube_volume_size: String = "10Gi",
        /// Put a ResourceQuota in each project namespace with the region's quotas (onyxia.quota_*), so the cluster enforces them too.
        kube_namespace_quota: bool = "false",
        /// Show course buckets as read-only folders in Docker/Podman services, by bind-mounting their copies under the data directory. Needs the engine on this machine's filesystem (a TCP engine never gets them): turn it off when onyxia-lite runs in a container; services then read courses through S3.
        course_mounts: bool = "true",
    }
}

config_section! {
    /// Idle culling of services (see docs/CLASSES.md): these are the defaults, which a catalog's `culling` and a class's limits override.
    pub struct CullingConfig {
        /// Suspend a service after this many minutes without use: no page load, write or WebSocket message through the proxy, and its CPU below cpu_threshold. 0: never.
        idle_minutes: u64 = "0",
        /// Delete a service (suspended or not) this many hours after its launch. 0: never.
        max_age_hours: u64 = "0",
        /// CPU use (a Kubernetes quantity) under which a service counts as idle.
        cpu_threshold: String = "50m",
        /// Seconds between two looks at the services.
        interval_seconds: u64 = "60",
    }
}

config_section! {
    /// The web UI served at the main listener's root.
    pub struct WebConfig {
        /// Let launcher links with `autoLaunch=true` start a service as soon as the user is logged in (Onyxia's classroom links). false: the launcher shows the link's values and asks the user to confirm (like onyxia-web's DISABLE_AUTO_LAUNCH).
        auto_launch: bool = "true",
        /// Directory of a prebuilt official onyxia-web (its `dist/`), served at / instead of the embedded UI, with this platform's settings written into its index.html. Empty: the embedded UI.
        root: Option<PathBuf> = "",
    }
}

config_section! {
    /// The OpenID Connect issuer.
    pub struct OidcConfig {
        /// Algorithm of the signing key: RS256 (like Keycloak) or ES256.
        signing_algorithm: SigningAlgorithm = "RS256",
        /// PEM private key (PKCS#8) to sign tokens with, matching signing_algorithm. Empty: a key is generated once and kept in <data_dir>/keys (mode 0600).
        signing_key: Option<Secret> = "",
        /// Allow the resource-owner password grant for clients that list it (handy for scripts and demos).
        password_grant: bool = "true",
        /// Lifetime of an authorization code, in seconds.
        code_lifespan_seconds: u64 = "60",
        /// Failed logins allowed per username within the failure window before further attempts are refused.
        login_failures_per_user: u32 = "5",
        /// Failed logins allowed per client address within the failure window before further attempts are refused.
        login_failures_per_address: u32 = "20",
        /// Length of the failed-login window, in seconds.
        login_failure_window_seconds: u64 = "300",
        /// Issuer URL of an external OpenID provider (e.g. a Keycloak realm), found through its discovery document. When set, the Onyxia API accepts only its tokens (client onyxia) and the web logs in there; STS and Vault's JWT login accept its tokens besides the embedded issuer's. See docs/CONFIG.md#tokens. Empty: only the embedded issuer.
        external_issuer: Option<String> = "",
    }
}

config_section! {
    /// The S3 and STS listener.
    pub struct S3Config {
        /// Region reported to clients (GetBucketLocation, STS) and expected in signatures.
        region: String = "us-east-1",
        /// Access key of the root user, who may do everything (like MinIO's root user).
        root_access_key: String = "onyxia-admin",
        /// Secret key of the root user.
        root_secret_key: Secret = "onyxia-admin-secret",
        /// Domain for virtual-host-style requests (`<bucket>.<domain>`). Empty: path style only.
        domain: Option<String> = "",
        /// Largest object accepted, in bytes (single PUT, copy, or the sum of a multipart upload's parts).
        max_object_size: u64 = "5497558138880",
        /// Largest file a browser POST upload (a form with a signed policy) may carry, in bytes. The file is held in memory while its policy is checked; larger files take a multipart upload.
        max_post_object_size: u64 = "134217728",
        /// Seconds between two applications of the buckets' lifecycle rules (expirations, aborts of unfinished multipart uploads).
        lifecycle_sweep_seconds: u64 = "3600",
        /// Client whose tokens STS accepts: the token's `aud` must contain it or its `azp` must equal it.
        sts_client_id: String = "onyxia-minio",
        /// Longest lifetime of STS credentials, in seconds (DurationSeconds above it is refused).
        sts_max_duration_seconds: u64 = "604800",
        /// Alias of oidc.external_issuer (kept for existing configurations).
        sts_external_issuer: Option<String> = "",
        /// Token claim naming the canned policies of an STS session (string, list or comma-separated).
        policy_claim: String = "policy",
    }
}

config_section! {
    /// The Vault-compatible listener.
    pub struct VaultConfig {
        /// Root token, allowed everything (like `vault server -dev`'s root token).
        root_token: Secret = "onyxia-root-token",
        /// Mount path of the JWT auth method (`/v1/auth/<path>/login`).
        jwt_path: String = "jwt",
        /// Role used when a JWT login names none.
        default_role: String = "onyxia-user",
        /// Alias of oidc.external_issuer (kept for existing configurations).
        jwt_external_issuer: Option<String> = "",
    }
}

config_section! {
    /// Password hashing (argon2id) of user passwords.
    pub struct PasswordConfig {
        /// argon2id memory cost in KiB.
        argon2_memory_kib: u32 = "19456",
        /// argon2id iterations (time cost).
        argon2_iterations: u32 = "2",
        /// argon2id parallelism (lanes).
        argon2_parallelism: u32 = "1",
    }
}

/// What went wrong while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("environment variable {name}: {source}")]
    Env {
        name: String,
        #[source]
        source: ValueError,
    },
    #[error("environment variable {name}: cannot read {file}: {source}")]
    EnvFile {
        name: String,
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("option {key}: {source}")]
    Value {
        key: String,
        #[source]
        source: ValueError,
    },
    /// A value out of its range or shape; the message says which.
    #[error("option {key}: {message}")]
    Invalid { key: String, message: String },
}

/// A configuration together with the warnings collected while loading it.
pub struct Loaded {
    pub config: Config,
    /// Things worth telling the user once logging is up (e.g. unknown env variables).
    pub warnings: Vec<String>,
}

impl Config {
    /// Every option, for help text and docs.
    pub fn all_options() -> Vec<OptionDoc> {
        Self::options("")
    }

    /// Loads layers in order: defaults, `file`, variables of `env` named `ONYXIA_LITE_*`, then
    /// `flags` (dotted key, text) from the command line.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, String)],
    ) -> Result<Loaded, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        let warnings = config.apply_env(env)?;
        for (key, text) in flags {
            config.set(key, text).map_err(|source| ConfigError::Value {
                key: (*key).to_owned(),
                source,
            })?;
        }
        config.validate()?;
        Ok(Loaded { config, warnings })
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::File {
            path: path.to_owned(),
            source,
        })
    }

    fn apply_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<String>, ConfigError> {
        let options = Self::all_options();
        let mut warnings = Vec::new();
        for (name, value) in env {
            // ONYXIA_LITE_BIN (the binary benchmarks and test fixtures run) and ONYXIA_LITE_TEST_*
            // belong to tools around onyxia-lite, not to its configuration.
            if !name.starts_with("ONYXIA_LITE_")
                || name == "ONYXIA_LITE_BIN"
                || name.starts_with("ONYXIA_LITE_TEST_")
            {
                continue;
            }
            let direct = options.iter().find(|o| o.env_name() == name);
            // Secrets can also come from a file: ONYXIA_LITE_X_FILE=/run/secrets/x.
            let from_file = options
                .iter()
                .find(|o| o.secret && format!("{}_FILE", o.env_name()) == name);
            let (key, text) = match (direct, from_file) {
                (Some(option), _) => (option.key.clone(), value),
                (None, Some(option)) => {
                    let text =
                        std::fs::read_to_string(&value).map_err(|source| ConfigError::EnvFile {
                            name: name.clone(),
                            file: value.clone(),
                            source,
                        })?;
                    (option.key.clone(), text.trim_end().to_owned())
                }
                (None, None) => {
                    warnings.push(format!("ignoring unknown environment variable {name}"));
                    continue;
                }
            };
            self.set(&key, &text)
                .map_err(|source| ConfigError::Env { name, source })?;
        }
        Ok(warnings)
    }

    /// Sets one option by dotted key.
    pub fn set(&mut self, key: &str, text: &str) -> Result<(), ValueError> {
        self.set_text(key, text)
            .unwrap_or_else(|| Err(ValueError::UnknownOption(key.to_owned())))
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        // An empty value in the file means "unset", as it does in the environment.
        for dir in [
            &mut self.data_dir,
            &mut self.fixtures,
            &mut self.runtime.kubeconfig,
        ] {
            if dir.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
                *dir = None;
            }
        }
        if self
            .oidc
            .signing_key
            .as_ref()
            .is_some_and(|k| k.expose().is_empty())
        {
            self.oidc.signing_key = None;
        }
        let o = &self.oidc;
        for (key, value, min, max) in [
            (
                "oidc.code_lifespan_seconds",
                o.code_lifespan_seconds,
                1,
                3_600,
            ),
            (
                "oidc.login_failure_window_seconds",
                o.login_failure_window_seconds,
                1,
                86_400,
            ),
            (
                "oidc.login_failures_per_user",
                u64::from(o.login_failures_per_user),
                1,
                1_000_000,
            ),
            (
                "oidc.login_failures_per_address",
                u64::from(o.login_failures_per_address),
                1,
                1_000_000,
            ),
            ("max_body_bytes", self.max_body_bytes as u64, 1_024, 1 << 30),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    message: format!("must be between {min} and {max}, got {value}"),
                });
            }
        }
        for (key, url) in [
            ("public_url", &mut self.public_url),
            ("s3_public_url", &mut self.s3_public_url),
            ("vault_public_url", &mut self.vault_public_url),
        ] {
            *url = root_url(key, url.take())?;
        }
        if self.passwords.argon2_memory_kib < 8 * self.passwords.argon2_parallelism.max(1) {
            return Err(ConfigError::Invalid {
                key: "passwords.argon2_memory_kib".into(),
                message: "must be at least 8 × argon2_parallelism".into(),
            });
        }
        if crate::catalog::values::cpu_millis(&serde_json::Value::String(
            self.culling.cpu_threshold.clone(),
        ))
        .is_err()
        {
            return Err(ConfigError::Invalid {
                key: "culling.cpu_threshold".into(),
                message: format!(
                    "must be a CPU quantity such as 50m, got `{}`",
                    self.culling.cpu_threshold
                ),
            });
        }
        if self.culling.interval_seconds == 0 {
            return Err(ConfigError::Invalid {
                key: "culling.interval_seconds".into(),
                message: "must be at least 1".into(),
            });
        }
        if !crate::runtime::kube::names::is_quantity(&self.runtime.kube_volume_size) {
            return Err(ConfigError::Invalid {
                key: "runtime.kube_volume_size".into(),
                message: format!(
                    "must be a Kubernetes quantity such as 10Gi, got `{}`",
                    self.runtime.kube_volume_size
                ),
            });
        }
        Ok(())
    }

    /// Every option with its current value, secrets masked: safe to print or log.
    pub fn shown(&self) -> Vec<(String, String)> {
        self.shown_values("")
    }

    /// The data directory when not ephemeral: the configured one or the XDG default.
    pub fn persistent_data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("onyxia-lite")
    }

    /// The main listener's public base URL once its real port is known.
    pub fn public_base_url(&self, main_port: u16) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = if self.bind.is_loopback() || self.bind.is_unspecified() {
            "localhost".to_owned()
        } else {
            match self.bind {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            }
        };
        format!("http://{host}:{main_port}")
    }

    /// The one external issuer: `oidc.external_issuer`, or one of its aliases
    /// (`onyxia.external_issuer`, `s3.sts_external_issuer`, `vault.jwt_external_issuer`). Two
    /// different values are a configuration error: the platform trusts one external provider.
    pub fn external_issuer(&self) -> Result<Option<String>, String> {
        let named = [
            ("oidc.external_issuer", &self.oidc.external_issuer),
            ("onyxia.external_issuer", &self.onyxia.external_issuer),
            ("s3.sts_external_issuer", &self.s3.sts_external_issuer),
            ("vault.jwt_external_issuer", &self.vault.jwt_external_issuer),
        ];
        let mut chosen: Option<(&str, String)> = None;
        for (name, value) in named {
            let Some(value) = value.as_deref().map(|v| v.trim_end_matches('/')) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            match &chosen {
                Some((first, url)) if url != value => {
                    return Err(format!(
                        "{first} is {url} but {name} is {value}: set oidc.external_issuer once"
                    ));
                }
                Some(_) => {}
                None => chosen = Some((name, value.to_owned())),
            }
        }
        Ok(chosen.map(|(_, url)| url))
    }
}

/// A public URL option: unset when empty, else an http(s) URL of a host's root, without its
/// trailing slash (cookie paths, form actions and path-style S3 assume the root of the host).
fn root_url(key: &str, url: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let trimmed = url.trim_end_matches('/').to_owned();
    let invalid = |message: &str| ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    };
    let parsed = url::Url::parse(&trimmed)
        .map_err(|e| invalid(&format!("`{trimmed}` is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid("must be an http:// or https:// URL with a host"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(
            "must not have a path or query (serve onyxia-lite at the root of its host)",
        ));
    }
    Ok(Some(trimmed))
}
/// Markdown table of every option, as in docs/CONFIG.md.
pub fn options_markdown() -> String {
    let mut out = String::from("| key | env | default | description |\n|---|---|---|---|\n");
    for option in Config::all_options() {
        let default = if option.default.is_empty() {
            "(unset)".to_owned()
        } else {
            format!("`{}`", option.default)
        };
        let secret = if option.secret {
            " Secret: masked when shown."
        } else {
            ""
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {}{} |\n",
            option.key,
            option.env_name(),
            default,
            option.doc.replace('|', "\\|"),
            secret
        ));
    }
    out
}

/// Plain-text list of every option for `serve --help`.
pub fn options_help() -> String {
    let mut out =
        String::from("Configuration (defaults → --config FILE → ONYXIA_LITE_* env → flags):\n");
    for option in Config::all_options() {
        let default = if option.default.is_empty() {
            "unset"
        } else {
            option.default
        };
        out.push_str(&format!(
            "  {} [env {}] (default: {})\n      {}\n",
            option.key,
            option.env_name(),
            default,
            option.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "port = 1000\ns3_port = 1001\n[oidc]\npassword_grant = false\n",
        )
        .unwrap();
        let env = vec![
            ("ONYXIA_LITE_S3_PORT".to_owned(), "2001".to_owned()),
            ("ONYXIA_LITE_VAULT_PORT".to_owned(), "2002".to_owned()),
            ("ONYXIA_LITE_NOPE".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let loaded = Config::load(Some(&file), env, &[("vault_port", "3002".into())]).unwrap();
        let c = loaded.config;
        assert_eq!((c.port, c.s3_port, c.vault_port), (1000, 2001, 3002));
        assert!(!c.oidc.password_grant);
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("ONYXIA_LITE_NOPE"));
    }

    #[test]
    fn unknown_file_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[oidc]\npasword_grant = false\n").unwrap();
        let err = Config::load(Some(&file), vec![], &[])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("pasword_grant"), "{err}");
        assert!(err.contains("c.toml"), "{err}");
    }

    #[test]
    fn secrets_are_masked_and_defaults_parse() {
        let mut c = Config::default();
        c.set("oidc.signing_key", "-----BEGIN PRIVATE KEY-----")
            .unwrap();
        let shown = c.shown();
        let key = shown.iter().find(|(k, _)| k == "oidc.signing_key").unwrap();
        assert_eq!(key.1, "********");
        assert!(!format!("{c:?}").contains("BEGIN PRIVATE"));
        assert!(Config::all_options().iter().any(|o| o.secret));
    }

    #[test]
    fn empty_file_values_mean_unset_and_bounds_hold() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "public_url = \"\"\ndata_dir = \"\"\n").unwrap();
        let c = Config::load(Some(&file), vec![], &[]).unwrap().config;
        assert!(c.public_url.is_none() && c.data_dir.is_none());
        let err = Config::load(None, vec![], &[("oidc.code_lifespan_seconds", "0".into())]);
        assert!(err.err().unwrap().to_string().contains("between 1 and"));
        let err = Config::load(None, vec![], &[("public_url", "http://h/sub".into())]);
        assert!(err.err().unwrap().to_string().contains("path"));
    }

    #[test]
    fn listener_public_urls_are_roots_of_http_hosts() {
        let env = vec![
            (
                "ONYXIA_LITE_S3_PUBLIC_URL".to_owned(),
                "http://localhost:19000/".to_owned(),
            ),
            ("ONYXIA_LITE_VAULT_PUBLIC_URL".to_owned(), String::new()),
        ];
        let c = Config::load(None, env, &[]).unwrap().config;
        assert_eq!(c.s3_public_url.as_deref(), Some("http://localhost:19000"));
        assert!(c.vault_public_url.is_none());
        for (key, value, says) in [
            ("s3_public_url", "localhost:9000", "http"),
            ("vault_public_url", "ftp://h", "http"),
            ("vault_public_url", "http://h/v1", "path"),
            ("s3_public_url", "not a url", "not a URL"),
        ] {
            let err = Config::load(None, vec![], &[(key, value.into())])
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(key) && err.contains(says), "{err}");
        }
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let env = vec![("ONYXIA_LITE_PORT".to_owned(), "eighty".to_owned())];
        let err = Config::load(None, env, &[]).err().unwrap().to_string();
        assert!(err.contains("ONYXIA_LITE_PORT"), "{err}");
    }

    #[test]
    fn only_unknown_settings_are_warned_about() {
        let env = [
            ("ONYXIA_LITE_BIN", "/bin/onyxia-lite"),
            ("ONYXIA_LITE_TEST_KUBECONFIG", "/kube"),
            ("ONYXIA_LITE_PROT", "8080"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let loaded = Config::load(None, env.to_vec(), &[]).unwrap();
        assert_eq!(
            loaded.warnings,
            ["ignoring unknown environment variable ONYXIA_LITE_PROT"]
        );
    }
}
