//! Class lists read and enrolled over a real store.

use std::sync::Arc;

use super::*;
use crate::clock::Clock;
use crate::config::Config;
use crate::config::fixtures::Fixtures;
use crate::store::Store;

#[test]
fn class_lists_are_read_by_their_header_and_checked() {
    let list = "Username,E-mail,Display name,Groups,Password\n\
                Zoe,zoe@school.org,Zoé Martin,class-a;teachers,\n\
                tom,,Tom,class-a,longenough\n";
    let members = parse_class_list(list).unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].username, "zoe");
    assert_eq!(members[0].email.as_deref(), Some("zoe@school.org"));
    assert_eq!(members[0].groups, ["class-a", "teachers"]);
    assert_eq!(members[0].password, None);
    assert_eq!(members[1].password.as_deref(), Some("longenough"));

    let error = |list: &str| parse_class_list(list).unwrap_err().to_string();
    assert_eq!(
        error("email\nx@y\n"),
        "the class list has no `username` column"
    );
    assert!(error("username\nbad name\n").starts_with("line 2: username `bad name`"));
    assert!(error("username\nann\nANN\n").contains("`ann` is listed twice"));
    assert!(error("username,email\nann,not-mail\n").contains("not an email address"));
    assert!(error("username,password\nann,short\n").contains("shorter than 8"));
    assert!(
        error("username,email\nann\n").contains("CSV"),
        "a row with a missing field"
    );
}

fn identity(dir: &std::path::Path) -> Identity {
    let mut config = Config::default();
    config.passwords.argon2_memory_kib = 64;
    config.passwords.argon2_iterations = 1;
    let store = Arc::new(Store::open(&dir.join("db")).unwrap());
    Identity::new(
        &config,
        &Fixtures::load(None).unwrap(),
        "http://localhost:8080",
        store,
        dir,
        Clock::system(),
    )
    .unwrap()
}

#[test]
fn imports_are_idempotent_prune_disables_and_users_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity(dir.path());
    let list = parse_class_list("username,groups\nann,class-a\ncyd,class-a\n").unwrap();
    let first = id.import_class(&list, Prune::No).unwrap();
    assert_eq!(first.added, ["ann", "cyd"]);
    assert_eq!(first.passwords.len(), 2, "a one-time password each");
    let (_, ann_password) = first.passwords[0].clone();
    assert!(id.authenticate("ann", &ann_password, None).is_ok());

    let again = id.import_class(&list, Prune::No).unwrap();
    assert_eq!(again.unchanged, ["ann", "cyd"], "{again:?}");
    assert!(again.passwords.is_empty(), "nobody's password is replaced");
    assert!(id.authenticate("ann", &ann_password, None).is_ok());

    let moved = parse_class_list("username,groups\nann,class-b\n").unwrap();
    let pruned = id.import_class(&moved, Prune::AllEnrolled).unwrap();
    assert_eq!(pruned.updated, ["ann"]);
    assert_eq!(pruned.disabled, ["cyd"]);
    assert!(!id.realm.user("cyd").unwrap().enabled);
    assert!(id.authenticate("cyd", &first.passwords[1].1, None).is_err());
    // Fixture users are never pruned by a class list.
    assert!(id.realm.user("alice").unwrap().enabled);

    drop(id);
    let id = identity(dir.path());
    assert_eq!(id.realm.user("ann").unwrap().groups, ["class-b"]);
    assert!(!id.realm.user("cyd").unwrap().enabled);
    assert!(id.authenticate("ann", &ann_password, None).is_ok());
}
