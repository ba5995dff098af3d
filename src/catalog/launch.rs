//! `launch.yaml`: how a package's values become one container. Every string is a template
//! (minijinja, Jinja syntax) over the values, with `Release.Name` and `Release.Namespace` as in
//! Helm; `when` is an expression that must be true for an entry to apply. Empty env values are
//! left out, so optional settings need no `when`.
//!
//! ```yaml
//! image: "{{ service.image.custom.version if service.image.custom.enabled else service.image.version }}"
//! port: 8888
//! env:
//!   - { name: PASSWORD, value: "{{ security.password }}" }
//!   - { name: AWS_ENDPOINT_URL, value: "{{ endpoint_url(s3.endpoint, s3.port) }}", when: "s3.enabled" }
//! volumes:
//!   - { name: home, path: /home/onyxia/work, when: persistence.enabled }
//! resources:
//!   cpuLimit: "{{ resources.limits.cpu }}"
//! ```

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, UndefinedBehavior, Value as TemplateValue};
use serde::Deserialize;
use serde_json::Value;

use super::values;
use crate::runtime::{ContainerSpec, CourseMount, VolumeSpec};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LaunchTemplate {
    pub image: String,
    /// The port the service answers on inside the container.
    pub port: u16,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvEntry>,
    #[serde(default)]
    pub volumes: Vec<VolumeEntry>,
    #[serde(default)]
    pub resources: ResourceTemplates,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// How readiness is checked: an HTTP answer (default) or an accepted TCP connection,
    /// for services that do not speak HTTP (databases).
    #[serde(default)]
    pub probe: Probe,
    /// A course bucket to mount read-only, when its bucket renders to a name.
    #[serde(default)]
    pub course: Option<CourseEntry>,
}

/// `course: { bucket: "{{ course.bucket }}", path: /home/onyxia/work/course }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseEntry {
    pub bucket: String,
    pub path: String,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    #[default]
    Http,
    Tcp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvEntry {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub when: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeEntry {
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub when: Option<String>,
    /// Its size (a Kubernetes quantity such as `10Gi`), counted against `requests.storage`.
    #[serde(default)]
    pub size: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceTemplates {
    #[serde(default)]
    pub cpu_request: Option<String>,
    #[serde(default)]
    pub memory_request: Option<String>,
    #[serde(default)]
    pub cpu_limit: Option<String>,
    #[serde(default)]
    pub memory_limit: Option<String>,
}

/// How endpoints on this machine are reached from inside a container.
#[derive(Debug, Clone, Default)]
pub struct Reachability {
    /// Host names that mean this machine in values (`localhost`, `127.0.0.1`…).
    pub local_hosts: BTreeSet<String>,
    /// The host containers use instead (the bridge gateway); `None` leaves URLs unchanged.
    pub container_host: Option<String>,
    /// Port on this machine → port containers use (the platform's own listeners).
    pub ports: BTreeMap<u16, u16>,
}

impl Reachability {
    /// `url` with a local host replaced by the container-side host and port.
    pub fn rewrite(&self, url: &str) -> String {
        let Ok(mut parsed) = url::Url::parse(url) else {
            return url.to_owned();
        };
        let (Some(host), Some(container_host)) = (parsed.host_str(), &self.container_host) else {
            return url.to_owned();
        };
        if !self.local_hosts.contains(host) {
            return url.to_owned();
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let port = self.ports.get(&port).copied().unwrap_or(port);
        if parsed.set_host(Some(container_host)).is_err() || parsed.set_port(Some(port)).is_err() {
            return url.to_owned();
        }
        let mut out = parsed.to_string();
        // Url adds a trailing slash to bare hosts; keep what the chart wrote.
        if !url.ends_with('/') && out.ends_with('/') && parsed.path() == "/" {
            out.pop();
        }
        out
    }

    /// The URL of an S3-style endpoint, as charts receive it: a host (`minio.example.org`), a
    /// host with its port (`localhost:9000`, as onyxia-web sends it), or a URL; `port` is used
    /// only when the value names none (onyxia-web sends the scheme's default there even when
    /// the host carries its own). This machine's own listeners are reached over plain HTTP at
    /// the address containers use; other hosts over HTTPS, or HTTP on port 80.
    pub fn endpoint_url(&self, value: &str, port: Option<u16>) -> String {
        let value = value.trim();
        if value.is_empty() {
            return String::new();
        }
        if value.contains("://") {
            return self.rewrite(value);
        }
        let (host, own_port) = split_host_port(value);
        let local = self.local_hosts.contains(host);
        let port = own_port.or(port).unwrap_or(if local { 80 } else { 443 });
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        if local {
            self.rewrite(&format!("http://{host}:{port}"))
        } else if port == 443 {
            format!("https://{host}")
        } else if port == 80 {
            format!("http://{host}")
        } else {
            format!("https://{host}:{port}")
        }
    }
}

/// `host` and its port from `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(value: &str) -> (&str, Option<u16>) {
    let value = value.trim_end_matches('/');
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (value, None),
        },
        _ => (value, None),
    }
}

