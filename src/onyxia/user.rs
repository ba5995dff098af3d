//! Who calls: the bearer token checked against the issuer, the user's projects (a personal one
//! and one per group), and the `ONYXIA-REGION` / `ONYXIA-PROJECT` headers.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use super::region::RegionSettings;
use super::{OnyxiaState, Problem, json_response};
use crate::markup::bearer_token;
use crate::services::is_label;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub username: String,
    pub email: String,
    pub name: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub claims: Map<String, Value>,
}

/// A project as `/user/info` lists it; `group` is set for group projects only.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub vault_top_dir: String,
}

/// The caller, checked: a valid access token of the embedded issuer (or the external one).
pub async fn authenticate(state: &OnyxiaState, headers: &HeaderMap) -> Result<ApiUser, Problem> {
    let unauthorized =
        |detail: &str| Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail.to_owned());
    let token = bearer_token(headers).ok_or_else(|| unauthorized("a bearer token is required"))?;
    let claims = state
        .verifier
        .for_api(token)
        .await
        .map_err(|e| unauthorized(&format!("invalid token: {e}")))?;
    let text = |key: &str| {
        claims
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let list = |key: &str| -> Vec<String> {
        match claims.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|g| g.trim_start_matches('/').to_owned())
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let username = text("preferred_username");
    if username.is_empty() {
        return Err(unauthorized("the token has no preferred_username"));
    }
    let mut roles = list("roles");
    roles.sort();
    Ok(ApiUser {
        email: text("email"),
        name: text("name"),
        groups: list("groups"),
        roles,
        username,
        claims: claims.into_iter().collect(),
    })
}

/// Hex digits of the digest that marks a folded personal project id.
const DIGEST_HEX: usize = 16;

