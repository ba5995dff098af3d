//! The Docker runtime: one container per service (plus named volumes), on Docker Engine,
//! Docker Desktop or Podman's Docker-compatible API, through bollard.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, HostConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::meta;
use super::probe::LoopbackProbe;
use super::{
    ContainerSpec, EventKind, EventLog, Phase, Runtime, RuntimeError, RuntimeInfo, RuntimeResult,
    RuntimeService, ServiceMeta,
};

/// Label prefix of everything onyxia-lite creates on the engine.
const LABEL: &str = "onyxia-lite";
/// Seconds a container gets to stop before it is killed.
const STOP_GRACE_SECONDS: i32 = 10;
/// The log returned by `logs` keeps at most this many trailing bytes.
const MAX_LOG_BYTES: usize = 4 << 20;

pub struct DockerRuntime {
    docker: Docker,
    info: RuntimeInfo,
    probe: LoopbackProbe,
}

impl DockerRuntime {
    pub fn new(docker: Docker, info: RuntimeInfo) -> Self {
        DockerRuntime {
            docker,
            info,
            probe: LoopbackProbe::default(),
        }
    }

    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// `_` cannot appear in project ids nor release names, so names of two services never meet.
    fn container_name(project: &str, release: &str) -> String {
        format!("onyxia_{project}_{release}")
    }

    async fn find(&self, project: &str, release: &str) -> RuntimeResult<RuntimeService> {
        let name = Self::container_name(project, release);
        let found = self
            .list_filtered(vec![
                format!("{LABEL}.project={project}"),
                format!("{LABEL}.release={release}"),
            ])
            .await?;
        found
            .into_iter()
            .find(|s| s.container == name)
            .ok_or(RuntimeError::NotFound)
    }

