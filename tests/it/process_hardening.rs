//! The release binary under hostile load, as a process: what reaches its log, how much memory a
//! burst of logins leaves behind, and that key files are durable (directory fsynced).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{BIN, spawn_serve_with, terminate};
use crate::support::missing;

/// Sends requests S3 refuses: an anonymous 8 MiB malformed XML body, a forged signature.
async fn refused_requests(s3: &str) {
    let http = reqwest::Client::new();
    let marker = "A".repeat(8 * 1024 * 1024);
    let body = format!("<Delete><Object><Key>{marker}");
    let r = http
        .post(format!("{s3}/user-alice?delete"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = http
        .get(format!("{s3}/user-alice/x"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=onyxia-admin/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("x-amz-date", "20260101T000000Z")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
}

/// Runs the refused requests against a server logging at `level`; returns its log.
async fn log_of_refusals(level: &'static str) -> String {
    let log = tempfile::NamedTempFile::new().unwrap();
    let stderr = Stdio::from(log.reopen().unwrap());
    let env = [("ONYXIA_LITE_LOG", level)];
    let (mut child, vars) =
        tokio::task::spawn_blocking(move || spawn_serve_with(&["--ephemeral"], &env, stderr))
            .await
            .unwrap();
    refused_requests(&vars["AWS_ENDPOINT_URL"]).await;
    terminate(&mut child);
    std::fs::read_to_string(log.path()).unwrap()
}

#[tokio::test]
async fn refusals_are_debug_lines_and_request_bodies_never_reach_the_log() {
    let info = log_of_refusals("info").await;
    assert!(
        !info.contains("ERROR") && !info.contains("WARN"),
        "refusals are not errors:\n{info}"
    );
    assert!(info.len() < 16 * 1024, "{} bytes at info", info.len());
    // Even at the most verbose level, only short excerpts of what clients sent.
    let trace = log_of_refusals("trace").await;
    assert!(trace.len() < 256 * 1024, "{} bytes at trace", trace.len());
    assert!(
        !trace.contains(&"A".repeat(200)),
        "a request body reached the log"
    );
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Logins with the default argon2 cost (19 MiB each), 32 at a time: the memory they use is
/// bounded while they run and handed back once they stop. (Figures for the full mix are
/// measured by scripts/bench-memory.sh; the bounds here are loose on purpose.)
#[tokio::test]
async fn a_burst_of_logins_leaves_no_memory_behind() {
    let env = [
        ("ONYXIA_LITE_PASSWORDS_ARGON2_MEMORY_KIB", "19456"),
        ("ONYXIA_LITE_PASSWORDS_ARGON2_ITERATIONS", "2"),
    ];
    let (mut child, vars) = tokio::task::spawn_blocking(move || {
        spawn_serve_with(&["--ephemeral"], &env, Stdio::null())
    })
    .await
    .unwrap();
    let token_url = vars["OIDC_TOKEN_URL"].replace("localhost", "127.0.0.1");
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..160 {
        let (http, url) = (http.clone(), token_url.clone());
        let user = ["alice", "bob", "teacher"][i % 3];
        tasks.spawn(async move {
            http.post(url)
                .form(&[
                    ("grant_type", "password"),
                    ("client_id", "onyxia"),
                    ("username", user),
                    ("password", user),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        while tasks.len() >= 32 {
            assert_eq!(tasks.join_next().await.unwrap().unwrap().unwrap(), 200);
        }
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap(), 200);
    }
    let peak = rss_kib(child.id(), "VmHWM:");
    assert!(peak < 200 * 1024, "peak RSS {} MiB", peak / 1024);
    // Idle: the pooled argon2 memory is freed within seconds.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut rss = rss_kib(child.id(), "VmRSS:");
    while rss > 60 * 1024 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss = rss_kib(child.id(), "VmRSS:");
    }
    terminate(&mut child);
    assert!(rss <= 60 * 1024, "idle RSS {} MiB", rss / 1024);
}

/// The system calls of a first start, traced: every key file is renamed into place and then
/// its directory fsynced, so a crash right after cannot lose a key that sealed data needs.
#[tokio::test]
#[ignore = "needs strace: scripts/test.sh provides it and runs it"]
async fn key_files_are_renamed_into_place_and_their_directory_synced() {
    let Ok(strace) = which("strace") else {
        missing("key file durability", "strace is not installed");
    };
    let data = tempfile::tempdir().unwrap();
    let trace = data.path().join("trace.txt");
    let dir = data.path().join("data");
    let mut child = Command::new(strace)
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,rename,renameat,renameat2,fsync",
            "-o",
        ])
        .arg(&trace)
        .arg(BIN)
        .args([
            "serve",
            "--port",
            "0",
            "--s3-port",
            "0",
            "--vault-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .args(["--print-env", "-"])
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_MEMORY_KIB", "64")
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_ITERATIONS", "1")
        .env("ONYXIA_LITE_ONYXIA_DOCKER_HOST", "none")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            if line.unwrap().starts_with("ONYXIA_LITE_DATA_DIR=") {
                break;
            }
        }
    })
    .await
    .unwrap();
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    let mut text = String::new();
    std::fs::File::open(&trace)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let keys = dir.join("keys");
    for file in ["signing-rs256.pem", "refresh-hs256.key", "kv.key"] {
        assert!(
            renamed_then_dir_synced(&text, &keys.join(file).display().to_string()),
            "{file}: no directory fsync after its rename in\n{}",
            text.lines()
                .filter(|l| l.contains("keys"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Whether `trace` renames something onto `target`, then opens its directory and fsyncs that
/// descriptor.
fn renamed_then_dir_synced(trace: &str, target: &str) -> bool {
    let dir = std::path::Path::new(target)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let lines: Vec<&str> = trace.lines().collect();
    let Some(renamed) = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains(&format!("\"{target}\"")))
    else {
        return false;
    };
    let mut dir_fds = Vec::new();
    for line in &lines[renamed + 1..] {
        if line.contains("openat(") && line.contains(&format!("\"{dir}\"")) {
            if let Some(fd) = line
                .rsplit("= ")
                .next()
                .and_then(|f| f.trim().parse::<u32>().ok())
            {
                dir_fds.push(fd);
            }
        } else if let Some(fd) = line
            .split("fsync(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|fd| fd.parse::<u32>().ok())
            && dir_fds.contains(&fd)
        {
            return true;
        }
    }
    false
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(program))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
