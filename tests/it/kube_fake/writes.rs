//! The write verbs: create, replace, patch (merge and apply), delete with garbage collection.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value, json};

use super::checks;
use super::controllers;
use super::merge;
use super::store::{ApiError, Key, Kind, State};

/// The object must be an object of the resource's type before the server touches it: a
/// wrongly typed field is a 400, as when the real server cannot decode a body.
fn decodable(kind: &Kind, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON object",
        ));
    }
    match checks::decode_error(kind.resource, obj) {
        Some(e) => Err(ApiError::bad_request(format!(
            "error decoding {}: {e}",
            kind.kind
        ))),
        None => Ok(()),
    }
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// Validation, namespace existence, and quota admission for a pod being created.
fn admit(
    st: &State,
    kind: &Kind,
    ns: &str,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let causes = checks::check_object(kind.group, kind.resource, obj, old);
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, name_of(obj), &causes));
    }
    if kind.namespaced && !st.namespace_exists(ns) {
        let ns_kind = super::store::kind_of("", "namespaces").expect("namespaces kind");
        return Err(ApiError::not_found(ns_kind, ns));
    }
    if kind.resource == "pods" && old.is_none() {
        controllers::quota_admit(st, ns, obj)?;
    }
    Ok(())
}

/// The defaults and conversions the real server applies before storing.
fn prepare(st: &mut State, kind: &Kind, obj: &mut Value, old: Option<&Value>) {
    match kind.resource {
        "secrets" => {
            if let Some(Value::Object(plain)) =
                obj.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                for (k, v) in plain {
                    let text = v.as_str().unwrap_or_default();
                    obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
                }
            }
            if obj["type"].is_null() {
                obj["type"] = json!("Opaque");
            }
        }
        "services" => default_service(st, obj, old),
        "statefulsets" => {
            let spec = &mut obj["spec"];
            for (field, value) in [
                ("replicas", json!(1)),
                ("podManagementPolicy", json!("OrderedReady")),
                ("revisionHistoryLimit", json!(10)),
                (
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                ),
            ] {
                if spec.is_object() && spec[field].is_null() {
                    spec[field] = value;
                }
            }
            default_claim_templates(spec);
        }
        "namespaces" => {
            let name = name_of(obj).to_string();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        "persistentvolumeclaims"
            if obj["spec"].is_object() && obj["spec"]["volumeMode"].is_null() =>
        {
            obj["spec"]["volumeMode"] = json!("Filesystem");
        }
        _ => {}
    }
}

/// Claim templates as the real server stores them (and as k8s-openapi writes them back), so
/// that a typed read-modify-write is not taken for a change of an immutable field.
fn default_claim_templates(spec: &mut Value) {
    let templates = spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut);
    for t in templates.into_iter().flatten().filter(|t| t.is_object()) {
        for (field, value) in [
            ("apiVersion", json!("v1")),
            ("kind", json!("PersistentVolumeClaim")),
            ("status", json!({"phase": "Pending"})),
        ] {
            if t[field].is_null() {
                t[field] = value;
            }
        }
        if t["spec"].is_object() && t["spec"]["volumeMode"].is_null() {
            t["spec"]["volumeMode"] = json!("Filesystem");
        }
    }
}

fn default_service(st: &mut State, obj: &mut Value, old: Option<&Value>) {
    if !obj["spec"].is_object() {
        return;
    }
    let spec = &mut obj["spec"];
    if spec["type"].is_null() {
        spec["type"] = json!("ClusterIP");
    }
    if spec["sessionAffinity"].is_null() {
        spec["sessionAffinity"] = json!("None");
    }
    for p in spec["ports"].as_array_mut().into_iter().flatten() {
        if p["protocol"].is_null() {
            p["protocol"] = json!("TCP");
        }
        if p["targetPort"].is_null() {
            p["targetPort"] = p["port"].clone();
        }
    }
    let given = spec["clusterIP"].as_str().unwrap_or_default().to_string();
    if given.is_empty() && spec["type"] != json!("ExternalName") {
        let ip = match old.and_then(|o| o["spec"]["clusterIP"].as_str()) {
            Some(ip) => ip.to_string(),
            None => {
                st.next_cluster_ip += 1;
                format!("10.96.0.{}", st.next_cluster_ip)
            }
        };
        spec["clusterIP"] = json!(ip);
    }
    if let Some(ip) = spec["clusterIP"].as_str() {
        spec["clusterIPs"] = json!([ip]);
    }
}

