//! Catalogs of launchable packages. A catalog is a directory with `catalog.toml` and one
//! directory per package version holding Helm-like files:
//!
//! - `Chart.yaml`: name, version, description, icon, home, keywords… (kept as given);
//! - `values.yaml`: default values, with the value paths of Onyxia's interactive-services charts;
//! - `values.schema.json`: the launcher's JSON schema with `x-onyxia` extensions (optional);
//! - `NOTES.md`: post-install notes, a template over the values (optional);
//! - `launch.yaml`: how values become a container ([`launch::LaunchTemplate`]).
//!
//! The built-in catalogs (`catalog/` in the repository) are embedded in the binary; more can
//! be added from a directory.

pub mod compat;
pub mod launch;
pub mod schema;
pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Deserialize;
use serde_json::{Map, Value};

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/catalog");

#[derive(Debug, thiserror::Error)]
#[error("catalog {location}: {message}")]
pub struct CatalogError {
    pub location: String,
    pub message: String,
    /// What went wrong underneath, when something did (a package that does not load).
    #[source]
    pub source: Option<PackageError>,
}

fn error(location: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError {
        location: location.into(),
        message: message.into(),
        source: None,
    }
}

/// Why a package directory does not load.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("Chart.yaml: {0}")]
    Chart(#[source] serde_yaml_ng::Error),
    #[error("Chart.yaml has no {0}")]
    NoField(&'static str),
    #[error("values.yaml: {0}")]
    Values(#[source] serde_yaml_ng::Error),
    #[error("values.yaml must be a mapping")]
    ValuesNotMapping,
    #[error("values.schema.json: {0}")]
    SchemaJson(#[source] serde_json::Error),
    #[error("values.schema.json: {0}")]
    Schema(#[source] schema::SchemaError),
    #[error("launch.yaml: {0}")]
    Launch(#[source] serde_yaml_ng::Error),
    #[error("launch.yaml: {0}")]
    Template(#[source] launch::TemplateError),
}

/// `catalog.toml`: what Onyxia's catalog configuration holds, minus the Helm repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CatalogFile {
    id: String,
    name: Value,
    #[serde(default)]
    description: Option<Value>,
    #[serde(default)]
    maintainer: Option<String>,
    #[serde(default = "prod")]
    status: String,
    #[serde(default)]
    highlighted_charts: Vec<String>,
    #[serde(default)]
    restrictions: Vec<Restriction>,
    #[serde(default)]
    visible: Option<Visible>,
    #[serde(default)]
    culling: Culling,
}

/// Idle culling of this catalog's services (`[culling]` in catalog.toml), over the platform's
/// `culling.*` settings; 0 turns one off for the catalog.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Culling {
    pub idle_minutes: Option<u64>,
    pub max_age_hours: Option<u64>,
}

fn prod() -> String {
    "PROD".into()
}

/// A claim every user of a restricted catalog must have (all restrictions must match).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Restriction {
    pub user_attribute: UserAttribute,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAttribute {
    pub key: String,
    /// A regular expression the whole claim value (or one element of a list claim) must match.
    pub matches: String,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Visible {
    pub user: bool,
    pub project: bool,
}

/// One catalog with its packages.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub id: String,
    pub name: Value,
    pub description: Option<Value>,
    pub maintainer: Option<String>,
    pub status: String,
    pub highlighted_charts: Vec<String>,
    pub restrictions: Vec<(String, regex::Regex)>,
    pub visible: Visible,
    /// Where it was loaded from (`built-in` or a directory).
    pub location: String,
    pub culling: Culling,
    /// Chart name → versions, newest first.
    pub charts: BTreeMap<String, Vec<Package>>,
}

/// One version of one chart.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// Chart.yaml as given, as JSON.
    pub metadata: Map<String, Value>,
    /// values.yaml as written (onyxia-web parses it itself).
    pub default_values_text: String,
    pub default_values: Value,
    pub schema: Option<Value>,
    pub notes: String,
    pub launch: launch::LaunchTemplate,
    /// Its directory within the catalog, for messages.
    pub directory: String,
}

impl Catalog {
    pub fn package(&self, chart: &str, version: &str) -> Option<&Package> {
        self.charts
            .get(chart)?
            .iter()
            .find(|p| p.version == version)
    }

    pub fn latest(&self, chart: &str) -> Option<&Package> {
        self.charts.get(chart)?.first()
    }

    /// Whether a user with these token claims may see the catalog (every restriction matches).
    pub fn visible_to(&self, claims: Option<&Map<String, Value>>) -> bool {
        self.restrictions.iter().all(|(key, pattern)| {
            let Some(claims) = claims else { return false };
            match claims.get(key) {
                Some(Value::String(s)) => pattern.is_match(s),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| pattern.is_match(s))),
                Some(Value::Bool(b)) => pattern
                    .as_str()
                    .trim_start_matches('^')
                    .trim_end_matches('$')
                    .eq_ignore_ascii_case(&b.to_string()),
                _ => false,
            }
        })
    }
}

/// All catalogs: the built-in ones, then those of `extra` (a catalog directory, or a directory
/// of catalog directories). A later catalog with the same id replaces an earlier one.
pub fn load(extra: Option<&Path>) -> Result<Vec<Catalog>, CatalogError> {
    let mut catalogs: Vec<Catalog> = Vec::new();
    let mut add = |catalog: Catalog| {
        catalogs.retain(|c| c.id != catalog.id);
        catalogs.push(catalog);
    };
    for dir in BUILT_IN.dirs() {
        add(load_embedded(dir)?);
    }
    if let Some(root) = extra {
        let roots = if root.join("catalog.toml").is_file() {
            vec![root.to_owned()]
        } else {
            let entries = std::fs::read_dir(root)
                .map_err(|e| error(root.display().to_string(), e.to_string()))?;
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("catalog.toml").is_file())
                .collect();
            dirs.sort();
            if dirs.is_empty() {
                return Err(error(
                    root.display().to_string(),
                    "no catalog.toml in this directory or its subdirectories",
                ));
            }
            dirs
        };
        for dir in roots {
            add(load_directory(&dir)?);
        }
    }
    Ok(catalogs)
}

