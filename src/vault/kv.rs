//! KV v2 endpoints: `/v1/<mount>/{data,metadata,delete,undelete,destroy,config,subkeys}/…`.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::{Call, VResult, VaultError, VaultState, envelope, no_content};
use crate::markup::rfc3339;
use crate::secrets::kv::{KvError, MountConfig, Read, SecretMeta, VersionMeta};

impl From<KvError> for VaultError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NotFound => VaultError::not_found(),
            KvError::Invalid(m) => VaultError::bad(m),
            KvError::CasMismatch | KvError::CasRequired => VaultError::bad(e.to_string()),
            KvError::Deleted(..) => VaultError::not_found(),
            KvError::Corrupt(m) => {
                tracing::error!(error = m, "a stored secret cannot be read");
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

pub fn kv(state: &VaultState, call: &Call, mount: &str, rest: &[&str]) -> VResult {
    let caller = state.caller(call)?;
    let (op, path) = match rest {
        [op, path @ ..] => (*op, path.join("/")),
        [] => return Err(VaultError::not_found()),
    };
    let acl_path = format!("{mount}/{op}/{path}");
    let m = &call.method;
    let is_write = *m == Method::POST || *m == Method::PUT;
    match op {
        "config" => {
            if *m == Method::GET {
                state.require(&caller, &format!("{mount}/config"), &["read"])?;
                let c = state.kv.config(mount)?;
                return Ok(envelope(
                    json!({"cas_required": c.cas_required, "delete_version_after": c.delete_version_after, "max_versions": c.max_versions}),
                    Value::Null,
                ));
            }
            if is_write {
                state.require(&caller, &format!("{mount}/config"), &["update", "create"])?;
                let mut c = state.kv.config(mount)?;
                if let Some(v) = call.body.get("max_versions") {
                    c.max_versions =
                        v.as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| {
                                VaultError::bad("max_versions must be a small non-negative integer")
                            })?;
                }
                if let Some(v) = call.body.get("cas_required") {
                    c.cas_required = v
                        .as_bool()
                        .ok_or_else(|| VaultError::bad("cas_required must be a boolean"))?;
                }
                if let Some(v) = call
                    .body
                    .get("delete_version_after")
                    .and_then(Value::as_str)
                {
                    c.delete_version_after = v.to_owned();
                }
                state.kv.set_config(mount, MountConfig { ..c })?;
                return Ok(no_content());
            }
            Err(unsupported())
        }
        "data" if *m == Method::GET && !call.list => {
            state.require(&caller, &acl_path, &["read"])?;
            let version = match call.query("version") {
                Some(v) => Some(
                    v.parse::<u64>()
                        .map_err(|_| VaultError::bad("version must be an integer"))?,
                ),
                None => None,
            };
            match state.kv.read(mount, &path, version) {
                Ok(read) => read_response(read),
                // A deleted or destroyed version: 404 with its metadata, as Vault answers.
                Err(KvError::Deleted(meta, v, custom)) => Ok((
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"request_id": uuid::Uuid::new_v4().to_string(), "lease_id": "", "renewable": false, "lease_duration": 0,
                        "data": {"data": null, "metadata": version_json(v, &meta, &custom)}, "wrap_info": null, "warnings": null, "auth": null})),
                )
                    .into_response()),
                Err(e) => Err(e.into()),
            }
        }
        "data" if is_write || *m == Method::PATCH => {
            let data = object(call.body.get("data"), "data")?;
            let cas = match call.body.get("options").and_then(|o| o.get("cas")) {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| VaultError::bad("cas must be an integer"))?,
                ),
            };
            let exists = state
                .kv
                .metadata(mount, &path)
                .is_ok_and(|meta| meta.current_version > 0);
            let (version, meta, custom) = if *m == Method::PATCH {
                state.require(&caller, &acl_path, &["patch"])?;
                let current = state.kv.read(mount, &path, None)?;
                let mut merged = current.data;
                merge(&mut merged, data);
                state
                    .kv
                    .write(mount, &path, &merged, cas.or(Some(current.version)))?
            } else {
                state.require(
                    &caller,
                    &acl_path,
                    if exists { &["update"] } else { &["create"] },
                )?;
                state.kv.write(mount, &path, data, cas)?
            };
            Ok(envelope(version_json(version, &meta, &custom), Value::Null))
        }
        "data" if *m == Method::DELETE => {
            state.require(&caller, &acl_path, &["delete"])?;
            state.kv.delete(mount, &path, &[])?;
            Ok(no_content())
        }
        "delete" | "undelete" | "destroy" if is_write => {
            state.require(&caller, &acl_path, &["update"])?;
            let versions = versions_of(&call.body)?;
            match op {
                "delete" => state.kv.delete(mount, &path, &versions)?,
                "undelete" => state.kv.undelete(mount, &path, &versions)?,
                _ => state.kv.destroy(mount, &path, &versions)?,
            }
            Ok(no_content())
        }
        "metadata" if call.list => {
            // Vault checks a LIST path with a trailing slash against globs, and without it
            // against exact rules.
            let trimmed = acl_path.trim_end_matches('/');
            state
                .require(&caller, &format!("{trimmed}/"), &["list"])
                .or_else(|_| state.require(&caller, trimmed, &["list"]))?;
            let prefix = if path.is_empty() || path.ends_with('/') {
                path.clone()
            } else {
                format!("{path}/")
            };
            let keys = state.kv.list(mount, &prefix)?;
            if keys.is_empty() {
                return Err(VaultError::not_found());
            }
            Ok(envelope(json!({"keys": keys}), Value::Null))
        }
        "metadata" if *m == Method::GET => {
            state.require(&caller, &acl_path, &["read"])?;
            Ok(envelope(
                metadata_json(&state.kv.metadata(mount, &path)?),
                Value::Null,
            ))
        }
        "metadata" if is_write || *m == Method::PATCH => {
            let patch = *m == Method::PATCH;
            state.require(
                &caller,
                &acl_path,
                if patch {
                    &["patch"]
                } else {
                    &["update", "create"]
                },
            )?;
            // Validate everything before changing anything.
            let body = &call.body;
            let max_versions = match body.get("max_versions") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || VaultError::bad("max_versions must be a small non-negative integer"),
                )?),
            };
            let cas_required = match body.get("cas_required") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_bool()
                        .ok_or_else(|| VaultError::bad("cas_required must be a boolean"))?,
                ),
            };
            let delete_after = body
                .get("delete_version_after")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let custom: Option<Vec<(String, Option<String>)>> = match body.get("custom_metadata") {
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
            state.kv.update_metadata(mount, &path, |meta| {
                if let Some(n) = max_versions {
                    meta.max_versions = n;
                }
                if let Some(b) = cas_required {
                    meta.cas_required = b;
                }
                if let Some(d) = delete_after {
                    meta.delete_version_after = d;
                }
                if let Some(entries) = custom {
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
            })?;
            Ok(no_content())
        }
        "metadata" if *m == Method::DELETE => {
            state.require(&caller, &acl_path, &["delete"])?;
            state.kv.delete_all(mount, &path)?;
            Ok(no_content())
        }
        "subkeys" if *m == Method::GET => {
            state.require(&caller, &acl_path, &["read"])?;
            let read = state.kv.read(mount, &path, None)?;
            fn keys_of(v: &Value) -> Value {
                match v {
                    Value::Object(m) => {
                        Value::Object(m.iter().map(|(k, v)| (k.clone(), keys_of(v))).collect())
                    }
                    _ => Value::Null,
                }
            }
            let subkeys = keys_of(&Value::Object(read.data.clone()));
            Ok(envelope(
                json!({"subkeys": subkeys, "metadata": version_json(read.version, &read.meta, &read.custom_metadata)}),
                Value::Null,
            ))
        }
        _ => Err(unsupported()),
    }
}

fn unsupported() -> VaultError {
    VaultError::new(StatusCode::METHOD_NOT_ALLOWED, "unsupported operation")
}
