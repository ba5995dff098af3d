//! Building a platform from a config, serving its listeners, and shutting it down.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::classes::Classroom;
use crate::classes::course::CourseCopies;
use crate::clock::Clock;
use crate::config::Config;
use crate::config::fixtures::{FixtureError, Fixtures};
use crate::endpoints::Endpoints;
use crate::identity::verifier::Verifier;
use crate::identity::{Identity, IdentityError};
use crate::oidc::{self, OidcState};
use crate::store::{Store, StoreError};

/// Why a platform could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Fixtures(#[from] FixtureError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("object store: {0}")]
    Objects(#[from] crate::objects::ObjectError),
    #[error(transparent)]
    Lab(#[from] crate::lab_setup::LabSetupError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultSetupError),
    #[error(transparent)]
    Web(#[from] crate::web::OfficialUiError),
    #[error("configuration: {0}")]
    Config(String),
}

/// The three listeners, bound before the platform starts so port 0 resolves to real ports.
pub struct Listeners {
    pub main: TcpListener,
    pub s3: TcpListener,
    pub vault: TcpListener,
}

impl Listeners {
    /// Binds `bind:port`, `bind:s3_port` and `bind:vault_port` from the config.
    pub async fn bind(config: &Config) -> Result<Self, StartError> {
        async fn one(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { what, addr, source })
        }
        Ok(Listeners {
            main: one("main listener", SocketAddr::new(config.bind, config.port)).await?,
            s3: one("S3 listener", SocketAddr::new(config.bind, config.s3_port)).await?,
            vault: one(
                "Vault listener",
                SocketAddr::new(config.bind, config.vault_port),
            )
            .await?,
        })
    }
}

/// Where durable state lives: a directory, or a temporary one deleted on drop.
enum DataDir {
    Persistent(PathBuf),
    Temporary(tempfile::TempDir),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Persistent(p) => p,
            DataDir::Temporary(t) => t.path(),
        }
    }
}

/// Entry point of the library.
pub struct Platform;

/// A platform that is serving. Dropping it does not stop it: call [`RunningPlatform::shutdown`]
/// or resolve the shutdown future given to [`Platform::start`].
pub struct RunningPlatform {
    pub endpoints: Endpoints,
    identity: Arc<Identity>,
    lab: Arc<crate::services::Lab>,
    proxy: Arc<crate::proxy::Proxy>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<std::io::Result<()>>,
    data_dir: DataDir,
}