/// The container a template describes for some values, and what it asks of quotas.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub spec: ContainerSpec,
    pub cpu_request_millis: u64,
    pub memory_request_bytes: u64,
    /// The volumes' sizes added up.
    pub volume_request_bytes: u64,
}

/// A template or expression of `launch.yaml` that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("`{text}`: {source}")]
pub struct TemplateError {
    text: String,
    #[source]
    source: minijinja::Error,
}

/// Why a launch template could not be rendered for some values (shown to the user as a
/// validation message).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the image is empty for these values")]
    EmptyImage,
    #[error(transparent)]
    Quantity(#[from] values::QuantityError),
}

impl LaunchTemplate {
    /// Checks every template and expression compiles (at catalog load time).
    pub fn check(&self) -> Result<(), TemplateError> {
        let env = environment(Reachability::default());
        let mut templates: Vec<&str> = vec![&self.image];
        templates.extend(self.command.iter().map(String::as_str));
        templates.extend(self.args.iter().map(String::as_str));
        templates.extend(self.env.iter().map(|e| e.value.as_str()));
        templates.extend(self.course.iter().map(|c| c.bucket.as_str()));
        let r = &self.resources;
        templates.extend(
            [
                &r.cpu_request,
                &r.memory_request,
                &r.cpu_limit,
                &r.memory_limit,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str),
        );
        for t in templates {
            env.template_from_str(t).map_err(|source| TemplateError {
                text: t.to_owned(),
                source,
            })?;
        }
        let whens = self
            .env
            .iter()
            .filter_map(|e| e.when.as_deref())
            .chain(self.volumes.iter().filter_map(|v| v.when.as_deref()));
        for w in whens {
            env.compile_expression(w).map_err(|source| TemplateError {
                text: w.to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// The course to mount, when its bucket renders to a name.
    fn render_course(
        &self,
        render: &dyn Fn(&str) -> Result<String, TemplateError>,
    ) -> Result<Option<CourseMount>, TemplateError> {
        let Some(c) = &self.course else {
            return Ok(None);
        };
        let bucket = render(&c.bucket)?;
        Ok((!bucket.is_empty()).then(|| CourseMount {
            bucket,
            mount_path: c.path.clone(),
            host_dir: None,
        }))
    }

    /// Renders the template for `values` of release `release` in `namespace`.
    pub fn render(
        &self,
        values_in: &Value,
        release: &str,
        namespace: &str,
        reach: &Reachability,
    ) -> Result<Launch, RenderError> {
        let env = environment(reach.clone());
        let mut context = values_in.clone();
        values::set(
            &mut context,
            "Release",
            serde_json::json!({"Name": release, "Namespace": namespace}),
        );
        let ctx = TemplateValue::from(minijinja::value::Serde(&context));
        let render = |t: &str| -> Result<String, TemplateError> {
            env.render_str(t, &ctx)
                .map(|s| s.trim().to_owned())
                .map_err(|source| TemplateError {
                    text: t.to_owned(),
                    source,
                })
        };
        let holds = |when: &Option<String>| -> Result<bool, TemplateError> {
            match when {
                None => Ok(true),
                Some(w) => env
                    .compile_expression(w)
                    .and_then(|e| e.eval(&ctx))
                    .map(|v| v.is_true())
                    .map_err(|source| TemplateError {
                        text: w.clone(),
                        source,
                    }),
            }
        };
        let image = render(&self.image)?;
        if image.is_empty() {
            return Err(RenderError::EmptyImage);
        }
        let mut env_vars = BTreeMap::new();
        for entry in &self.env {
            if holds(&entry.when)? {
                let value = render(&entry.value)?;
                if !value.is_empty() {
                    env_vars.insert(entry.name.clone(), value);
                }
            }
        }
        let quantity = |t: &Option<String>| -> Result<Option<String>, TemplateError> {
            match t {
                None => Ok(None),
                Some(t) => render(t).map(|s| (!s.is_empty()).then_some(s)),
            }
        };
        let mut volumes = Vec::new();
        for v in &self.volumes {
            if holds(&v.when)? {
                let size_bytes = quantity(&v.size)?
                    .map(|q| values::memory_bytes(&Value::String(q)))
                    .transpose()?;
                volumes.push(VolumeSpec {
                    name: v.name.clone(),
                    mount_path: v.path.clone(),
                    size_bytes,
                });
            }
        }
        let volume_request = volumes.iter().filter_map(|v| v.size_bytes).sum();
        let course = self.render_course(&render)?;
        if let Some(c) = &course {
            env_vars.insert("COURSE_BUCKET".into(), c.bucket.clone());
            env_vars.insert("COURSE_DIR".into(), c.mount_path.clone());
        }
        let r = &self.resources;
        let cpu = |t| -> Result<Option<u64>, RenderError> {
            Ok(quantity(t)?
                .map(|q| values::cpu_millis(&Value::String(q)))
                .transpose()?)
        };
        let memory = |t| -> Result<Option<u64>, RenderError> {
            Ok(quantity(t)?
                .map(|q| values::memory_bytes(&Value::String(q)))
                .transpose()?)
        };
        let cpu_limit = cpu(&r.cpu_limit)?;
        let memory_limit = memory(&r.memory_limit)?;
        let cpu_request = cpu(&r.cpu_request)?.or(cpu_limit).unwrap_or(0);
        let memory_request = memory(&r.memory_request)?.or(memory_limit).unwrap_or(0);
        Ok(Launch {
            spec: ContainerSpec {
                image,
                command: self
                    .command
                    .iter()
                    .map(|c| render(c))
                    .collect::<Result<_, _>>()?,
                args: self
                    .args
                    .iter()
                    .map(|a| render(a))
                    .collect::<Result<_, _>>()?,
                env: env_vars,
                port: self.port,
                volumes,
                cpu_limit_millis: cpu_limit.filter(|m| *m > 0),
                memory_limit_bytes: memory_limit.filter(|b| *b > 0),
                working_dir: self.working_dir.clone(),
                user: self.user.clone(),
                course,
            },
            cpu_request_millis: cpu_request,
            memory_request_bytes: memory_request,
            volume_request_bytes: volume_request,
        })
    }
}

/// Renders post-install notes (Markdown with templates over the values).
pub fn render_notes(
    notes: &str,
    values_in: &Value,
    release: &str,
    namespace: &str,
    url: &str,
) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let env = environment(Reachability::default());
    let mut context = values_in.clone();
    values::set(
        &mut context,
        "Release",
        serde_json::json!({"Name": release, "Namespace": namespace, "Url": url}),
    );
    env.render_str(
        notes,
        TemplateValue::from(minijinja::value::Serde(&context)),
    )
    .unwrap_or_else(|e| format!("{notes}\n\n(The notes could not be rendered: {e})"))
}

fn environment(reach: Reachability) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let rewrite = reach.clone();
    env.add_filter("reachable", move |url: String| rewrite.rewrite(&url));
    env.add_function(
        "endpoint_url",
        move |host: Option<String>, port: Option<TemplateValue>| {
            let port = port.and_then(|p| {
                u16::try_from(p.clone())
                    .ok()
                    .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            });
            reach.endpoint_url(host.as_deref().unwrap_or(""), port)
        },
    );
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> LaunchTemplate {
        serde_yaml_ng::from_str(
            r#"
image: "{{ service.image.custom.version if service.image.custom.enabled else service.image.version }}"
port: 8080
args: ["--name", "{{ Release.Name }}"]
env:
  - { name: PASSWORD, value: "{{ security.password }}" }
  - { name: EMPTY, value: "{{ nothing.here }}" }
  - { name: S3, value: "{{ endpoint_url(s3.endpoint, s3.port) }}", when: "s3.enabled" }
  - { name: VAULT_ADDR, value: "{{ vault.url | reachable }}" }
volumes:
  - { name: home, path: /home/me, when: persistence.enabled }
resources:
  cpuLimit: "{{ resources.limits.cpu }}"
  memoryLimit: "{{ resources.limits.memory }}"
  cpuRequest: "{{ resources.requests.cpu }}"
"#,
        )
        .unwrap()
    }

    fn reach() -> Reachability {
        Reachability {
            local_hosts: ["localhost".to_owned(), "127.0.0.1".to_owned()].into(),
            container_host: Some("10.88.0.1".into()),
            ports: [(9000, 9000), (8200, 18200)].into(),
        }
    }

    #[test]
    fn renders_values_into_a_container() {
        let t = template();
        t.check().unwrap();
        let values = json!({
            "service": {"image": {"version": "img:1", "custom": {"enabled": false, "version": "x"}}},
            "security": {"password": "pw"},
            "s3": {"enabled": true, "endpoint": "localhost", "port": 9000},
            "vault": {"url": "http://localhost:8200"},
            "persistence": {"enabled": true},
            "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m"}}
        });
        let launch = t.render(&values, "tiny-1", "user-alice", &reach()).unwrap();
        assert_eq!(launch.spec.image, "img:1");
        assert_eq!(launch.spec.args, vec!["--name", "tiny-1"]);
        assert_eq!(launch.spec.env["PASSWORD"], "pw");
        assert!(!launch.spec.env.contains_key("EMPTY"));
        assert_eq!(launch.spec.env["S3"], "http://10.88.0.1:9000");
        assert_eq!(launch.spec.env["VAULT_ADDR"], "http://10.88.0.1:18200");
        assert_eq!(launch.spec.volumes.len(), 1);
        assert_eq!(launch.spec.cpu_limit_millis, Some(2000));
        assert_eq!(launch.spec.memory_limit_bytes, Some(1 << 30));
        assert_eq!(launch.cpu_request_millis, 100);
        assert_eq!(launch.memory_request_bytes, 1 << 30);
    }

