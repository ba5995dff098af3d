//! What a signed-in user may do to their own account: change their password, end their
//! sessions. A password a user chose is kept over the fixture's from then on.

use super::Identity;
use super::records::{CREDENTIALS, REFRESH_TOKENS, SESSIONS};
use crate::store::StoreError;

/// Shortest password a user may choose.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a new password was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("The new password must have at least {MIN_PASSWORD_CHARS} characters.")]
    TooShort,
    #[error("The new password must differ from the current one.")]
    Unchanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Identity {
    /// Replaces a user's password with `new` (the caller checked the current one), hashed with
    /// argon2 and kept over the fixture's across restarts. Blocking (argon2, a redb write).
    pub fn set_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
    ) -> Result<(), PasswordChangeError> {
        if new.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordChangeError::TooShort);
        }
        if new == current {
            return Err(PasswordChangeError::Unchanged);
        }
        Ok(self.store_password(username, new, false)?)
    }

    /// Whether a user's password is a one-time password to replace at the next login.
    pub fn password_is_temporary(&self, username: &str) -> Result<bool, StoreError> {
        Ok(self
            .store
            .get(&CREDENTIALS, &username.to_ascii_lowercase())?
            .is_some_and(|c| c.temporary))
    }

    /// Replaces a one-time password with one the user chose (they proved the one-time one in
    /// this login). Blocking (argon2, a redb write).
    pub fn replace_temporary_password(
        &self,
        username: &str,
        new: &str,
    ) -> Result<(), PasswordChangeError> {
        if new.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordChangeError::TooShort);
        }
        let name = username.to_ascii_lowercase();
        if let Some(current) = self.store.get(&CREDENTIALS, &name)?
            && self.hasher.verify(new, &current.password_hash)
        {
            return Err(PasswordChangeError::Unchanged);
        }
        Ok(self.store_password(&name, new, false)?)
    }

    /// Ends every session of a user but `keep` (the one asking), with their refresh tokens;
    /// returns how many ended.
    pub fn end_sessions_of(&self, username: &str, keep: Option<&str>) -> Result<usize, StoreError> {
        self.store.write(|w| {
            let doomed: Vec<String> = w
                .range(&SESSIONS, "", "\u{10ffff}", usize::MAX)?
                .into_iter()
                .filter(|(sid, s)| s.username == username && Some(sid.as_str()) != keep)
                .map(|(sid, _)| sid)
                .collect();
            for sid in &doomed {
                w.remove(&SESSIONS, sid)?;
            }
            w.retain(&REFRESH_TOKENS, |_, r| {
                r.username != username || r.sid.as_deref().is_some_and(|sid| Some(sid) == keep)
            })?;
            Ok(doomed.len())
        })
    }
}