/// The personal project of `username`: `<prefix><username>` when that is already an RFC 1123
/// label (as Onyxia names it), else the name folded into a label (lowercase, other characters
/// as `-`) followed by `-` and 64 bits of the SHA-256 of the exact username. Plain ids never
/// end like a digest (those names are folded too), so two usernames never share a project:
/// `jane.doe` and `jane-doe` get different ones.
pub fn personal_project_id(prefix: &str, username: &str) -> String {
    let plain = format!("{prefix}{username}");
    if is_label(&plain) && !ends_with_digest(&plain) {
        return plain;
    }
    let digest: String = sha2::Sha256::digest(username.as_bytes())
        .iter()
        .take(DIGEST_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    let folded: String = plain
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let room = 63 - DIGEST_HEX - 1;
    let folded: String = folded.trim_matches('-').chars().take(room).collect();
    let folded = folded.trim_end_matches('-');
    let folded = if folded.is_empty() { "u" } else { folded };
    format!("{folded}-{digest}")
}

/// Whether a name ends in `-` and [`DIGEST_HEX`] lowercase hex digits.
fn ends_with_digest(name: &str) -> bool {
    let Some(at) = name.len().checked_sub(DIGEST_HEX + 1) else {
        return false;
    };
    name.as_bytes()[at] == b'-'
        && name[at + 1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The user's projects in a region: personal first, then one per group.
pub fn projects(user: &ApiUser, region: &RegionSettings) -> Vec<Project> {
    let personal_dir = format!("{}{}", region.vault_prefix, user.username);
    if region.single_namespace {
        return vec![Project {
            id: "single-project".into(),
            name: "Single namespace, single project".into(),
            group: None,
            namespace: Some("single-project".into()),
            vault_top_dir: personal_dir,
        }];
    }
    // Usernames may hold capitals, dots or underscores; namespaces may not.
    let personal_id = personal_project_id(&region.namespace_prefix, &user.username);
    let mut out = vec![Project {
        id: personal_id.clone(),
        name: format!("{} personal project", user.username),
        group: None,
        namespace: Some(personal_id),
        vault_top_dir: personal_dir,
    }];
    for group in &user.groups {
        let id = format!("{}{}", region.group_namespace_prefix, group);
        if !is_label(&id) {
            continue;
        }
        out.push(Project {
            id: id.clone(),
            name: id.clone(),
            group: Some(group.clone()),
            namespace: Some(id.clone()),
            vault_top_dir: format!("{}{}", region.vault_group_prefix, id),
        });
    }
    out.retain(|p| p.namespace.as_deref().is_some_and(is_label));
    out
}

/// The region of `ONYXIA-REGION` (the first when missing or unknown).
pub fn region_of(state: &OnyxiaState, headers: &HeaderMap) -> RegionSettings {
    let wanted = headers.get("onyxia-region").and_then(|v| v.to_str().ok());
    let region = wanted
        .and_then(|id| {
            state
                .regions
                .iter()
                .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        })
        .unwrap_or(&state.regions[0]);
    RegionSettings::of(region)
}

/// The project of `ONYXIA-PROJECT` (personal when missing); 403 when it is not the user's.
pub fn project_of(
    user: &ApiUser,
    region: &RegionSettings,
    headers: &HeaderMap,
) -> Result<Project, Problem> {
    let all = projects(user, region);
    match headers
        .get("onyxia-project")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => all
            .into_iter()
            .next()
            .ok_or_else(|| Problem::forbidden("your username cannot name a project")),
        Some(id) => all
            .into_iter()
            .find(|p| p.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| Problem::forbidden(format!("project `{id}` is not one of yours"))),
    }
}

pub async fn info(
    State(state): State<Arc<OnyxiaState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let user = authenticate(&state, &headers).await?;
    let region = region_of(&state, &headers);
    let mut body = json!({
        "idep": user.username,
        "ip": client_ip(&headers, peer),
        "groups": user.groups,
        "roles": user.roles,
        "projects": projects(&user, &region),
    });
    if !user.email.is_empty() {
        body["email"] = json!(user.email);
    }
    if !user.name.is_empty() {
        body["nomComplet"] = json!(user.name);
    }
    Ok(json_response(&body))
}

pub async fn ip(ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    json_response(&json!({ "ip": client_ip(&headers, peer) }))
}

/// The first address of the first forwarding header set, else the peer's address.
fn client_ip(headers: &HeaderMap, peer: SocketAddr) -> String {
    const HEADERS: [&str; 10] = [
        "x-forwarded-for",
        "proxy-client-ip",
        "wl-proxy-client-ip",
        "http_x_forwarded_for",
        "http_x_forwarded",
        "http_x_cluster_client_ip",
        "http_client_ip",
        "http_forwarded_for",
        "http_forwarded",
        "http_via",
    ];
    HEADERS
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(|v| v.split(',').next().unwrap_or("").trim())
        .find(|v| !v.is_empty() && !v.eq_ignore_ascii_case("unknown"))
        .map(str::to_owned)
        .unwrap_or_else(|| peer.ip().to_string())
}

#[derive(serde::Deserialize, Default)]
pub struct OnboardingRequest {
    #[serde(default)]
    group: Option<String>,
}

/// Namespaces need no creation on a container engine; the checks onyxia-api makes still apply.
pub async fn onboarding(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let user = authenticate(&state, &headers).await?;
    let region = region_of(&state, &headers);
    if region.single_namespace {
        return Ok(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            "this region has a single namespace",
        )
        .into_response());
    }
    // The body decides, not its Content-Type: an empty one asks for nothing.
    let request: OnboardingRequest = if body.iter().all(u8::is_ascii_whitespace) {
        OnboardingRequest::default()
    } else {
        super::parse_body(&body)?
    };
    if let Some(group) = request.group
        && !user.groups.contains(&group)
    {
        return Err(Problem::forbidden(format!(
            "you are not a member of group `{group}`"
        )));
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> ApiUser {
        ApiUser {
            username: name.into(),
            email: String::new(),
            name: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            roles: Vec::new(),
            claims: Map::new(),
        }
    }

    fn region() -> RegionSettings {
        RegionSettings {
            namespace_prefix: "user-".into(),
            group_namespace_prefix: "projet-".into(),
            vault_prefix: "user-".into(),
            ..Default::default()
        }
    }

    #[test]
    fn personal_projects_are_labels_even_for_unusual_usernames() {
        let projects = projects(&user("Jane.Doe_2", &["Bad Group", "demo"]), &region());
        let personal = &projects[0].id;
        assert!(personal.starts_with("user-jane-doe-2-"), "{personal}");
        assert!(is_label(personal));
        assert!(projects[0].group.is_none());
        assert_eq!(projects[0].vault_top_dir, "user-Jane.Doe_2");
        // Groups that cannot name a namespace are dropped, as onyxia-api does.
        let ids: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, vec![personal.as_str(), "projet-demo"]);
    }

    #[test]
    fn personal_project_ids_are_injective_over_usernames() {
        assert_eq!(personal_project_id("user-", "alice"), "user-alice");
        let names = [
            "jane.doe",
            "jane-doe",
            "jane_doe",
            "Jane-Doe",
            "JANE.DOE",
            "jane--doe",
            "-jane-doe",
            "jane-doe-",
            "...",
            "",
            &"x".repeat(80),
            &"x".repeat(81),
        ];
        let mut ids: Vec<String> = names
            .iter()
            .map(|n| personal_project_id("user-", n))
            .collect();
        for id in &ids {
            assert!(is_label(id), "{id}");
        }
        // A plain name that looks like a folded one is folded too, so it cannot take its id.
        let folded = personal_project_id("user-", "jane.doe");
        let lookalike = folded.trim_start_matches("user-").to_owned();
        let other = personal_project_id("user-", &lookalike);
        assert_ne!(other, folded);
        ids.push(other);
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }

    #[test]
    fn an_unknown_project_header_is_refused_and_none_means_personal() {
        let mut headers = HeaderMap::new();
        let alice = user("alice", &["demo"]);
        assert_eq!(
            project_of(&alice, &region(), &headers).unwrap().id,
            "user-alice"
        );
        headers.insert("onyxia-project", "projet-other".parse().unwrap());
        assert!(project_of(&alice, &region(), &headers).is_err());
        let single = RegionSettings {
            single_namespace: true,
            ..region()
        };
        headers.remove("onyxia-project");
        assert_eq!(
            project_of(&alice, &single, &headers).unwrap().id,
            "single-project"
        );
    }
}
