//! `onyxia-lite exec`: a command runs with an ephemeral platform's variables, its status is
//! onyxia-lite's, and the platform is gone afterwards; the example pytest suite of
//! `examples/python` passes under `exec` and with a platform per module started by its fixtures.

use std::process::Command;

use crate::process::BIN;

fn examples_dir() -> String {
    format!("{}/examples/python", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn exec_gives_the_command_the_platform_and_its_status() {
    let script = r#"echo "$ONYXIA_URL $AWS_ENDPOINT_URL $AWS_REGION $VAULT_TOKEN"; exit 7"#;
    let out = Command::new(BIN)
        .args(["exec", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{line}");
    assert!(words[0].starts_with("http://localhost:"), "{line}");
    assert!(words[1].starts_with("http://localhost:"), "{line}");
    assert_eq!(words[2], "us-east-1");
    // The platform stopped with the command: nothing listens there any more.
    let main = words[0].trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(main).is_err(),
        "{main} still answers"
    );
    // The command's output is all there is on stdout, and no banner or info log is on stderr.
    assert_eq!(line.lines().count(), 1, "{line}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("is ready") && !stderr.contains(" INFO "),
        "{stderr}"
    );
}

#[test]
fn exec_answers_a_command_that_cannot_run_as_a_shell_does() {
    let out = Command::new(BIN)
        .args(["exec", "--", "no-such-command-for-onyxia-lite"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-command-for-onyxia-lite: command not found"),
        "{stderr}"
    );
    let out = Command::new(BIN)
        .args(["exec", "--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 15));
    let out = Command::new(BIN)
        .args(["exec", "--data-dir", "/tmp/x", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["exec"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_example_pytest_suite_passes_under_exec_and_on_its_own() {
    let under_exec = Command::new(BIN)
        .args([
            "exec",
            "--",
            "python3",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .arg(examples_dir())
        .output()
        .expect("onyxia-lite runs");
    assert!(
        under_exec.status.success(),
        "under exec:\n{}\n{}",
        String::from_utf8_lossy(&under_exec.stdout),
        String::from_utf8_lossy(&under_exec.stderr)
    );
    assert!(String::from_utf8_lossy(&under_exec.stdout).contains("3 passed"));
    // Plain pytest: the fixtures start a platform for the module (python3 and pytest come
    // from scripts/install-test-deps.sh).
    let alone = Command::new("python3")
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(examples_dir())
        .env("ONYXIA_LITE_BIN", BIN)
        .env_remove("ONYXIA_URL")
        .output()
        .expect("python3 runs (scripts/install-test-deps.sh installs it)");
    assert!(
        alone.status.success(),
        "on its own:\n{}\n{}",
        String::from_utf8_lossy(&alone.stdout),
        String::from_utf8_lossy(&alone.stderr)
    );
    assert!(String::from_utf8_lossy(&alone.stdout).contains("3 passed"));
}
