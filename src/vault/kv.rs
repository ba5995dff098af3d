//! KV v2 endpoints: `/v1/<mount>/{data,metadata,delete,undelete,destroy,config,subkeys}/…`.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::{Call, VResult, VaultError, VaultState, envelope, no_content};
use crate::markup::rfc3339;
use crate::secrets::kv::{KvError, Read, SecretMeta, VersionMeta};

impl From<KvError> for VaultError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NotFound => VaultError::not_found(),
            KvError::Invalid(m) => VaultError::bad(m),
            KvError::CasMismatch | KvError::CasRequired => VaultError::bad(e.to_string()),
            KvError::Deleted(..) => VaultError::not_found(),
            KvError::Undecryptable { .. } | KvError::NotJson { .. } => {
                tracing::error!(error = %e, "a stored secret cannot be read");
                VaultError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error, see the server log",
                )
            }
            KvError::Store(e) => e.into(),
        }
    }
}

fn version_json(v: u64, m: &VersionMeta, custom: &BTreeMap<String, String>) -> Value {
    json!({
        "created_time": rfc3339(m.created),
        "custom_metadata": if custom.is_empty() { Value::Null } else { json!(custom) },
        "deletion_time": m.deletion.map(rfc3339).unwrap_or_default(),
        "destroyed": m.destroyed,
        "version": v,
    })
}

fn metadata_json(meta: &SecretMeta) -> Value {
    let versions: Map<String, Value> = meta
        .versions
        .iter()
        .map(|(v, m)| {
            (v.to_string(), json!({"created_time": rfc3339(m.created), "deletion_time": m.deletion.map(rfc3339).unwrap_or_default(), "destroyed": m.destroyed}))
        })
        .collect();
    json!({
        "cas_required": meta.cas_required,
        "created_time": rfc3339(meta.created),
        "current_version": meta.current_version,
        "custom_metadata": if meta.custom_metadata.is_empty() { Value::Null } else { json!(meta.custom_metadata) },
        "delete_version_after": meta.delete_version_after,
        "max_versions": meta.max_versions,
        "oldest_version": meta.oldest_version,
        "updated_time": rfc3339(meta.updated),
        "versions": versions,
    })
}

fn versions_of(body: &Value) -> Result<Vec<u64>, VaultError> {
    match body.get("versions") {
        Some(Value::Array(items)) if items.is_empty() => {
            Err(VaultError::bad("no version number provided"))
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| VaultError::bad("versions must be integers"))
            })
            .collect(),
        None | Some(Value::Null) => Err(VaultError::bad("no version number provided")),
        Some(_) => Err(VaultError::bad("versions must be a list")),
    }
}

/// Reads `{"data": {...}}` (or the body itself for merge patches) as a JSON object.
fn object<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Map<String, Value>, VaultError> {
    match value {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(VaultError::bad(format!("no {what} provided"))),
        Some(_) => Err(VaultError::bad(format!("{what} must be a JSON object"))),
    }
}

/// RFC 7396 merge patch.
fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let entry = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(t) = entry {
                    merge(t, p);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

fn read_response(read: Read) -> VResult {
    Ok(envelope(
        json!({"data": read.data, "metadata": version_json(read.version, &read.meta, &read.custom_metadata)}),
        Value::Null,
    ))
}

/// Which versions a `delete`, `undelete` or `destroy` call acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionAction {
    Delete,
    Undelete,
    Destroy,
}

/// The settings a mount's config and a secret's metadata share; `None` leaves one as it is.
#[derive(Debug, Default)]
struct Settings {
    max_versions: Option<u32>,
    cas_required: Option<bool>,
    delete_version_after: Option<String>,
}

/// Changes to a secret's metadata.
#[derive(Debug, Default)]
struct MetadataChange {
    settings: Settings,
    /// Entries to set (`Some`) or, in a patch, remove (`None`).
    custom: Option<Vec<(String, Option<String>)>>,
}