impl Platform {
    /// Builds everything from `config`, then serves `listeners` until `shutdown` resolves.
    pub async fn start(
        config: Config,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<RunningPlatform, StartError> {
        let clock = Clock::system();
        let external_issuer = config.external_issuer().map_err(StartError::Config)?;
        let started = std::time::Instant::now();
        let data_dir = DataDir::open(&config)?;
        let addrs = Addrs::of(&listeners)?;
        let public_url = config.public_base_url(addrs.main.port());
        let fixtures = Fixtures::load(config.fixtures.as_deref())?;
        let core = Core::build(
            &config,
            &fixtures,
            &public_url,
            data_dir.path(),
            external_issuer.as_deref(),
            clock.clone(),
        )
        .await?;
        let endpoints = endpoints(
            &config,
            &fixtures,
            &core.identity,
            addrs,
            public_url,
            &data_dir,
        );
        if let Err(e) = endpoints.write_running_file(data_dir.path()) {
            tracing::warn!(error = %e, "cannot record the running endpoints in the data directory");
        }
        let lab = crate::lab_setup::build(
            &config,
            &fixtures,
            core.verifier.clone(),
            core.classroom.clone(),
            core.store.clone(),
            &lab_addresses(&endpoints),
            clock.clone(),
        )
        .await?;

        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(stop_when(shutdown, stop.clone(), stopped.clone()));
        let routers = Routers {
            main: main_router(&config, core.oidc.clone(), &lab)?,
            s3: core.s3.router.clone(),
            vault: core.vault.clone(),
        };
        let limits = limits(&config, 3 + lab.container_listeners.len());
        serve_listeners(
            &mut tasks,
            listeners,
            lab.container_listeners,
            &routers,
            limits,
            &stopped,
        );
        tasks.spawn(close_event_streams(lab.lab.events.clone(), stopped.clone()));
        if let Some(runtime) = lab.lab.runtime().cloned() {
            tasks.spawn(watch_engine(
                runtime,
                lab.lab.events.clone(),
                stopped.clone(),
            ));
        }
        lab.lab.set_course_data(core.courses.clone());
        tasks.spawn(sync_course_copies(core.courses.clone(), stopped.clone()));
        tasks.spawn(cull_services(
            lab.lab.clone(),
            Duration::from_secs(config.culling.interval_seconds),
            stopped.clone(),
        ));
        tasks.spawn(crate::s3::lifecycle_sweeps(
            core.s3.objects.clone(),
            clock,
            Duration::from_secs(config.s3.lifecycle_sweep_seconds),
            stopped.clone(),
        ));
        tasks.spawn(background(
            core.identity.clone(),
            core.oidc,
            core.s3.keys.clone(),
            core.vault_state,
            stopped,
        ));

        tracing::info!(
            url = %endpoints.url,
            issuer = %endpoints.issuer,
            ms = started.elapsed().as_millis() as u64,
            "platform ready"
        );
        Ok(RunningPlatform {
            endpoints,
            identity: core.identity,
            lab: lab.lab,
            proxy: lab.proxy,
            stop,
            tasks,
            data_dir,
        })
    }
}

impl DataDir {
    /// The configured directory (created private when missing), or a fresh temporary one.
    fn open(config: &Config) -> Result<Self, StartError> {
        if config.ephemeral {
            let dir = tempfile::Builder::new()
                .prefix("onyxia-lite-")
                .tempdir()
                .map_err(|source| StartError::DataDir {
                    path: std::env::temp_dir(),
                    source,
                })?;
            Ok(DataDir::Temporary(dir))
        } else {
            let path = config.persistent_data_dir();
            crate::durable::create_private_dir(&path).map_err(|source| StartError::DataDir {
                path: path.clone(),
                source,
            })?;
            Ok(DataDir::Persistent(path))
        }
    }
}

/// The real addresses of the three listeners (port 0 resolved).
#[derive(Clone, Copy)]
struct Addrs {
    main: SocketAddr,
    s3: SocketAddr,
    vault: SocketAddr,
}

impl Addrs {
    fn of(listeners: &Listeners) -> Result<Self, StartError> {
        Ok(Addrs {
            main: local_addr(&listeners.main, "main listener")?,
            s3: local_addr(&listeners.s3, "S3 listener")?,
            vault: local_addr(&listeners.vault, "Vault listener")?,
        })
    }
}

/// The protocol cores and their edges' state: store, identity, the one verifier, S3, Vault
/// and the issuer.
struct Core {
    store: Arc<Store>,
    identity: Arc<Identity>,
    verifier: Arc<Verifier>,
    s3: crate::s3::S3Part,
    vault: Router,
    vault_state: Arc<crate::vault::VaultState>,
    oidc: Arc<OidcState>,
    classroom: Arc<Classroom>,
    courses: Arc<CourseCopies>,
}

impl Core {
    async fn build(
        config: &Config,
        fixtures: &Fixtures,
        public_url: &str,
        data_dir: &Path,
        external_issuer: Option<&str>,
        clock: Clock,
    ) -> Result<Self, StartError> {
        let store = Arc::new(open_store(&data_dir.join("onyxia-lite.redb")).await?);
        let identity = Arc::new(Identity::new(
            config,
            fixtures,
            public_url,
            store.clone(),
            data_dir,
            clock.clone(),
        )?);
        // One verifier for every consumer of tokens, with the external issuer's keys fetched
        // and cached once.
        let external = external_issuer.map(|issuer| {
            Arc::new(oidc::external::ExternalIssuer::new(issuer))
                as Arc<dyn crate::identity::verifier::KeySource>
        });
        let verifier = Arc::new(Verifier::new(identity.clone(), external));
        let s3 = crate::s3::build(
            config,
            fixtures,
            verifier.clone(),
            store.clone(),
            data_dir,
            clock.clone(),
        )?;
        let (vault, vault_state) = crate::vault::build(
            config,
            fixtures,
            verifier.clone(),
            store.clone(),
            data_dir,
            clock,
        )?;
        let classroom = Arc::new(Classroom::new(
            store.clone(),
            identity.clone(),
            s3.objects.clone(),
            fixtures.s3.create_user_buckets,
            Some(crate::classes::Secrets {
                kv: vault_state.kv.clone(),
                mounts: vault_state.mounts.clone(),
            }),
        )?);
        classroom.sync()?;
        let courses = Arc::new(CourseCopies::new(
            s3.objects.clone(),
            s3.course_reads.clone(),
            identity.clone(),
            config,
            data_dir,
        ));
        let oidc = Arc::new(OidcState::new(
            identity.clone(),
            verifier.clone(),
            Duration::from_secs(config.oidc.code_lifespan_seconds),
            config.max_body_bytes,
            public_url.starts_with("https://"),
        ));
        Ok(Core {
            store,
            identity,
            verifier,
            s3,
            vault,
            vault_state,
            oidc,
            classroom,
            courses,
        })
    }
}

/// What clients are told: the real URLs, the realm, the root credentials, the demo users.
fn endpoints(
    config: &Config,
    fixtures: &Fixtures,
    identity: &Identity,
    addrs: Addrs,
    public_url: String,
    data_dir: &DataDir,
) -> Endpoints {
    Endpoints {
        main_addr: addrs.main,
        s3_addr: addrs.s3,
        vault_addr: addrs.vault,
        url: public_url,
        issuer: identity.issuer.clone(),
        realm: identity.realm.settings.name.clone(),
        client_id: "onyxia".into(),
        s3_url: config.s3_public_url.clone().unwrap_or_else(|| {
            format!(
                "http://{}:{}",
                endpoint_host(config, addrs.s3),
                addrs.s3.port()
            )
        }),
        s3_region: config.s3.region.clone(),
        s3_access_key: config.s3.root_access_key.clone(),
        s3_secret_key: config.s3.root_secret_key.expose().to_owned(),
        vault_url: config.vault_public_url.clone().unwrap_or_else(|| {
            format!(
                "http://{}:{}",
                endpoint_host(config, addrs.vault),
                addrs.vault.port()
            )
        }),
        vault_token: config.vault.root_token.expose().to_owned(),
        vault_mount: fixtures.vault.mounts.first().cloned().unwrap_or_default(),
        data_dir: data_dir.path().to_owned(),
        demo_users: fixtures
            .users
            .iter()
            .map(|u| (u.username.clone(), u.password.clone()))
            .collect(),
    }
}

fn lab_addresses(endpoints: &Endpoints) -> crate::lab_setup::Addresses<'_> {
    crate::lab_setup::Addresses {
        main: endpoints.main_addr,
        s3: endpoints.s3_addr,
        vault: endpoints.vault_addr,
        public_url: &endpoints.url,
        issuer: &endpoints.issuer,
        s3_url: &endpoints.s3_url,
        vault_url: &endpoints.vault_url,
    }
}

