//! Enrolling a class: users from a CSV (username, email, display name, groups, optional
//! password) become realm users kept in the store. Importing again is idempotent: listed users
//! are added or updated, and with `prune` enrolled users no longer listed are disabled (their
//! sessions end, so their tokens stop working). A user without a password gets a generated
//! one-time password, reported once so the teacher can hand it out.

use std::collections::BTreeSet;

use serde::Serialize;

use super::realm::{User, stable_subject};
use super::records::{CREDENTIALS, StoredCredential, USERS};
use super::{Identity, PasswordState};
use crate::store::StoreError;

/// One row of a class list.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMember {
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    pub password: Option<String>,
}

/// A class list that cannot be read, with the line at fault.
#[derive(Debug, thiserror::Error)]
pub enum ClassListError {
    #[error("line {line}: {reason}")]
    Row { line: u64, reason: String },
    #[error("the class list is not valid CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the class list has no `username` column")]
    NoUsernameColumn,
}

/// Which enrolled users an import disables when the list does not name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    No,
    /// Every enrolled user (the operator's `class import --prune`).
    AllEnrolled,
    /// Enrolled users in a group the list names (a teacher's class).
    ListedGroups,
}

/// The group whose members run classes.
pub const TEACHERS: &str = "teachers";

/// What an import did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub disabled: Vec<String>,
    /// Generated one-time passwords of new users (username, password): shown once.
    pub passwords: Vec<(String, String)>,
}

/// Usernames as Keycloak accepts them, lower-cased: letters, digits and `._-@`.
fn check_username(name: &str) -> Result<String, String> {
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || name.len() > 64 {
        return Err("a username has 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(format!(
            "username `{name}` may hold only letters, digits and . _ - @"
        ));
    }
    Ok(name)
}

/// Reads a class list: a header row naming `username` and any of `email`, `display name`
/// (or `display_name`, `name`), `groups` (separated by `;` or spaces) and `password`, in any
/// order and case.
pub fn parse_class_list(text: &str) -> Result<Vec<ClassMember>, ClassListError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.to_ascii_lowercase().replace(['_', '-'], " "))
        .collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let username =
        column(&["username", "user", "login"]).ok_or(ClassListError::NoUsernameColumn)?;
    let email = column(&["email", "e mail", "mail"]);
    let display = column(&["display name", "name", "full name"]);
    let groups = column(&["groups", "group"]);
    let password = column(&["password"]);
    let mut members = Vec::new();
    let mut seen = BTreeSet::new();
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        let name = check_username(record.get(username).unwrap_or_default())
            .map_err(|reason| ClassListError::Row { line, reason })?;
        if !seen.insert(name.clone()) {
            return Err(ClassListError::Row {
                line,
                reason: format!("`{name}` is listed twice"),
            });
        }
        let email = field(email);
        if email.as_deref().is_some_and(|e| !e.contains('@')) {
            return Err(ClassListError::Row {
                line,
                reason: format!("`{}` is not an email address", email.unwrap_or_default()),
            });
        }
        let password = field(password);
        if password
            .as_deref()
            .is_some_and(|p| p.chars().count() < super::account::MIN_PASSWORD_CHARS)
        {
            return Err(ClassListError::Row {
                line,
                reason: format!(
                    "the password of `{name}` is shorter than {} characters",
                    super::account::MIN_PASSWORD_CHARS
                ),
            });
        }
        members.push(ClassMember {
            username: name,
            email,
            display_name: field(display),
            groups: field(groups)
                .map(|g| {
                    g.split([';', ' ', ','])
                        .filter(|g| !g.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            password,
        });
    }
    Ok(members)
}

/// A one-time password: 12 characters a teacher can read out without ambiguity.
fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789";
    (0..12)
        .map(|_| ALPHABET[rand::Rng::gen_range(&mut rand::thread_rng(), 0..ALPHABET.len())] as char)
        .collect()
}

