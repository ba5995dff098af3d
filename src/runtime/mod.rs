//! Where services run. The Onyxia API sees only the [`Runtime`] trait; the Docker runtime
//! (Docker Engine, Docker Desktop, Podman's Docker-compatible API) and the Kubernetes runtime
//! are its implementations, and `select` picks one from the configuration.
//!
//! The engine is the source of truth about services: everything needed to show a service
//! again after a restart is written on the container (labels) or on the cluster's objects
//! (annotations) by `meta`.

pub mod detect;
pub mod docker;
mod events;
pub mod kube;
mod meta;
mod probe;
pub mod select;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use events::{EventKind, EventLog, RuntimeEvent};

/// What a launch template produced: one container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerSpec {
    pub image: String,
    /// Replaces the image's entrypoint when not empty.
    pub command: Vec<String>,
    /// Replaces the image's arguments when not empty.
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The port the service answers on inside the container (served through the proxy).
    pub port: u16,
    pub volumes: Vec<VolumeSpec>,
    pub cpu_limit_millis: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// A course bucket shown read-only inside the service.
    pub course: Option<CourseMount>,
}

/// A course bucket mounted read-only into a service.
#[derive(Clone, Debug, PartialEq)]
pub struct CourseMount {
    pub bucket: String,
    pub mount_path: String,
    /// The bucket's copy on this machine, for runtimes that mount host directories
    /// ([`Runtime::mounts_host_dirs`]); the lab fills it in before deploying.
    pub host_dir: Option<std::path::PathBuf>,
}

/// A named volume that outlives suspensions and is removed with the service.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeSpec {
    /// Short name, unique within the service (`home`, `data`).
    pub name: String,
    pub mount_path: String,
    /// Its size, when the package names one (Kubernetes claims get the runtime's default
    /// otherwise; Docker volumes have no size).
    pub size_bytes: Option<u64>,
}

/// What onyxia-lite records about a service on the engine (as labels).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMeta {
    pub release: String,
    pub project: String,
    pub owner: String,
    pub catalog: String,
    pub chart: String,
    pub version: String,
    pub friendly_name: String,
    pub share: bool,
    /// The Helm-style values the service was launched with.
    pub values: serde_json::Value,
    /// Post-install notes (Markdown), rendered at launch.
    pub notes: String,
    /// Resource requests counted against quotas.
    pub cpu_request_millis: u64,
    pub memory_request_bytes: u64,
    /// The sizes of its volumes, counted against `requests.storage`.
    #[serde(default)]
    pub volume_request_bytes: u64,
    /// When the service was launched, epoch milliseconds.
    pub created_ms: u64,
    /// How readiness is checked: `http` (an HTTP answer) or `tcp` (an accepted connection).
    #[serde(default)]
    pub probe: String,
    /// Who owns the project: `user:<name>` for a personal project, `group:<name>` for a
    /// group's, empty for a namespace everybody shares.
    #[serde(default)]
    pub project_owner: String,
    /// The course bucket mounted into it, empty for none.
    #[serde(default)]
    pub course: String,
}

/// The state of a service's container as the engine reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Created, not started yet.
    Created,
    Running,
    /// Stopped with this exit code; `oom` when the kernel killed it for memory.
    Exited {
        code: i64,
        oom: bool,
    },
    /// The engine cannot start it, in its own words (an image that cannot be pulled, a pod
    /// that cannot be scheduled, a quota refusal, a container restarting in a loop).
    Failed(String),
}

/// One service as found on the engine.
#[derive(Clone, Debug)]
pub struct RuntimeService {
    pub meta: ServiceMeta,
    /// The engine's name of the container (shown as the task id).
    pub container: String,
    pub phase: Phase,
    /// Where the proxy reaches the service's port: a port published on the host's loopback
    /// (Docker), a tunnel through the cluster's API server or the Service's cluster address
    /// (Kubernetes).
    pub address: Option<std::net::SocketAddr>,
    /// The engine's own readiness verdict, when it probes (Kubernetes' readiness probe).
    pub ready: Option<bool>,
    /// Last start or stop, epoch milliseconds.
    pub changed_ms: u64,
}

/// What was found when looking for an engine.
#[derive(Clone, Debug, Serialize)]
pub struct RuntimeInfo {
    /// `docker`, `podman` or `kubernetes`.
    pub engine: String,
    pub version: String,
    /// The address onyxia-lite talks to.
    pub endpoint: String,
    /// The host's address as seen from containers (the bridge gateway; on Kubernetes, the
    /// address pods reach the platform at), when known.
    pub host_from_containers: Option<String>,
    /// Docker Desktop: published ports and host.docker.internal reach the host's loopback.
    pub desktop: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no such service")]
    NotFound,
    #[error("{0}")]
    Engine(String),
}

pub type RuntimeResult<T> = Result<T, RuntimeError>;

/// A place that runs services. Implementations know their engine; callers know only this.
#[async_trait]
pub trait Runtime: Send + Sync {
    fn info(&self) -> &RuntimeInfo;

    /// Whether a course is mounted from a directory of this machine (Docker, Podman); the
    /// others copy it into the service themselves.
    fn mounts_host_dirs(&self) -> bool {
        false
    }

    /// Creates the service's volumes and container and starts it. Missing images are pulled,
    /// with progress recorded in `events`. Returns once the container is started.
    async fn deploy(
        &self,
        meta: &ServiceMeta,
        spec: &ContainerSpec,
        events: &EventLog,
    ) -> RuntimeResult<()>;

    /// Every service of `project`, or of every project when `None`.
    async fn list(&self, project: Option<&str>) -> RuntimeResult<Vec<RuntimeService>>;

    async fn get(&self, project: &str, release: &str) -> RuntimeResult<RuntimeService>;

    /// The whole log of the service's container, stdout and stderr interleaved.
    async fn logs(&self, project: &str, release: &str) -> RuntimeResult<String>;

    /// Stops the container, keeping it and its volumes.
    async fn suspend(&self, project: &str, release: &str) -> RuntimeResult<()>;

    async fn resume(&self, project: &str, release: &str) -> RuntimeResult<()>;

    /// Removes the container and its volumes.
    async fn delete(&self, project: &str, release: &str) -> RuntimeResult<()>;

    /// Follows the engine's events about services into `events` until the engine goes away.
    async fn watch(&self, events: EventLog);

    /// Whether a running service answers its readiness probe (`meta.probe`).
    async fn answers(&self, service: &RuntimeService) -> bool;

    /// How much CPU the running `services` use, as the engine measures it, keyed by
    /// (project, release); a service the engine has no figure for is left out. An error says
    /// the engine cannot measure at all (no metrics API), in words for the operator.
    async fn cpu_usage(&self, services: &[RuntimeService]) -> RuntimeResult<CpuUsage>;
}

/// What the engine measured of one service's CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuReading {
    /// CPU time used since the container started (Docker's stats), in nanoseconds: the rate
    /// comes from two readings.
    Total { nanos: u64 },
    /// The recent rate (Kubernetes' metrics API), in millicores.
    Rate { millicores: u64 },
}

pub type CpuUsage = std::collections::HashMap<(String, String), CpuReading>;