/// One KV v2 request, typed: the route says which, the body what.
#[derive(Debug)]
enum KvOp {
    ReadConfig,
    WriteConfig(Settings),
    Read {
        version: Option<u64>,
    },
    Write {
        data: Map<String, Value>,
        cas: Option<u64>,
    },
    Patch {
        data: Map<String, Value>,
        cas: Option<u64>,
    },
    DeleteLatest,
    Versions(VersionAction, Vec<u64>),
    List,
    ReadMetadata,
    WriteMetadata {
        patch: bool,
        change: MetadataChange,
    },
    DeleteMetadata,
    Subkeys,
}

/// The route part of a request: enough to check the ACL before reading the body, as Vault
/// checks policies before its backends see a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    ReadConfig,
    WriteConfig,
    Read,
    Write,
    Patch,
    DeleteLatest,
    Versions(VersionAction),
    List,
    ReadMetadata,
    WriteMetadata { patch: bool },
    DeleteMetadata,
    Subkeys,
}

impl Route {
    fn of(call: &Call, op: &str) -> Result<Route, VaultError> {
        let m = &call.method;
        let write = *m == Method::POST || *m == Method::PUT;
        let patch = *m == Method::PATCH;
        Ok(match op {
            "config" if *m == Method::GET => Route::ReadConfig,
            "config" if write => Route::WriteConfig,
            "data" if *m == Method::GET && !call.list => Route::Read,
            "data" if write => Route::Write,
            "data" if patch => Route::Patch,
            "data" if *m == Method::DELETE => Route::DeleteLatest,
            "delete" if write => Route::Versions(VersionAction::Delete),
            "undelete" if write => Route::Versions(VersionAction::Undelete),
            "destroy" if write => Route::Versions(VersionAction::Destroy),
            "metadata" if call.list => Route::List,
            "metadata" if *m == Method::GET => Route::ReadMetadata,
            "metadata" if write || patch => Route::WriteMetadata { patch },
            "metadata" if *m == Method::DELETE => Route::DeleteMetadata,
            "subkeys" if *m == Method::GET => Route::Subkeys,
            _ => return Err(unsupported()),
        })
    }
}

/// A KV request for `<mount>/<op>/<path>`.
struct KvRequest<'a> {
    mount: &'a str,
    op: &'a str,
    path: String,
    route: Route,
}

pub fn kv(state: &VaultState, call: &Call, mount: &str, rest: &[&str]) -> VResult {
    let caller = state.caller(call)?;
    let (op, path) = match rest {
        [op, path @ ..] => (*op, path.join("/")),
        [] => return Err(VaultError::not_found()),
    };
    let request = KvRequest {
        mount,
        op,
        path,
        route: Route::of(call, op)?,
    };
    request.authorize(state, &caller)?;
    let operation = request.parse(call)?;
    request.apply(state, operation)
}

