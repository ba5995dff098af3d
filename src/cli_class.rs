//! The `onyxia-lite class` commands (part of the binary): enrol a class list and set class
//! limits in a stopped platform's data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{Common, EXIT_RUNTIME, EXIT_USAGE, init_logging, load};

#[derive(Subcommand)]
pub enum ClassAction {
    /// Enrol the users of a CSV class list: a header row naming `username` and any of
    /// `email`, `display name`, `groups` (separated by `;`) and `password`. Listed users are
    /// added or updated; those without a password get a one-time password, printed once.
    Import(ClassImportArgs),
    /// Show the class limits, or set those of one group or user: only the kinds named change.
    /// A user's limit of a kind is their own, else the largest of their groups'.
    Limits(ClassLimitsArgs),
    /// Usage per user and per group (hours running, CPU-hours, memory-hours, services
    /// launched, bytes in personal buckets) of the services launched since a date.
    Report(ClassReportArgs),
}

#[derive(Args)]
pub struct ClassReportArgs {
    #[command(flatten)]
    common: Common,
    /// Services launched since: a date (2026-09-01), an RFC 3339 time, or days ago (30d).
    #[arg(long, default_value = "30d")]
    since: String,
    /// csv or json.
    #[arg(long, default_value = "csv")]
    format: String,
}

#[derive(Args)]
pub struct ClassLimitsArgs {
    #[command(flatten)]
    common: Common,
    /// Set the limits of this group (a class).
    #[arg(long, value_name = "NAME", conflicts_with = "user")]
    group: Option<String>,
    /// Set the limits of this user (overriding their groups').
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// CPU requested by running services, added up (`2`, `500m`).
    #[arg(long, value_name = "QUANTITY")]
    cpu: Option<String>,
    /// Memory requested by running services, added up (`4Gi`).
    #[arg(long, value_name = "QUANTITY")]
    memory: Option<String>,
    /// Running services.
    #[arg(long, value_name = "COUNT")]
    services: Option<u64>,
    /// Bytes in the personal bucket, every version counted (`5Gi`).
    #[arg(long, value_name = "QUANTITY")]
    s3_storage: Option<String>,
    /// Sizes of the services' volumes, added up (`20Gi`).
    #[arg(long, value_name = "QUANTITY")]
    volume_storage: Option<String>,
    /// Suspend a running service after this many minutes without use (0: never).
    #[arg(long, value_name = "MINUTES")]
    idle_minutes: Option<u64>,
    /// Delete a service this many hours after its launch (0: never).
    #[arg(long, value_name = "HOURS")]
    max_age_hours: Option<u64>,
    /// Remove the group's or user's limits (with other options: replace them all).
    #[arg(long)]
    clear: bool,
}

#[derive(Args)]
pub struct ClassImportArgs {
    #[command(flatten)]
    common: Common,
    /// The class list (CSV).
    file: PathBuf,
    /// Disable enrolled users the list no longer names (they can no longer log in).
    #[arg(long)]
    prune: bool,
    /// Write the generated one-time passwords (CSV: username,password) to this file, readable
    /// by its owner only, instead of standard output.
    #[arg(long, value_name = "FILE")]
    passwords_out: Option<PathBuf>,
}

pub fn class_import(args: ClassImportArgs) -> ExitCode {
    let loaded = match load(&args.common, Vec::new()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    init_logging("warn");
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("onyxia-lite: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let prune = match args.prune {
        true => onyxia_lite::identity::enrol::Prune::AllEnrolled,
        false => onyxia_lite::identity::enrol::Prune::No,
    };
    let report = match onyxia_lite::identity::enrol::cli_import(&loaded.config, &text, prune) {
        Ok(report) => report,
        Err(e) => return failed(&e),
    };
    let mut passwords = String::from("username,password\n");
    for (user, password) in &report.passwords {
        passwords.push_str(&format!("{user},{password}\n"));
    }
    match &args.passwords_out {
        Some(path) => {
            if let Err(e) = onyxia_lite::durable::write_private_file(path, passwords.as_bytes()) {
                eprintln!("onyxia-lite: cannot write {}: {e}", path.display());
                return ExitCode::from(EXIT_RUNTIME);
            }
        }
        None if !report.passwords.is_empty() => print!("{passwords}"),
        None => {}
    }
    eprintln!(
        "class import: {} added, {} updated, {} unchanged, {} disabled; {} one-time passwords {}",
        report.added.len(),
        report.updated.len(),
        report.unchanged.len(),
        report.disabled.len(),
        report.passwords.len(),
        match &args.passwords_out {
            Some(path) => format!("written to {}", path.display()),
            None => "printed above".to_owned(),
        }
    );
    ExitCode::SUCCESS
}

pub fn class_limits(args: ClassLimitsArgs) -> ExitCode {
    use onyxia_lite::classes::limits::{Limits, Scope};
    let loaded = match load(&args.common, Vec::new()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    init_logging("warn");
    let scope = match (args.group, args.user) {
        (Some(g), _) => Some(Scope::Group(g)),
        (None, Some(u)) => Some(Scope::User(u)),
        (None, None) => None,
    };
    let change = Limits {
        cpu: args.cpu,
        memory: args.memory,
        services: args.services,
        s3_storage: args.s3_storage,
        volume_storage: args.volume_storage,
        idle_minutes: args.idle_minutes,
        max_age_hours: args.max_age_hours,
    };
    if scope.is_none() && (args.clear || !change.is_empty()) {
        eprintln!("onyxia-lite: name the --group or --user whose limits to set");
        return ExitCode::from(EXIT_USAGE);
    }
    if let Err(e) = change.check() {
        eprintln!("onyxia-lite: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    match onyxia_lite::classes::cli_limits(&loaded.config, scope.as_ref(), change, args.clear) {
        Ok(all) => {
            println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

pub fn class_report(args: ClassReportArgs) -> ExitCode {
    let loaded = match load(&args.common, Vec::new()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    init_logging("warn");
    let now = onyxia_lite::clock::Clock::system().millis();
    let since = match onyxia_lite::classes::report::parse_since(&args.since, now) {
        Ok(since) => since,
        Err(e) => {
            eprintln!("onyxia-lite: --since {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if !["csv", "json"].contains(&args.format.as_str()) {
        eprintln!("onyxia-lite: --format is csv or json");
        return ExitCode::from(EXIT_USAGE);
    }
    match onyxia_lite::classes::cli_report(&loaded.config, since) {
        Ok(report) if args.format == "csv" => {
            print!("{}", onyxia_lite::classes::report::to_csv(&report));
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

/// A class command's failure: a usage error (2) for what was asked, else a runtime error (1).
fn failed(e: &onyxia_lite::identity::enrol::ClassCommandError) -> ExitCode {
    eprintln!("onyxia-lite: {e}");
    ExitCode::from(if e.is_usage() {
        EXIT_USAGE
    } else {
        EXIT_RUNTIME
    })
}
