//! What the official onyxia-web can read in a launcher schema. Its reader is stricter than
//! JSON Schema: one `type` per property (from six names), `type` or `const` on every property,
//! and fixed shapes for the launcher keywords. A schema it cannot read leaves its launcher on
//! the splash screen, so catalogs are checked at load time and each problem is reported with
//! the property it is on.

use serde_json::Value;

/// The `type` names onyxia-web accepts.
const TYPES: [&str; 6] = ["object", "array", "string", "boolean", "integer", "number"];

/// Keywords that must be strings, numbers, integers or booleans when present.
const STRINGS: [&str; 6] = [
    "title",
    "description",
    "pattern",
    "sliderUnit",
    "sliderExtremitySemantic",
    "sliderRangeId",
];
const NUMBERS: [&str; 4] = ["minimum", "sliderMax", "sliderMin", "sliderStep"];
const INTEGERS: [&str; 2] = ["minItems", "maxItems"];

/// One thing onyxia-web would refuse, at a dotted property path (`properties.s3.properties.port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Every problem of a resolved launcher schema, in document order.
pub fn official_ui_problems(schema: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    check(schema, "(root)", &mut problems);
    problems
}

/// Logs a warning for each property of a package schema in an operator's catalogs that
/// onyxia-web cannot read (the built-in ones are kept readable by the tests). Such a catalog
/// still works in onyxia-lite's own UI.
pub fn warn_about_unreadable_schemas(
    catalogs: &[super::Catalog],
    registry: &super::schema::Registry,
) {
    for catalog in catalogs
        .iter()
        .filter(|c| !c.location.starts_with("built-in"))
    {
        for package in catalog.charts.values().flatten() {
            let Some(schema) = &package.schema else {
                continue;
            };
            let file = format!(
                "{}/{}/values.schema.json",
                catalog.location, package.directory
            );
            for p in official_ui_problems(&super::schema::resolve(schema, registry)) {
                tracing::warn!(
                    file,
                    property = p.path,
                    "the official onyxia-web cannot read this launcher schema: {}",
                    p.message
                );
            }
        }
    }
}

fn check(node: &Value, path: &str, problems: &mut Vec<Problem>) {
    let mut problem = |message: String| {
        problems.push(Problem {
            path: path.to_owned(),
            message,
        })
    };
    let Some(node) = node.as_object() else {
        problem("is not an object".into());
        return;
    };
    match node.get("type") {
        None if !node.contains_key("const") => problem("has neither `type` nor `const`".into()),
        None => {}
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => {}
        Some(Value::Array(_)) => problem(format!(
            "`type` is a list ({}); onyxia-web reads exactly one type",
            node["type"]
        )),
        Some(other) => problem(format!("`type` {other} is not one of {}", TYPES.join(", "))),
    }
    for (keys, what, fits) in [
        (
            &STRINGS[..],
            "a string",
            Value::is_string as fn(&Value) -> bool,
        ),
        (&NUMBERS[..], "a number", Value::is_number),
        (&INTEGERS[..], "an integer", |v: &Value| v.is_u64()),
    ] {
        for key in keys {
            if node.get(*key).is_some_and(|v| !fits(v)) {
                problem(format!("`{key}` must be {what}"));
            }
        }
    }
    for key in ["enum", "listEnum"] {
        if node.get(key).is_some_and(|v| !v.is_array()) {
            problem(format!("`{key}` must be a list"));
        }
    }
    if let Some(required) = node.get("required")
        && !required
            .as_array()
            .is_some_and(|r| r.iter().all(Value::is_string))
    {
        problem("`required` must be a list of names".into());
    }
    if let Some(render) = node.get("render")
        && !matches!(
            render.as_str(),
            Some("textArea" | "password" | "list" | "slider")
        )
    {
        problem(format!(
            "`render` {render} is not textArea, password, list or slider"
        ));
    }
    if let Some(hidden) = node.get("hidden")
        && !hidden_fits(hidden)
    {
        problem("`hidden` must be a boolean or {value, path, isPathRelative}".into());
    }
    if let Some(x) = node.get("x-onyxia") {
        for message in x_onyxia_problems(x) {
            problem(message);
        }
    }
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (name, child) in properties {
            check(
                child,
                &format!("{}properties.{name}", prefix(path)),
                problems,
            );
        }
    }
    if let Some(items) = node.get("items") {
        check(items, &format!("{}items", prefix(path)), problems);
    }
}

fn prefix(path: &str) -> String {
    if path == "(root)" {
        String::new()
    } else {
        format!("{path}.")
    }
}

fn hidden_fits(hidden: &Value) -> bool {
    match hidden {
        Value::Bool(_) => true,
        Value::Object(o) => {
            o.contains_key("value")
                && o.get("path").is_some_and(Value::is_string)
                && o.get("isPathRelative").is_none_or(Value::is_boolean)
        }
        _ => false,
    }
}

fn x_onyxia_problems(x: &Value) -> Vec<String> {
    let Some(x) = x.as_object() else {
        return vec!["`x-onyxia` must be an object".into()];
    };
    let field = |name: &str, fits: fn(&Value) -> bool, what: &str| {
        x.get(name)
            .filter(|v| !fits(v))
            .map(|_| format!("`x-onyxia.{name}` must be {what}"))
    };
    let string_or_list = |v: &Value| v.is_string() || v.is_array();
    let string_list_or_map = |v: &Value| v.is_string() || v.is_array() || v.is_object();
    [
        field(
            "overwriteDefaultWith",
            string_list_or_map,
            "a string, a list or a map",
        ),
        field(
            "overwriteListEnumWith",
            string_or_list,
            "a string or a list",
        ),
        field("hidden", Value::is_boolean, "a boolean"),
        field("readonly", Value::is_boolean, "a boolean"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_types_and_missing_types_are_reported_with_their_path() {
        let schema = json!({
            "type": "object",
            "properties": {
                "s3": {"type": "object", "properties": {
                    "port": {"type": ["integer", "string"], "default": 443},
                    "endpoint": {"type": "string"}
                }},
                "tags": {"type": "array", "items": {"description": "no type"}},
                "fixed": {"const": 3},
                "odd": {"type": "null", "render": "wheel", "x-onyxia": {"hidden": "yes"}}
            }
        });
        let problems = official_ui_problems(&schema);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "properties.s3.properties.port",
                "properties.tags.items",
                "properties.odd",
                "properties.odd",
                "properties.odd",
            ]
        );
        assert!(
            problems[0].message.contains("exactly one type"),
            "{problems:?}"
        );
        assert!(problems[3].message.contains("render"), "{problems:?}");
        assert!(
            problems[4].message.contains("x-onyxia.hidden"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_launcher_keywords_onyxia_web_knows_pass() {
        let schema = json!({
            "type": "object",
            "properties": {
                "cpu": {"type": "string", "render": "slider", "sliderMin": 50, "sliderMax": 4000,
                        "sliderStep": 50, "sliderUnit": "m", "sliderExtremity": "down",
                        "sliderRangeId": "cpu", "x-onyxia": {"overwriteDefaultWith": "{{r.cpu}}"}},
                "when": {"type": "boolean", "hidden": {"value": false, "path": "x.enabled"}},
                "list": {"type": "array", "items": {"type": "string"}, "minItems": 0,
                         "listEnum": ["a"], "x-onyxia": {"overwriteListEnumWith": "{{l}}"}}
            },
            "required": ["cpu"]
        });
        assert_eq!(official_ui_problems(&schema), []);
    }
}
