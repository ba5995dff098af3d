//! The fake's object store: the resource kinds it serves, the objects, and the error answers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::RecordedRequest;

/// One resource the fake serves.
#[derive(Debug)]
pub struct Kind {
    pub group: &'static str,
    pub resource: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            "v1".into()
        } else {
            format!("{}/v1", self.group)
        }
    }

    /// `pods` or `statefulsets.apps`, as the real server names a resource in its messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.into()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// `Pod` or `StatefulSet.apps`, as the real server names a kind in Invalid messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.into()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

pub const KINDS: &[Kind] = &[
    Kind {
        group: "",
        resource: "namespaces",
        kind: "Namespace",
        namespaced: false,
    },
    Kind {
        group: "",
        resource: "resourcequotas",
        kind: "ResourceQuota",
        namespaced: true,
    },
    Kind {
        group: "",
        resource: "secrets",
        kind: "Secret",
        namespaced: true,
    },
    Kind {
        group: "",
        resource: "services",
        kind: "Service",
        namespaced: true,
    },
    Kind {
        group: "",
        resource: "persistentvolumeclaims",
        kind: "PersistentVolumeClaim",
        namespaced: true,
    },
    Kind {
        group: "",
        resource: "pods",
        kind: "Pod",
        namespaced: true,
    },
    Kind {
        group: "",
        resource: "events",
        kind: "Event",
        namespaced: true,
    },
    Kind {
        group: "apps",
        resource: "statefulsets",
        kind: "StatefulSet",
        namespaced: true,
    },
    Kind {
        group: "networking.k8s.io",
        resource: "ingresses",
        kind: "Ingress",
        namespaced: true,
    },
    Kind {
        group: "authorization.k8s.io",
        resource: "selfsubjectaccessreviews",
        kind: "SelfSubjectAccessReview",
        namespaced: false,
    },
];

pub fn kind_of(group: &str, resource: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.resource == resource)
}

/// Where an object lives: namespace is "" for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(kind: &Kind, namespace: &str, name: &str) -> Key {
        Key {
            group: kind.group.into(),
            resource: kind.resource.into(),
            namespace: if kind.namespaced {
                namespace.into()
            } else {
                String::new()
            },
            name: name.into(),
        }
    }
}

/// What the fake kubelet knows about an image.
#[derive(Clone, Debug)]
pub struct Image {
    pub backend: SocketAddr,
    pub log: String,
}

/// One change to the store, as a watch reports it.
#[derive(Clone, Debug)]
pub struct Change {
    pub resource_version: u64,
    pub key: Key,
    /// ADDED, MODIFIED or DELETED.
    pub kind: &'static str,
    pub object: Value,
}

/// How many changes the store remembers for watches; older resource versions are Gone (410).
const HISTORY: usize = 10_000;

/// Everything behind the server's one lock.
pub struct State {
    pub objects: BTreeMap<Key, Value>,
    pub resource_version: u64,
    /// The latest changes, oldest first, for watches.
    pub history: VecDeque<Change>,
    /// The resource version of the last change the history let go of.
    pub forgotten_through: u64,
    pub watches_refused: bool,
    pub port_forward_refused: bool,
    /// How many times the history was forgotten.
    pub forgettings: u64,
    pub images: HashMap<String, Image>,
    pub denied: Vec<(String, String)>,
    pub requests: Vec<RecordedRequest>,
    pub pod_delay: Duration,
    /// (namespace, pod) → the CPU use the metrics API reports (default `0`).
    pub pod_cpu: HashMap<(String, String), String>,
    /// Whether the metrics API is served at all.
    pub metrics: bool,
    /// Pod uid → the images the kubelet last acted on, and when the pod may become Ready.
    pub kubelet: HashMap<String, (String, Option<Instant>)>,
    pub next_cluster_ip: u32,
    /// Object uid → applied field path → the apply manager owning it.
    pub owners: HashMap<String, BTreeMap<String, String>>,
    pub name_counter: u64,
}

impl State {
    pub fn new() -> State {
        let mut st = State {
            objects: BTreeMap::new(),
            resource_version: 1,
            history: VecDeque::new(),
            forgotten_through: 0,
            watches_refused: false,
            port_forward_refused: false,
            forgettings: 0,
            images: HashMap::new(),
            denied: Vec::new(),
            requests: Vec::new(),
            pod_delay: Duration::ZERO,
            pod_cpu: HashMap::new(),
            metrics: true,
            kubelet: HashMap::new(),
            next_cluster_ip: 1,
            owners: HashMap::new(),
            name_counter: 0,
        };
        let ns = kind_of("", "namespaces").expect("namespaces kind");
        for name in ["default", "kube-system", "kube-public"] {
            let obj = json!({"metadata": {"name": name}, "status": {"phase": "Active"}});
            st.insert(ns, "", obj);
        }
        st
    }

    pub fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Remembers a change (the object as it now is, or as it was when deleted) for watches.
    fn remember(&mut self, key: &Key, kind: &'static str, object: &Value) {
        if self.history.len() == HISTORY
            && let Some(old) = self.history.pop_front()
        {
            self.forgotten_through = old.resource_version;
        }
        self.history.push_back(Change {
            resource_version: self.resource_version,
            key: key.clone(),
            kind,
            object: object.clone(),
        });
    }