impl KvRequest<'_> {
    fn acl_path(&self) -> String {
        format!("{}/{}/{}", self.mount, self.op, self.path)
    }

    /// The policy check, once for every operation.
    fn authorize(&self, state: &VaultState, caller: &super::Caller) -> Result<(), VaultError> {
        let acl_path = self.acl_path();
        let config = format!("{}/config", self.mount);
        match self.route {
            Route::ReadConfig => state.require(caller, &config, &["read"]),
            Route::WriteConfig => state.require(caller, &config, &["update", "create"]),
            Route::Read | Route::ReadMetadata | Route::Subkeys => {
                state.require(caller, &acl_path, &["read"])
            }
            Route::Write => {
                let exists = state
                    .kv
                    .metadata(self.mount, &self.path)
                    .is_ok_and(|meta| meta.current_version > 0);
                let needed: &[&str] = if exists { &["update"] } else { &["create"] };
                state.require(caller, &acl_path, needed)
            }
            Route::Patch | Route::WriteMetadata { patch: true } => {
                state.require(caller, &acl_path, &["patch"])
            }
            Route::WriteMetadata { patch: false } => {
                state.require(caller, &acl_path, &["update", "create"])
            }
            Route::DeleteLatest | Route::DeleteMetadata => {
                state.require(caller, &acl_path, &["delete"])
            }
            Route::Versions(_) => state.require(caller, &acl_path, &["update"]),
            Route::List => {
                // Vault checks a LIST path with a trailing slash against globs, and without
                // it against exact rules.
                let trimmed = acl_path.trim_end_matches('/');
                state
                    .require(caller, &format!("{trimmed}/"), &["list"])
                    .or_else(|_| state.require(caller, trimmed, &["list"]))
            }
        }
    }

    /// The body and query read into the typed operation; nothing is changed yet.
    fn parse(&self, call: &Call) -> Result<KvOp, VaultError> {
        let body = &call.body;
        Ok(match self.route {
            Route::ReadConfig => KvOp::ReadConfig,
            Route::WriteConfig => KvOp::WriteConfig(Settings::read(body, false)?),
            Route::Read => KvOp::Read {
                version: match call.query("version") {
                    Some(v) => Some(
                        v.parse::<u64>()
                            .map_err(|_| VaultError::bad("version must be an integer"))?,
                    ),
                    None => None,
                },
            },
            Route::Write | Route::Patch => {
                let data = object(body.get("data"), "data")?.clone();
                let cas = match body.get("options").and_then(|o| o.get("cas")) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_u64()
                            .ok_or_else(|| VaultError::bad("cas must be an integer"))?,
                    ),
                };
                if self.route == Route::Patch {
                    KvOp::Patch { data, cas }
                } else {
                    KvOp::Write { data, cas }
                }
            }
            Route::DeleteLatest => KvOp::DeleteLatest,
            Route::Versions(action) => KvOp::Versions(action, versions_of(body)?),
            Route::List => KvOp::List,
            Route::ReadMetadata => KvOp::ReadMetadata,
            Route::WriteMetadata { patch } => KvOp::WriteMetadata {
                patch,
                change: metadata_change(body, patch)?,
            },
            Route::DeleteMetadata => KvOp::DeleteMetadata,
            Route::Subkeys => KvOp::Subkeys,
        })
    }

    fn apply(&self, state: &VaultState, operation: KvOp) -> VResult {
        let (kv, mount, path) = (&state.kv, self.mount, self.path.as_str());
        match operation {
            KvOp::ReadConfig => {
                let c = kv.config(mount)?;
                Ok(envelope(
                    json!({"cas_required": c.cas_required, "delete_version_after": c.delete_version_after, "max_versions": c.max_versions}),
                    Value::Null,
                ))
            }
            KvOp::WriteConfig(settings) => {
                let mut c = kv.config(mount)?;
                settings.apply(
                    &mut c.max_versions,
                    &mut c.cas_required,
                    &mut c.delete_version_after,
                );
                kv.set_config(mount, c)?;
                Ok(no_content())
            }
            KvOp::Read { version } => match kv.read(mount, path, version) {
                Ok(read) => read_response(read),
                // A deleted or destroyed version: 404 with its metadata, as Vault answers.
                Err(KvError::Deleted(meta, v, custom)) => Ok((
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"request_id": uuid::Uuid::new_v4().to_string(), "lease_id": "", "renewable": false, "lease_duration": 0,
                        "data": {"data": null, "metadata": version_json(v, &meta, &custom)}, "wrap_info": null, "warnings": null, "auth": null})),
                )
                    .into_response()),
                Err(e) => Err(e.into()),
            },
            KvOp::Write { data, cas } => {
                let (version, meta, custom) = kv.write(mount, path, &data, cas)?;
                Ok(envelope(version_json(version, &meta, &custom), Value::Null))
            }
            KvOp::Patch { data, cas } => {
                let current = kv.read(mount, path, None)?;
                let mut merged = current.data;
                merge(&mut merged, &data);
                let (version, meta, custom) =
                    kv.write(mount, path, &merged, cas.or(Some(current.version)))?;
                Ok(envelope(version_json(version, &meta, &custom), Value::Null))
            }
            KvOp::DeleteLatest => {
                kv.delete(mount, path, &[])?;
                Ok(no_content())
            }
            KvOp::Versions(action, versions) => {
                match action {
                    VersionAction::Delete => kv.delete(mount, path, &versions)?,
                    VersionAction::Undelete => kv.undelete(mount, path, &versions)?,
                    VersionAction::Destroy => kv.destroy(mount, path, &versions)?,
                }
                Ok(no_content())
            }
            KvOp::List => {
                let prefix = if path.is_empty() || path.ends_with('/') {
                    path.to_owned()
                } else {
                    format!("{path}/")
                };
                let keys = kv.list(mount, &prefix)?;
                if keys.is_empty() {
                    return Err(VaultError::not_found());
                }
                Ok(envelope(json!({"keys": keys}), Value::Null))
            }
            KvOp::ReadMetadata => Ok(envelope(
                metadata_json(&kv.metadata(mount, path)?),
                Value::Null,
            )),
            KvOp::WriteMetadata { patch, change } => {
                kv.update_metadata(mount, path, |meta| apply_metadata(meta, patch, change))?;
                Ok(no_content())
            }
            KvOp::DeleteMetadata => {
                kv.delete_all(mount, path)?;
                Ok(no_content())
            }
            KvOp::Subkeys => {
                let read = kv.read(mount, path, None)?;
                let subkeys = keys_of(&Value::Object(read.data.clone()));
                Ok(envelope(
                    json!({"subkeys": subkeys, "metadata": version_json(read.version, &read.meta, &read.custom_metadata)}),
                    Value::Null,
                ))
            }
        }
    }
}