/// Turns `stop` true when `shutdown` resolves; ends as soon as the platform stops either way.
async fn stop_when(
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop: watch::Sender<bool>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    tokio::select! {
        () = shutdown => {
            let _ = stop.send(true);
        }
        _ = stopped.wait_for(|s| *s) => {}
    }
    Ok(())
}

/// The routers of the three listeners.
struct Routers {
    main: Router,
    s3: Router,
    vault: Router,
}

/// The main listener's routes: health, the issuer, the API and the web UI, with service
/// hosts sent to the proxy first.
fn main_router(
    config: &Config,
    oidc_state: Arc<OidcState>,
    lab: &crate::lab_setup::LabParts,
) -> Result<Router, StartError> {
    Ok(Router::new()
        .route("/healthz", get(healthz))
        .merge(oidc::router(oidc_state))
        .nest("/api", crate::onyxia::router(lab.api.clone()))
        .fallback_service(crate::web::router(config)?)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        // Service hosts go to the proxy before any platform route sees them.
        .layer(axum::middleware::from_fn_with_state(
            lab.proxy.clone(),
            crate::proxy::route,
        ))
        // Spans carry the path only: queries can hold codes and id_token hints.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    let path = crate::markup::excerpt(request.uri().path());
                    tracing::debug_span!("request", method = %request.method(), path)
                },
            ),
        ))
}