/// The files of one catalog, read from wherever it lives.
trait Files {
    fn location(&self) -> String;
    fn read(&self, relative: &Path) -> Option<String>;
    fn subdirs(&self) -> Vec<PathBuf>;
}

struct EmbeddedFiles<'a>(&'a Dir<'static>);

impl Files for EmbeddedFiles<'_> {
    fn location(&self) -> String {
        format!("built-in/{}", self.0.path().display())
    }
    fn read(&self, relative: &Path) -> Option<String> {
        self.0
            .get_file(self.0.path().join(relative))
            .and_then(|f| f.contents_utf8())
            .map(str::to_owned)
    }
    fn subdirs(&self) -> Vec<PathBuf> {
        self.0
            .dirs()
            .filter_map(|d| {
                d.path()
                    .strip_prefix(self.0.path())
                    .ok()
                    .map(Path::to_owned)
            })
            .collect()
    }
}

struct DiskFiles<'a>(&'a Path);

impl Files for DiskFiles<'_> {
    fn location(&self) -> String {
        self.0.display().to_string()
    }
    fn read(&self, relative: &Path) -> Option<String> {
        std::fs::read_to_string(self.0.join(relative)).ok()
    }
    fn subdirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.0)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| PathBuf::from(e.file_name()))
            .collect();
        dirs.sort();
        dirs
    }
}

fn load_embedded(dir: &Dir<'static>) -> Result<Catalog, CatalogError> {
    load_catalog(&EmbeddedFiles(dir))
}

fn load_directory(dir: &Path) -> Result<Catalog, CatalogError> {
    load_catalog(&DiskFiles(dir))
}

