//! Quotas per project, written like a Kubernetes ResourceQuota (`requests.cpu`, `requests.memory`,
//! `limits.*`, `count/pods`) and enforced here: an install that would exceed one is refused.

use serde_json::{Map, Value};

use crate::catalog::values::{QuantityError, cpu_millis, format_cpu, format_memory, memory_bytes};
use crate::runtime::ServiceMeta;

/// Keys Onyxia reports (the web pairs `spec[k]` with `usage[k]`).
const KEYS: [&str; 6] = [
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
    "requests.storage",
    "count/pods",
];

/// A quota as configured (the region's `services.quotas.user` or `.group`).
#[derive(Debug, Clone, Default)]
pub struct Quota {
    pub spec: Map<String, Value>,
}

/// What a project's services use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaUsage {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub services: u64,
    /// Sizes of volumes (`requests.storage`).
    pub volume_bytes: u64,
}

impl QuotaUsage {
    /// What one new service asks for.
    pub fn of_service(meta: &ServiceMeta) -> QuotaUsage {
        let mut asked = QuotaUsage::default();
        asked.add(meta, false);
        asked
    }

    /// Counts one service. A suspended one holds no CPU, memory or pod (its container is
    /// stopped) but keeps its volumes.
    pub fn add(&mut self, meta: &ServiceMeta, suspended: bool) {
        self.volume_bytes = self.volume_bytes.saturating_add(meta.volume_request_bytes);
        if suspended {
            return;
        }
        self.cpu_millis = self.cpu_millis.saturating_add(meta.cpu_request_millis);
        self.memory_bytes = self.memory_bytes.saturating_add(meta.memory_request_bytes);
        self.services = self.services.saturating_add(1);
    }
}

/// A quota object that is not one.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("a quota must be an object")]
    NotObject,
    #[error("{key}: {source}")]
    Quantity {
        key: String,
        #[source]
        source: QuantityError,
    },
    #[error("{key}: {value} is not a count")]
    NotCount { key: String, value: Value },
}

/// Why a service does not fit in the quota; the text is what the user is told.
#[derive(Debug, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("exceeded quota: {key} would be {total} of {limit} (this service asks for {asked})")]
    Resource {
        key: &'static str,
        total: String,
        limit: String,
        asked: String,
    },
    #[error("exceeded quota: count/pods would be {total} of {limit}")]
    Services { total: u64, limit: u64 },
}

impl Quota {
    /// The quota of a region's `quotas.<user|group>` object, keeping known keys only.
    pub fn from_json(value: &Value) -> Result<Quota, QuotaError> {
        let map = value.as_object().ok_or(QuotaError::NotObject)?;
        let mut spec = Map::new();
        for (key, v) in map {
            if v.is_null() {
                continue;
            }
            if !KEYS.contains(&key.as_str())
                && !key.ends_with("nvidia.com/gpu")
                && !key.contains("ephemeral-storage")
            {
                continue;
            }
            match key.as_str() {
                "requests.cpu" | "limits.cpu" => {
                    cpu_millis(v).map_err(|source| QuotaError::Quantity {
                        key: key.clone(),
                        source,
                    })?;
                }
                "requests.memory" | "limits.memory" => {
                    memory_bytes(v).map_err(|source| QuotaError::Quantity {
                        key: key.clone(),
                        source,
                    })?;
                }
                "requests.storage" => {
                    memory_bytes(v).map_err(|source| QuotaError::Quantity {
                        key: key.clone(),
                        source,
                    })?;
                }
                "count/pods" => {
                    count(v).ok_or_else(|| QuotaError::NotCount {
                        key: key.clone(),
                        value: v.clone(),
                    })?;
                }
                _ => {}
            }
            spec.insert(key.clone(), v.clone());
        }
        Ok(Quota { spec })
    }

