//! HTTP: request recording, path parsing and the verbs of the API server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::selectors::{FieldSelector, LabelSelector};
use super::store::{ApiError, Key, Kind, State, json_response, kind_of};
use super::{RecordedRequest, Shared, kubelet, portforward, writes};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/apis/metrics.k8s.io/v1beta1/pods", get(pod_metrics))
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/portforward",
            get(portforward::handler),
        )
        .fallback(api)
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Keeps every request, with its body as JSON when it is JSON.
async fn record(AxState(shared): AxState<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return ApiError::new(413, "RequestEntityTooLarge", "request is too large").into_response();
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        body: serde_json::from_slice(&bytes).ok(),
    };
    shared.lock().requests.push(recorded);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn version() -> Response {
    let info = json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-fake",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2", "compiler": "gc",
        "platform": "linux/amd64",
    });
    json_response(StatusCode::OK, &info)
}

/// `PodMetricsList` of every running pod, as metrics-server answers it.
async fn pod_metrics(AxState(shared): AxState<Arc<Shared>>) -> Response {
    let st = shared.lock();
    if !st.metrics {
        return no_such_path().into_response();
    }
    let items: Vec<Value> = st
        .list("", "pods", None)
        .into_iter()
        .filter(|(_, pod)| pod["status"]["phase"] == "Running")
        .map(|(_, pod)| {
            let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let cpu = st
                .pod_cpu
                .get(&(ns.to_owned(), name.to_owned()))
                .cloned()
                .unwrap_or_else(|| "0".into());
            let containers: Vec<Value> = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({"name": c["name"], "usage": {"cpu": cpu, "memory": "10Mi"}}))
                .collect();
            json!({
                "metadata": {"name": name, "namespace": ns},
                "timestamp": "2026-01-01T00:00:00Z", "window": "15s",
                "containers": containers,
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
    )
}

/// What a request path names.
enum Target {
    Collection {
        kind: &'static Kind,
        ns: Option<String>,
    },
    Object {
        kind: &'static Kind,
        ns: String,
        name: String,
    },
    Sub {
        kind: &'static Kind,
        ns: String,
        name: String,
        sub: String,
    },
}

fn no_such_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn parse_path(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, "v1", rest @ ..] => (*g, rest),
        _ => return Err(no_such_path()),
    };
    let (ns, tail) = match rest {
        ["namespaces", ns, res, ..]
            if !(group.is_empty() && matches!(*res, "status" | "finalize")) =>
        {
            (Some(ns.to_string()), &rest[2..])
        }
        _ => (None, rest),
    };
    let kind = tail
        .first()
        .and_then(|r| kind_of(group, r))
        .ok_or_else(no_such_path)?;
    if ns.is_some() && !kind.namespaced {
        return Err(no_such_path());
    }
    let needs_ns = |ns: Option<String>| match (kind.namespaced, ns) {
        (true, None) => Err(no_such_path()),
        (_, ns) => Ok(ns.unwrap_or_default()),
    };
    match tail {
        [_] => Ok(Target::Collection { kind, ns }),
        [_, name] => Ok(Target::Object {
            kind,
            ns: needs_ns(ns)?,
            name: name.to_string(),
        }),
        [_, name, sub] => Ok(Target::Sub {
            kind,
            ns: needs_ns(ns)?,
            name: name.to_string(),
            sub: sub.to_string(),
        }),
        _ => Err(no_such_path()),
    }
}

pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