/// Each listener has its own connection slots, so a flood on one (a container's reach of S3,
/// say) cannot starve the others.
fn limits(config: &Config, listener_count: usize) -> crate::serving::Limits {
    let limits = crate::serving::Limits {
        max_connections: match config.max_connections {
            0 => crate::serving::default_max_connections(
                crate::process::open_file_limit(),
                listener_count,
            ),
            n => n,
        },
        header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds.max(1)),
        idle_timeout: Duration::from_secs(config.idle_timeout_seconds.max(1)),
    };
    tracing::debug!(?limits, "connection limits per listener");
    limits
}

/// Serves the three listeners and those opened for containers, each task stopping when
/// `stopped` turns true.
fn serve_listeners(
    tasks: &mut JoinSet<std::io::Result<()>>,
    listeners: Listeners,
    container_listeners: Vec<(&'static str, TcpListener)>,
    routers: &Routers,
    limits: crate::serving::Limits,
    stopped: &watch::Receiver<bool>,
) {
    let serve = |listener: TcpListener, router: &Router| {
        crate::serving::serve(listener, router.clone(), limits, stopped.clone())
    };
    tasks.spawn(serve(listeners.main, &routers.main));
    tasks.spawn(serve(listeners.s3, &routers.s3));
    for (what, listener) in container_listeners {
        let router = match what {
            "S3" => &routers.s3,
            "Vault" => &routers.vault,
            _ => &routers.main,
        };
        if let Ok(addr) = listener.local_addr() {
            tracing::debug!(what, %addr, "listening for containers");
        }
        tasks.spawn(serve(listener, router));
    }
    tasks.spawn(serve(listeners.vault, &routers.vault));
}

/// Ends the Onyxia API's event streams as soon as the platform stops, so an open browser tab
/// does not hold the shutdown for the connections' grace period.
async fn close_event_streams(
    events: crate::runtime::EventLog,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _ = stopped.wait_for(|stop| *stop).await;
    events.close();
    Ok(())
}

/// Follows the engine's events into the lab's log until the platform stops.
async fn watch_engine(
    runtime: Arc<dyn crate::runtime::Runtime>,
    events: crate::runtime::EventLog,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    tokio::select! {
        _ = runtime.watch(events) => {}
        _ = stopped.wait_for(|s| *s) => {}
    }
    Ok(())
}

/// Opens the database, waiting a little while another holder lets go of it: a platform that
/// just stopped in this process may still be closing its last connections.
async fn open_store(path: &Path) -> Result<Store, StoreError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match Store::open(path) {
            Err(StoreError::InUse { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// The host clients should use for a listener: `localhost` for loopback or all addresses.
fn endpoint_host(config: &Config, addr: SocketAddr) -> String {
    if config.bind.is_loopback() || config.bind.is_unspecified() {
        "localhost".into()
    } else {
        match addr.ip() {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        }
    }
}

fn local_addr(listener: &TcpListener, what: &'static str) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind {
        what,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })
}

/// How long argon2's pooled memory outlives the last password check.
const PASSWORD_MEMORY_IDLE: Duration = Duration::from_secs(10);
/// How often expired sessions, codes, STS keys and Vault tokens are swept.
const SWEEP_PERIOD: Duration = Duration::from_secs(60);

/// Looks for idle and expired services every `period` (see `services::culling`).
async fn cull_services(
    lab: Arc<crate::services::Lab>,
    period: Duration,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    if lab.runtime().is_none() {
        return Ok(());
    }
    every(period, stopped, || async {
        if let Err(e) = lab.cull_pass().await {
            tracing::warn!(error = %e, "cannot look for idle services");
        }
    })
    .await
}

/// How often copies of course buckets are brought up to date.
const COURSE_SYNC_PERIOD: Duration = Duration::from_secs(60);

/// Keeps the copies of course buckets that services mount up to date.
async fn sync_course_copies(
    courses: Arc<CourseCopies>,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    every(COURSE_SYNC_PERIOD, stopped, || courses.sync_all()).await
}

/// Runs `work` at once, then every `period` after the last run ended, until the platform
/// stops.
async fn every<F, Fut>(
    period: Duration,
    mut stopped: watch::Receiver<bool>,
    mut work: F,
) -> std::io::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => work().await,
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    return Ok(());
                }
            }
        }
    }
}