impl Identity {
    /// The realm user a class member becomes (attributes of an existing user kept).
    fn member_user(&self, member: &ClassMember, existing: Option<&User>) -> User {
        let (first, last) = match member.display_name.as_deref() {
            Some(name) => match name.split_once(' ') {
                Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned())),
                None => (Some(name.to_owned()), None),
            },
            None => (None, None),
        };
        User {
            username: member.username.clone(),
            sub: stable_subject(&self.realm.settings.name, &member.username),
            email: member.email.clone(),
            first_name: first,
            last_name: last,
            groups: member.groups.clone(),
            claims: existing.map(|u| u.claims.clone()).unwrap_or_default(),
            attributes: existing.map(|u| u.attributes.clone()).unwrap_or_default(),
            enabled: true,
        }
    }

    /// Enrols a class list (see the module's documentation). Blocking (argon2, redb writes).
    pub fn import_class(
        &self,
        members: &[ClassMember],
        prune: Prune,
    ) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        let enrolled = self.store.scan(&USERS)?;
        for member in members {
            let existing = self.realm.user(&member.username);
            let user = self.member_user(member, existing.as_deref());
            let credential = match (&member.password, existing.is_some()) {
                (Some(given), _) => Some((given.clone(), false)),
                (None, false) => {
                    let generated = one_time_password();
                    report
                        .passwords
                        .push((user.username.clone(), generated.clone()));
                    Some((generated, true))
                }
                // A listed user keeps the password they have.
                (None, true) => None,
            };
            let changed = existing.as_deref() != Some(&user);
            self.store.put(&USERS, &user.username, &user)?;
            if let Some((plain, temporary)) = credential {
                self.store_password(&user.username, &plain, temporary)?;
            }
            match (existing.is_some(), changed) {
                (false, _) => report.added.push(user.username.clone()),
                (true, true) => report.updated.push(user.username.clone()),
                (true, false) => report.unchanged.push(user.username.clone()),
            }
            self.realm.put_user(user);
        }
        let listed: BTreeSet<&str> = members.iter().map(|m| m.username.as_str()).collect();
        let classes: BTreeSet<&str> = members
            .iter()
            .flat_map(|m| m.groups.iter().map(String::as_str))
            .collect();
        for (name, user) in &enrolled {
            let in_scope = match prune {
                Prune::No => false,
                Prune::AllEnrolled => true,
                Prune::ListedGroups => user.groups.iter().any(|g| classes.contains(g.as_str())),
            };
            if in_scope && !listed.contains(name.as_str()) && self.disable_user(name)? {
                report.disabled.push(name.clone());
            }
        }
        Ok(report)
    }

    /// Whether `username` was enrolled from a class list (not a fixture user only).
    pub fn is_enrolled(&self, username: &str) -> Result<bool, StoreError> {
        Ok(self.store.get(&USERS, username)?.is_some())
    }

    /// What a teacher's class list may not do, one line per refused row: name a user the
    /// operator made (a fixture user), or a teacher, or make one; their passwords would be
    /// the teacher's to set.
    pub fn refused_for_teacher(&self, members: &[ClassMember]) -> Result<Vec<String>, StoreError> {
        let mut refused = Vec::new();
        for member in members {
            let joins_teachers = member.groups.iter().any(|g| g == TEACHERS);
            if let Some(why) = self.refusal_for_teacher(&member.username, joins_teachers)? {
                refused.push(why);
            }
        }
        Ok(refused)
    }

    /// Why a teacher may not act on `username` (list them, limit them), if they may not: an
    /// account the operator made (a fixture user), or a teacher — already, or by the list
    /// (`joins_teachers`).
    pub fn refusal_for_teacher(
        &self,
        username: &str,
        joins_teachers: bool,
    ) -> Result<Option<String>, StoreError> {
        let existing = self.realm.user(username);
        if existing.is_some() && !self.is_enrolled(username)? {
            return Ok(Some(format!(
                "`{username}` is an account of the platform, not of a class"
            )));
        }
        if joins_teachers || existing.is_some_and(|u| u.groups.iter().any(|g| g == TEACHERS)) {
            return Ok(Some(format!(
                "`{username}`: teachers are managed by the platform's operator"
            )));
        }
        Ok(None)
    }

    /// Disables a user: no login, and their sessions and refresh tokens end (so tokens bound
    /// to a session stop working). Returns whether they were enabled.
    pub fn disable_user(&self, username: &str) -> Result<bool, StoreError> {
        let Some(user) = self.realm.user(username) else {
            return Ok(false);
        };
        if !user.enabled {
            return Ok(false);
        }
        let mut disabled = (*user).clone();
        disabled.enabled = false;
        self.store.put(&USERS, &disabled.username, &disabled)?;
        self.realm.put_user(disabled);
        self.end_sessions_of(username, None)?;
        Ok(true)
    }

    /// Sets a user's password (chosen by them or a class list, or generated), hashed and
    /// kept over the fixture's across restarts.
    pub(super) fn store_password(
        &self,
        username: &str,
        plain: &str,
        temporary: bool,
    ) -> Result<(), StoreError> {
        let hash = self.hasher.hash(plain);
        let record = StoredCredential {
            password_hash: hash.clone(),
            fixture_digest: String::new(),
            set_by_user: true,
            temporary,
        };
        self.store.put(&CREDENTIALS, username, &record)?;
        crate::sync::write(&self.passwords)
            .insert(username.to_owned(), PasswordState::Hashed(hash));
        Ok(())
    }
}

