//! `sys/*` (health, seal status, mounts) and `auth/*` (token self-service, JWT login).

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{Call, VResult, VaultError, VaultState, envelope, no_content};
use crate::identity::verifier::VerifyError;
use crate::markup::rfc3339;
use crate::secrets::tokens::{Caller, TokenRecord};

const VERSION: &str = concat!("1.17.0+onyxia-lite-", env!("CARGO_PKG_VERSION"));

fn mount_json(mount: &str) -> Value {
    json!({
        "type": "kv",
        "description": "key/value secret storage",
        "accessor": format!("kv_{:08x}", mount.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))),
        "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false},
        "options": {"version": "2"},
        "local": false,
        "seal_wrap": false,
        "external_entropy_access": false,
        "plugin_version": "",
        "running_plugin_version": "",
    })
}

pub async fn sys(state: &VaultState, call: &Call, rest: &[&str]) -> VResult {
    match rest {
        ["health"] => Ok((StatusCode::OK, axum::Json(json!({
            "initialized": true, "sealed": false, "standby": false, "performance_standby": false,
            "replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
            "server_time_utc": state.tokens.now(), "version": VERSION, "cluster_name": "onyxia-lite", "cluster_id": "onyxia-lite",
        })))
            .into_response()),
        ["seal-status"] => Ok((StatusCode::OK, axum::Json(json!({
            "type": "shamir", "initialized": true, "sealed": false, "t": 1, "n": 1, "progress": 0, "nonce": "",
            "version": VERSION, "build_date": "", "migration": false, "cluster_name": "onyxia-lite", "cluster_id": "onyxia-lite",
            "recovery_seal": false, "storage_type": "onyxia-lite",
        })))
            .into_response()),
        ["init"] => Ok((StatusCode::OK, axum::Json(json!({"initialized": true}))).into_response()),
        ["mounts"] if call.method == Method::GET => {
            state.caller(call)?;
            let data: serde_json::Map<String, Value> = state.mounts.iter().map(|m| (format!("{m}/"), mount_json(m))).collect();
            Ok(envelope(Value::Object(data), Value::Null))
        }
        ["internal", "ui", "mounts", path @ ..] | ["mounts-all", path @ ..] if !path.is_empty() => {
            state.caller(call)?;
            let mount = path[0];
            if !state.mounts.iter().any(|m| m == mount) {
                return Err(VaultError::bad(format!("no mount found for path {}", path.join("/"))));
            }
            let mut data = mount_json(mount);
            data["path"] = json!(format!("{mount}/"));
            Ok(envelope(data, Value::Null))
        }
        _ => Err(VaultError::new(StatusCode::NOT_FOUND, format!("no handler for route \"sys/{}\". route entry not found.", rest.join("/")))),
    }
}

fn auth_block(token: &str, r: &TokenRecord, now: u64) -> Value {
    let lease = r.expires.saturating_sub(now);
    json!({
        "client_token": token,
        "accessor": r.accessor,
        "policies": r.policies,
        "token_policies": r.policies,
        "identity_policies": null,
        "metadata": r.meta,
        "lease_duration": if r.expires == 0 { 0 } else { lease },
        "renewable": r.renewable,
        "entity_id": r.entity_id,
        "token_type": "service",
        "orphan": true,
        "mfa_requirement": null,
        "num_uses": 0,
    })
}

fn lookup_json(caller: &Caller, now: u64) -> Value {
    match caller {
        Caller::Root => json!({
            "accessor": "root", "creation_time": 0, "creation_ttl": 0, "display_name": "root", "entity_id": "",
            "expire_time": null, "explicit_max_ttl": 0, "id": "root", "identity_policies": null, "issue_time": rfc3339(0),
            "meta": null, "num_uses": 0, "orphan": true, "path": "auth/token/root", "policies": ["root"], "renewable": false, "ttl": 0, "type": "service",
        }),
        Caller::Token(_, r) => json!({
            "accessor": r.accessor,
            "creation_time": r.created,
            "creation_ttl": r.ttl,
            "display_name": r.display_name,
            "entity_id": r.entity_id,
            "expire_time": if r.expires == 0 { Value::Null } else { json!(rfc3339(r.expires as i128 * 1_000_000_000)) },
            "explicit_max_ttl": 0,
            "id": "",
            "identity_policies": null,
            "issue_time": rfc3339(r.created as i128 * 1_000_000_000),
            "meta": r.meta,
            "num_uses": 0,
            "orphan": true,
            "path": r.path,
            "policies": r.policies,
            "renewable": r.renewable,
            "ttl": r.expires.saturating_sub(now),
            "type": "service",
        }),
    }
}

/// Durations as Vault writes them: seconds, or `90s`, `15m`, `2h`, `7d`.
fn duration(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
}

