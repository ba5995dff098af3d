//! What users changed about a service after launch — its name, sharing, suspension — kept in
//! redb, because container labels (the engine's record of a service) cannot change.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::LabError;
use crate::runtime::ServiceMeta;
use crate::store::{Store, Table};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Overrides {
    pub friendly_name: Option<String>,
    pub share: Option<bool>,
    pub suspended: bool,
    /// When the service was last resumed (Unix milliseconds): it started again then.
    #[serde(default)]
    pub resumed_ms: Option<u64>,
}

const OVERRIDES: Table<Overrides> = Table::new("service_overrides");

pub(super) struct OverrideStore {
    store: Arc<Store>,
}

fn key(project: &str, release: &str) -> String {
    format!("{project}/{release}")
}

impl OverrideStore {
    pub fn new(store: Arc<Store>) -> Self {
        OverrideStore { store }
    }

    /// The service's overrides; none (the launch's values) when unset or unreadable.
    pub fn get(&self, project: &str, release: &str) -> Overrides {
        self.store
            .get(&OVERRIDES, &key(project, release))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub fn is_suspended(&self, meta: &ServiceMeta) -> bool {
        self.get(&meta.project, &meta.release).suspended
    }

    /// Applies the renames and shares users made since launch; returns the overrides.
    pub fn apply(&self, meta: &mut ServiceMeta) -> Overrides {
        let overrides = self.get(&meta.project, &meta.release);
        if let Some(name) = &overrides.friendly_name {
            meta.friendly_name = name.clone();
        }
        if let Some(share) = overrides.share {
            meta.share = share;
        }
        overrides
    }

    /// Changes a service's overrides in one redb write transaction, on the blocking pool.
    pub async fn update(
        &self,
        project: &str,
        release: &str,
        change: impl FnOnce(&mut Overrides) + Send + 'static,
    ) -> Result<(), LabError> {
        let store = self.store.clone();
        let key = key(project, release);
        crate::blocking::run(move || {
            store.write(|w| {
                let mut o = w.get(&OVERRIDES, &key)?.unwrap_or_default();
                change(&mut o);
                w.put(&OVERRIDES, &key, &o)
            })
        })
        .await??;
        Ok(())
    }

    /// Forgets a deleted service's overrides, on the blocking pool.
    pub async fn clear(&self, project: &str, release: &str) -> Result<(), LabError> {
        let store = self.store.clone();
        let key = key(project, release);
        // Most installs have nothing to forget: no write transaction (and no sync) for them.
        if matches!(store.get(&OVERRIDES, &key), Ok(None)) {
            return Ok(());
        }
        crate::blocking::run(move || store.remove(&OVERRIDES, &key)).await??;
        Ok(())
    }
}
