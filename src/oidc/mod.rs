//! The OpenID Connect issuer on the main listener, in Keycloak's URL layout:
//! `/realms/{realm}/.well-known/openid-configuration`, `/realms/{realm}/protocol/openid-connect/…`.

mod account;
mod authorize;
mod client_auth;
mod discovery;
mod error;
pub mod external;
mod first_login;
mod form;
mod logout;
mod pages;
mod token;
mod userinfo;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::OAuthError;
use form::Params;

use crate::identity::Identity;
use crate::identity::verifier::Verifier;

/// An authorization code waiting to be exchanged (single use, short-lived).
#[derive(Clone)]
struct CodeGrant {
    /// Exchanged already; kept until expiry so a second use can be detected.
    spent: bool,
    client_id: String,
    /// The redirect_uri sent in the authorization request, which the exchange must repeat.
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    nonce: Option<String>,
    scope: String,
    sid: String,
    username: String,
    /// Milliseconds since the epoch on the platform's clock.
    expires: u64,
}

/// A login form shown to a browser, waiting for its POST.
#[derive(Clone)]
struct PendingLogin {
    request: authorize::AuthRequest,
    csrf: String,
    expires: u64,
    /// The user whose one-time password this login proved: they choose their own next.
    verified: Option<Arc<crate::identity::realm::User>>,
}

/// Shared by every issuer endpoint.
pub struct OidcState {
    pub identity: Arc<Identity>,
    pub verifier: Arc<Verifier>,
    codes: Mutex<HashMap<String, CodeGrant>>,
    logins: Mutex<HashMap<String, PendingLogin>>,
    code_lifespan: Duration,
    max_body: usize,
    /// Cookies get `Secure` when the public URL is https.
    secure_cookies: bool,
    password_checks: tokio::sync::Semaphore,
}

const LOGIN_FORM_LIFESPAN: Duration = Duration::from_secs(30 * 60);
/// How long expired codes and login forms are kept before the sweep drops them.
const EXPIRED_KEPT: Duration = Duration::from_secs(60);
/// Bounds on in-memory state so a flood of requests cannot grow it without limit.
const MAX_PENDING: usize = 50_000;

impl OidcState {
    pub fn new(
        identity: Arc<Identity>,
        verifier: Arc<Verifier>,
        code_lifespan: Duration,
        max_body: usize,
        secure_cookies: bool,
    ) -> Self {
        OidcState {
            identity,
            verifier,
            codes: Mutex::new(HashMap::new()),
            logins: Mutex::new(HashMap::new()),
            code_lifespan,
            max_body,
            secure_cookies,
            password_checks: tokio::sync::Semaphore::new(
                crate::identity::passwords::PasswordHasher::max_parallel(),
            ),
        }
    }

    /// Now on the platform's clock, in milliseconds (codes and login forms expire by it).
    fn now_ms(&self) -> u64 {
        self.identity.clock.millis()
    }

    fn realm_path(&self) -> String {
        format!("/realms/{}", self.identity.realm.settings.name)
    }

    /// Runs an identity operation that writes to redb (sessions, refresh tokens) on the
    /// blocking pool: each commit fsyncs.
    async fn on_identity<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Identity) -> T + Send + 'static,
    ) -> Result<T, crate::blocking::BlockingError> {
        let identity = self.identity.clone();
        crate::blocking::run(move || op(&identity)).await
    }

    /// Checks a password off the async workers. Checks run one per core: each argon2
    /// verification holds its memory cost (19 MiB by default) while it runs.
    async fn check_password(
        &self,
        username: &str,
        password: String,
        address: std::net::IpAddr,
    ) -> Result<Arc<crate::identity::realm::User>, crate::identity::LoginError> {
        let refused = Err(crate::identity::LoginError::InvalidCredentials);
        let Ok(_permit) = self.password_checks.acquire().await else {
            return refused;
        };
        let identity = self.identity.clone();
        let username = username.to_owned();
        tokio::task::spawn_blocking(move || {
            identity.authenticate(&username, &password, Some(address))
        })
        .await
        .unwrap_or(refused)
    }

    /// Drops codes and login forms expired for a while: until then a late use is told it
    /// came too late, not that the code never existed.
    pub fn sweep(&self) {
        let cutoff = self
            .now_ms()
            .saturating_sub(EXPIRED_KEPT.as_millis() as u64);
        crate::sync::lock(&self.codes).retain(|_, c| c.expires > cutoff);
        crate::sync::lock(&self.logins).retain(|_, l| l.expires > cutoff);
    }
}

