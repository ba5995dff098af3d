//! `onyxia-lite exec -- COMMAND ARGS…` (part of the binary): an ephemeral platform on free
//! ports for the length of one command, whose environment holds the platform's variables (those
//! of `serve --print-env`, plus `AWS_REGION`), so a test suite needs no set-up code. The
//! command's output is its own (inherited), the platform stops when it ends, and onyxia-lite
//! exits with its status.

use std::process::ExitCode;

use clap::Args;

use crate::{Common, EXIT_RUNTIME, EXIT_USAGE, init_logging, load};

#[derive(Args)]
pub struct ExecArgs {
    #[command(flatten)]
    common: Common,
    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// A shell's statuses for a command that cannot be run.
const EXIT_NOT_EXECUTABLE: u8 = 126;
const EXIT_NOT_FOUND: u8 = 127;

pub fn exec(args: ExecArgs) -> ExitCode {
    if args.common.data_dir.is_some() {
        eprintln!("onyxia-lite: exec always runs an ephemeral platform: --data-dir does not apply");
        return ExitCode::from(EXIT_USAGE);
    }
    let flags = vec![
        ("ephemeral", "true".to_owned()),
        ("port", "0".to_owned()),
        ("s3_port", "0".to_owned()),
        ("vault_port", "0".to_owned()),
    ];
    let mut loaded = match load(&args.common, flags) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // The command's output comes first: the platform says only what goes wrong, unless the
    // log level was asked for.
    if std::env::var_os("ONYXIA_LITE_LOG").is_none() && loaded.config.log == "info" {
        loaded.config.log = "warn".into();
    }
    init_logging(&loaded.config.log);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    onyxia_lite::process::tune();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("onyxia-lite: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(run(loaded.config, args.command))
}

async fn run(config: onyxia_lite::Config, command: Vec<String>) -> ExitCode {
    let listeners = match onyxia_lite::Listeners::bind(&config).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let region = config.s3.region.clone();
    let platform =
        match onyxia_lite::Platform::start(config, listeners, std::future::pending()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
    let mut child = tokio::process::Command::new(&command[0]);
    child
        .args(&command[1..])
        .envs(platform.endpoints.variables())
        .env("AWS_REGION", region);
    let code = match child.spawn() {
        Ok(child) => wait_forwarding_signals(child).await,
        Err(e) => {
            let (what, code) = match e.kind() {
                std::io::ErrorKind::NotFound => ("command not found", EXIT_NOT_FOUND),
                std::io::ErrorKind::PermissionDenied => ("not executable", EXIT_NOT_EXECUTABLE),
                _ => ("cannot run", EXIT_NOT_EXECUTABLE),
            };
            eprintln!("onyxia-lite: {}: {what} ({e})", command[0]);
            code
        }
    };
    if let Err(e) = platform.shutdown().await {
        tracing::warn!("stopping the platform: {e}");
    }
    ExitCode::from(code)
}

/// Waits for the command. Ctrl+C reaches the command from the terminal itself (one process
/// group), so onyxia-lite only keeps serving until it ends; a SIGTERM sent to onyxia-lite
/// alone (a CI timeout) is passed on. The status is the command's, or 128 + its signal.
async fn wait_forwarding_signals(mut child: tokio::process::Child) -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return status_code(child.wait().await);
    };
    loop {
        tokio::select! {
            status = child.wait() => return status_code(status),
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {
                if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill(2) with the pid of a child we have not reaped yet.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
            }
        }
    }
}

fn status_code(status: std::io::Result<std::process::ExitStatus>) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => u8::try_from(code).unwrap_or(1),
            (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("onyxia-lite: waiting for the command: {e}");
            EXIT_NOT_EXECUTABLE
        }
    }
}