pub async fn auth(state: &Arc<VaultState>, call: &Call, rest: &[&str]) -> VResult {
    let write = call.method == Method::POST || call.method == Method::PUT;
    match rest {
        ["token", "lookup-self"] => {
            let mut data = lookup_json(&state.caller(call)?, state.tokens.now());
            data["id"] = json!(call.token().unwrap_or_default());
            Ok(envelope(data, Value::Null))
        }
        ["token", "renew-self"] if write => {
            let caller = state.caller(call)?;
            let Caller::Token(id, _) = &caller else {
                return Err(VaultError::bad("root tokens are not renewable"));
            };
            let increment = call
                .body
                .get("increment")
                .map(|v| duration(v).ok_or_else(|| VaultError::bad("invalid increment")));
            // 0 means "the token's own TTL", as in Vault.
            let increment = increment.transpose()?.filter(|i| *i > 0);
            let id = id.clone();
            let record = state
                .on_tokens(move |tokens| tokens.renew(&id, increment))
                .await??
                .ok_or_else(VaultError::denied)?;
            let token = call.token().unwrap_or_default();
            Ok(envelope(
                Value::Null,
                auth_block(&token, &record, state.tokens.now()),
            ))
        }
        ["token", "revoke-self"] if write => {
            match state.caller(call)? {
                Caller::Token(id, _) => state.on_tokens(move |tokens| tokens.revoke(&id)).await??,
                Caller::Root => {
                    return Err(VaultError::bad(
                        "the configured root token cannot be revoked",
                    ));
                }
            }
            Ok(no_content())
        }
        ["token", "create"] if write => {
            let caller = state.caller(call)?;
            state.require(&caller, "auth/token/create", &["create", "update", "sudo"])?;
            let parent_policies = match &caller {
                Caller::Root => None,
                Caller::Token(_, r) => Some(r.policies.clone()),
            };
            let policies: Vec<String> = match call.body.get("policies") {
                Some(Value::Array(p)) => p
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => parent_policies
                    .clone()
                    .unwrap_or_else(|| vec!["root".into()]),
            };
            // A child token cannot hold policies its parent lacks.
            if let Some(parent) = &parent_policies
                && policies.iter().any(|p| !parent.contains(p))
            {
                return Err(VaultError::bad("child policies must be subset of parent"));
            }
            let ttl = call
                .body
                .get("ttl")
                .map(|v| duration(v).ok_or_else(|| VaultError::bad("invalid ttl")))
                .transpose()?
                .unwrap_or(3600);
            let (username, groups) = match &caller {
                Caller::Token(_, r) => (r.username.clone(), r.groups.clone()),
                Caller::Root => (String::new(), Vec::new()),
            };
            let now = state.tokens.now();
            // A child never outlives its parent's limit.
            let parent_max = match &caller {
                Caller::Token(_, r) if r.max_expires != 0 => r.max_expires,
                Caller::Token(_, r) => r.expires,
                Caller::Root => 0,
            };
            let expires = now.saturating_add(ttl);
            let expires = if parent_max == 0 {
                expires
            } else {
                expires.min(parent_max)
            };
            let record = TokenRecord {
                accessor: String::new(),
                policies,
                display_name: "token".into(),
                path: "auth/token/create".into(),
                username,
                groups,
                meta: serde_json::Map::new(),
                created: now,
                ttl,
                expires,
                max_expires: parent_max,
                renewable: true,
                entity_id: String::new(),
            };
            let (token, record) = state
                .on_tokens(move |tokens| tokens.create(record))
                .await??;
            Ok(envelope(Value::Null, auth_block(&token, &record, now)))
        }
        [path, "login"] if write && *path == state.jwt_path => login(state, call).await,
        _ => Err(VaultError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no handler for route \"auth/{}\". route entry not found.",
                rest.join("/")
            ),
        )),
    }
}

async fn login(state: &Arc<VaultState>, call: &Call) -> VResult {
    let role_name = call
        .body
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or(&state.default_role);
    let role = state
        .roles
        .iter()
        .find(|r| r.name == role_name)
        .ok_or_else(|| VaultError::bad(format!("role \"{role_name}\" could not be found")))?;
    let jwt = call
        .body
        .get("jwt")
        .and_then(Value::as_str)
        .ok_or_else(|| VaultError::bad("missing token"))?;
    if role.bound_audiences.is_empty() {
        return Err(VaultError::bad(
            "audience claim found in JWT but no audiences bound to the role",
        ));
    }
    let audiences: Vec<&str> = role.bound_audiences.iter().map(String::as_str).collect();
    let claims = state
        .verifier
        .for_vault(jwt, &audiences)
        .await
        .map_err(|e| {
            let why = match e {
                VerifyError::Expired => "token is expired".to_owned(),
                VerifyError::NotYetValid => "token is not yet valid".to_owned(),
                VerifyError::UnknownKey => "failed to verify id token signature".to_owned(),
                other => other.to_string(),
            };
            VaultError::bad(format!("error validating token: {why}"))
        })?;
    let username = claims
        .get(&role.user_claim)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            VaultError::bad(format!("claim \"{}\" not found in token", role.user_claim))
        })?
        .to_owned();
    let groups: Vec<String> = role
        .groups_claim
        .as_ref()
        .and_then(|g| claims.get(g))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let now = state.tokens.now();
    let mut policies = vec!["default".to_owned()];
    policies.extend(role.token_policies.iter().cloned());
    let mut meta = serde_json::Map::new();
    meta.insert("role".into(), json!(role.name));
    meta.insert("username".into(), json!(username));
    let record = TokenRecord {
        accessor: String::new(),
        policies,
        display_name: format!("{}-{}", state.jwt_path, username),
        path: format!("auth/{}/login", state.jwt_path),
        username,
        groups,
        meta,
        created: now,
        ttl: role.token_ttl,
        expires: now.saturating_add(role.token_ttl.min(role.token_max_ttl)),
        max_expires: now.saturating_add(role.token_max_ttl),
        renewable: true,
        entity_id: String::new(),
    };
    let (token, record) = state
        .on_tokens(move |tokens| tokens.create(record))
        .await??;
    Ok(envelope(Value::Null, auth_block(&token, &record, now)))
}
