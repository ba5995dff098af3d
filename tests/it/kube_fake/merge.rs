//! Merge patches and server-side apply.
//!
//! Server-side apply is simplified: the applied object is merged into the stored one with maps
//! merged recursively and lists (and scalars) replaced whole; the real server merges lists by
//! their keys (containers by name, ports by port...). Field ownership is tracked per apply
//! manager at the same granularity (scalars and whole lists): a manager that changes a field
//! another apply manager owns gets a 409 Conflict unless `force=true`, and a field a manager
//! stops applying is removed when no other manager owns it. Writes other than apply own nothing.

use std::collections::BTreeMap;

use serde_json::Value;

/// RFC 7386 JSON merge patch; also what the fake does for strategic merge patches.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in patch {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The leaves of an applied object (scalars and whole lists) as JSON pointers with values.
pub fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                leaves(child, &format!("{prefix}/{}", escape(k)), out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// `/spec/replicas` → `.spec.replicas`, as the real server prints field paths.
pub fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .fold(String::new(), |a, p| a + "." + &p)
}

fn remove_pointer(obj: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    if let Some(Value::Object(m)) = obj.pointer_mut(parent) {
        m.remove(&key);
    }
}

/// Server-side apply of `applied` by `manager` onto `current` (None when creating). Returns the
/// new object, or the conflicts `(field, owner)` when not forced.
pub fn apply(
    current: Option<&Value>,
    applied: &Value,
    owners: &mut BTreeMap<String, String>,
    manager: &str,
    force: bool,
) -> Result<Value, Vec<(String, String)>> {
    let mut applied_leaves = Vec::new();
    leaves(applied, "", &mut applied_leaves);
    // The object's identity and the server-set metadata are not fields anyone owns.
    let server_set = [
        "/apiVersion",
        "/kind",
        "/metadata/name",
        "/metadata/namespace",
        "/metadata/uid",
        "/metadata/resourceVersion",
        "/metadata/creationTimestamp",
        "/metadata/generation",
        "/metadata/managedFields",
    ];
    applied_leaves.retain(|(p, _)| !server_set.contains(&p.as_str()) && !p.starts_with("/status"));
    let mut result = current
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let conflicts: Vec<(String, String)> = applied_leaves
        .iter()
        .filter_map(|(p, v)| {
            let owner = owners.get(p)?;
            let differs = result.pointer(p) != Some(v);
            (owner != manager && differs).then(|| (dotted(p), owner.clone()))
        })
        .collect();
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let now: Vec<&String> = applied_leaves.iter().map(|(p, _)| p).collect();
    let dropped: Vec<String> = owners
        .iter()
        .filter(|(p, m)| m.as_str() == manager && !now.contains(p))
        .map(|(p, _)| p.clone())
        .collect();
    for p in &dropped {
        owners.remove(p);
        remove_pointer(&mut result, p);
    }
    merge_applied(&mut result, applied);
    for (p, _) in applied_leaves {
        owners.insert(p, manager.to_string());
    }
    Ok(result)
}

/// Maps merge recursively; everything else replaces.
fn merge_applied(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_applied(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, a) => *t = a.clone(),
    }
}