    #[test]
    fn endpoints_in_every_form_the_uis_send_reach_the_platform() {
        let r = reach();
        // onyxia-lite's UI: the host, the port apart.
        assert_eq!(
            r.endpoint_url("localhost", Some(9000)),
            "http://10.88.0.1:9000"
        );
        // onyxia-web: the host with its port, and the scheme's default port apart.
        assert_eq!(
            r.endpoint_url("localhost:9000", Some(80)),
            "http://10.88.0.1:9000"
        );
        assert_eq!(
            r.endpoint_url("localhost:9000", Some(443)),
            "http://10.88.0.1:9000"
        );
        assert_eq!(
            r.endpoint_url("http://localhost:9000", None),
            "http://10.88.0.1:9000"
        );
        assert_eq!(
            r.endpoint_url("127.0.0.1:9000/", None),
            "http://10.88.0.1:9000"
        );
        assert_eq!(
            r.endpoint_url("minio.example.org:9000", Some(80)),
            "https://minio.example.org:9000"
        );
        assert_eq!(
            r.endpoint_url("minio.example.org", Some(80)),
            "http://minio.example.org"
        );
        assert_eq!(
            r.endpoint_url("[2001:db8::1]:9000", None),
            "https://[2001:db8::1]:9000"
        );
        assert_eq!(r.endpoint_url("", Some(80)), "");
    }

    #[test]
    fn remote_endpoints_stay_https_and_bad_quantities_are_reported() {
        let r = reach();
        assert_eq!(
            r.endpoint_url("minio.example.org", Some(443)),
            "https://minio.example.org"
        );
        assert_eq!(
            r.rewrite("https://vault.example.org"),
            "https://vault.example.org"
        );
        let t = template();
        let values = json!({"service": {"image": {"version": "i"}}, "resources": {"limits": {"cpu": "many"}}});
        let err = t.render(&values, "r", "p", &r).unwrap_err();
        assert!(err.to_string().contains("CPU quantity"), "{err}");
    }
}
