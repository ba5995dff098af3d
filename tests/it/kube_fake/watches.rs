//! Watches: `?watch=true` on a collection streams its changes as JSON lines — every change
//! after `resourceVersion`, or the current objects as ADDED first when none is given (or "0").
//! A resource version older than the store's history ends the stream with a 410 Gone ERROR
//! event, as the real server does once etcd compacted it, so clients list again; forgetting
//! the history (a test's `forget_history`) also ends the watches that are open.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{ApiError, Key, Kind, State};

/// The longest a watch stays open, as the server's default upper bound.
const MAX_TIMEOUT_SECONDS: u64 = 1800;

/// Which objects a watch reports.
struct Filter {
    kind: &'static Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// The store's forgetting count when the watch began: a later forgetting ends it.
    epoch: u64,
}

impl Filter {
    fn matches(&self, key: &Key, object: &Value) -> bool {
        key.group == self.kind.group
            && key.resource == self.kind.resource
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| key.namespace == *ns)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// The watch is over: the client has to list again.
const ENDED: u64 = u64::MAX;

fn gone(st: &State, rv: u64) -> Bytes {
    let error = ApiError::new(
        410,
        "Expired",
        format!("too old resource version: {rv} ({})", st.oldest_watchable()),
    );
    line("ERROR", &error.to_json())
}

/// The changes after `cursor` that pass the filter, and the new cursor; a 410 and ENDED when
/// the history no longer reaches back to `cursor`.
fn changes_after(st: &State, cursor: u64, filter: &Filter) -> (Vec<Bytes>, u64) {
    if cursor < st.oldest_watchable() || st.forgettings != filter.epoch {
        return (vec![gone(st, cursor)], ENDED);
    }
    // The history is in resource-version order: skip what the watch has sent.
    let first = st.history.partition_point(|c| c.resource_version <= cursor);
    let lines = st
        .history
        .range(first..)
        .filter(|c| filter.matches(&c.key, &c.object))
        .map(|c| line(c.kind, &c.object))
        .collect();
    (lines, st.resource_version)
}

pub fn handler(
    shared: &Arc<Shared>,
    kind: &'static Kind,
    namespace: Option<String>,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let mut filter = Filter {
        kind,
        namespace: namespace.filter(|_| kind.namespaced),
        labels: LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?,
        epoch: 0,
    };
    let since = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version \"{rv}\"")))?,
        ),
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(MAX_TIMEOUT_SECONDS)
        .min(MAX_TIMEOUT_SECONDS);
    let changes = shared.changes();
    let (first, cursor) = {
        let st = shared.lock();
        filter.epoch = st.forgettings;
        if st.watches_refused {
            return Err(ApiError::forbidden(format!(
                "{} is forbidden: User \"fake\" cannot watch resource \"{}\" in API group \"{}\"",
                kind.resource, kind.resource, kind.group
            )));
        }
        match since {
            None => {
                let lines = st
                    .list(kind.group, kind.resource, filter.namespace.as_deref())
                    .iter()
                    .filter(|(key, obj)| filter.matches(key, obj))
                    .map(|(_, obj)| line("ADDED", obj))
                    .collect();
                (lines, st.resource_version)
            }
            Some(rv) => changes_after(&st, rv, &filter),
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let state = (
        VecDeque::from(first),
        cursor,
        changes,
        shared.clone(),
        filter,
    );
    let stream = futures_util::stream::unfold(
        state,
        move |(mut pending, mut cursor, mut changes, shared, filter)| async move {
            loop {
                if let Some(next) = pending.pop_front() {
                    let state = (pending, cursor, changes, shared, filter);
                    return Some((Ok::<_, Infallible>(next), state));
                }
                if cursor == ENDED {
                    return None;
                }
                tokio::select! {
                    changed = changes.changed() => changed.ok()?,
                    _ = tokio::time::sleep_until(deadline) => return None,
                }
                let (lines, now) = changes_after(&shared.lock(), cursor, &filter);
                pending.extend(lines);
                cursor = now;
            }
        },
    );
    Ok(stream_response(Body::from_stream(stream)))
}

fn stream_response(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