    async fn list_filtered(&self, mut labels: Vec<String>) -> RuntimeResult<Vec<RuntimeService>> {
        labels.push(format!("{LABEL}.managed=true"));
        let filters = HashMap::from([("label".to_owned(), labels)]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(engine)?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                let meta = meta_from_labels(&labels)?;
                let container = c
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default();
                let status = c.status.unwrap_or_default();
                let phase = match c.state {
                    Some(ContainerSummaryStateEnum::RUNNING)
                    | Some(ContainerSummaryStateEnum::RESTARTING) => Phase::Running,
                    Some(ContainerSummaryStateEnum::CREATED) => Phase::Created,
                    _ => Phase::Exited {
                        code: exit_code_from_status(&status).unwrap_or(0),
                        oom: false,
                    },
                };
                let service_port = meta::port(&labels, meta::DOCKER);
                let host_port = c
                    .ports
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| Some(p.private_port) == service_port)
                    .find_map(|p| p.public_port);
                let changed_ms = c.created.map(|s| s.max(0) as u64 * 1000).unwrap_or(0);
                Some(RuntimeService {
                    meta,
                    container,
                    phase,
                    address: host_port
                        .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], port))),
                    ready: None,
                    changed_ms,
                })
            })
            .collect())
    }

    /// Pulls `image` unless the engine has it, recording progress as events.
    async fn ensure_image(
        &self,
        meta: &ServiceMeta,
        image: &str,
        events: &EventLog,
    ) -> RuntimeResult<()> {
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        events.record(
            &meta.project,
            &meta.release,
            "Pulling",
            format!("Pulling image \"{image}\""),
            EventKind::Normal,
        );
        tracing::info!(image, release = %meta.release, "pulling image");
        // Without a tag the engine would pull every tag of the repository.
        let reference = with_default_tag(image);
        let options = CreateImageOptionsBuilder::default()
            .from_image(&reference)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        let started = Instant::now();
        let mut last_report = Instant::now();
        let mut layers: HashMap<String, (i64, i64)> = HashMap::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| {
                RuntimeError::Engine(format!(
                    "cannot pull image \"{image}\": {}",
                    engine_message(&e)
                ))
            })?;
            if let (Some(id), Some(detail)) = (info.id.as_ref(), info.progress_detail.as_ref())
                && let (Some(current), Some(total)) = (detail.current, detail.total)
            {
                layers.insert(id.clone(), (current, total));
            }
            if last_report.elapsed() >= Duration::from_secs(2) {
                last_report = Instant::now();
                let (done, total) = layers
                    .values()
                    .fold((0i64, 0i64), |(d, t), (c, tt)| (d + c, t + tt));
                let message = if total > 0 {
                    format!(
                        "Pulling image \"{image}\": {} of {} MB ({}%)",
                        done / 1_000_000,
                        total / 1_000_000,
                        done * 100 / total
                    )
                } else {
                    format!(
                        "Pulling image \"{image}\": {}",
                        info.status.as_deref().unwrap_or("in progress")
                    )
                };
                tracing::info!(image, progress = %message, "pull progress");
                events.record(
                    &meta.project,
                    &meta.release,
                    "Pulling",
                    message,
                    EventKind::Normal,
                );
            }
        }
        events.record(
            &meta.project,
            &meta.release,
            "Pulled",
            format!(
                "Successfully pulled image \"{image}\" in {:.1}s",
                started.elapsed().as_secs_f64()
            ),
            EventKind::Normal,
        );
        Ok(())
    }

    async fn remove_volumes(&self, project: &str, release: &str) -> RuntimeResult<()> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![
                format!("{LABEL}.project={project}"),
                format!("{LABEL}.release={release}"),
            ],
        )]);
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let volumes = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(engine)?;
        for volume in volumes.volumes.unwrap_or_default() {
            if let Err(e) = self
                .docker
                .remove_volume(
                    &volume.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await
            {
                tracing::warn!(volume = %volume.name, error = %engine_message(&e), "cannot remove a volume");
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn mounts_host_dirs(&self) -> bool {
        // A host folder means this machine's only to an engine on its socket.
        self.info.endpoint.starts_with("unix://")
    }

    fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    async fn answers(&self, service: &RuntimeService) -> bool {
        match service.address {
            Some(address) => self.probe.answers(address, &service.meta.probe).await,
            None => false,
        }
    }

    async fn cpu_usage(&self, services: &[RuntimeService]) -> RuntimeResult<super::CpuUsage> {
        // One stats request per running container (the engine has no bulk form), a few at a
        // time; a container that went away meanwhile is left out.
        let running: Vec<(String, (String, String))> = services
            .iter()
            .filter(|s| s.phase == Phase::Running)
            .map(|s| {
                let key = (s.meta.project.clone(), s.meta.release.clone());
                (s.container.clone(), key)
            })
            .collect();
        let docker = self.docker.clone();
        let readings = futures_util::stream::iter(running)
            .map(move |(container, key)| {
                let docker = docker.clone();
                async move {
                    let options = StatsOptionsBuilder::default()
                        .stream(false)
                        .one_shot(true)
                        .build();
                    let stats = docker.stats(&container, Some(options)).next().await;
                    let nanos = stats?.ok()?.cpu_stats?.cpu_usage?.total_usage?;
                    Some((key, super::CpuReading::Total { nanos }))
                }
            })
            .buffer_unordered(8)
            .filter_map(std::future::ready)
            .collect()
            .await;
        Ok(readings)
    }

    async fn deploy(
        &self,
        meta: &ServiceMeta,
        spec: &ContainerSpec,
        events: &EventLog,
    ) -> RuntimeResult<()> {
        self.ensure_image(meta, &spec.image, events).await?;
        let name = Self::container_name(&meta.project, &meta.release);
        let labels = labels_of(meta, spec.port);
        let mut binds = Vec::new();
        for volume in &spec.volumes {
            let volume_name = format!("{name}-{}", volume.name);
            let request = VolumeCreateRequest {
                name: Some(volume_name.clone()),
                labels: Some(labels.clone()),
                ..Default::default()
            };
            self.docker.create_volume(request).await.map_err(engine)?;
            binds.push(format!("{volume_name}:{}", volume.mount_path));
        }
        if let Some(course) = &spec.course
            && let Some(dir) = &course.host_dir
        {
            binds.push(format!("{}:{}:ro", dir.display(), course.mount_path));
        }
        let port_key = format!("{}/tcp", spec.port);
        let host_config = HostConfig {
            port_bindings: Some(HashMap::from([(
                port_key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            binds: (!binds.is_empty()).then_some(binds),
            nano_cpus: spec
                .cpu_limit_millis
                .and_then(|m| i64::try_from(m).ok()?.checked_mul(1_000_000)),
            memory: spec.memory_limit_bytes.and_then(|b| i64::try_from(b).ok()),
            extra_hosts: self
                .info
                .host_from_containers
                .as_ref()
                .filter(|_| !self.info.desktop)
                .map(|ip| vec![format!("host.docker.internal:{ip}")]),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: (!spec.command.is_empty()).then(|| spec.command.clone()),
            cmd: (!spec.args.is_empty()).then(|| spec.args.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            exposed_ports: Some(vec![port_key]),
            working_dir: spec.working_dir.clone(),
            user: spec.user.clone(),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        if let Err(e) = self.docker.create_container(Some(options), body).await {
            let _ = self.remove_volumes(&meta.project, &meta.release).await;
            return Err(RuntimeError::Engine(format!(
                "cannot create the container: {}",
                engine_message(&e)
            )));
        }
        if let Err(e) = self.docker.start_container(&name, None).await {
            return Err(RuntimeError::Engine(format!(
                "cannot start the container: {}",
                engine_message(&e)
            )));
        }
        Ok(())
    }

    async fn list(&self, project: Option<&str>) -> RuntimeResult<Vec<RuntimeService>> {
        let labels = project
            .map(|p| vec![format!("{LABEL}.project={p}")])
            .unwrap_or_default();
        self.list_filtered(labels).await
    }

    async fn get(&self, project: &str, release: &str) -> RuntimeResult<RuntimeService> {
        let mut found = self.find(project, release).await?;
        // The listing has no OOM flag and only a textual exit code: ask for the details.
        if let Phase::Exited { .. } = found.phase
            && let Ok(inspect) = self.docker.inspect_container(&found.container, None).await
            && let Some(state) = inspect.state
        {
            found.phase = Phase::Exited {
                code: state.exit_code.unwrap_or(0),
                oom: state.oom_killed.unwrap_or(false),
            };
        }
        Ok(found)
    }

    async fn logs(&self, project: &str, release: &str) -> RuntimeResult<String> {
        let found = self.find(project, release).await?;
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(false)
            .tail("all")
            .build();
        let mut stream = self.docker.logs(&found.container, Some(options));
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(engine)?;
            bytes.extend_from_slice(&chunk.into_bytes());
            if bytes.len() > 2 * MAX_LOG_BYTES {
                bytes.drain(..bytes.len() - MAX_LOG_BYTES);
            }
        }
        if bytes.len() > MAX_LOG_BYTES {
            bytes.drain(..bytes.len() - MAX_LOG_BYTES);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn suspend(&self, project: &str, release: &str) -> RuntimeResult<()> {
        let found = self.find(project, release).await?;
        let options = StopContainerOptionsBuilder::default()
            .t(STOP_GRACE_SECONDS)
            .build();
        match self
            .docker
            .stop_container(&found.container, Some(options))
            .await
        {
            Ok(()) => Ok(()),
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn resume(&self, project: &str, release: &str) -> RuntimeResult<()> {
        let found = self.find(project, release).await?;
        match self.docker.start_container(&found.container, None).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn delete(&self, project: &str, release: &str) -> RuntimeResult<()> {
        let found = self.find(project, release).await?;
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self
            .docker
            .remove_container(&found.container, Some(options))
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(engine(e)),
        }
        self.remove_volumes(project, release).await
    }

    async fn watch(&self, events: EventLog) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let filters = HashMap::from([
                ("type".to_owned(), vec!["container".to_owned()]),
                ("label".to_owned(), vec![format!("{LABEL}.managed=true")]),
            ]);
            let options = EventsOptionsBuilder::default().filters(&filters).build();
            let mut stream = self.docker.events(Some(options));
            while let Some(item) = stream.next().await {
                let Ok(message) = item else { break };
                backoff = Duration::from_millis(500);
                let Some(actor) = message.actor else { continue };
                let attributes = actor.attributes.unwrap_or_default();
                let (Some(project), Some(release)) = (
                    attributes.get(&format!("{LABEL}.project")),
                    attributes.get(&format!("{LABEL}.release")),
                ) else {
                    continue;
                };
                let action = message.action.unwrap_or_default();
                let (reason, text, kind) = match action.as_str() {
                    "create" => ("Created", "Created container".to_owned(), EventKind::Normal),
                    "start" => ("Started", "Started container".to_owned(), EventKind::Normal),
                    "stop" => ("Stopped", "Stopped container".to_owned(), EventKind::Normal),
                    "oom" => (
                        "OOMKilled",
                        "The container ran out of memory and was killed; raise its memory limit"
                            .to_owned(),
                        EventKind::Warning,
                    ),
                    "die" => {
                        let code = attributes.get("exitCode").cloned().unwrap_or_default();
                        let kind = if code == "0" {
                            EventKind::Normal
                        } else {
                            EventKind::Warning
                        };
                        ("Died", format!("Container exited with code {code}"), kind)
                    }
                    _ => continue,
                };
                events.record(project, release, reason, text, kind);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

fn labels_of(meta: &ServiceMeta, port: u16) -> HashMap<String, String> {
    meta::encode(meta, port, meta::DOCKER)
}

fn meta_from_labels(labels: &HashMap<String, String>) -> Option<ServiceMeta> {
    meta::decode(labels, meta::DOCKER)
}

/// `python` → `python:latest`; references with a tag or digest stay as they are.
fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// `Exited (137) 2 minutes ago` → 137.
fn exit_code_from_status(status: &str) -> Option<i64> {
    let start = status.find('(')? + 1;
    let end = start + status[start..].find(')')?;
    status[start..end].trim().parse().ok()
}

fn engine(e: bollard::errors::Error) -> RuntimeError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => RuntimeError::NotFound,
        e => RuntimeError::Engine(engine_message(&e)),
    }
}

/// The engine's own message, without bollard's wrapping.
pub fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_without_a_tag_get_latest() {
        assert_eq!(with_default_tag("python"), "python:latest");
        assert_eq!(
            with_default_tag("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(with_default_tag("quay.io/a/b:1"), "quay.io/a/b:1");
        assert_eq!(with_default_tag("a@sha256:00"), "a@sha256:00");
    }

    #[test]
    fn exit_codes_are_read_from_the_status_text() {
        assert_eq!(
            exit_code_from_status("Exited (137) 2 minutes ago"),
            Some(137)
        );
        assert_eq!(exit_code_from_status("Up 3 seconds"), None);
    }
}
