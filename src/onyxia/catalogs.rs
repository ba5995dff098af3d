//! Catalog endpoints: catalogs with their latest packages, a chart's versions, and a version's
//! resolved schema.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::region::strip_nulls;
use super::user::authenticate;
use super::{OnyxiaState, Problem, json_response};
use crate::catalog::{Catalog, Package};

/// A chart version as onyxia-api serializes it (index.yaml entry plus `defaultValues`).
fn chart_json(catalog: &Catalog, package: &Package) -> Value {
    let mut chart: Map<String, Value> = package.metadata.clone();
    chart.entry("apiVersion").or_insert(json!("v2"));
    chart.entry("type").or_insert(json!("application"));
    chart.entry("keywords").or_insert(json!([]));
    chart.entry("sources").or_insert(json!([]));
    chart.entry("maintainers").or_insert(json!([]));
    chart.entry("annotations").or_insert(json!({}));
    let digest = Sha256::digest(
        [
            package.name.as_bytes(),
            package.version.as_bytes(),
            package.default_values_text.as_bytes(),
        ]
        .concat(),
    );
    chart.insert("digest".into(), json!(hex::encode(digest)));
    chart.insert(
        "urls".into(),
        json!([format!(
            "{}/{}-{}.tgz",
            catalog.location, package.name, package.version
        )]),
    );
    chart.insert("defaultValues".into(), json!(package.default_values_text));
    strip_nulls(Value::Object(chart))
}

/// A catalog as `/public/catalogs` and `/my-lab/catalogs` return it.
fn catalog_json(catalog: &Catalog, loaded_ms: u64) -> Value {
    let latest: Map<String, Value> = catalog
        .charts
        .iter()
        .filter_map(|(name, versions)| {
            versions
                .first()
                .map(|p| (name.clone(), chart_json(catalog, p)))
        })
        .collect();
    let mut out = json!({
        "id": catalog.id,
        "name": catalog.name,
        "location": catalog.location,
        "status": catalog.status,
        "lastUpdateTime": loaded_ms,
        "type": "helm",
        "excludedCharts": [],
        "highlightedCharts": catalog.highlighted_charts,
        "includeKeywords": [],
        "excludeKeywords": [],
        "includeAnnotations": {},
        "excludeAnnotations": {},
        "skipTlsVerify": false,
        "allowSharing": true,
        "visible": catalog.visible,
        "multipleServicesMode": "all",
        "maxNumberOfVersions": 5,
        "catalog": {
            "apiVersion": "v1",
            "generated": "",
            "latestPackages": latest,
        }
    });
    if let Some(d) = &catalog.description {
        out["description"] = d.clone();
    }
    if let Some(m) = &catalog.maintainer {
        out["maintainer"] = json!(m);
    }
    out
}

fn catalogs_response(state: &OnyxiaState, claims: Option<&Map<String, Value>>) -> Response {
    let catalogs: Vec<Value> = state
        .lab
        .catalogs
        .iter()
        .filter(|c| c.visible_to(claims))
        .map(|c| catalog_json(c, state.started_secs * 1000))
        .collect();
    json_response(&json!({ "catalogs": catalogs }))
}

pub async fn public_catalogs(State(state): State<Arc<OnyxiaState>>) -> Response {
    catalogs_response(&state, None)
}

pub async fn my_catalogs(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = authenticate(&state, &headers).await?;
    Ok(catalogs_response(&state, Some(&user.claims)))
}

fn find_catalog<'a>(state: &'a OnyxiaState, id: &str) -> Result<&'a Catalog, Problem> {
    state
        .lab
        .catalog(id)
        .ok_or_else(|| Problem::not_found(format!("no catalog `{id}`")))
}

pub async fn chart_versions(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    Path((catalog_id, chart)): Path<(String, String)>,
) -> Result<Response, Problem> {
    authenticate(&state, &headers).await?;
    let catalog = find_catalog(&state, &catalog_id)?;
    let versions = catalog.charts.get(&chart).ok_or_else(|| {
        Problem::not_found(format!("no chart `{chart}` in catalog `{catalog_id}`"))
    })?;
    let list: Vec<Value> = versions.iter().map(|p| chart_json(catalog, p)).collect();
    Ok(json_response(&Value::Array(list)))
}

pub async fn chart_schema(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    Path((catalog_id, chart, version)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    authenticate(&state, &headers).await?;
    let catalog = find_catalog(&state, &catalog_id)?;
    let package = catalog.package(&chart, &version).ok_or_else(|| {
        Problem::not_found(format!(
            "no chart `{chart}` version `{version}` in catalog `{catalog_id}`"
        ))
    })?;
    Ok(match state.lab.resolved_schema(package) {
        Some(schema) => json_response(&schema),
        // onyxia-api writes a Java null as an empty body; the web tests for "".
        None => StatusCode::OK.into_response(),
    })
}
