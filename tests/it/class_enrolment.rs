//! Enrolling a class with `onyxia-lite class import`: generated one-time passwords written
//! for the teacher, students logging in with them (OIDC password grant, then STS), an
//! idempotent re-import, `--prune` disabling a student whose tokens then stop working, and the
//! import refused while the platform serves the data directory.

use std::path::Path;
use std::process::Command;

use crate::process::BIN;
use crate::s3_support::*;
use crate::support::*;

/// Runs `class import` on `data`; returns (success, stdout, stderr).
fn import(data: &Path, list: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["class", "import", "--data-dir"])
        .arg(data)
        .arg(list)
        .args(extra)
        // Cheap hashing, as the test platforms use.
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_MEMORY_KIB", "64")
        .env("ONYXIA_LITE_PASSWORDS_ARGON2_ITERATIONS", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The (username, password) rows of a passwords CSV.
fn passwords(csv: &str) -> Vec<(String, String)> {
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .collect()
}

async fn platform_on(data: &Path) -> TestPlatform {
    let mut config = test_config();
    config.ephemeral = false;
    config.data_dir = Some(data.to_owned());
    TestPlatform::start_with(config).await
}

#[tokio::test]
async fn a_class_list_enrols_students_who_log_in_and_prune_disables_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let list = dir.path().join("students.csv");
    std::fs::write(
        &list,
        "username,email,display name,groups,password\n\
         s1,s1@school.org,Sam One,class-a,\n\
         s2,,Sue Two,class-a,\n\
         s3,,Sid Three,class-a;teachers,chosen-by-teacher\n",
    )
    .unwrap();
    let out_file = dir.path().join("passwords.csv");
    let out_arg = out_file.to_str().unwrap();
    let (ok, _, stderr) = import(&data, &list, &["--passwords-out", out_arg]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("3 added"), "{stderr}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&out_file).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "one-time passwords are for the teacher only"
    );
    let generated = passwords(&std::fs::read_to_string(&out_file).unwrap());
    let names: Vec<&str> = generated.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["s1", "s2"], "s3's password came with the list");

    // Students log in with what the teacher handed out, and get S3 keys from their token.
    let tp = platform_on(&data).await;
    let s1 = password_grant(&tp, "onyxia", "s1", &generated[0].1).await;
    assert!(s1["access_token"].is_string());
    password_grant(&tp, "onyxia", "s3", "chosen-by-teacher").await;
    let s2_token = password_grant(&tp, "onyxia-minio", "s2", &generated[1].1).await;
    let s2_token = s2_token["access_token"].as_str().unwrap().to_owned();
    sts_credentials(&tp, "s2", &generated[1].1).await;

    // While it serves, the data directory cannot be imported into.
    let (ok, _, stderr) = import(&data, &list, &[]);
    assert!(!ok && stderr.contains("stop the platform"), "{stderr}");
    tp.stop().await;

    // Again: nothing changes, nobody gets a new password.
    let (ok, stdout, stderr) = import(&data, &list, &[]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("3 unchanged") && stdout.is_empty(),
        "{stderr}"
    );

    // s2 leaves the class: disabled, their login and their token refused.
    std::fs::write(&list, "username,groups\ns1,class-a\ns3,class-a;teachers\n").unwrap();
    let (ok, _, stderr) = import(&data, &list, &["--prune"]);
    assert!(ok && stderr.contains("1 disabled"), "{stderr}");
    let tp = platform_on(&data).await;
    let (status, body) = token_request(
        &tp,
        &[
            ("grant_type", "password"),
            ("client_id", "onyxia"),
            ("username", "s2"),
            ("password", &generated[1].1),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let refused = sts_client(&tp)
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::000000000000:role/onyxia")
        .role_session_name("s2")
        .web_identity_token(s2_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "InvalidIdentityToken");
    // s1 still logs in with the same password.
    password_grant(&tp, "onyxia", "s1", &generated[0].1).await;
    tp.stop().await;

    // A list with a mistake changes nothing and names the line.
    std::fs::write(&list, "username\ns1\nnot valid\n").unwrap();
    let (ok, _, stderr) = import(&data, &list, &[]);
    assert!(!ok && stderr.contains("line 3"), "{stderr}");
}
