//! Which services answer their readiness probe. The probe itself is the runtime's
//! ([`Runtime::answers`]): it knows where a service can be reached, and holds the client.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::runtime::{Runtime, RuntimeService};

/// Services seen answering since their container last started: not probed again. Entries go
/// when the container is seen stopped, and on suspend and resume.
#[derive(Default)]
pub(super) struct Readiness {
    seen: Mutex<HashSet<(String, String)>>,
}

impl Readiness {
    /// Whether the running service answers (cached once it has).
    pub async fn check(&self, runtime: &dyn Runtime, found: &RuntimeService) -> bool {
        let key = (found.meta.project.clone(), found.meta.release.clone());
        if crate::sync::lock(&self.seen).contains(&key) {
            return true;
        }
        let ok = runtime.answers(found).await;
        if ok {
            crate::sync::lock(&self.seen).insert(key);
        }
        ok
    }

    pub fn forget(&self, project: &str, release: &str) {
        crate::sync::lock(&self.seen).remove(&(project.to_owned(), release.to_owned()));
    }
}
