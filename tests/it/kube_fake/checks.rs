//! The validation the fake API server runs on every write. Public so that tests can also run it
//! directly on objects they generate, without a server.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::core::v1::{
    Event, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One failed check: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub field: String,
    pub message: String,
}

fn cause(field: impl Into<String>, message: impl Into<String>) -> Cause {
    Cause {
        field: field.into(),
        message: message.into(),
    }
}

/// Every check for a write of `obj` as `group`/`resource`; `old` is the stored object on an
/// update. Empty when the real API server would accept the object (as far as the fake knows).
pub fn check_object(group: &str, resource: &str, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = unknown_fields(resource, obj);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(cause(
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else if let Some(c) = check_name(resource, name) {
        causes.push(c);
    }
    causes.extend(check_labels("metadata.labels", &obj["metadata"]["labels"]));
    causes.extend(check_annotations(
        "metadata.annotations",
        &obj["metadata"]["annotations"],
    ));
    causes.extend(check_kind_specific(resource, obj));
    if let Some(old) = old {
        causes.extend(check_immutable(group, resource, old, obj));
    }
    causes
}

/// `check_object` for a typed object, as a test builds it (a create: no old object).
pub fn check<K: k8s_openapi::Resource + Serialize>(obj: &K) -> Vec<Cause> {
    match serde_json::to_value(obj) {
        Ok(v) => check_object(K::GROUP, K::URL_PATH_SEGMENT, &v, None),
        Err(e) => vec![cause("", format!("cannot serialize: {e}"))],
    }
}

/// The object through its k8s-openapi type and back to JSON.
fn typed<T: DeserializeOwned + Serialize>(obj: &Value) -> Result<Value, String> {
    let t: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&t).map_err(|e| e.to_string())
}

/// Why the object does not decode into its k8s-openapi type, if it does not.
pub fn decode_error(resource: &str, obj: &Value) -> Option<String> {
    typed_json(resource, obj).err()
}

fn typed_json(resource: &str, obj: &Value) -> Result<Value, String> {
    match resource {
        "namespaces" => typed::<Namespace>(obj),
        "resourcequotas" => typed::<ResourceQuota>(obj),
        "secrets" => typed::<Secret>(obj),
        "services" => typed::<Service>(obj),
        "persistentvolumeclaims" => typed::<PersistentVolumeClaim>(obj),
        "pods" => typed::<Pod>(obj),
        "events" => typed::<Event>(obj),
        "statefulsets" => typed::<StatefulSet>(obj),
        "ingresses" => typed::<Ingress>(obj),
        "selfsubjectaccessreviews" => typed::<SelfSubjectAccessReview>(obj),
        // Not served, but checked in deploy/kubernetes/.
        "serviceaccounts" => typed::<ServiceAccount>(obj),
        "configmaps" => typed::<ConfigMap>(obj),
        "clusterroles" => typed::<ClusterRole>(obj),
        "clusterrolebindings" => typed::<ClusterRoleBinding>(obj),
        other => Err(format!("the fake does not know the resource {other}")),
    }
}

/// Check (1): the object must deserialize into its k8s-openapi type and every non-null field
/// of the input must survive the round trip; a field the type drops is unknown to Kubernetes.
/// Empty maps and lists that the type drops are let through.
pub fn unknown_fields(resource: &str, obj: &Value) -> Vec<Cause> {
    let back = match typed_json(resource, obj) {
        Ok(v) => v,
        Err(e) => return vec![cause("body", format!("Invalid value: cannot decode: {e}"))],
    };
    let mut missing = Vec::new();
    missing_paths(obj, &back, "", &mut missing);
    missing
        .into_iter()
        .map(|p| cause(p, "field not declared in schema"))
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn missing_paths(input: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    None if !is_empty(v) => out.push(p),
                    None => {}
                    Some(t) => missing_paths(v, t, &p, out),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                missing_paths(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// DNS-1123 label: at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(is_label_char)
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// DNS-1123 subdomain: at most 253, dot-separated DNS-1123 labels.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// RFC 1035 label: a DNS-1123 label that starts with a letter.
pub fn is_rfc1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Check (2): the object name, by the rule of its resource.
pub fn check_name(resource: &str, name: &str) -> Option<Cause> {
    let (ok, rule) = match resource {
        "namespaces" => (
            is_dns1123_label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character, at most 63 characters",
        ),
        "services" => (
            is_rfc1035_label(name),
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character, at most 63 characters",
        ),
        _ => (
            is_dns1123_subdomain(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character, at most 253 characters",
        ),
    };
    (!ok).then(|| cause("metadata.name", format!("Invalid value: {name:?}: {rule}")))
}

/// The name part of a qualified name (label and annotation keys) and label values.
fn is_qualified_part(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(ok)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name.
pub fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_part(name),
        None => is_qualified_part(key),
    }
}

pub fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_qualified_part(v)
}

/// Check (3): label keys and values of a `map[string]string` at `path`.
pub fn check_labels(path: &str, labels: &Value) -> Vec<Cause> {
    let Some(map) = labels.as_object() else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    for (k, v) in map {
        if !is_qualified_name(k) {
            causes.push(cause(path, format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters, optional DNS subdomain prefix and '/')")));
        }
        match v.as_str() {
            Some(s) if is_label_value(s) => {}
            _ => causes.push(cause(path, format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"))),
        }
    }
    causes
}

/// Check (3): annotation keys, and their total size at most 256 KiB.
pub fn check_annotations(path: &str, annotations: &Value) -> Vec<Cause> {
    let Some(map) = annotations.as_object() else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    let mut total = 0;
    for (k, v) in map {
        total += k.len() + v.as_str().map_or(0, str::len);
        if !is_qualified_name(k) {
            causes.push(cause(path, format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.' (at most 63 characters, optional DNS subdomain prefix and '/')")));
        }
    }
    if total > 256 * 1024 {
        causes.push(cause(
            path,
            format!("Too long: must have at most 262144 bytes, got {total}"),
        ));
    }
    causes
}

/// Check (4): a Kubernetes quantity (`100m`, `1.5`, `2Gi`, `512Mi`, `1e3`) as a number of base
/// units; None when it does not parse.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    let digits = num.trim_start_matches(['+', '-']);
    if digits.is_empty()
        || digits == "."
        || num.len() - digits.len() > 1
        || digits.contains(['+', '-'])
    {
        return None;
    }
    if digits.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            10f64.powi(exp)
        }
        _ => return None,
    };
    Some(value * multiplier)
}

/// Quantities of a `map[string]Quantity` at `path`; returns the parsed values by key.
fn check_quantity_map(path: &str, map: &Value, causes: &mut Vec<Cause>) -> Map<String, Value> {
    let mut parsed = Map::new();
    for (k, v) in map.as_object().into_iter().flatten() {
        let text = v
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string());
        match parse_quantity(&text) {
            Some(q) if q >= 0.0 => {
                parsed.insert(k.clone(), q.into());
            }
            Some(_) => causes.push(cause(format!("{path}[{k}]"), format!("Invalid value: {text:?}: must be greater than or equal to 0"))),
            None => causes.push(cause(format!("{path}[{k}]"), format!("Invalid value: {text:?}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))),
        }
    }
    parsed
}

fn check_resources(path: &str, resources: &Value, causes: &mut Vec<Cause>) {
    let requests = check_quantity_map(&format!("{path}.requests"), &resources["requests"], causes);
    let limits = check_quantity_map(&format!("{path}.limits"), &resources["limits"], causes);
    for (k, req) in &requests {
        if let (Some(r), Some(l)) = (req.as_f64(), limits.get(k).and_then(Value::as_f64))
            && r > l
        {
            let text = resources["requests"][k].as_str().unwrap_or_default();
            let limit = resources["limits"][k].as_str().unwrap_or_default();
            causes.push(cause(
                format!("{path}.requests"),
                format!(
                    "Invalid value: {text:?}: must be less than or equal to {k} limit of {limit}"
                ),
            ));
        }
    }
}

fn array(v: &Value) -> impl Iterator<Item = (usize, &Value)> {
    v.as_array().into_iter().flatten().enumerate()
}

/// A port name: an IANA service name (at most 15, lowercase alphanumeric and '-', a letter).
fn is_port_name(s: &str) -> bool {
    s.len() <= 15
        && s.chars().all(is_label_char)
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Containers of a pod spec: names, port names, resources, volume mounts.
fn check_pod_spec(path: &str, spec: &Value, claim_volumes: &[String]) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut volumes: Vec<String> = claim_volumes.to_vec();
    volumes
        .extend(array(&spec["volumes"]).filter_map(|(_, v)| v["name"].as_str().map(String::from)));
    if array(&spec["containers"]).next().is_none() {
        causes.push(cause(format!("{path}.containers"), "Required value"));
    }
    let mut names = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in array(&spec[list]) {
            let cpath = format!("{path}.{list}[{i}]");
            let name = c["name"].as_str().unwrap_or_default();
            if !is_dns1123_label(name) {
                causes.push(cause(
                    format!("{cpath}.name"),
                    format!("Invalid value: {name:?}: a lowercase RFC 1123 label is required"),
                ));
            } else if names.contains(&name) {
                causes.push(cause(
                    format!("{cpath}.name"),
                    format!("Duplicate value: {name:?}"),
                ));
            }
            names.push(name);
            if c["image"].as_str().unwrap_or_default().is_empty() {
                causes.push(cause(format!("{cpath}.image"), "Required value"));
            }
            for (j, p) in array(&c["ports"]) {
                if let Some(pn) = p["name"].as_str().filter(|n| !is_port_name(n)) {
                    causes.push(cause(format!("{cpath}.ports[{j}].name"), format!("Invalid value: {pn:?}: must be no more than 15 characters, lowercase alphanumeric or '-', with at least one letter")));
                }
            }
            for (j, m) in array(&c["volumeMounts"]) {
                let vm = m["name"].as_str().unwrap_or_default();
                if !volumes.iter().any(|v| v == vm) {
                    causes.push(cause(
                        format!("{cpath}.volumeMounts[{j}].name"),
                        format!("Not found: {vm:?}"),
                    ));
                }
            }
            check_resources(&format!("{cpath}.resources"), &c["resources"], &mut causes);
        }
    }
    causes
}

fn check_claim_spec(path: &str, spec: &Value, causes: &mut Vec<Cause>) {
    check_resources(&format!("{path}.resources"), &spec["resources"], causes);
    if spec["resources"]["requests"]["storage"].is_null() {
        causes.push(cause(
            format!("{path}.resources[storage]"),
            "Required value",
        ));
    }
}

/// Checks (3) and (4) where they depend on the kind: template labels, selectors, quantities.
fn check_kind_specific(resource: &str, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let spec = &obj["spec"];
    match resource {
        "pods" => causes.extend(check_pod_spec("spec", spec, &[])),
        "statefulsets" => check_statefulset(spec, &mut causes),
        "persistentvolumeclaims" => check_claim_spec("spec", spec, &mut causes),
        "resourcequotas" => {
            check_quantity_map("spec.hard", &spec["hard"], &mut causes);
        }
        "services" => check_service(spec, &mut causes),
        "secrets" => {
            for k in obj["data"].as_object().into_iter().flat_map(|m| m.keys()) {
                let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
                if k.is_empty() || !k.chars().all(ok) {
                    causes.push(cause(format!("data[{k}]"), format!("Invalid value: {k:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'")));
                }
            }
        }
        _ => {}
    }
    causes
}

fn check_statefulset(spec: &Value, causes: &mut Vec<Cause>) {
    causes.extend(check_labels(
        "spec.selector.matchLabels",
        &spec["selector"]["matchLabels"],
    ));
    let tmeta = &spec["template"]["metadata"];
    causes.extend(check_labels(
        "spec.template.metadata.labels",
        &tmeta["labels"],
    ));
    causes.extend(check_annotations(
        "spec.template.metadata.annotations",
        &tmeta["annotations"],
    ));
    let selector = spec["selector"]["matchLabels"].as_object();
    if selector.is_none_or(|s| s.is_empty()) && spec["selector"]["matchExpressions"].is_null() {
        causes.push(cause(
            "spec.selector",
            "Invalid value: empty selector is invalid for statefulset",
        ));
    }
    let matches = selector
        .into_iter()
        .flatten()
        .all(|(k, v)| tmeta["labels"].get(k) == Some(v));
    if !matches {
        causes.push(cause(
            "spec.template.metadata.labels",
            "Invalid value: `selector` does not match template `labels`",
        ));
    }
    let mut claims = Vec::new();
    for (i, t) in array(&spec["volumeClaimTemplates"]) {
        claims.push(
            t["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        check_claim_spec(
            &format!("spec.volumeClaimTemplates[{i}].spec"),
            &t["spec"],
            causes,
        );
    }
    causes.extend(check_pod_spec(
        "spec.template.spec",
        &spec["template"]["spec"],
        &claims,
    ));
}

fn check_service(spec: &Value, causes: &mut Vec<Cause>) {
    causes.extend(check_labels("spec.selector", &spec["selector"]));
    let headless = spec["clusterIP"].as_str() == Some("None");
    let ports: Vec<_> = array(&spec["ports"]).collect();
    if ports.is_empty() && !headless && spec["type"].as_str() != Some("ExternalName") {
        causes.push(cause("spec.ports", "Required value"));
    }
    for (i, p) in &ports {
        let name = p["name"].as_str().unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            causes.push(cause(format!("spec.ports[{i}].name"), "Required value"));
        } else if !name.is_empty() && !is_dns1123_label(name) {
            causes.push(cause(
                format!("spec.ports[{i}].name"),
                format!("Invalid value: {name:?}: a lowercase RFC 1123 label is required"),
            ));
        }
    }
}

/// Check (5): the fields an update may not change.
pub fn check_immutable(group: &str, resource: &str, old: &Value, new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    if old["metadata"]["namespace"] != new["metadata"]["namespace"]
        && !new["metadata"]["namespace"].is_null()
    {
        causes.push(cause(
            "metadata.namespace",
            "Invalid value: field is immutable",
        ));
    }
    let (os, ns) = (&old["spec"], &new["spec"]);
    match (group, resource) {
        ("apps", "statefulsets") => {
            for f in [
                "selector",
                "serviceName",
                "volumeClaimTemplates",
                "podManagementPolicy",
            ] {
                if os[f] != ns[f] {
                    causes.push(cause(format!("spec.{f}"), "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
                }
            }
        }
        ("", "services") => {
            let was = os["clusterIP"].as_str().unwrap_or_default();
            let now = ns["clusterIP"].as_str().unwrap_or_default();
            if !was.is_empty() && !now.is_empty() && was != now {
                causes.push(cause(
                    "spec.clusterIP",
                    format!("Invalid value: {now:?}: field is immutable"),
                ));
            }
        }
        ("", "persistentvolumeclaims") => {
            let strip = |s: &Value| {
                let mut s = s.clone();
                if let Some(r) = s.get_mut("resources").and_then(Value::as_object_mut) {
                    r.remove("requests");
                }
                s
            };
            if strip(os) != strip(ns) {
                causes.push(cause("spec", "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
            }
        }
        ("", "pods") => {
            let strip = |s: &Value| {
                let mut s = s.clone();
                for list in ["containers", "initContainers"] {
                    for c in s
                        .get_mut(list)
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        c["image"] = Value::Null;
                    }
                }
                s
            };
            if strip(os) != strip(ns) {
                causes.push(cause("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`"));
            }
        }
        ("", "secrets") if old["immutable"] == Value::Bool(true) => {
            if old["data"] != new["data"] {
                causes.push(cause(
                    "data",
                    "Forbidden: field is immutable when `immutable` is set",
                ));
            }
            if new["immutable"] != Value::Bool(true) {
                causes.push(cause(
                    "immutable",
                    "Forbidden: field is immutable when `immutable` is set",
                ));
            }
        }
        _ => {}
    }
    causes
}
