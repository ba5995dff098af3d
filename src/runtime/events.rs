//! Events about services (pulls, starts, deaths, failures), kept for a while and broadcast
//! to whoever follows them (the API's event stream).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::clock::Clock;

/// How many recent events are replayed to a new follower (all projects together).
const KEPT: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Normal,
    Warning,
}

#[derive(Clone, Debug)]
pub struct RuntimeEvent {
    pub uid: String,
    pub time_ms: u64,
    pub project: String,
    pub release: String,
    /// Short machine-readable cause: `Pulling`, `Pulled`, `Created`, `Started`, `Died`, `OOMKilled`, `Failed`…
    pub reason: String,
    pub message: String,
    pub kind: EventKind,
}

/// A bounded history of events plus a broadcast of new ones. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    recent: Arc<Mutex<VecDeque<RuntimeEvent>>>,
    tx: broadcast::Sender<RuntimeEvent>,
    /// Bumped by every event: anything derived from the engine's state before is stale.
    generation: Arc<AtomicU64>,
    clock: Clock,
    /// True once the platform stops: followers end their streams at once.
    closed: Arc<tokio::sync::watch::Sender<bool>>,
}

impl EventLog {
    pub fn new(clock: Clock) -> Self {
        EventLog {
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(KEPT))),
            tx: broadcast::channel(256).0,
            generation: Arc::new(AtomicU64::new(0)),
            clock,
            closed: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Tells every follower to end: the platform is stopping, and an open stream would hold
    /// its connection (and so the shutdown) until the client leaves.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Turns true when [`EventLog::close`] is called.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.subscribe()
    }

    pub fn record(
        &self,
        project: &str,
        release: &str,
        reason: &str,
        message: impl Into<String>,
        kind: EventKind,
    ) {
        let event = RuntimeEvent {
            uid: uuid::Uuid::new_v4().to_string(),
            time_ms: self.clock.millis(),
            project: project.to_owned(),
            release: release.to_owned(),
            reason: reason.to_owned(),
            message: message.into(),
            kind,
        };
        tracing::debug!(project, release, reason, message = %event.message, "service event");
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut recent = crate::sync::lock(&self.recent);
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        // Nobody listening is fine: the history keeps it.
        let _ = self.tx.send(event);
    }

    /// Past events of `project` (oldest first) and a receiver of the events that follow,
    /// taken together so that none falls between the two.
    pub fn follow(&self, project: &str) -> (Vec<RuntimeEvent>, broadcast::Receiver<RuntimeEvent>) {
        let recent = crate::sync::lock(&self.recent);
        let rx = self.tx.subscribe();
        let past = recent
            .iter()
            .filter(|e| e.project == project)
            .cloned()
            .collect();
        (past, rx)
    }

    /// How many events have been recorded: a cache of engine state is valid while it holds.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Marks engine-derived state stale without recording an event.
    pub fn touch(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}