    /// The oldest resource version a watch can still start from: every later change is
    /// remembered.
    pub fn oldest_watchable(&self) -> u64 {
        self.forgotten_through
    }

    /// Removes an object, as a completed deletion does.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv);
        self.remember(key, "DELETED", &obj);
        Some(obj)
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        let kind = kind_of("", "namespaces").expect("namespaces kind");
        self.objects.contains_key(&Key::new(kind, "", ns))
    }

    /// Stores a new object, stamping the metadata the server owns.
    pub fn insert(&mut self, kind: &Kind, namespace: &str, mut obj: Value) -> Value {
        let rv = self.next_rv();
        obj["apiVersion"] = json!(kind.api_version());
        obj["kind"] = json!(kind.kind);
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["resourceVersion"] = json!(rv);
        meta["creationTimestamp"] = json!(now());
        meta["generation"] = json!(1);
        if kind.namespaced {
            meta["namespace"] = json!(namespace);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        let name = meta["name"].as_str().unwrap_or_default().to_string();
        let key = Key::new(kind, namespace, &name);
        self.remember(&key, "ADDED", &obj);
        self.objects.insert(key, obj.clone());
        obj
    }

    /// Replaces a stored object, keeping the server-owned metadata and bumping generation on a
    /// spec change.
    pub fn update(&mut self, key: &Key, mut obj: Value) -> Value {
        let Some(old) = self.objects.get(key).cloned() else {
            return obj;
        };
        let rv = self.next_rv();
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        let bumped = if old.get("spec") != obj.get("spec") {
            generation + 1
        } else {
            generation
        };
        obj["apiVersion"] = old["apiVersion"].clone();
        obj["kind"] = old["kind"].clone();
        for field in ["uid", "creationTimestamp", "name"] {
            obj["metadata"][field] = old["metadata"][field].clone();
        }
        if !key.namespace.is_empty() {
            obj["metadata"]["namespace"] = json!(key.namespace);
        }
        obj["metadata"]["resourceVersion"] = json!(rv);
        obj["metadata"]["generation"] = json!(bumped);
        self.remember(key, "MODIFIED", &obj);
        self.objects.insert(key.clone(), obj.clone());
        obj
    }

    /// Writes only the status of a stored object, as a controller does.
    pub fn set_status(&mut self, key: &Key, status: Value) {
        let Some(old) = self.objects.get(key) else {
            return;
        };
        if old.get("status") == Some(&status) {
            return;
        }
        let rv = self.next_rv();
        if let Some(obj) = self.objects.get_mut(key) {
            obj["status"] = status;
            obj["metadata"]["resourceVersion"] = json!(rv);
            let obj = obj.clone();
            self.remember(key, "MODIFIED", &obj);
        }
    }

    /// Objects of one resource, optionally in one namespace.
    pub fn list(&self, group: &str, resource: &str, namespace: Option<&str>) -> Vec<(Key, Value)> {
        self.list_where(group, resource, namespace, |_| true)
    }

    /// A listing of the objects `keep` accepts; the others are not copied.
    pub fn list_where(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> Vec<(Key, Value)> {
        // Keys order by group, resource, namespace, name: a listing is one range of the map.
        let start = Key {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.unwrap_or_default().into(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(|(k, _)| {
                k.group == group
                    && k.resource == resource
                    && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .filter(|(_, v)| keep(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A unique suffix for generated names.
    pub fn suffix(&mut self) -> String {
        self.name_counter += 1;
        let mixed =
            self.name_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64;
        format!("{:016x}", mixed)
    }
}

/// Now, as a Kubernetes `Time` (RFC 3339, whole seconds, UTC).
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A `metav1.Status` failure, the body of every error the API server answers.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn not_found(kind: &Kind, name: &str) -> ApiError {
        let mut e = ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.qualified()),
        );
        e.details = Some(json!({"name": name, "group": kind.group, "kind": kind.resource}));
        e
    }

    pub fn already_exists(kind: &Kind, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" already exists", kind.qualified());
        let mut e = ApiError::new(409, "AlreadyExists", msg);
        e.details = Some(json!({"name": name, "group": kind.group, "kind": kind.resource}));
        e
    }

    pub fn conflict(kind: &Kind, name: &str, why: &str) -> ApiError {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            kind.qualified()
        );
        let mut e = ApiError::new(409, "Conflict", msg);
        e.details = Some(json!({"name": name, "group": kind.group, "kind": kind.resource}));
        e
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// A 422 naming every failed field, as the real server's validation does.
    pub fn invalid(kind: &Kind, name: &str, causes: &[super::checks::Cause]) -> ApiError {
        let joined: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let message = match joined.len() {
            1 => joined[0].clone(),
            _ => format!("[{}]", joined.join(", ")),
        };
        let mut e = ApiError::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {message}", kind.qualified_kind()),
        );
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": "FieldValueInvalid", "message": c.message, "field": c.field}))
            .collect();
        e.details =
            Some(json!({"name": name, "group": kind.group, "kind": kind.kind, "causes": causes}));
        e
    }

    pub fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, &self.to_json())
    }
}

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_string(body).unwrap_or_default();
    (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}
