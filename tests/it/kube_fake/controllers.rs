//! What runs after every write: the StatefulSet controller, the ResourceQuota admission and
//! status, a PVC binder, and a kubelet that "runs" pods of images the test registered.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::Shared;
use super::store::{ApiError, Key, State, kind_of, now};
use super::writes;

/// Runs the controllers until they stop making progress (a created pod may let the next one of
/// an OrderedReady StatefulSet go), then refreshes the derived statuses.
pub fn reconcile(shared: &Arc<Shared>, st: &mut State) {
    reconcile_in(shared, st, None);
}

/// The controllers over one namespace (`None`: all of them). A write to a namespaced object
/// only concerns its namespace, so a cluster with many namespaces does not pay for all of
/// them on every write.
pub fn reconcile_in(shared: &Arc<Shared>, st: &mut State, ns: Option<&str>) {
    for _ in 0..64 {
        let progress = statefulsets(st, ns) | kubelet(shared, st, ns);
        if !progress {
            break;
        }
    }
    for (key, _) in st.list("apps", "statefulsets", ns) {
        sts_status(st, &key);
    }
    quota_status(st, ns);
    bind_claims(st, ns);
}

/// Records an Event about `involved`, or counts a repeat of the same one.
pub fn record_event(st: &mut State, involved: &Value, type_: &str, reason: &str, message: &str) {
    let meta = &involved["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or("default").to_string();
    let uid = meta["uid"].clone();
    let same = st
        .list_where("", "events", Some(&ns), |e| {
            e["involvedObject"]["uid"] == uid
                && e["reason"] == json!(reason)
                && e["message"] == json!(message)
        })
        .into_iter()
        .next();
    let stamp = now();
    if let Some((key, mut e)) = same {
        e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
        e["lastTimestamp"] = json!(stamp);
        st.update(&key, e);
        return;
    }
    let name = format!(
        "{}.{}",
        meta["name"].as_str().unwrap_or("object"),
        st.suffix()
    );
    let event = json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {
            "apiVersion": involved["apiVersion"], "kind": involved["kind"], "name": meta["name"],
            "namespace": ns, "uid": uid, "resourceVersion": meta["resourceVersion"],
        },
        "reason": reason, "message": message, "type": type_, "count": 1,
        "firstTimestamp": stamp, "lastTimestamp": stamp,
        "source": {"component": if involved["kind"] == json!("Pod") { "kubelet" } else { "statefulset-controller" }},
        "reportingComponent": "", "reportingInstance": "",
    });
    st.insert(kind_of("", "events").expect("events kind"), &ns, event);
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == json!("Ready") && c["status"] == json!("True"))
    })
}

fn owned_by(obj: &Value, uid: &Value) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|rs| rs.iter().any(|r| r["uid"] == *uid))
}

/// The revision of a pod template: the StatefulSet name and a hash of the template, with keys
/// sorted so that the same template in another key order is the same revision.
fn revision(name: &str, template: &Value) -> String {
    fn feed(v: &Value, h: &mut std::collections::hash_map::DefaultHasher) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    k.hash(h);
                    feed(&m[k], h);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| feed(x, h)),
            other => other.to_string().hash(h),
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    feed(template, &mut h);
    format!("{name}-{:010x}", h.finish() & 0xff_ffff_ffff)
}

fn statefulsets(st: &mut State, ns: Option<&str>) -> bool {
    let mut progress = false;
    for (key, sts) in st.list("apps", "statefulsets", ns) {
        progress |= reconcile_sts(st, &key, &sts);
    }
    progress
}