/// POST on a collection.
pub fn create(
    st: &mut State,
    kind: &'static Kind,
    ns: &str,
    mut obj: Value,
) -> Result<Value, ApiError> {
    decodable(kind, &obj)?;
    if let Some(given) = obj["metadata"]["namespace"].as_str()
        && kind.namespaced
        && given != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    check_type_meta(kind, &obj, false)?;
    if name_of(&obj).is_empty()
        && let Some(prefix) = obj["metadata"]["generateName"].as_str()
    {
        let generated = format!("{prefix}{}", &st.suffix()[..5]);
        obj["metadata"]["name"] = json!(generated);
    }
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
    prepare(st, kind, &mut obj, None);
    admit(st, kind, ns, &obj, None)?;
    let name = name_of(&obj).to_string();
    if st.get(&Key::new(kind, ns, &name)).is_some() {
        return Err(ApiError::already_exists(kind, &name));
    }
    Ok(st.insert(kind, ns, obj))
}

/// apiVersion and kind, when given (or when required, as apply requires them), must match.
fn check_type_meta(kind: &Kind, obj: &Value, required: bool) -> Result<(), ApiError> {
    let api_version = obj["apiVersion"].as_str();
    let k = obj["kind"].as_str();
    if required && (api_version.is_none() || k.is_none()) {
        return Err(ApiError::bad_request(
            "invalid object: apiVersion and kind are required",
        ));
    }
    if api_version.is_some_and(|v| v != kind.api_version()) || k.is_some_and(|v| v != kind.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}) or kind {} is not {}",
            api_version.unwrap_or_default(),
            kind.api_version(),
            k.unwrap_or_default(),
            kind.kind
        )));
    }
    Ok(())
}

/// Stores a changed version of an existing object: the stored status is kept (clients write
/// status through the status subresource only), then defaults and checks.
fn store_update(
    st: &mut State,
    kind: &Kind,
    key: &Key,
    mut obj: Value,
    old: &Value,
) -> Result<Value, ApiError> {
    match old.get("status") {
        Some(s) => obj["status"] = s.clone(),
        None => {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
    }
    if obj["metadata"]["namespace"].is_null() && kind.namespaced {
        obj["metadata"]["namespace"] = json!(key.namespace);
    }
    prepare(st, kind, &mut obj, Some(old));
    admit(st, kind, &key.namespace, &obj, Some(old))?;
    Ok(st.update(key, obj))
}

fn check_url_name(obj: &Value, name: &str) -> Result<(), ApiError> {
    match obj["metadata"]["name"].as_str() {
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

/// PUT on an object.
pub fn replace(
    st: &mut State,
    kind: &'static Kind,
    ns: &str,
    name: &str,
    obj: Value,
) -> Result<Value, ApiError> {
    let key = Key::new(kind, ns, name);
    let old = st
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(kind, name))?;
    decodable(kind, &obj)?;
    check_url_name(&obj, name)?;
    check_type_meta(kind, &obj, false)?;
    if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    let mut obj = obj;
    obj["metadata"]["name"] = json!(name);
    store_update(st, kind, &key, obj, &old)
}

/// PATCH on an object; the bool tells whether apply created it.
pub fn patch(
    st: &mut State,
    kind: &'static Kind,
    ns: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
    query: &HashMap<String, String>,
) -> Result<(Value, bool), ApiError> {
    let key = Key::new(kind, ns, name);
    let old = st.get(&key).cloned();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/apply-patch+yaml" => apply(st, kind, &key, old, body, query),
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let old = old.ok_or_else(|| ApiError::not_found(kind, name))?;
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let mut obj = old.clone();
            merge::merge_patch(&mut obj, &patch);
            decodable(kind, &obj)?;
            check_url_name(&obj, name)?;
            check_type_meta(kind, &obj, false)?;
            store_update(st, kind, &key, obj, &old).map(|v| (v, false))
        }
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other:?})"
            ),
        )),
    }
}

