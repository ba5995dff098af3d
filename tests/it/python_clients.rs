//! Python clients (authlib today; boto3 and hvac as their listeners land) against a platform.

use std::process::Command;

use crate::support::*;

/// Runs a script of tests/python with the platform's variables; fails the test on any error.
/// Without Python or its packages the test fails too: `scripts/install-test-deps.sh` installs them.
pub async fn run_python(tp: &TestPlatform, script: &str) {
    let variables = tp.running.endpoints.variables();
    run_python_with(
        script,
        variables.into_iter().map(|(k, v)| (k.to_owned(), v)),
    )
    .await;
}

/// [`run_python`] with the variables of a platform that is not in-process (a container).
pub async fn run_python_with(script: &str, variables: impl IntoIterator<Item = (String, String)>) {
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new("python3");
    command.arg(&path);
    command.envs(variables);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("python3 runs (scripts/install-test-deps.sh installs the test dependencies)");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn authlib_relying_party() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "oidc_authlib.py").await;
    tp.stop().await;
}

#[tokio::test]
async fn boto3_sts_and_s3() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_boto3.py").await;
    tp.stop().await;
}

#[tokio::test]
async fn hvac_jwt_login_and_kv_v2() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "vault_hvac.py").await;
    tp.stop().await;
}
