//! A versioned key/value store with Vault KV v2's semantics: versions, soft delete, undelete,
//! destroy, check-and-set, metadata. Values are sealed before they reach the database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::crypto::Sealer;
use crate::clock::Clock;
use crate::store::{RawTable, Store, StoreError, Table, Writer};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountConfig {
    pub max_versions: u32,
    pub cas_required: bool,
    pub delete_version_after: String,
}

impl Default for MountConfig {
    fn default() -> Self {
        MountConfig {
            max_versions: 0,
            cas_required: false,
            delete_version_after: "0s".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Unix nanoseconds.
    pub created: i128,
    pub deletion: Option<i128>,
    pub destroyed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretMeta {
    pub created: i128,
    pub updated: i128,
    pub current_version: u64,
    pub oldest_version: u64,
    pub max_versions: u32,
    pub cas_required: bool,
    pub delete_version_after: String,
    pub custom_metadata: BTreeMap<String, String>,
    pub versions: BTreeMap<u64, VersionMeta>,
}

impl SecretMeta {
    fn empty(now: i128) -> Self {
        SecretMeta {
            created: now,
            updated: now,
            current_version: 0,
            oldest_version: 0,
            max_versions: 0,
            cas_required: false,
            delete_version_after: "0s".into(),
            custom_metadata: BTreeMap::new(),
            versions: BTreeMap::new(),
        }
    }
}

const META: Table<SecretMeta> = Table::new("kv_meta");
const CONFIG: Table<MountConfig> = Table::new("kv_config");
const DATA: RawTable = RawTable::new("kv_data");

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("not found")]
    NotFound,
    /// The version exists but is deleted or destroyed (Vault answers 404 with its metadata).
    #[error("version deleted")]
    Deleted(VersionMeta, u64, BTreeMap<String, String>),
    #[error("check-and-set parameter did not match the current version")]
    CasMismatch,
    #[error("check-and-set parameter required for this call")]
    CasRequired,
    #[error("{0}")]
    Invalid(String),
    /// Stored data that cannot be opened: a server-side problem, not the client's.
    #[error("stored secret {key} cannot be decrypted")]
    Undecryptable { key: String },
    #[error("stored secret {key} is not JSON")]
    NotJson {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn meta_key(mount: &str, path: &str) -> String {
    format!("{mount}/{path}")
}

fn data_key(mount: &str, path: &str, version: u64) -> String {
    format!("{mount}/{path}#{version:020}")
}

/// Paths are `/`-separated names: no empty, `.` or `..` segment, no NUL.
pub fn check_path(path: &str) -> Result<(), KvError> {
    if path.is_empty() || path.len() > 1024 {
        return Err(KvError::Invalid("invalid path".into()));
    }
    if path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
        || path.contains('\0')
    {
        return Err(KvError::Invalid(format!("invalid path: {path}")));
    }
    Ok(())
}

/// Whether any secret is stored (then the sealing key must already exist).
pub fn has_data(store: &Store) -> Result<bool, StoreError> {
    Ok(!store.range(&META, "", None, 1)?.is_empty())
}

pub struct Kv {
    store: Arc<Store>,
    sealer: Sealer,
    clock: Clock,
}

/// A version's value with its metadata.
pub struct Read {
    pub data: Map<String, Value>,
    pub version: u64,
    pub meta: VersionMeta,
    pub custom_metadata: BTreeMap<String, String>,
}

impl Kv {
    pub fn new(store: Arc<Store>, sealer: Sealer, clock: Clock) -> Self {
        Kv {
            store,
            sealer,
            clock,
        }
    }

    pub fn config(&self, mount: &str) -> Result<MountConfig, KvError> {
        Ok(self.store.get(&CONFIG, mount)?.unwrap_or_default())
    }

    pub fn set_config(&self, mount: &str, config: MountConfig) -> Result<(), KvError> {
        Ok(self.store.put(&CONFIG, mount, &config)?)
    }

    pub fn metadata(&self, mount: &str, path: &str) -> Result<SecretMeta, KvError> {
        check_path(path)?;
        self.store
            .get(&META, &meta_key(mount, path))?
            .ok_or(KvError::NotFound)
    }

    /// Reads a version (the current one by default).
    pub fn read(&self, mount: &str, path: &str, version: Option<u64>) -> Result<Read, KvError> {
        let meta = self.metadata(mount, path)?;
        let version = match version {
            Some(0) | None => meta.current_version,
            Some(v) => v,
        };
        let vm = meta
            .versions
            .get(&version)
            .cloned()
            .ok_or(KvError::NotFound)?;
        if vm.destroyed || vm.deletion.is_some_and(|d| d <= self.clock.nanos()) {
            return Err(KvError::Deleted(vm, version, meta.custom_metadata));
        }
        let key = data_key(mount, path, version);
        let sealed = self.store.get_raw(&DATA, &key)?.ok_or(KvError::NotFound)?;
        let plain = self
            .sealer
            .open(&sealed, &key)
            .ok_or_else(|| KvError::Undecryptable { key: key.clone() })?;
        let data = serde_json::from_slice(&plain).map_err(|source| KvError::NotJson {
            key: key.clone(),
            source,
        })?;
        Ok(Read {
            data,
            version,
            meta: vm,
            custom_metadata: meta.custom_metadata,
        })
    }

    /// Writes a new version. `cas`: Some(0) = only if absent; Some(n) = only if current is n.
    pub fn write(
        &self,
        mount: &str,
        path: &str,
        data: &Map<String, Value>,
        cas: Option<u64>,
    ) -> Result<(u64, VersionMeta, BTreeMap<String, String>), KvError> {
        check_path(path)?;
        let config = self.config(mount)?;
        let plain = serde_json::to_vec(data).unwrap_or_default();
        self.store.write(|w| {
            let now = self.clock.nanos();
            let existing = w.get(&META, &meta_key(mount, path))?;
            let mut meta = existing.unwrap_or(SecretMeta::empty(now));
            match cas {
                Some(n) if n != meta.current_version => return Err(KvError::CasMismatch),
                None if meta.cas_required || config.cas_required => {
                    return Err(KvError::CasRequired);
                }
                _ => {}
            }
            let version = meta.current_version + 1;
            let key = data_key(mount, path, version);
            w.put_raw(&DATA, &key, &self.sealer.seal(&plain, &key))?;
            let vm = VersionMeta {
                created: now,
                deletion: None,
                destroyed: false,
            };
            meta.versions.insert(version, vm.clone());
            meta.current_version = version;
            meta.updated = now;
            if meta.oldest_version == 0 {
                meta.oldest_version = version;
            }
            let limit = match (meta.max_versions, config.max_versions) {
                (0, 0) => 10,
                (0, m) | (m, _) => m,
            } as usize;
            while meta.versions.len() > limit {
                let Some((&old, _)) = meta.versions.iter().next() else {
                    break;
                };
                meta.versions.remove(&old);
                w.remove_raw(&DATA, &data_key(mount, path, old))?;
            }
            meta.oldest_version = meta.versions.keys().next().copied().unwrap_or(version);
            w.put(&META, &meta_key(mount, path), &meta)?;
            Ok((version, vm, meta.custom_metadata.clone()))
        })
    }

    fn change_versions(
        &self,
        mount: &str,
        path: &str,
        versions: &[u64],
        change: impl Fn(&mut Writer<'_>, u64, &mut VersionMeta) -> Result<(), KvError>,
    ) -> Result<(), KvError> {
        check_path(path)?;
        self.store.write(|w| {
            let Some(mut meta) = w.get(&META, &meta_key(mount, path))? else {
                return Ok(());
            };
            for v in versions {
                if let Some(vm) = meta.versions.get_mut(v) {
                    change(w, *v, vm)?;
                }
            }
            w.put(&META, &meta_key(mount, path), &meta)?;
            Ok(())
        })
    }

    /// Soft-deletes versions (the latest when `versions` is empty).
    pub fn delete(&self, mount: &str, path: &str, versions: &[u64]) -> Result<(), KvError> {
        let versions = if versions.is_empty() {
            match self.store.get(&META, &meta_key(mount, path))? {
                Some(m) => vec![m.current_version],
                None => return Ok(()),
            }
        } else {
            versions.to_vec()
        };
        let now = self.clock.nanos();
        self.change_versions(mount, path, &versions, |_, _, vm| {
            if vm.deletion.is_none() {
                vm.deletion = Some(now);
            }
            Ok(())
        })
    }

    pub fn undelete(&self, mount: &str, path: &str, versions: &[u64]) -> Result<(), KvError> {
        self.change_versions(mount, path, versions, |_, _, vm| {
            if !vm.destroyed {
                vm.deletion = None;
            }
            Ok(())
        })
    }

    pub fn destroy(&self, mount: &str, path: &str, versions: &[u64]) -> Result<(), KvError> {
        self.change_versions(mount, path, versions, |w, v, vm| {
            vm.destroyed = true;
            w.remove_raw(&DATA, &data_key(mount, path, v))?;
            Ok(())
        })
    }

    /// Deletes every version and the metadata.
    pub fn delete_all(&self, mount: &str, path: &str) -> Result<(), KvError> {
        check_path(path)?;
        self.store.write(|w| {
            if let Some(meta) = w.remove(&META, &meta_key(mount, path))? {
                for v in meta.versions.keys() {
                    w.remove_raw(&DATA, &data_key(mount, path, *v))?;
                }
            }
            Ok(())
        })
    }

    /// Changes metadata settings (no new version).
    pub fn update_metadata(
        &self,
        mount: &str,
        path: &str,
        change: impl FnOnce(&mut SecretMeta),
    ) -> Result<(), KvError> {
        check_path(path)?;
        self.store.write(|w| {
            let now = self.clock.nanos();
            let mut meta = w
                .get(&META, &meta_key(mount, path))?
                .unwrap_or(SecretMeta::empty(now));
            change(&mut meta);
            meta.updated = now;
            w.put(&META, &meta_key(mount, path), &meta)?;
            Ok(())
        })
    }

    /// Names directly under `prefix` (empty or ending with `/`); folders end with `/`.
    pub fn list(&self, mount: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        if !prefix.is_empty() {
            check_path(prefix.trim_end_matches('/'))?;
        }
        let start = format!("{mount}/{prefix}");
        let end = format!("{start}{}", char::MAX);
        let mut names = BTreeSet::new();
        for (key, _) in self.store.range(&META, &start, Some(&end), usize::MAX)? {
            let rest = &key[start.len()..];
            match rest.find('/') {
                Some(at) => names.insert(rest[..=at].to_owned()),
                None => names.insert(rest.to_owned()),
            };
        }
        Ok(names.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert!(check_path("a/b").is_ok());
        for bad in ["", "a//b", "a/../b", "./a", "a/\0"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
