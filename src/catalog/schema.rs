//! `values.schema.json`: resolution before it is served (local `$ref`s inlined, registry
//! schemas substituted for `x-onyxia.overwriteSchemaWith`), and validation of install values.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

/// Schemas an operator supplies by name (`ide/resources.json`…), read from a directory.
/// `overwriteSchemaWith` and non-local `$ref`s name them.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    schemas: BTreeMap<String, Value>,
}

/// Why the schema directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Registry {
    /// Every `*.json` under `dir`, keyed by its path relative to `dir` (with `/`).
    pub fn load(dir: &Path) -> Result<Self, RegistryError> {
        fn walk(
            root: &Path,
            dir: &Path,
            out: &mut BTreeMap<String, Value>,
        ) -> Result<(), RegistryError> {
            let read = |path: &Path| {
                let path = path.to_owned();
                move |source| RegistryError::Read { path, source }
            };
            let entries = std::fs::read_dir(dir).map_err(read(dir))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out)?;
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).map_err(read(&path))?;
                    let schema: Value =
                        serde_json::from_str(&text).map_err(|source| RegistryError::Parse {
                            path: path.clone(),
                            source,
                        })?;
                    let key = path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.insert(key, schema);
                }
            }
            Ok(())
        }
        let mut schemas = BTreeMap::new();
        walk(dir, dir, &mut schemas)?;
        Ok(Registry { schemas })
    }
}

/// How deep `$ref`s may nest before resolution gives up (cycles).
const MAX_DEPTH: usize = 32;

/// The schema as the launcher receives it: `#/definitions/…` refs inlined, registry schemas
/// in place of `overwriteSchemaWith` and named refs; unresolvable named refs dropped.
pub fn resolve(schema: &Value, registry: &Registry) -> Value {
    fn walk(node: &Value, root: &Value, registry: &Registry, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return node.clone();
        }
        match node {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("x-onyxia")
                    .and_then(|x| x.get("overwriteSchemaWith"))
                    .and_then(Value::as_str)
                    && let Some(replacement) = registry.schemas.get(name)
                {
                    return walk(replacement, replacement, registry, depth + 1);
                }
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    let target = match reference.strip_prefix("#/") {
                        Some(pointer) => root.pointer(&format!("/{pointer}")).cloned(),
                        None => registry.schemas.get(reference).cloned(),
                    };
                    let mut rest: Map<String, Value> = map.clone();
                    rest.remove("$ref");
                    if let Some(target) = target {
                        let resolved = walk(&target, root, registry, depth + 1);
                        // Keywords beside the $ref refine the referenced schema.
                        if let Value::Object(mut merged) = resolved {
                            for (k, v) in rest {
                                merged.insert(k, walk(&v, root, registry, depth + 1));
                            }
                            return Value::Object(merged);
                        }
                        return resolved;
                    }
                    return walk(&Value::Object(rest), root, registry, depth + 1);
                }
                Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), walk(v, root, registry, depth)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| walk(v, root, registry, depth))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut resolved = walk(schema, schema, registry, 0);
    if let Value::Object(map) = &mut resolved {
        map.remove("definitions");
    }
    resolved
}

/// A schema jsonschema cannot build a validator from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(#[source] Box<jsonschema::ValidationError<'static>>);

/// A validator for `schema`, or why it is not a usable schema.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, SchemaError> {
    let mut schema = schema.clone();
    // Catalog schemas name drafts by URL; validation must not try to fetch anything.
    if let Value::Object(map) = &mut schema {
        map.remove("$id");
    }
    jsonschema::options()
        .should_validate_formats(false)
        .build(&schema)
        .map_err(|e| SchemaError(Box::new(e)))
}

/// Every reason `values` fails `schema`, as `path: message` lines (empty when valid).
pub fn validate(schema: &Value, values: &Value) -> Result<Vec<String>, SchemaError> {
    let validator = compile(schema)?;
    Ok(validator
        .iter_errors(values)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_refs_are_inlined_and_registry_overrides_apply() {
        let schema = json!({
            "type": "object",
            "definitions": {"cpu": {"type": "string", "default": "1"}},
            "properties": {
                "cpu": {"$ref": "#/definitions/cpu", "title": "CPU"},
                "mem": {"type": "string", "x-onyxia": {"overwriteSchemaWith": "mem.json"}},
                "gone": {"$ref": "not-there.json", "type": "string"}
            }
        });
        let mut registry = Registry::default();
        registry.schemas.insert(
            "mem.json".into(),
            json!({"type": "string", "pattern": "^[0-9]+Gi$"}),
        );
        let resolved = resolve(&schema, &registry);
        assert_eq!(
            resolved["properties"]["cpu"],
            json!({"type": "string", "default": "1", "title": "CPU"})
        );
        assert_eq!(resolved["properties"]["mem"]["pattern"], "^[0-9]+Gi$");
        assert_eq!(resolved["properties"]["gone"], json!({"type": "string"}));
        assert!(resolved.get("definitions").is_none());
    }

    #[test]
    fn validation_reports_paths() {
        let schema = json!({
            "type": "object",
            "properties": {"resources": {"type": "object", "properties": {
                "cpu": {"type": "string", "pattern": "^[0-9]+m?$"}}}}
        });
        let errors = validate(&schema, &json!({"resources": {"cpu": "lots"}})).unwrap();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("/resources/cpu: "), "{errors:?}");
        assert!(
            validate(&schema, &json!({"resources": {"cpu": "100m"}}))
                .unwrap()
                .is_empty()
        );
    }
}