    /// Whether a new service asking for `asked` fits beside `usage`; the reason if not.
    pub fn admit(&self, usage: &QuotaUsage, asked: &QuotaUsage) -> Result<(), QuotaExceeded> {
        let (cpu, memory) = (asked.cpu_millis, asked.memory_bytes);
        for key in ["requests.cpu", "limits.cpu"] {
            if let Some(limit) = self.spec.get(key).and_then(|v| cpu_millis(v).ok())
                && usage.cpu_millis.saturating_add(cpu) > limit
            {
                return Err(QuotaExceeded::Resource {
                    key,
                    total: format_cpu(usage.cpu_millis.saturating_add(cpu)),
                    limit: format_cpu(limit),
                    asked: format_cpu(cpu),
                });
            }
        }
        for key in ["requests.memory", "limits.memory"] {
            if let Some(limit) = self.spec.get(key).and_then(|v| memory_bytes(v).ok())
                && usage.memory_bytes.saturating_add(memory) > limit
            {
                return Err(QuotaExceeded::Resource {
                    key,
                    total: format_memory(usage.memory_bytes.saturating_add(memory)),
                    limit: format_memory(limit),
                    asked: format_memory(memory),
                });
            }
        }
        let volumes = asked.volume_bytes;
        if let Some(limit) = self
            .spec
            .get("requests.storage")
            .and_then(|v| memory_bytes(v).ok())
            && volumes > 0
            && usage.volume_bytes.saturating_add(volumes) > limit
        {
            return Err(QuotaExceeded::Resource {
                key: "requests.storage",
                total: format_memory(usage.volume_bytes.saturating_add(volumes)),
                limit: format_memory(limit),
                asked: format_memory(volumes),
            });
        }
        if let Some(limit) = self.spec.get("count/pods").and_then(count)
            && usage.services.saturating_add(1) > limit
        {
            return Err(QuotaExceeded::Services {
                total: usage.services.saturating_add(1),
                limit,
            });
        }
        Ok(())
    }

    /// `{spec, usage}` as Onyxia's `/my-lab/quota` returns them.
    pub fn report(&self, usage: &QuotaUsage) -> Value {
        let mut used = Map::new();
        for key in self.spec.keys() {
            let v = match key.as_str() {
                "requests.cpu" | "limits.cpu" => Value::String(format_cpu(usage.cpu_millis)),
                "requests.memory" | "limits.memory" => {
                    Value::String(format_memory(usage.memory_bytes))
                }
                "count/pods" => Value::from(usage.services),
                "requests.storage" => Value::String(format_memory(usage.volume_bytes)),
                // Not tracked here (storage, GPUs): nothing is used.
                k if k.ends_with("nvidia.com/gpu") => Value::from(0),
                _ => Value::String("0".into()),
            };
            used.insert(key.clone(), v);
        }
        serde_json::json!({ "spec": Value::Object(self.spec.clone()), "usage": used })
    }
}

fn count(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn admits_until_a_limit_is_reached() {
        let quota = Quota::from_json(
            &json!({"requests.cpu": "1", "requests.memory": "1Gi", "count/pods": 2, "other": 1}),
        )
        .unwrap();
        assert!(!quota.spec.contains_key("other"));
        let mut usage = QuotaUsage::default();
        let asking = |cpu, memory| QuotaUsage {
            cpu_millis: cpu,
            memory_bytes: memory,
            services: 1,
            volume_bytes: 0,
        };
        assert!(quota.admit(&usage, &asking(500, 512 << 20)).is_ok());
        usage.cpu_millis = 600;
        let err = quota
            .admit(&usage, &asking(500, 0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("requests.cpu would be 1100m of 1"), "{err}");
        usage = QuotaUsage {
            services: 2,
            ..Default::default()
        };
        assert!(
            quota
                .admit(&usage, &asking(0, 0))
                .unwrap_err()
                .to_string()
                .contains("count/pods")
        );
        assert!(Quota::from_json(&json!({"requests.cpu": "lots"})).is_err());
    }

    #[test]
    fn reports_in_kubernetes_quantities() {
        let quota = Quota::from_json(&json!({"requests.cpu": "2", "count/pods": 5})).unwrap();
        let usage = QuotaUsage {
            cpu_millis: 1500,
            services: 1,
            ..Default::default()
        };
        assert_eq!(
            quota.report(&usage),
            json!({"spec": {"requests.cpu": "2", "count/pods": 5}, "usage": {"requests.cpu": "1500m", "count/pods": 1}})
        );
    }
}