#[cfg(test)]
#[path = "enrol_tests.rs"]
mod tests;

/// Why an `onyxia-lite class` command could not run.
#[derive(Debug, thiserror::Error)]
pub enum ClassCommandError {
    #[error("an ephemeral platform keeps no users; pass --data-dir")]
    Ephemeral,
    #[error(transparent)]
    List(#[from] ClassListError),
    #[error(
        "{0} (stop the platform first: class commands write the data directory it serves from)"
    )]
    InUse(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] super::IdentityError),
    #[error(transparent)]
    Fixtures(#[from] crate::config::fixtures::FixtureError),
    #[error("cannot create the data directory: {0}")]
    DataDir(#[source] std::io::Error),
}

impl ClassCommandError {
    /// A mistake in what was asked (the list, the options), rather than a failure to run.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ClassCommandError::Ephemeral
                | ClassCommandError::List(_)
                | ClassCommandError::Fixtures(_)
        )
    }
}

/// The database of a stopped platform (its data directory made if missing), for the class
/// commands; a running platform holds it (`InUse`).
pub fn open_stopped(
    config: &crate::config::Config,
) -> Result<(std::sync::Arc<crate::store::Store>, std::path::PathBuf), ClassCommandError> {
    if config.ephemeral {
        return Err(ClassCommandError::Ephemeral);
    }
    let data_dir = config.persistent_data_dir();
    crate::durable::create_private_dir(&data_dir).map_err(ClassCommandError::DataDir)?;
    match crate::store::Store::open(&data_dir.join("onyxia-lite.redb")) {
        Err(e @ StoreError::InUse { .. }) => Err(ClassCommandError::InUse(e)),
        other => Ok((std::sync::Arc::new(other?), data_dir)),
    }
}

/// `onyxia-lite class import`: enrols a class list into a stopped platform's data directory.
pub fn cli_import(
    config: &crate::config::Config,
    class_list: &str,
    prune: Prune,
) -> Result<ImportReport, ClassCommandError> {
    let members = parse_class_list(class_list)?;
    let (identity, _) = stopped_identity(config)?;
    Ok(identity.import_class(&members, prune)?)
}

/// The identity core of a stopped platform (its realm users, enrolled ones included) and its
/// database, for the class commands.
pub fn stopped_identity(
    config: &crate::config::Config,
) -> Result<(Identity, std::sync::Arc<crate::store::Store>), ClassCommandError> {
    let (store, data_dir) = open_stopped(config)?;
    let fixtures = crate::config::fixtures::Fixtures::load(config.fixtures.as_deref())?;
    let identity = Identity::new(
        config,
        &fixtures,
        &config.public_base_url(config.port),
        store.clone(),
        &data_dir,
        crate::clock::Clock::system(),
    )?;
    Ok((identity, store))
}
