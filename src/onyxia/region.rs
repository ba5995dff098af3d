//! Regions: generated from the embedded components by default (OIDC, S3 with STS, Vault, the
//! service proxy's domain), or the operator's own regions JSON, passed to the web as given.

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::{OnyxiaState, json_response};
use crate::services::Quota;

/// What the platform needs from a region (whatever else it holds goes to the web unread).
#[derive(Debug, Clone, Default)]
pub struct RegionSettings {
    pub single_namespace: bool,
    pub namespace_prefix: String,
    pub group_namespace_prefix: String,
    pub vault_prefix: String,
    pub vault_group_prefix: String,
    pub user_quota: Option<Quota>,
    pub group_quota: Option<Quota>,
}

impl RegionSettings {
    /// Reads a region; settings it lacks take onyxia-api's defaults (except `singleNamespace`,
    /// which the generated region sets explicitly).
    pub fn of(region: &Value) -> Self {
        let services = &region["services"];
        let text = |v: &Value, default: &str| v.as_str().unwrap_or(default).to_owned();
        let quotas = &services["quotas"];
        let quota = |enabled: &str, key: &str| {
            (quotas[enabled].as_bool() == Some(true))
                .then(|| Quota::from_json(&quotas[key]).unwrap_or_default())
        };
        RegionSettings {
            single_namespace: services["singleNamespace"].as_bool().unwrap_or(true),
            namespace_prefix: text(&services["namespacePrefix"], "user-"),
            group_namespace_prefix: text(&services["groupNamespacePrefix"], "projet-"),
            vault_prefix: text(&region["vault"]["prefix"], ""),
            vault_group_prefix: text(&region["vault"]["groupPrefix"], ""),
            user_quota: quota("userEnabled", "user"),
            group_quota: quota("groupEnabled", "group"),
        }
    }
}

/// Inputs of the generated region.
pub struct GeneratedRegion<'a> {
    pub s3_url: &'a str,
    pub s3_region: &'a str,
    pub sts_client_id: &'a str,
    pub vault_url: &'a str,
    pub vault_mount: &'a str,
    pub vault_role: &'a str,
    pub expose_domain: &'a str,
    pub single_namespace: bool,
    pub quota: Value,
    pub description: String,
}

/// The default region: everything points at this platform's own components.
pub fn generated(g: &GeneratedRegion) -> Value {
    json!({
        "id": "local",
        "name": "onyxia-lite",
        "description": g.description,
        "onyxiaAPI": { "baseURL": "" },
        "services": {
            "singleNamespace": g.single_namespace,
            "allowNamespaceCreation": true,
            "namespaceLabels": {},
            "namespaceAnnotations": {},
            "userNamespace": true,
            "namespacePrefix": "user-",
            "groupNamespacePrefix": "projet-",
            "authenticationMode": "serviceAccount",
            "expose": {
                "domain": g.expose_domain,
                "useDefaultCertificate": true,
                "annotations": {},
                "ingress": true,
                "route": false,
                "istio": { "enabled": false, "gateways": [] },
                "certManager": { "useCertManager": false, "certManagerClusterIssuer": "" }
            },
            "allowedURIPattern": "^https?://",
            "quotas": {
                "userEnabled": true,
                "user": g.quota,
                "groupEnabled": true,
                "group": g.quota,
                "roles": {}
            },
            "k8sPublicEndpoint": {},
            "namespaceAnnotationsDynamic": { "enabled": false, "userAttributes": [] }
        },
        "data": {
            "S3": [{
                "URL": g.s3_url,
                "region": g.s3_region,
                "pathStyleAccess": true,
                "sts": {
                    "URL": g.s3_url,
                    "oidcConfiguration": { "clientID": g.sts_client_id },
                    "role": [{ "profileName": "default", "roleARN": "", "roleSessionName": "" }]
                },
                "bookmarks": [
                    { "s3Uri": "s3://user-$1/", "title": "Personal bucket", "claimName": "preferred_username" },
                    { "s3Uri": "s3://projet-$1/", "title": "Project $1", "claimName": "groups" }
                ]
            }]
        },
        "vault": {
            "URL": g.vault_url,
            "kvEngine": g.vault_mount,
            "role": g.vault_role,
            "authPath": "jwt",
            "prefix": "user-"
        }
    })
}

/// The operator's regions: a JSON array of regions (or `{"regions": [...]}`), checked enough
/// that the API and the web can use them.
pub fn load(path: &Path) -> Result<Vec<Value>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("regions {}: {e}", path.display()))?;
    let parsed: Value =
        serde_json::from_str(&text).map_err(|e| format!("regions {}: {e}", path.display()))?;
    let regions = match parsed {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("regions") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(format!(
                    "regions {}: expected an array of regions",
                    path.display()
                ));
            }
        },
        _ => {
            return Err(format!(
                "regions {}: expected an array of regions",
                path.display()
            ));
        }
    };
    if regions.is_empty() {
        return Err(format!(
            "regions {}: at least one region is needed",
            path.display()
        ));
    }
    for (i, region) in regions.iter().enumerate() {
        let at = |m: &str| format!("regions {} [{i}]: {m}", path.display());
        if region.get("id").and_then(Value::as_str).is_none() {
            return Err(at("`id` (a string) is required"));
        }
        if region["services"]["expose"]["domain"].as_str().is_none() {
            return Err(at(
                "`services.expose.domain` is required (the web reads it)",
            ));
        }
        if region["services"].get("defaultConfiguration").is_some() {
            return Err(at(
                "`services.defaultConfiguration` was removed in Onyxia API 3; use schemas",
            ));
        }
        for key in ["user", "group"] {
            let quota = &region["services"]["quotas"][key];
            if !quota.is_null() {
                Quota::from_json(quota).map_err(|e| at(&format!("services.quotas.{key}: {e}")))?;
            }
        }
    }
    Ok(regions)
}

/// A region as the web receives it: never the kube `server` block, never a null.
fn public_region(region: &Value) -> Value {
    let mut region = strip_nulls(region.clone());
    if let Some(services) = region.get_mut("services").and_then(Value::as_object_mut) {
        services.remove("server");
    }
    region
}

/// `value` without its `null` members, at any depth (the web tests for absent fields).
pub(super) fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

pub async fn configuration(State(state): State<Arc<OnyxiaState>>) -> Response {
    let regions: Vec<Value> = state.regions.iter().map(public_region).collect();
    json_response(&json!({
        "build": { "version": env!("CARGO_PKG_VERSION"), "timestamp": state.started_secs },
        "regions": regions,
        "oidcConfiguration": state.oidc,
    }))
}

pub async fn regions(State(state): State<Arc<OnyxiaState>>) -> Response {
    let regions: Vec<Value> = state.regions.iter().map(public_region).collect();
    json_response(&Value::Array(regions))
}
