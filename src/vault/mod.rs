//! The Vault listener: KV v2, sys, token and JWT-auth endpoints with Vault's envelope and
//! errors. Routing is done by hand: Vault's `LIST` method is not one axum can route.

mod kv;
mod sys;

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::config::Config;
use crate::config::fixtures::Fixtures;
use crate::identity::verifier::Verifier;
use crate::secrets::acl::{self, Policies};
use crate::secrets::kv::Kv;
use crate::secrets::tokens::{Caller, Tokens};
use crate::store::Store;

/// Largest request body Vault accepts.
const MAX_BODY: usize = 32 * 1024 * 1024;

pub struct VaultState {
    pub kv: Arc<Kv>,
    pub tokens: Tokens,
    pub policies: Policies,
    pub mounts: Vec<String>,
    /// Checks JWT logins (the embedded issuer's tokens, and an external issuer's).
    pub verifier: Arc<Verifier>,
    pub roles: Vec<crate::config::fixtures::VaultRoleFixture>,
    pub jwt_path: String,
    pub default_role: String,
}

/// An HTTP answer in Vault's shape.
pub struct VaultError {
    status: StatusCode,
    errors: Vec<String>,
}

impl VaultError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        VaultError {
            status,
            errors: vec![message.into()],
        }
    }
    pub fn denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission denied")
    }
    /// Vault's "nothing here": 404 with an empty error list.
    pub fn not_found() -> Self {
        VaultError {
            status: StatusCode::NOT_FOUND,
            errors: Vec::new(),
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        tracing::debug!(status = %self.status, errors = ?self.errors, "vault request refused");
        (self.status, axum::Json(json!({ "errors": self.errors }))).into_response()
    }
}

impl From<crate::store::StoreError> for VaultError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "vault storage failure");
        VaultError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error, see the server log",
        )
    }
}