fn apply(
    st: &mut State,
    kind: &'static Kind,
    key: &Key,
    old: Option<Value>,
    body: &[u8],
    query: &HashMap<String, String>,
) -> Result<(Value, bool), ApiError> {
    let manager = query.get("fieldManager").filter(|m| !m.is_empty()).ok_or_else(|| {
        ApiError::bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
    })?;
    let force = query.get("force").is_some_and(|f| f == "true");
    let applied: Value = serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration was not an object",
        ));
    }
    check_url_name(&applied, &key.name)?;
    check_type_meta(kind, &applied, true)?;
    let uid = old
        .as_ref()
        .and_then(|o| o["metadata"]["uid"].as_str())
        .map(String::from);
    let mut owners = uid
        .as_ref()
        .and_then(|u| st.owners.get(u))
        .cloned()
        .unwrap_or_default();
    let mut obj =
        merge::apply(old.as_ref(), &applied, &mut owners, manager, force).map_err(|conflicts| {
            let list: Vec<String> = conflicts
                .iter()
                .map(|(f, m)| format!("conflict with \"{m}\": {f}"))
                .collect();
            let mut e = ApiError::conflict(kind, &key.name, "");
            e.message = format!(
                "Apply failed with {} conflict{}: {}",
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                list.join(", ")
            );
            e
        })?;
    decodable(kind, &obj)?;
    obj["metadata"]["name"] = json!(key.name);
    let (stored, created) = match &old {
        Some(old) => (store_update(st, kind, key, obj, old)?, false),
        None => (create(st, kind, &key.namespace, obj)?, true),
    };
    if let Some(uid) = stored["metadata"]["uid"].as_str() {
        st.owners.insert(uid.to_string(), owners);
    }
    Ok((stored, created))
}

/// How dependents are treated when their owner goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Propagation {
    Foreground,
    Background,
    Orphan,
}

/// DELETE on an object: its dependents go too (or are orphaned), and a namespace takes its
/// contents along. Answers the object as it was.
pub fn delete(
    st: &mut State,
    kind: &'static Kind,
    ns: &str,
    name: &str,
    options: &Value,
) -> Result<Value, ApiError> {
    let key = Key::new(kind, ns, name);
    let old = st
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(kind, name))?;
    let pre = &options["preconditions"];
    let stale = |field: &str| {
        pre[field]
            .as_str()
            .is_some_and(|v| Some(v) != old["metadata"][field].as_str())
    };
    if stale("uid") || stale("resourceVersion") {
        return Err(ApiError::conflict(
            kind,
            name,
            "the precondition on the object does not hold",
        ));
    }
    let policy = match options["propagationPolicy"].as_str() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            let cause = checks::Cause {
                field: "propagationPolicy".into(),
                message: format!(
                    "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                ),
            };
            return Err(ApiError::invalid(kind, name, &[cause]));
        }
    };
    remove_with_dependents(st, &key, policy);
    if kind.resource == "namespaces" {
        let inside: Vec<Key> = st
            .objects
            .keys()
            .filter(|k| k.namespace == name)
            .cloned()
            .collect();
        for k in inside {
            remove_with_dependents(st, &k, Propagation::Background);
        }
    }
    let mut gone = old;
    gone["metadata"]["deletionTimestamp"] = json!(super::store::now());
    Ok(gone)
}

fn remove_with_dependents(st: &mut State, key: &Key, policy: Propagation) {
    let Some(obj) = st.remove(key) else {
        return;
    };
    let uid = obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    st.owners.remove(&uid);
    st.kubelet.remove(&uid);
    let owned_by = |v: &Value| {
        v["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
    };
    let dependents: Vec<Key> = st
        .objects
        .iter()
        .filter(|(_, v)| owned_by(v))
        .map(|(k, _)| k.clone())
        .collect();
    for dep in dependents {
        if policy == Propagation::Orphan {
            let Some(mut v) = st.objects.get(&dep).cloned() else {
                continue;
            };
            if let Some(refs) = v["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r["uid"] != json!(uid));
            }
            st.update(&dep, v);
        } else {
            remove_with_dependents(st, &dep, policy);
        }
    }
}
