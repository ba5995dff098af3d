//! Helm-style values: merging, flattening for display, reading by path, and the Kubernetes
//! quantities resources are written in.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// `overlay` merged into `base`: objects merge key by key, anything else replaces.
/// A `null` in the overlay removes the key (as Helm does).
pub fn merge(base: &Value, overlay: &Value) -> Value {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (key, value) in o {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                let merged = match out.get(key) {
                    Some(existing) => merge(existing, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (_, overlay) => overlay.clone(),
    }
}

/// Leaves as `a.b.c → text`, arrays dropped (what Onyxia shows as a service's `env`).
pub fn flatten(values: &Value) -> Map<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, v, out);
                }
            }
            Value::Array(_) | Value::Null => {}
            Value::String(s) => {
                out.insert(prefix.to_owned(), Value::String(s.clone()));
            }
            other => {
                out.insert(prefix.to_owned(), Value::String(other.to_string()));
            }
        }
    }
    let mut out = Map::new();
    walk("", values, &mut out);
    out
}

/// The value at a dotted path (`resources.limits.cpu`).
pub fn get<'a>(values: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(values, |v, key| v.as_object().and_then(|m| m.get(key)))
}

/// Sets the value at a dotted path, creating objects on the way.
pub fn set(values: &mut Value, path: &str, new: Value) {
    let mut current = values;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let map = current.as_object_mut().expect("made an object above");
        if keys.peek().is_none() {
            map.insert(key.to_owned(), new);
            return;
        }
        current = map
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Orders versions as semver (unparsable ones count as 0.0.0, as Onyxia does).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| {
        semver::Version::parse(v.trim_start_matches('v')).unwrap_or(semver::Version::new(0, 0, 0))
    };
    parse(a).cmp(&parse(b)).then_with(|| a.cmp(b))
}

/// Larger quantities are refused, so sums of them cannot overflow (2^53: exact in f64 too).
const MAX_QUANTITY: f64 = 9_007_199_254_740_992.0;

/// A value that is not a Kubernetes quantity; the text is what users are told.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum QuantityError {
    #[error("{0} is not a quantity")]
    NotText(Value),
    #[error("`{text}` is not a CPU quantity (e.g. 500m or 2)")]
    Cpu {
        text: String,
        #[source]
        source: Option<std::num::ParseFloatError>,
    },
    #[error("`{text}` is not a memory quantity (e.g. 512Mi or 2Gi)")]
    Memory {
        text: String,
        #[source]
        source: Option<std::num::ParseFloatError>,
    },
}

/// A CPU quantity (`100m`, `2`, `0.5`) in millicores.
pub fn cpu_millis(quantity: &Value) -> Result<u64, QuantityError> {
    let text = quantity_text(quantity)?;
    // Nano- and microcores are how the metrics API reports use.
    let (number, scale) = if let Some(n) = text.strip_suffix('n') {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix('u') {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 1.0)
    } else {
        (text.as_str(), 1000.0)
    };
    let n: f64 = match number.trim().parse() {
        Ok(n) => n,
        Err(e) => {
            return Err(QuantityError::Cpu {
                text,
                source: Some(e),
            });
        }
    };
    let millis = n * scale;
    if !millis.is_finite() || !(0.0..=MAX_QUANTITY).contains(&millis) {
        return Err(QuantityError::Cpu { text, source: None });
    }
    Ok(millis.round() as u64)
}

/// A memory quantity (`512Mi`, `2Gi`, `1G`, `1000000`) in bytes.
pub fn memory_bytes(quantity: &Value) -> Result<u64, QuantityError> {
    let text = quantity_text(quantity)?;
    const UNITS: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, scale) = UNITS
        .iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))
        .unwrap_or((text.as_str(), 1.0));
    let n: f64 = match number.trim().parse() {
        Ok(n) => n,
        Err(e) => {
            return Err(QuantityError::Memory {
                text,
                source: Some(e),
            });
        }
    };
    let bytes = n * scale;
    if !bytes.is_finite() || !(0.0..=MAX_QUANTITY).contains(&bytes) {
        return Err(QuantityError::Memory { text, source: None });
    }
    Ok(bytes.round() as u64)
}

fn quantity_text(quantity: &Value) -> Result<String, QuantityError> {
    match quantity {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(QuantityError::NotText(other.clone())),
    }
}

/// Millicores as Kubernetes writes them (`1500m`, `2`).
pub fn format_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes as Kubernetes writes them (`512Mi`, `2Gi`, or plain bytes).
pub fn format_memory(bytes: u64) -> String {
    for (unit, scale) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes != 0 && bytes.is_multiple_of(scale) {
            return format!("{}{unit}", bytes / scale);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_overlays_objects_and_null_removes() {
        let base = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        let merged = merge(&base, &json!({"a": {"c": 3, "b": null}, "d": [2, 3]}));
        assert_eq!(merged, json!({"a": {"c": 3}, "d": [2, 3]}));
    }

    #[test]
    fn flatten_drops_arrays_and_stringifies() {
        let flat = flatten(&json!({"global": {"suspend": false}, "x": [1], "n": 2, "s": "t"}));
        assert_eq!(
            Value::Object(flat),
            json!({"global.suspend": "false", "n": "2", "s": "t"})
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis(&json!("100m")), Ok(100));
        assert_eq!(cpu_millis(&json!("2")), Ok(2000));
        assert_eq!(cpu_millis(&json!(0.5)), Ok(500));
        assert!(cpu_millis(&json!("lots")).is_err());
        assert_eq!(memory_bytes(&json!("512Mi")), Ok(512 << 20));
        assert_eq!(memory_bytes(&json!("1G")), Ok(1_000_000_000));
        assert_eq!(memory_bytes(&json!(1024)), Ok(1024));
        assert!(memory_bytes(&json!("2Gb")).is_err());
        assert!(cpu_millis(&json!("99999999999999999999")).is_err());
        assert!(memory_bytes(&json!("99999999999Ei")).is_err());
        assert_eq!(format_memory(2 << 30), "2Gi");
        assert_eq!(format_cpu(1500), "1500m");
        assert_eq!(cpu_millis(&json!("250000000n")).unwrap(), 250);
        assert_eq!(cpu_millis(&json!("1500u")).unwrap(), 2);
    }

    #[test]
    fn versions_sort_as_semver() {
        let mut v = vec!["1.10.0", "1.2.0", "2.0.0-rc1", "x"];
        v.sort_by(|a, b| compare_versions(b, a));
        assert_eq!(v, vec!["2.0.0-rc1", "1.10.0", "1.2.0", "x"]);
    }

    #[test]
    fn set_and_get_by_path() {
        let mut v = json!({});
        set(&mut v, "a.b.c", json!(1));
        assert_eq!(get(&v, "a.b.c"), Some(&json!(1)));
    }
}