impl From<crate::blocking::BlockingError> for VaultError {
    fn from(e: crate::blocking::BlockingError) -> Self {
        tracing::error!(error = %e, "a vault operation did not finish");
        VaultError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

pub type VResult = Result<Response, VaultError>;

/// The standard envelope around `data` (or `auth`).
pub fn envelope(data: Value, auth: Value) -> Response {
    let body = json!({
        "request_id": uuid::Uuid::new_v4().to_string(),
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": data,
        "wrap_info": null,
        "warnings": null,
        "auth": auth,
        "mount_type": "kv",
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A request after routing basics: method (LIST resolved), path segments, query, body.
pub struct Call {
    pub method: Method,
    pub list: bool,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Call {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn token(&self) -> Option<String> {
        if let Some(t) = self
            .headers
            .get("x-vault-token")
            .and_then(|v| v.to_str().ok())
        {
            return Some(t.to_owned());
        }
        let auth = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        auth.strip_prefix("Bearer ").map(str::to_owned)
    }
}

impl VaultState {
    /// The caller's token, or 403 "permission denied".
    pub fn caller(&self, call: &Call) -> Result<Caller, VaultError> {
        call.token()
            .and_then(|t| self.tokens.lookup(&t))
            .ok_or_else(VaultError::denied)
    }

    /// Requires one of `needed` capabilities on the ACL path.
    pub fn require(&self, caller: &Caller, path: &str, needed: &[&str]) -> Result<(), VaultError> {
        let Caller::Token(_, record) = caller else {
            return Ok(());
        };
        // Tokens the root created without naming policies carry `root`, as in Vault.
        if record.policies.iter().any(|p| p == "root") {
            return Ok(());
        }
        let identity = acl::Identity {
            username: record.username.clone(),
            groups: record.groups.clone(),
        };
        let caps = self
            .policies
            .capabilities(&record.policies, &identity, path);
        if needed.iter().any(|c| caps.contains(*c)) {
            Ok(())
        } else {
            Err(VaultError::denied())
        }
    }
}

impl VaultState {
    /// Runs a token operation (a redb write transaction) on the blocking pool.
    async fn on_tokens<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&Tokens) -> T + Send + 'static,
    ) -> Result<T, VaultError> {
        let state = self.clone();
        Ok(crate::blocking::run(move || op(&state.tokens)).await?)
    }
}

/// Why the Vault listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VaultSetupError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Key(#[from] crate::secrets::crypto::SealerError),
    #[error("seeding secret {item}: {source}")]
    Seed {
        item: String,
        #[source]
        source: Box<crate::secrets::kv::KvError>,
    },
}

pub fn build(
    config: &Config,
    fixtures: &Fixtures,
    verifier: Arc<Verifier>,
    store: Arc<Store>,
    data_dir: &std::path::Path,
    clock: Clock,
) -> Result<(Router, Arc<VaultState>), VaultSetupError> {
    let has_data = crate::secrets::kv::has_data(&store)?;
    let sealer = crate::secrets::crypto::Sealer::load_or_create(&data_dir.join("keys"), has_data)?;
    let kv = Kv::new(store.clone(), sealer, clock.clone());
    let mut mounts: Vec<String> = fixtures.vault.mounts.clone();
    let unique: HashSet<String> = mounts.iter().cloned().collect();
    mounts.retain(|m| unique.contains(m));
    mounts.dedup();
    for secret in &fixtures.vault.secrets {
        let seeded = crate::store::Table::<u64>::new("kv_seeded");
        let item = format!("{}/{}", secret.mount, secret.path);
        if store.get(&seeded, &item)?.is_none() {
            if kv.read(&secret.mount, &secret.path, None).is_err() {
                kv.write(&secret.mount, &secret.path, &secret.data, None)
                    .map_err(|e| VaultSetupError::Seed {
                        item: item.clone(),
                        source: Box::new(e),
                    })?;
            }
            store.put(&seeded, &item, &1)?;
        }
    }
    let state = Arc::new(VaultState {
        kv: Arc::new(kv),
        tokens: Tokens::new(store, config.vault.root_token.expose().to_owned(), clock),
        policies: Policies::new(&fixtures.vault.policies),
        mounts,
        verifier,
        roles: fixtures.vault.roles.clone(),
        jwt_path: config.vault.jwt_path.clone(),
        default_role: config.vault.default_role.clone(),
    });
    let router = Router::new()
        .fallback(dispatch)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn(cors));
    Ok((router, state))
}

/// Browsers (onyxia-web) call Vault from another origin: answer preflights before any token
/// check, and let every origin read responses (tokens, not cookies, carry authority here).
async fn cors(request: Request, next: axum::middleware::Next) -> Response {
    use axum::http::HeaderValue;
    let origin = request.headers().get(header::ORIGIN).cloned();
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(origin) = origin {
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, LIST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("X-Vault-Token, X-Vault-Request, X-Vault-Namespace, X-Vault-Wrap-TTL, Authorization, Content-Type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
        }
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

async fn dispatch(State(state): State<Arc<VaultState>>, request: Request) -> Response {
    match route(&state, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn route(state: &Arc<VaultState>, request: Request) -> VResult {
    let (parts, body) = request.into_parts();
    let Some(path) = parts.uri.path().strip_prefix("/v1/") else {
        return Err(VaultError::not_found());
    };
    let path = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| VaultError::bad("the path is not valid UTF-8"))?
        .into_owned();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let list = parts.method.as_str() == "LIST"
        || (parts.method == Method::GET
            && query.iter().any(|(k, v)| {
                k == "list" && matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "t")
            }));
    let bytes = axum::body::to_bytes(Body::new(body), MAX_BODY)
        .await
        .map_err(|_| VaultError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| VaultError::bad(format!("failed to parse JSON input: {e}")))?
    };
    let call = Call {
        method: parts.method,
        list,
        path,
        query,
        headers: parts.headers,
        body,
    };
    let segments: Vec<&str> = call.path.split('/').collect();
    match segments.as_slice() {
        ["sys", ..] => sys::sys(state, &call, &segments[1..]).await,
        ["auth", ..] => sys::auth(state, &call, &segments[1..]).await,
        [mount, _, ..] if state.mounts.iter().any(|m| m == mount) => {
            // KV operations are redb transactions that fsync: off the async workers.
            let state = state.clone();
            crate::blocking::run(move || {
                let segments: Vec<&str> = call.path.split('/').collect();
                kv::kv(&state, &call, segments[0], &segments[1..])
            })
            .await?
        }
        [mount] if state.mounts.iter().any(|m| m == mount) => Err(VaultError::not_found()),
        _ => Err(VaultError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no handler for route \"{}\". route entry not found.",
                call.path
            ),
        )),
    }
}