/// Routes of the issuer, to merge into the main listener's router.
pub fn router(state: Arc<OidcState>) -> Router {
    let oidc = "/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route("/realms/{realm}", get(discovery::realm_info))
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(&format!("{oidc}/certs"), get(discovery::jwks))
        .route(
            &format!("{oidc}/3p-cookies/step1.html"),
            get(discovery::third_party_cookies),
        )
        .route(
            &format!("{oidc}/3p-cookies/step2.html"),
            get(discovery::third_party_cookies),
        )
        .route(
            &format!("{oidc}/auth"),
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(
            "/realms/{realm}/login-actions/authenticate",
            post(authorize::login_submit),
        )
        .route(
            "/realms/{realm}/login-actions/required-action",
            post(first_login::update_password_submit),
        )
        .route("/realms/{realm}/account", get(account::account_get))
        .route("/realms/{realm}/account/", get(account::account_get))
        .route(
            "/realms/{realm}/account/login",
            post(account::account_login),
        )
        .route(
            "/realms/{realm}/account/password",
            post(account::change_password),
        )
        .route(
            "/realms/{realm}/account/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .route(&format!("{oidc}/token"), post(token::token))
        .route(&format!("{oidc}/revoke"), post(token::revoke))
        .route(
            &format!("{oidc}/userinfo"),
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(
            &format!("{oidc}/logout"),
            get(logout::logout_get).post(logout::logout_post),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            realm_and_cors,
        ))
        .with_state(state)
}

/// Unknown realms get Keycloak's 404; browser origins get CORS answers (preflights included).
async fn realm_and_cors(
    State(state): State<Arc<OidcState>>,
    request: Request,
    next: Next,
) -> Response {
    let realm = request
        .uri()
        .path()
        .split('/')
        .nth(2)
        .unwrap_or_default()
        .to_owned();
    if realm != state.identity.realm.settings.name {
        return OAuthError::realm_not_found().into_response();
    }
    // Browser navigations (authorization, login form, logout) never get CORS headers: a
    // script on another origin must not read a login page or a form_post response.
    let path = request.uri().path();
    let navigation = path.ends_with("/auth")
        || path.contains("/login-actions/")
        || path.ends_with("/logout")
        || path.split('/').nth(3) == Some("account");
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    // Discovery documents and keys are public: any origin may read them.
    let public = {
        let p = request.uri().path();
        p.ends_with("/openid-configuration") || p.ends_with("/certs") || p.split('/').count() == 3
    };
    let allowed = origin
        .as_deref()
        .filter(|_| !navigation)
        .filter(|o| public || state.identity.realm.any_client_allows_origin(o))
        .map(str::to_owned);
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(origin) = &allowed {
            let requested = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("Authorization, Content-Type"));
            let h = response.headers_mut();
            add_cors(h, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
        }
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = &allowed {
        add_cors(response.headers_mut(), origin);
    }
    response
}

fn add_cors(h: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Reads a form body within the size limit.
async fn read_form(
    state: &OidcState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Params, OAuthError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
    }
    let bytes = axum::body::to_bytes(body, state.max_body)
        .await
        .map_err(|_| OAuthError::too_large(state.max_body))?;
    Params::parse(&bytes).map_err(OAuthError::invalid_request)
}

/// The query string's parameters.
fn query_params(uri: &axum::http::Uri) -> Result<Params, form::FormError> {
    Params::parse(uri.query().unwrap_or_default().as_bytes())
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
