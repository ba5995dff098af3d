//! Limits of a class: what each member may use — CPU, memory and running services (requests
//! of running services), volume storage and the bytes of their personal bucket — set per
//! group with per-user overrides, kept in redb. A user's effective limit of a kind is their
//! own override when they have one, else the most generous among their groups' (a student in
//! two classes gets the larger allowance), else none: the region's quota alone applies.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::values::{cpu_millis, memory_bytes};
use crate::services::Quota;
use crate::store::{Store, StoreError, Table};

/// One set of limits; each kind is optional. Quantities are Kubernetes quantities, kept as
/// written (`2`, `500m`, `4Gi`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// CPU requested by running services, added up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory requested by running services, added up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Running services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<u64>,
    /// Bytes in the personal bucket, every version counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_storage: Option<String>,
    /// Sizes of the services' volumes, suspended services' included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_storage: Option<String>,
    /// Minutes without use after which a running service is suspended (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_minutes: Option<u64>,
    /// Hours after its launch when a service is deleted (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_hours: Option<u64>,
}

/// A limit that is not one; the text is what the teacher is told.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: `{value}` is not a quantity ({why})")]
pub struct LimitError {
    kind: &'static str,
    value: String,
    why: String,
}

impl Limits {
    /// Refuses quantities that do not parse.
    pub fn check(&self) -> Result<(), LimitError> {
        let bad = |kind, value: &String, why: String| LimitError {
            kind,
            value: value.clone(),
            why,
        };
        if let Some(v) = &self.cpu {
            cpu_millis(&Value::String(v.clone())).map_err(|e| bad("cpu", v, e.to_string()))?;
        }
        for (kind, v) in [
            ("memory", &self.memory),
            ("s3Storage", &self.s3_storage),
            ("volumeStorage", &self.volume_storage),
        ] {
            if let Some(v) = v {
                memory_bytes(&Value::String(v.clone())).map_err(|e| bad(kind, v, e.to_string()))?;
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The personal bucket's limit in bytes.
    pub fn s3_bytes(&self) -> Option<u64> {
        let v = self.s3_storage.as_ref()?;
        memory_bytes(&Value::String(v.clone())).ok()
    }

    /// Each kind from `self` when set there, else from `other`.
    pub fn or(self, other: &Limits) -> Limits {
        Limits {
            cpu: self.cpu.or_else(|| other.cpu.clone()),
            memory: self.memory.or_else(|| other.memory.clone()),
            services: self.services.or(other.services),
            s3_storage: self.s3_storage.or_else(|| other.s3_storage.clone()),
            volume_storage: self.volume_storage.or_else(|| other.volume_storage.clone()),
            idle_minutes: self.idle_minutes.or(other.idle_minutes),
            max_age_hours: self.max_age_hours.or(other.max_age_hours),
        }
    }

    /// Each kind the larger of the two (a kind set in only one is that one's).
    fn most_generous(self, other: &Limits) -> Limits {
        fn larger(
            a: Option<String>,
            b: &Option<String>,
            measure: impl Fn(&str) -> Option<u64>,
        ) -> Option<String> {
            match (a, b) {
                (Some(a), Some(b)) => Some(if measure(b) > measure(&a) {
                    b.clone()
                } else {
                    a
                }),
                (a, b) => a.or_else(|| b.clone()),
            }
        }
        let cpu = |s: &str| cpu_millis(&Value::String(s.into())).ok();
        let bytes = |s: &str| memory_bytes(&Value::String(s.into())).ok();
        // For times, 0 (never) is the most generous.
        let longest = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(0), _) | (_, Some(0)) => Some(0),
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Limits {
            cpu: larger(self.cpu, &other.cpu, cpu),
            memory: larger(self.memory, &other.memory, bytes),
            services: match (self.services, other.services) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            s3_storage: larger(self.s3_storage, &other.s3_storage, bytes),
            volume_storage: larger(self.volume_storage, &other.volume_storage, bytes),
            idle_minutes: longest(self.idle_minutes, other.idle_minutes),
            max_age_hours: longest(self.max_age_hours, other.max_age_hours),
        }
    }

    /// The region's quota of a personal project with these limits written over it (the
    /// Kubernetes ResourceQuota keys Onyxia reports); `None` when neither sets anything.
    pub fn over_quota(&self, base: Option<&Quota>) -> Option<Quota> {
        let mut spec = base.map(|q| q.spec.clone()).unwrap_or_default();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                spec.insert(key.to_owned(), value);
            }
        };
        put("requests.cpu", self.cpu.clone().map(Value::String));
        put("requests.memory", self.memory.clone().map(Value::String));
        put("count/pods", self.services.map(Value::from));
        put(
            "requests.storage",
            self.volume_storage.clone().map(Value::String),
        );
        // Limits of S3 storage alone still make a quota to report; culling times do not.
        let quota_kinds = Limits {
            idle_minutes: None,
            max_age_hours: None,
            ..self.clone()
        };
        if base.is_none() && quota_kinds.is_empty() {
            return None;
        }
        Some(Quota { spec })
    }
}