/// Work after start-up: hash fixture passwords once, then sweep expired state regularly.
async fn background(
    identity: Arc<Identity>,
    oidc: Arc<OidcState>,
    s3_keys: Arc<crate::s3::KeyRing>,
    vault: Arc<crate::vault::VaultState>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let hasher = identity.clone();
    match tokio::task::spawn_blocking(move || hasher.hash_pending_passwords()).await {
        Ok(Ok(n)) if n > 0 => tracing::debug!(users = n, "hashed fixture passwords"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot store password hashes"),
        _ => {}
    }
    let mut tick = tokio::time::interval(SWEEP_PERIOD);
    let mut memory_tick = tokio::time::interval(PASSWORD_MEMORY_IDLE);
    loop {
        tokio::select! {
            _ = memory_tick.tick() => {
                let freed = identity.release_password_memory(PASSWORD_MEMORY_IDLE);
                if freed > 0 {
                    // Logins stopped: give back what the burst left in the allocator too.
                    let _ = tokio::task::spawn_blocking(crate::process::return_free_memory).await;
                    tracing::debug!(buffers = freed, "freed idle argon2 memory");
                }
            }
            _ = tick.tick() => {
                oidc.sweep();
                let vault = vault.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || vault.tokens.sweep()).await {
                    tracing::warn!(error = %e, "cannot sweep expired Vault tokens");
                }
                let keys = s3_keys.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || keys.sweep()).await {
                    tracing::warn!(error = %e, "cannot sweep expired STS credentials");
                }
                let sweeper = identity.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || sweeper.sweep_expired()).await {
                    tracing::warn!(error = %e, "cannot sweep expired sessions");
                }
            }
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    return Ok(());
                }
            }
        }
    }
}

async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({"status": "ok"})),
    )
}

impl RunningPlatform {
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The platform's clock; [`Clock::advance`] moves time for every part of it.
    pub fn clock(&self) -> &Clock {
        &self.identity.clock
    }

    /// Catalogs, the container engine and the services launched on it.
    pub fn lab(&self) -> &Arc<crate::services::Lab> {
        &self.lab
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Asks every listener to stop, then waits for them.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the platform stops (its shutdown future resolved, or a listener failed):
    /// its listeners closed, its sweeps and engine watch ended, the deploys in flight finished
    /// or, after a grace period, cancelled, and the upgraded connections to services closed.
    pub async fn wait(mut self) -> std::io::Result<()> {
        let mut outcome = Ok(());
        while let Some(done) = self.tasks.join_next().await {
            let result = done.unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if let Err(e) = result {
                tracing::error!(error = %e, "a listener failed; stopping");
                let _ = self.stop.send(true);
                outcome = Err(e);
            }
        }
        // The listeners are closed, so no request can start a deploy or an upgrade any more:
        // deploys in flight get a while to end; spliced upgrades end now, like the
        // connections still open after the listeners' grace.
        tokio::join!(
            self.lab.finish_deploys(crate::serving::SHUTDOWN_GRACE),
            self.proxy.close_splices()
        );
        let _ = std::fs::remove_file(self.data_dir.path().join(crate::endpoints::RUNNING_FILE));
        outcome
    }
}