/// Deletes surplus and outdated pods, then creates missing ones in order.
fn reconcile_sts(st: &mut State, key: &Key, sts: &Value) -> bool {
    let (name, ns, uid) = (&key.name, &key.namespace, &sts["metadata"]["uid"]);
    let replicas = sts["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
    let rev = revision(name, &sts["spec"]["template"]);
    let parallel = sts["spec"]["podManagementPolicy"] == json!("Parallel");
    let mut progress = false;
    for (pkey, pod) in st.list_where("", "pods", Some(ns), |p| owned_by(p, uid)) {
        let ordinal = pkey
            .name
            .strip_prefix(&format!("{name}-"))
            .and_then(|o| o.parse::<i64>().ok());
        let outdated = pod["metadata"]["labels"]["controller-revision-hash"] != json!(rev);
        if ordinal.is_none_or(|o| o >= replicas) || outdated {
            st.remove(&pkey);
            progress = true;
        }
    }
    let pods_kind = kind_of("", "pods").expect("pods kind");
    for i in 0..replicas {
        let pod_name = format!("{name}-{i}");
        if let Some(pod) = st.get(&Key::new(pods_kind, ns, &pod_name)) {
            if !parallel && !is_ready(pod) {
                break;
            }
            continue;
        }
        create_claims(st, sts, i);
        let pod = pod_from_template(sts, &pod_name, i, &rev);
        match writes::create(st, pods_kind, ns, pod) {
            Ok(_) => progress = true,
            Err(e) => {
                let msg = format!(
                    "create Pod {pod_name} in StatefulSet {name} failed error: {}",
                    e.message
                );
                record_event(st, sts, "Warning", "FailedCreate", &msg);
                break;
            }
        }
        if !parallel {
            break;
        }
    }
    progress
}

fn claim_name(template: &Value, sts: &str, i: i64) -> String {
    format!(
        "{}-{sts}-{i}",
        template["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// The PersistentVolumeClaims of one replica, from the volumeClaimTemplates; they outlive it.
fn create_claims(st: &mut State, sts: &Value, i: i64) {
    let name = sts["metadata"]["name"].as_str().unwrap_or_default();
    let ns = sts["metadata"]["namespace"].as_str().unwrap_or_default();
    let kind = kind_of("", "persistentvolumeclaims").expect("pvc kind");
    for t in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let claim = claim_name(t, name, i);
        if st.get(&Key::new(kind, ns, &claim)).is_some() {
            continue;
        }
        let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
        if let Some(extra) = t["metadata"]["labels"].as_object() {
            for (k, v) in extra {
                labels[k] = v.clone();
            }
        }
        let pvc = json!({"metadata": {"name": claim, "namespace": ns, "labels": labels}, "spec": t["spec"]});
        if let Err(e) = writes::create(st, kind, ns, pvc) {
            let msg = format!(
                "create Claim {claim} for Pod {name}-{i} in StatefulSet {name} failed error: {}",
                e.message
            );
            record_event(st, sts, "Warning", "FailedCreate", &msg);
        }
    }
}

fn pod_from_template(sts: &Value, pod_name: &str, i: i64, rev: &str) -> Value {
    let meta = &sts["metadata"];
    let t = &sts["spec"]["template"];
    let mut labels = t["metadata"]["labels"].clone();
    labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
    labels["controller-revision-hash"] = json!(rev);
    labels["apps.kubernetes.io/pod-index"] = json!(i.to_string());
    let mut spec = t["spec"].clone();
    spec["hostname"] = json!(pod_name);
    if let Some(svc) = sts["spec"]["serviceName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        spec["subdomain"] = json!(svc);
    }
    let sts_name = meta["name"].as_str().unwrap_or_default();
    for ct in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let volume = json!({"name": ct["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name(ct, sts_name, i)}});
        match spec["volumes"].as_array_mut() {
            Some(v) => v.push(volume),
            None => spec["volumes"] = json!([volume]),
        }
    }
    let mut metadata = json!({
        "name": pod_name,
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "StatefulSet", "name": meta["name"], "uid": meta["uid"],
            "controller": true, "blockOwnerDeletion": true,
        }],
    });
    if t["metadata"]["annotations"].is_object() {
        metadata["annotations"] = t["metadata"]["annotations"].clone();
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

fn sts_status(st: &mut State, key: &Key) {
    let Some(sts) = st.get(key).cloned() else {
        return;
    };
    let rev = revision(&key.name, &sts["spec"]["template"]);
    let uid = &sts["metadata"]["uid"];
    let pods: Vec<Value> = st
        .list_where("", "pods", Some(&key.namespace), |p| owned_by(p, uid))
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let current = pods
        .iter()
        .filter(|p| p["metadata"]["labels"]["controller-revision-hash"] == json!(rev))
        .count();
    let status = json!({
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": pods.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": current,
        "updatedReplicas": current,
        "currentRevision": rev,
        "updateRevision": rev,
        "collisionCount": 0,
    });
    st.set_status(key, status);
}

/// What a pod counts against each quota resource name it can be limited by.
fn pod_usage(pod: &Value) -> BTreeMap<String, f64> {
    let mut usage = BTreeMap::from([("pods".to_string(), 1.0), ("count/pods".to_string(), 1.0)]);
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        for (section, res) in [
            ("requests", "cpu"),
            ("requests", "memory"),
            ("limits", "cpu"),
            ("limits", "memory"),
        ] {
            let q = c["resources"][section][res]
                .as_str()
                .and_then(super::checks::parse_quantity)
                .unwrap_or(0.0);
            *usage.entry(format!("{section}.{res}")).or_default() += q;
            if section == "requests" {
                *usage.entry(res.to_string()).or_default() += q;
            }
        }
    }
    usage
}

/// A quantity as the real server prints it in quota messages.
fn format_quantity(resource: &str, v: f64) -> String {
    // An empty sum is -0.0, which would print as "-0".
    let v = v + 0.0;
    if resource.ends_with("cpu") {
        return if v.fract() == 0.0 {
            format!("{v}")
        } else {
            format!("{}m", (v * 1000.0).round())
        };
    }
    for (suffix, unit) in [
        ("Gi", 1024f64.powi(3)),
        ("Mi", 1024f64.powi(2)),
        ("Ki", 1024.0),
    ] {
        if v >= unit && (v / unit).fract() == 0.0 {
            return format!("{}{suffix}", v / unit);
        }
    }
    format!("{v}")
}

fn used_in(st: &State, ns: &str, resource: &str, except_pod: Option<&str>) -> f64 {
    let pods = st.list("", "pods", Some(ns));
    let pods = pods
        .iter()
        .filter(|(k, _)| Some(k.name.as_str()) != except_pod);
    match resource {
        "requests.storage" => st
            .list("", "persistentvolumeclaims", Some(ns))
            .iter()
            .filter_map(|(_, c)| {
                c["spec"]["resources"]["requests"]["storage"]
                    .as_str()
                    .and_then(super::checks::parse_quantity)
            })
            .sum(),
        "persistentvolumeclaims" | "services" | "secrets" => {
            st.list("", resource, Some(ns)).len() as f64
        }
        r if r.starts_with("count/") && r != "count/pods" => {
            let (res, group) = r["count/".len()..]
                .split_once('.')
                .unwrap_or((&r["count/".len()..], ""));
            st.list(group, res, Some(ns)).len() as f64
        }
        r => pods
            .map(|(_, p)| pod_usage(p).get(r).copied().unwrap_or(0.0))
            .sum(),
    }
}

/// Refuses a pod that would exceed a ResourceQuota of its namespace, or that leaves a limited
/// resource unspecified, with the real server's 403 message.
pub fn quota_admit(st: &State, ns: &str, pod: &Value) -> Result<(), ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let usage = pod_usage(pod);
    for (_, q) in st.list("", "resourcequotas", Some(ns)) {
        let qname = q["metadata"]["name"].as_str().unwrap_or_default();
        let hard = q["spec"]["hard"].as_object().cloned().unwrap_or_default();
        let mut unspecified = Vec::new();
        let (mut requested, mut used, mut limited) = (Vec::new(), Vec::new(), Vec::new());
        for (res, limit) in &hard {
            let Some(want) = usage.get(res) else { continue };
            if let Some((section, r)) = res
                .split_once('.')
                .filter(|(s, _)| matches!(*s, "requests" | "limits"))
            {
                let missing: Vec<&str> = pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["resources"][section][r].is_null())
                    .filter_map(|c| c["name"].as_str())
                    .collect();
                if !missing.is_empty() {
                    unspecified.push(format!("{res} for: {}", missing.join(",")));
                    continue;
                }
            }
            let limit_text = limit.as_str().unwrap_or_default();
            let have = used_in(st, ns, res, Some(pod_name));
            if super::checks::parse_quantity(limit_text).is_some_and(|l| have + want > l + 1e-9) {
                requested.push(format!("{res}={}", format_quantity(res, *want)));
                used.push(format!("{res}={}", format_quantity(res, have)));
                limited.push(format!("{res}={limit_text}"));
            }
        }
        if !unspecified.is_empty() {
            return Err(ApiError::forbidden(format!(
                "pods \"{pod_name}\" is forbidden: failed quota: {qname}: must specify {}",
                unspecified.join("; ")
            )));
        }
        if !requested.is_empty() {
            return Err(ApiError::forbidden(format!(
                "pods \"{pod_name}\" is forbidden: exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                requested.join(","),
                used.join(","),
                limited.join(",")
            )));
        }
    }
    Ok(())
}

fn quota_status(st: &mut State, ns: Option<&str>) {
    for (key, q) in st.list("", "resourcequotas", ns) {
        let hard = q["spec"]["hard"].clone();
        let mut used = serde_json::Map::new();
        for res in hard.as_object().into_iter().flat_map(|h| h.keys()) {
            let v = used_in(st, &key.namespace, res, None);
            used.insert(res.clone(), json!(format_quantity(res, v)));
        }
        st.set_status(&key, json!({"hard": hard, "used": used}));
    }
}

/// Claims are bound at once, with the capacity they request.
fn bind_claims(st: &mut State, ns: Option<&str>) {
    for (key, c) in st.list("", "persistentvolumeclaims", ns) {
        let status = json!({
            "phase": "Bound",
            "accessModes": c["spec"]["accessModes"],
            "capacity": {"storage": c["spec"]["resources"]["requests"]["storage"]},
        });
        st.set_status(&key, status);
    }
}

fn kubelet(shared: &Arc<Shared>, st: &mut State, ns: Option<&str>) -> bool {
    let mut progress = false;
    for (key, pod) in st.list("", "pods", ns) {
        let uid = pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let images: Vec<String> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["image"].as_str().unwrap_or_default().to_string())
            .collect();
        let signature = images.join(" ");
        let ready_at = match st.kubelet.get(&uid) {
            Some((sig, None)) if *sig == signature => continue,
            Some((sig, Some(at))) if *sig == signature => *at,
            _ => {
                super::kubelet::start_pod(st, &key, &pod);
                let at = Instant::now() + st.pod_delay;
                st.kubelet
                    .insert(uid.clone(), (signature.clone(), Some(at)));
                if !st.pod_delay.is_zero() {
                    wake_at(shared, at);
                }
                at
            }
        };
        if Instant::now() < ready_at {
            continue;
        }
        let Some(pod) = st.get(&key).cloned() else {
            continue;
        };
        super::kubelet::finish_pod(st, &key, &pod);
        st.kubelet.insert(uid, (signature, None));
        progress = true;
    }
    progress
}

/// Runs the controllers again when a delayed pod is due.
fn wake_at(shared: &Arc<Shared>, at: Instant) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(shared);
    rt.spawn(async move {
        tokio::time::sleep_until(at.into()).await;
        if let Some(shared) = weak.upgrade() {
            shared.reconcile();
        }
    });
}
