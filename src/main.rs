//! The `onyxia-lite` command: parse the command line, then call the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use onyxia_lite::config::{self, Config};
use onyxia_lite::{Endpoints, Listeners, Platform};

mod cli_class;
mod cli_exec;
use cli_class::ClassAction;

/// Exit codes: 0 success, 1 runtime failure (port in use, data directory locked, I/O),
/// 2 bad usage, configuration or fixtures.
const EXIT_RUNTIME: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "onyxia-lite",
    version,
    about = "A whole Onyxia data-science platform in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the platform: web UI, Onyxia API, OIDC issuer, S3 and Vault listeners.
    Serve(ServeArgs),
    /// Run a command against an ephemeral platform on free ports: the platform's variables
    /// (those of `serve --print-env`, plus AWS_REGION) are in its environment; the platform stops
    /// when the command ends, and onyxia-lite exits with the command's status.
    Exec(cli_exec::ExecArgs),
    /// Print a valid access token for a seeded user (for scripts and tests).
    Token(TokenArgs),
    /// Print the running platform's variables, as `serve --print-env` wrote them (for a
    /// platform in a container: `docker exec NAME onyxia-lite env`).
    Env(EnvArgs),
    /// List the services launched on the container engine.
    Services(ServicesArgs),
    /// Report which container engine was found, and why the others were not used.
    Doctor {
        #[command(flatten)]
        common: Common,
    },
    /// Exit 0 when the platform this configuration describes answers its health check (for
    /// container HEALTHCHECKs and readiness scripts), 1 when it does not.
    Healthcheck(HealthcheckArgs),
    /// Manage a class's accounts and limits (the platform must be stopped).
    Class {
        #[command(subcommand)]
        action: ClassAction,
    },
    /// Show the effective configuration (secrets masked) or document every option.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, objects, keys).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory of fixture files replacing the built-in realm, users and clients.
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Where services run: docker, kube or auto (runtime.kind).
    #[arg(long, value_name = "KIND")]
    runtime: Option<String>,
    /// Kubeconfig file of the kube runtime (runtime.kubeconfig).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context of the kube runtime (runtime.kube_context).
    #[arg(long, value_name = "NAME")]
    kube_context: Option<String>,
}

#[derive(Args)]
struct HealthcheckArgs {
    /// URL to check. Default: /healthz on the main listener of the configuration.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    timeout: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct EnvArgs {
    /// Print one JSON object instead of KEY=value lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Use a temporary data directory deleted at exit.
    #[arg(long, conflicts_with = "data_dir")]
    ephemeral: bool,
    /// Address to bind every listener to.
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Main listener port (0 = any free port).
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// S3 listener port (0 = any free port).
    #[arg(long, value_name = "N")]
    s3_port: Option<u16>,
    /// Vault listener port (0 = any free port).
    #[arg(long, value_name = "N")]
    vault_port: Option<u16>,
    /// URL clients reach the main listener at (public_url), e.g. where a container's port is
    /// published; the OIDC issuer follows it.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// URL clients reach the S3 listener at (s3_public_url).
    #[arg(long, value_name = "URL")]
    s3_public_url: Option<String>,
    /// URL clients reach the Vault listener at (vault_public_url).
    #[arg(long, value_name = "URL")]
    vault_public_url: Option<String>,
    /// Once ready, write KEY=value lines (URLs, client ids) to FILE, or stdout with `-`.
    #[arg(long, value_name = "FILE|-")]
    print_env: Option<String>,
    /// Once ready, print the same values as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Directory of more catalogs, added to the built-in ones.
    #[arg(long, value_name = "DIR")]
    catalog: Option<PathBuf>,
    /// Serve a prebuilt official onyxia-web (its dist/ directory) instead of the embedded UI.
    #[arg(long, value_name = "DIR")]
    web_root: Option<PathBuf>,
}

#[derive(Args)]
struct ServicesArgs {
    #[command(flatten)]
    common: Common,
    /// Only the services this user launched.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    common: Common,
    /// Username of a seeded user.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Client the token is issued to.
    #[arg(long, value_name = "ID", default_value = "onyxia")]
    client: String,
    /// Issuer URL to put in `iss`. Default: the running server's, else the configured one.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print every option with its effective value (secrets masked).
    Show {
        #[command(flatten)]
        common: Common,
    },
    /// Print the option table in Markdown (as in docs/CONFIG.md).
    Docs,
}