async fn api(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = parse_query(uri.query());
    let target = match parse_path(uri.path()) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    if let (
        &Method::GET,
        Target::Sub {
            kind,
            ns,
            name,
            sub,
        },
    ) = (&method, &target)
        && kind.resource == "pods"
        && sub == "log"
    {
        return logs(&shared, ns, name, &query)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    if let (&Method::GET, Target::Collection { kind, ns }) = (&method, &target)
        && query.get("watch").is_some_and(|w| w == "true" || w == "1")
    {
        return super::watches::handler(&shared, kind, ns.clone(), &query)
            .unwrap_or_else(IntoResponse::into_response);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Writes to a namespaced object only wake the controllers of that namespace.
    let scope = match &target {
        Target::Object { kind, ns, .. } | Target::Sub { kind, ns, .. } if kind.namespaced => {
            Some(ns.clone())
        }
        Target::Collection { kind, ns: Some(ns) } if kind.namespaced => Some(ns.clone()),
        _ => None,
    };
    let answer = {
        let mut st = shared.lock();
        let answer = dispatch(&mut st, &method, target, &query, content_type, &body);
        if answer.is_ok() && method != Method::GET {
            super::controllers::reconcile_in(&shared, &mut st, scope.as_deref());
        }
        answer
    };
    shared.notify();
    match answer {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => e.into_response(),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the request body: {e}")))
}

fn dispatch(
    st: &mut State,
    method: &Method,
    target: Target,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    match (method.clone(), target) {
        (Method::GET, Target::Collection { kind, ns }) => {
            let items = select(st, kind, ns.as_deref(), q)?
                .into_iter()
                .map(|(_, v)| v)
                .collect();
            Ok((StatusCode::OK, list_of(st, kind, items)))
        }
        (Method::POST, Target::Collection { kind, .. })
            if kind.resource == "selfsubjectaccessreviews" =>
        {
            Ok((StatusCode::CREATED, access_review(st, parse_body(body)?)?))
        }
        (Method::POST, Target::Collection { kind, ns }) => {
            if kind.namespaced && ns.is_none() {
                return Err(ApiError::method_not_allowed());
            }
            let ns = ns.unwrap_or_default();
            Ok((
                StatusCode::CREATED,
                writes::create(st, kind, &ns, parse_body(body)?)?,
            ))
        }
        (Method::DELETE, Target::Collection { kind, ns }) => {
            let options = parse_body(body)?;
            let mut gone = Vec::new();
            for (key, _) in select(st, kind, ns.as_deref(), q)? {
                if st.get(&key).is_some() {
                    gone.push(writes::delete(
                        st,
                        kind,
                        &key.namespace,
                        &key.name,
                        &options,
                    )?);
                }
            }
            Ok((StatusCode::OK, list_of(st, kind, gone)))
        }
        (Method::GET, Target::Object { kind, ns, name }) => {
            get_object(st, kind, &ns, &name).map(|v| (StatusCode::OK, v))
        }
        (
            Method::GET,
            Target::Sub {
                kind,
                ns,
                name,
                sub,
            },
        ) if sub == "status" => get_object(st, kind, &ns, &name).map(|v| (StatusCode::OK, v)),
        (Method::PUT, Target::Object { kind, ns, name }) => Ok((
            StatusCode::OK,
            writes::replace(st, kind, &ns, &name, parse_body(body)?)?,
        )),
        (Method::PATCH, Target::Object { kind, ns, name }) => {
            let (v, created) = writes::patch(st, kind, &ns, &name, content_type, body, q)?;
            Ok((
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                v,
            ))
        }
        (Method::DELETE, Target::Object { kind, ns, name }) => {
            let options = parse_body(body)?;
            Ok((
                StatusCode::OK,
                writes::delete(st, kind, &ns, &name, &options)?,
            ))
        }
        (_, Target::Sub { .. }) => Err(no_such_path()),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn get_object(st: &State, kind: &'static Kind, ns: &str, name: &str) -> Result<Value, ApiError> {
    st.get(&Key::new(kind, ns, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(kind, name))
}

fn select(
    st: &State,
    kind: &Kind,
    ns: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<Vec<(Key, Value)>, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let ns = if kind.namespaced { ns } else { None };
    Ok(st
        .list(kind.group, kind.resource, ns)
        .into_iter()
        .filter(|(_, v)| labels.matches(v) && fields.matches(v))
        .collect())
}

fn list_of(st: &State, kind: &Kind, items: Vec<Value>) -> Value {
    json!({
        "kind": format!("{}List", kind.kind),
        "apiVersion": kind.api_version(),
        "metadata": {"resourceVersion": st.resource_version.to_string()},
        "items": items,
    })
}

/// SelfSubjectAccessReview: allowed unless a `deny` matches the verb and resource (a
/// subresource is named `pods/log`, as RBAC rules name it).
fn access_review(st: &State, mut review: Value) -> Result<Value, ApiError> {
    let kind = kind_of("authorization.k8s.io", "selfsubjectaccessreviews").expect("review kind");
    if !review.is_object() || super::checks::decode_error(kind.resource, &review).is_some() {
        return Err(ApiError::bad_request(
            "the body is not a SelfSubjectAccessReview",
        ));
    }
    review["metadata"]["name"] = json!("review");
    let causes = super::checks::unknown_fields(kind.resource, &review);
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, "", &causes));
    }
    let attrs = &review["spec"]["resourceAttributes"];
    let verb = attrs["verb"].as_str().unwrap_or_default().to_string();
    let mut resource = attrs["resource"].as_str().unwrap_or_default().to_string();
    if let Some(sub) = attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
        resource = format!("{resource}/{sub}");
    }
    let denied = st
        .denied
        .iter()
        .any(|(v, r)| (v == "*" || *v == verb) && (r == "*" || *r == resource));
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["metadata"] = json!({});
    review["status"] = if denied {
        json!({"allowed": false, "reason": format!("the fake cluster denies {verb} on {resource}")})
    } else {
        json!({"allowed": true, "reason": "the fake cluster allows it"})
    };
    Ok(review)
}

/// The log of a pod's container: the image's log text, cut by tailLines and limitBytes; with
/// follow=true the response stays open until the pod is deleted.
async fn logs(
    shared: &Arc<Shared>,
    ns: &str,
    name: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let pods = kind_of("", "pods").expect("pods kind");
    let key = Key::new(pods, ns, name);
    let changes = shared.changes();
    let (text, uid) = {
        let st = shared.lock();
        let pod = st
            .get(&key)
            .ok_or_else(|| ApiError::not_found(pods, name))?;
        let names: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        let container = match (q.get("container"), names.as_slice()) {
            (Some(c), _) if names.contains(&c.as_str()) => c.clone(),
            (Some(c), _) => {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            (None, [only]) => only.to_string(),
            (None, _) => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        };
        if let Some(why) = kubelet::not_running(pod, &container) {
            return Err(ApiError::bad_request(why));
        }
        let spec = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == json!(container));
        let image = spec.and_then(|c| c["image"].as_str()).unwrap_or_default();
        let text = st
            .images
            .get(image)
            .map(|i| i.log.clone())
            .unwrap_or_default();
        (cut(&text, q), pod["metadata"]["uid"].clone())
    };
    let ok = |body: Body| ([(header::CONTENT_TYPE, "text/plain")], body).into_response();
    if q.get("follow").is_none_or(|f| f != "true") {
        return Ok(ok(Body::from(text)));
    }
    let state = (Some(text), changes, shared.clone(), key, uid);
    let stream =
        futures_util::stream::unfold(state, |(first, mut changes, shared, key, uid)| async move {
            if let Some(t) = first {
                return Some((
                    Ok::<_, Infallible>(Bytes::from(t)),
                    (None, changes, shared, key, uid),
                ));
            }
            loop {
                let alive = shared
                    .lock()
                    .get(&key)
                    .is_some_and(|p| p["metadata"]["uid"] == uid);
                if !alive || changes.changed().await.is_err() {
                    return None;
                }
            }
        });
    Ok(ok(Body::from_stream(stream)))
}

fn cut(text: &str, q: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let lines: Vec<&str> = out.split_inclusive('\n').collect();
        out = lines[lines.len().saturating_sub(n)..].concat();
    }
    if let Some(n) = q.get("limitBytes").and_then(|n| n.parse::<usize>().ok()) {
        let mut end = n.min(out.len());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}
