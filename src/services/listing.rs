//! The engine's listing of services, kept between reads. A listing is fresh while no event
//! arrived since it was taken (and for a few seconds, in case an event was missed), and a burst
//! of misses shares one read.
//!
//! Installs do not wait for a fresh read: they judge names and quotas on the last listing (at
//! most a few seconds old, brought up to date in the background) plus the lab's own deploys and
//! removals since it was taken. A class launching at once therefore does not queue behind an
//! engine that lists slowly while it creates that class's containers (Podman takes a listing's
//! locks against every create), and an install still sees every service the lab made or removed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Lab, LabError};
use crate::runtime::{Runtime, RuntimeService, ServiceMeta};

/// A cached listing is used for at most this long, in case an engine event was missed.
const LISTING_MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(super) struct Listing {
    cached: Mutex<Option<CachedListing>>,
    /// Held while the engine is listed, so concurrent misses share one read.
    relisting: tokio::sync::Mutex<()>,
    /// A background read is under way.
    refreshing: AtomicBool,
    own: Mutex<OwnChanges>,
}

/// (project, release) → the event generation after the lab's own change, and the service
/// since (`None`: removed). Dropped once a listing taken after the change exists.
type OwnChanges = HashMap<(String, String), (u64, Option<ServiceMeta>)>;

#[derive(Clone)]
struct CachedListing {
    /// The event generation when the read started: it shows every change made before.
    generation: u64,
    at: Instant,
    services: Arc<Vec<RuntimeService>>,
}

impl Lab {
    /// Services on the engine (all projects), from the cache when no event says it is stale.
    pub(super) async fn engine_services(
        &self,
        runtime: &Arc<dyn Runtime>,
    ) -> Result<Arc<Vec<RuntimeService>>, LabError> {
        Ok(self.fresh_listing(runtime).await?.services)
    }

    async fn fresh_listing(&self, runtime: &Arc<dyn Runtime>) -> Result<CachedListing, LabError> {
        if let Some(fresh) = self.cached_listing(true) {
            return Ok(fresh);
        }
        let _relisting = self.listing.relisting.lock().await;
        if let Some(fresh) = self.cached_listing(true) {
            return Ok(fresh);
        }
        let generation = self.events.generation();
        let listing = CachedListing {
            generation,
            at: Instant::now(),
            services: Arc::new(runtime.list(None).await?),
        };
        // Replaced and pruned under the lock `with_own_changes` reads both under, so it never
        // pairs a listing with changes pruned for a newer one.
        let mut own = crate::sync::lock(&self.listing.own);
        *crate::sync::lock(&self.listing.cached) = Some(listing.clone());
        own.retain(|_, (changed, _)| *changed > generation);
        Ok(listing)
    }

    /// The cached listing while it is young enough, and (with `fresh`) while no event made it
    /// stale.
    fn cached_listing(&self, fresh: bool) -> Option<CachedListing> {
        let generation = self.events.generation();
        crate::sync::lock(&self.listing.cached)
            .as_ref()
            .filter(|c| c.at.elapsed() < LISTING_MAX_AGE)
            .filter(|c| !fresh || c.generation == generation)
            .cloned()
    }

    /// Makes sure a listing young enough for an install exists: the last one (an event having
    /// made it stale starts a read in the background), else a fresh one.
    pub(super) async fn listing_for_install(
        self: &Arc<Self>,
        runtime: &Arc<dyn Runtime>,
    ) -> Result<(), LabError> {
        let Some(recent) = self.cached_listing(false) else {
            return self.fresh_listing(runtime).await.map(|_| ());
        };
        let stale = recent.generation != self.events.generation();
        if stale && !self.listing.refreshing.swap(true, Ordering::AcqRel) {
            let (lab, runtime) = (self.clone(), runtime.clone());
            tokio::spawn(async move {
                if let Err(e) = lab.fresh_listing(&runtime).await {
                    tracing::debug!(error = %e, "cannot list the engine's services");
                }
                lab.listing.refreshing.store(false, Ordering::Release);
            });
        }
        Ok(())
    }

    /// The services the newest listing saw, with the lab's own changes since it was taken.
    /// Call with the pending installs locked: changes are recorded under that lock, so a deploy
    /// that just finished is either still pending or here.
    pub(super) fn with_own_changes(&self) -> Vec<ServiceMeta> {
        let own = crate::sync::lock(&self.listing.own);
        let Some(listing) = crate::sync::lock(&self.listing.cached).clone() else {
            return own.values().filter_map(|(_, now)| now.clone()).collect();
        };
        let newer = |project: &str, release: &str| {
            own.get(&(project.to_owned(), release.to_owned()))
                .is_some_and(|(changed, _)| *changed > listing.generation)
        };
        let mut metas: Vec<ServiceMeta> = listing
            .services
            .iter()
            .filter(|s| !newer(&s.meta.project, &s.meta.release))
            .map(|s| s.meta.clone())
            .collect();
        metas.extend(
            own.values()
                .filter(|(changed, _)| *changed > listing.generation)
                .filter_map(|(_, now)| now.clone()),
        );
        metas
    }

    /// Records a deploy (`Some`) or a removal (`None`) the lab made, after the event log was
    /// touched for it. Call with the pending installs locked.
    pub(super) fn record_own_change(&self, project: &str, release: &str, now: Option<ServiceMeta>) {
        let generation = self.events.generation();
        crate::sync::lock(&self.listing.own)
            .insert((project.to_owned(), release.to_owned()), (generation, now));
    }
}