fn main() -> ExitCode {
    let matches = Cli::command()
        .mut_subcommand("serve", |serve| {
            serve.after_long_help(config::options_help())
        })
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Exec(args) => cli_exec::exec(args),
        Command::Token(args) => token(args),
        Command::Class {
            action: ClassAction::Import(args),
        } => cli_class::class_import(args),
        Command::Class {
            action: ClassAction::Limits(args),
        } => cli_class::class_limits(args),
        Command::Class {
            action: ClassAction::Report(args),
        } => cli_class::class_report(args),
        Command::Env(args) => print_running_env(args),
        Command::Services(args) => services(args),
        Command::Doctor { common } => doctor(common),
        Command::Healthcheck(args) => healthcheck(args),
        Command::Config {
            action: ConfigAction::Docs,
        } => {
            print!("{}", config::options_markdown());
            ExitCode::SUCCESS
        }
        Command::Config {
            action: ConfigAction::Show { common },
        } => match load(&common, Vec::new()) {
            Ok(loaded) => {
                for (key, value) in loaded.config.shown() {
                    println!("{key} = {value}");
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

/// Loads the layered config; command-line values are the last layer.
fn load(
    common: &Common,
    mut flags: Vec<(&'static str, String)>,
) -> Result<config::Loaded, ExitCode> {
    if let Some(dir) = &common.data_dir {
        flags.push(("data_dir", dir.display().to_string()));
    }
    if let Some(dir) = &common.fixtures {
        flags.push(("fixtures", dir.display().to_string()));
    }
    if let Some(kind) = &common.runtime {
        flags.push(("runtime.kind", kind.clone()));
    }
    if let Some(file) = &common.kubeconfig {
        flags.push(("runtime.kubeconfig", file.display().to_string()));
    }
    if let Some(context) = &common.kube_context {
        flags.push(("runtime.kube_context", context.clone()));
    }
    Config::load(common.config.as_deref(), std::env::vars(), &flags).map_err(|e| {
        eprintln!("onyxia-lite: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("onyxia-lite: log filter `{filter}` is invalid ({e}); using `info`");
        tracing_subscriber::EnvFilter::new("info")
    });
    // The S3 library logs refusals at ERROR with request contents (a whole malformed body);
    // onyxia-lite logs S3 outcomes itself, so its events never reach the log at any level.
    let filter = filter.add_directive("s3s=off".parse().expect("a valid directive"));
    // Colours only on a terminal: container logs and CI logs get plain text.
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

fn serve(args: ServeArgs) -> ExitCode {
    let mut flags: Vec<(&'static str, String)> = Vec::new();
    if args.ephemeral {
        flags.push(("ephemeral", "true".into()));
    }
    for (key, value) in [
        ("bind", args.bind.clone()),
        ("port", args.port.map(|p| p.to_string())),
        ("s3_port", args.s3_port.map(|p| p.to_string())),
        ("vault_port", args.vault_port.map(|p| p.to_string())),
        ("public_url", args.public_url.clone()),
        ("s3_public_url", args.s3_public_url.clone()),
        ("vault_public_url", args.vault_public_url.clone()),
        (
            "onyxia.catalog",
            args.catalog.as_ref().map(|d| d.display().to_string()),
        ),
        (
            "web.root",
            args.web_root.as_ref().map(|d| d.display().to_string()),
        ),
    ] {
        if let Some(value) = value {
            flags.push((key, value));
        }
    }
    let loaded = match load(&args.common, flags) {
        Ok(l) => l,
        Err(code) => return code,
    };
    init_logging(&loaded.config.log);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    tracing::debug!(config = ?loaded.config.shown(), "configuration");
    let open_files = onyxia_lite::process::tune();
    tracing::debug!(open_files, "open-file limit");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("onyxia-lite: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(run_server(loaded.config, args.print_env, args.json))
}

async fn run_server(config: Config, print_env: Option<String>, json: bool) -> ExitCode {
    let listeners = match Listeners::bind(&config).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let platform = match Platform::start(config, listeners, shutdown_signal()).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            let code = match e {
                onyxia_lite::StartError::Fixtures(_) => EXIT_USAGE,
                _ => EXIT_RUNTIME,
            };
            return ExitCode::from(code);
        }
    };
    if let Err(code) = announce(&platform.endpoints, print_env.as_deref(), json) {
        let _ = platform.shutdown().await;
        return code;
    }
    match platform.wait().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Prints the banner and the machine-readable descriptions once everything listens.
fn announce(endpoints: &Endpoints, print_env: Option<&str>, json: bool) -> Result<(), ExitCode> {
    use std::io::Write;
    let stdout_taken = json || print_env == Some("-");
    if stdout_taken {
        eprint!("{}", endpoints.banner());
    } else {
        print!("{}", endpoints.banner());
    }
    match print_env {
        Some("-") => print!("{}", endpoints.env_lines()),
        Some(path) => {
            if let Err(e) = std::fs::write(path, endpoints.env_lines()) {
                tracing::error!("cannot write {path}: {e}");
                return Err(ExitCode::from(EXIT_RUNTIME));
            }
        }
        None => {}
    }
    if json {
        println!("{}", endpoints.json());
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The variables of the platform serving from the configured data directory, read from the
/// file it keeps there while it runs (the database itself stays locked by the server).
fn print_running_env(args: EnvArgs) -> ExitCode {
    let loaded = match load(&args.common, Vec::new()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if loaded.config.ephemeral {
        eprintln!(
            "onyxia-lite: an ephemeral platform keeps no data directory to read; use serve --print-env"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let data_dir = loaded.config.persistent_data_dir();
    let Some(endpoints) = Endpoints::read_running_file(&data_dir) else {
        eprintln!(
            "onyxia-lite: no platform is serving from {} (it writes {} once ready)",
            data_dir.display(),
            onyxia_lite::endpoints::RUNNING_FILE
        );
        return ExitCode::from(EXIT_RUNTIME);
    };
    if args.json {
        println!("{}", endpoints.json());
    } else {
        print!("{}", endpoints.env_lines());
    }
    ExitCode::SUCCESS
}

fn token(args: TokenArgs) -> ExitCode {
    let loaded = match load(&args.common, Vec::new()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    init_logging("warn");
    match onyxia_lite::identity::cli_token(
        &loaded.config,
        &args.user,
        &args.client,
        args.issuer.as_deref(),
    ) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("onyxia-lite: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The runtime the config points at (or the detected one), with every probe made.
fn find_runtime(
    common: &Common,
) -> Result<
    (
        Config,
        tokio::runtime::Runtime,
        onyxia_lite::runtime::select::Selection,
    ),
    ExitCode,
> {
    let loaded = load(common, Vec::new())?;
    let config = loaded.config;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("onyxia-lite: cannot start the async runtime: {e}");
        ExitCode::from(EXIT_RUNTIME)
    })?;
    let selection = runtime.block_on(onyxia_lite::runtime::select::select(
        &config,
        Default::default(),
    ));
    Ok((config, runtime, selection))
}

/// The main listener's /healthz as the configuration describes it (loopback when it listens
/// on every address).
fn health_url(args: &HealthcheckArgs) -> Result<String, ExitCode> {
    if let Some(url) = &args.url {
        return Ok(url.clone());
    }
    let config = load(&args.common, Vec::new())?.config;
    if config.port == 0 {
        eprintln!("onyxia-lite: the main port is chosen at start (port = 0): pass --url");
        return Err(ExitCode::from(EXIT_USAGE));
    }
    let host = match config.bind {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    Ok(format!(
        "http://{}/healthz",
        std::net::SocketAddr::new(host, config.port)
    ))
}

fn healthcheck(args: HealthcheckArgs) -> ExitCode {
    let url = match health_url(&args) {
        Ok(url) => url,
        Err(code) => return code,
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(EXIT_RUNTIME);
    };
    let answer = runtime.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(args.timeout))
            .build()?
            .get(&url)
            .send()
            .await
    });
    match answer {
        Ok(r) if r.status().is_success() => {
            println!("healthy: {url}");
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!("onyxia-lite: {url} answered {}", r.status());
            ExitCode::from(EXIT_RUNTIME)
        }
        Err(e) => {
            eprintln!("onyxia-lite: {url}: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn doctor(common: Common) -> ExitCode {
    use onyxia_lite::config::RuntimeKind;
    let (config, async_runtime, selection) = match find_runtime(&common) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let kube = onyxia_lite::runtime::select::effective_kind(&config) == RuntimeKind::Kube;
    if !kube && onyxia_lite::runtime::detect::is_disabled(config.onyxia.docker_host.as_deref()) {
        println!("container engine: disabled (onyxia.docker_host = none)");
        return ExitCode::SUCCESS;
    }
    for probe in &selection.probes {
        match &probe.outcome {
            Ok(version) => println!(
                "  ok    {:<20} {:<45} {version}",
                probe.source, probe.endpoint
            ),
            Err(reason) => println!(
                "  --    {:<20} {:<45} {reason}",
                probe.source, probe.endpoint
            ),
        }
    }
    let Some(runtime) = &selection.runtime else {
        println!(
            "{}",
            onyxia_lite::services::no_runtime_message(&selection.probes)
        );
        return ExitCode::from(EXIT_RUNTIME);
    };
    let info = runtime.info();
    println!(
        "{}: {} at {}",
        if kube { "cluster" } else { "container engine" },
        info.version,
        info.endpoint
    );
    match (&info.host_from_containers, kube) {
        (Some(host), false) => println!(
            "services reach this machine at {host}{}",
            if info.desktop {
                " (Docker Desktop)"
            } else {
                " (bridge gateway)"
            }
        ),
        (Some(host), true) => println!("pods reach this platform at {host}"),
        (None, false) => {
            println!("warning: the bridge gateway is unknown; services will not reach S3 and Vault")
        }
        (None, true) => println!(
            "warning: runtime.kube_platform_host is not set; pods get S3 and Vault URLs unchanged"
        ),
    }
    let Some(client) = &selection.kube else {
        return ExitCode::SUCCESS;
    };
    let grants = async_runtime.block_on(onyxia_lite::runtime::kube::connect::check_permissions(
        client, None,
    ));
    let refused: Vec<_> = grants.iter().filter(|g| !g.allowed).collect();
    println!("permissions ({} checked, cluster-wide):", grants.len());
    for grant in &grants {
        println!(
            "  {}    {:<10} {:<40} {}",
            if grant.allowed { "ok" } else { "--" },
            grant.verb,
            grant.resource,
            grant.reason
        );
    }
    if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!(
            "{} permission(s) missing: see docs/KUBERNETES.md#permissions",
            refused.len()
        );
        ExitCode::from(EXIT_RUNTIME)
    }
}

fn services(args: ServicesArgs) -> ExitCode {
    use onyxia_lite::runtime::Phase;
    let (config, async_runtime, selection) = match find_runtime(&args.common) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let Some(runtime) = selection.runtime else {
        eprintln!(
            "onyxia-lite: {}",
            onyxia_lite::services::no_runtime_message(&selection.probes)
        );
        return ExitCode::from(EXIT_RUNTIME);
    };
    let listed = match async_runtime.block_on(runtime.list(None)) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("onyxia-lite: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    println!(
        "{:<28} {:<18} {:<10} {:<22} {:<10} {:<7} URL",
        "SERVICE", "PROJECT", "OWNER", "CHART", "STATE", "PORT"
    );
    for s in listed
        .iter()
        .filter(|s| args.user.as_deref().is_none_or(|u| s.meta.owner == u))
    {
        let state = match s.phase {
            Phase::Running => "running".to_owned(),
            Phase::Created => "created".to_owned(),
            Phase::Exited { code, .. } => format!("exited({code})"),
            Phase::Failed(_) => "failed".to_owned(),
        };
        // A cluster's services are reached through tunnels that live with `serve`.
        let port = s
            .address
            .filter(|_| runtime.info().engine != "kubernetes")
            .map(|a| a.port().to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:<18} {:<10} {:<22} {:<10} {:<7} http://{}.{}:{}/",
            s.meta.release,
            s.meta.project,
            s.meta.owner,
            format!("{}-{}", s.meta.chart, s.meta.version),
            state,
            port,
            s.meta.release,
            config.onyxia.expose_domain,
            config.port
        );
    }
    ExitCode::SUCCESS
}