fn load_catalog(files: &dyn Files) -> Result<Catalog, CatalogError> {
    let location = files.location();
    let text = files
        .read(Path::new("catalog.toml"))
        .ok_or_else(|| error(&location, "catalog.toml is missing"))?;
    let file: CatalogFile = toml::from_str(&text)
        .map_err(|e| error(format!("{location}/catalog.toml"), e.to_string()))?;
    let mut restrictions = Vec::new();
    for r in &file.restrictions {
        let pattern =
            regex::Regex::new(&format!("^(?:{})$", r.user_attribute.matches)).map_err(|e| {
                error(
                    format!("{location}/catalog.toml"),
                    format!("restriction pattern: {e}"),
                )
            })?;
        restrictions.push((r.user_attribute.key.clone(), pattern));
    }
    let mut charts: BTreeMap<String, Vec<Package>> = BTreeMap::new();
    for sub in files.subdirs() {
        let package = load_package(files, &sub).map_err(|e| CatalogError {
            location: format!("{location}/{}", sub.display()),
            message: e.to_string(),
            source: Some(e),
        })?;
        let versions = charts.entry(package.name.clone()).or_default();
        if versions.iter().any(|p| p.version == package.version) {
            return Err(error(
                format!("{location}/{}", sub.display()),
                format!("{} {} is defined twice", package.name, package.version),
            ));
        }
        versions.push(package);
    }
    for versions in charts.values_mut() {
        versions.sort_by(|a, b| values::compare_versions(&b.version, &a.version));
    }
    Ok(Catalog {
        id: file.id,
        name: file.name,
        description: file.description,
        maintainer: file.maintainer,
        status: file.status,
        highlighted_charts: file.highlighted_charts,
        restrictions,
        visible: file.visible.unwrap_or(Visible {
            user: true,
            project: true,
        }),
        location,
        culling: file.culling,
        charts,
    })
}

fn load_package(files: &dyn Files, dir: &Path) -> Result<Package, PackageError> {
    let read = |name: &str| files.read(&dir.join(name));
    let chart_text = read("Chart.yaml").ok_or(PackageError::Missing("Chart.yaml"))?;
    let metadata: Map<String, Value> =
        serde_yaml_ng::from_str(&chart_text).map_err(PackageError::Chart)?;
    let text_of = |key: &str| metadata.get(key).and_then(Value::as_str).map(str::to_owned);
    let name = text_of("name").ok_or(PackageError::NoField("name"))?;
    let version = text_of("version").ok_or(PackageError::NoField("version"))?;
    let default_values_text = read("values.yaml").unwrap_or_default();
    let default_values: Value = if default_values_text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_yaml_ng::from_str(&default_values_text).map_err(PackageError::Values)?
    };
    if !default_values.is_object() {
        return Err(PackageError::ValuesNotMapping);
    }
    let schema = match read("values.schema.json") {
        Some(text) => {
            let schema: Value = serde_json::from_str(&text).map_err(PackageError::SchemaJson)?;
            schema::compile(&schema).map_err(PackageError::Schema)?;
            Some(schema)
        }
        None => None,
    };
    let launch_text = read("launch.yaml").ok_or(PackageError::Missing("launch.yaml"))?;
    let launch: launch::LaunchTemplate =
        serde_yaml_ng::from_str(&launch_text).map_err(PackageError::Launch)?;
    launch.check().map_err(PackageError::Template)?;
    Ok(Package {
        name,
        version,
        metadata,
        default_values_text,
        default_values,
        schema,
        notes: read("NOTES.md").unwrap_or_default(),
        launch,
        directory: dir.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalogs_load_and_their_defaults_pass_their_schemas() {
        let catalogs = load(None).unwrap();
        let ids: Vec<&str> = catalogs.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["databases", "ide", "test"]);
        for catalog in &catalogs {
            for package in catalog.charts.values().flatten() {
                let at = format!("{}/{}", catalog.id, package.name);
                let schema = package.schema.as_ref().expect(&at);
                let errors = schema::validate(schema, &package.default_values).unwrap();
                assert!(errors.is_empty(), "{at}: {errors:?}");
                let reach = launch::Reachability::default();
                let launch = package
                    .launch
                    .render(&package.default_values, "r-1", "user-a", &reach)
                    .expect(&at);
                assert!(!launch.spec.image.is_empty(), "{at}");
            }
        }
    }
}