/// Whom a set of limits is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Group(String),
    User(String),
}

impl Scope {
    fn row(&self) -> String {
        match self {
            Scope::Group(g) => format!("group/{g}"),
            Scope::User(u) => format!("user/{u}"),
        }
    }
}

const LIMITS: Table<Limits> = Table::new("class_limits");

/// Every limit set, by group and by user.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AllLimits {
    pub groups: BTreeMap<String, Limits>,
    pub users: BTreeMap<String, Limits>,
}

/// The limits in redb, with a copy in memory for the checks of every install and PUT.
pub struct ClassLimits {
    store: Arc<Store>,
    all: RwLock<AllLimits>,
}

impl ClassLimits {
    pub fn open(store: Arc<Store>) -> Result<Self, StoreError> {
        let mut all = AllLimits::default();
        for (row, limits) in store.scan(&LIMITS)? {
            match row.split_once('/') {
                Some(("group", g)) => all.groups.insert(g.to_owned(), limits),
                Some(("user", u)) => all.users.insert(u.to_owned(), limits),
                _ => None,
            };
        }
        Ok(ClassLimits {
            store,
            all: RwLock::new(all),
        })
    }

    pub fn all(&self) -> AllLimits {
        crate::sync::read(&self.all).clone()
    }

    /// Sets the limits of a group or user; empty limits remove them. Blocking (a redb write).
    pub fn set(&self, scope: &Scope, limits: Limits) -> Result<(), StoreError> {
        if limits.is_empty() {
            self.store.remove(&LIMITS, &scope.row())?;
        } else {
            self.store.put(&LIMITS, &scope.row(), &limits)?;
        }
        let mut all = crate::sync::write(&self.all);
        let map = match scope {
            Scope::Group(_) => &mut all.groups,
            Scope::User(_) => &mut all.users,
        };
        let name = match scope {
            Scope::Group(n) | Scope::User(n) => n.clone(),
        };
        if limits.is_empty() {
            map.remove(&name);
        } else {
            map.insert(name, limits);
        }
        Ok(())
    }

    /// The limits that apply to `username`, a member of `groups`.
    pub fn effective(&self, username: &str, groups: &[String]) -> Limits {
        let all = crate::sync::read(&self.all);
        let from_groups = groups
            .iter()
            .filter_map(|g| all.groups.get(g))
            .fold(Limits::default(), |acc, l| acc.most_generous(l));
        match all.users.get(username) {
            Some(own) => own.clone().or(&from_groups),
            None => from_groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(json: serde_json::Value) -> Limits {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn own_overrides_win_then_the_most_generous_group() {
        let store = Arc::new(Store::in_memory().unwrap());
        let class = ClassLimits::open(store.clone()).unwrap();
        let group = |g: &str| Scope::Group(g.into());
        class
            .set(
                &group("stats"),
                limits(serde_json::json!({"cpu": "1", "services": 1, "s3Storage": "1Gi"})),
            )
            .unwrap();
        class
            .set(
                &group("ml"),
                limits(serde_json::json!({"cpu": "1500m", "memory": "2Gi", "services": 3})),
            )
            .unwrap();
        class
            .set(
                &Scope::User("ana".into()),
                limits(serde_json::json!({"services": 5})),
            )
            .unwrap();
        let groups = ["stats".to_owned(), "ml".to_owned()];
        assert_eq!(
            class.effective("ana", &groups),
            limits(
                serde_json::json!({"cpu": "1500m", "memory": "2Gi", "services": 5, "s3Storage": "1Gi"})
            )
        );
        assert_eq!(
            class.effective("bo", &groups[..1]).services,
            Some(1),
            "no override: the group's"
        );
        assert!(class.effective("cy", &[]).is_empty());

        // Kept in redb; clearing removes.
        let reopened = ClassLimits::open(store).unwrap();
        assert_eq!(reopened.all(), class.all());
        reopened.set(&group("ml"), Limits::default()).unwrap();
        assert!(!reopened.all().groups.contains_key("ml"));
    }

    #[test]
    fn limits_overlay_the_region_quota() {
        let base =
            Quota::from_json(&serde_json::json!({"requests.cpu": "4", "limits.memory": "8Gi"}))
                .unwrap();
        let l = limits(serde_json::json!({"cpu": "1", "services": 2, "volumeStorage": "5Gi"}));
        let spec = l.over_quota(Some(&base)).unwrap().spec;
        assert_eq!(
            serde_json::Value::Object(spec),
            serde_json::json!({"requests.cpu": "1", "limits.memory": "8Gi", "count/pods": 2, "requests.storage": "5Gi"})
        );
        assert!(Limits::default().over_quota(None).is_none());
        assert!(
            limits(serde_json::json!({"memory": "lots"}))
                .check()
                .is_err()
        );
        assert!(serde_json::from_value::<Limits>(serde_json::json!({"gpu": 1})).is_err());
    }
}