/// The nested keys of a secret, their values replaced by null.
fn keys_of(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), keys_of(v))).collect()),
        _ => Value::Null,
    }
}

impl Settings {
    /// Reads the settings of a body, validating each before anything changes. Metadata bodies
    /// may send `null` for "leave it" (`null_leaves`); the mount config refuses a null.
    fn read(body: &Value, null_leaves: bool) -> Result<Self, VaultError> {
        let given = |name: &str| body.get(name).filter(|v| !(null_leaves && v.is_null()));
        let max_versions =
            match given("max_versions") {
                None => None,
                Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || VaultError::bad("max_versions must be a small non-negative integer"),
                )?),
            };
        let cas_required = match given("cas_required") {
            None => None,
            Some(v) => Some(
                v.as_bool()
                    .ok_or_else(|| VaultError::bad("cas_required must be a boolean"))?,
            ),
        };
        let delete_version_after = body
            .get("delete_version_after")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Settings {
            max_versions,
            cas_required,
            delete_version_after,
        })
    }

    fn apply(self, max_versions: &mut u32, cas_required: &mut bool, delete_after: &mut String) {
        if let Some(n) = self.max_versions {
            *max_versions = n;
        }
        if let Some(b) = self.cas_required {
            *cas_required = b;
        }
        if let Some(d) = self.delete_version_after {
            *delete_after = d;
        }
    }
}

/// Reads a metadata body, validating every field before anything changes.
fn metadata_change(body: &Value, patch: bool) -> Result<MetadataChange, VaultError> {
    let custom = match body.get("custom_metadata") {
        None => None,
        Some(Value::Object(map)) => Some(
            map.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), Some(s.clone()))),
                    Value::Null if patch => Ok((k.clone(), None)),
                    _ => Err(VaultError::bad("custom_metadata values must be strings")),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::Null) => Some(Vec::new()),
        Some(_) => return Err(VaultError::bad("custom_metadata must be an object")),
    };
    Ok(MetadataChange {
        settings: Settings::read(body, true)?,
        custom,
    })
}

fn apply_metadata(meta: &mut SecretMeta, patch: bool, change: MetadataChange) {
    change.settings.apply(
        &mut meta.max_versions,
        &mut meta.cas_required,
        &mut meta.delete_version_after,
    );
    if let Some(entries) = change.custom {
        if !patch {
            meta.custom_metadata.clear();
        }
        for (k, v) in entries {
            match v {
                Some(v) => meta.custom_metadata.insert(k, v),
                None => meta.custom_metadata.remove(&k),
            };
        }
    }
}

fn unsupported() -> VaultError {
    VaultError::new(StatusCode::METHOD_NOT_ALLOWED, "unsupported operation")
}
