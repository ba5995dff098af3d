//! IAM-style policy documents (as MinIO and AWS write them) and their evaluation:
//! any matching Deny wins, then any matching Allow, otherwise the request is denied.

mod condition;
mod pattern;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use pattern::claim_values;
pub use pattern::wildcard;

/// One or many strings, as policy JSON allows either.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::None => vec![],
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PrincipalSpec {
    Any(String),
    Aws {
        #[serde(rename = "AWS")]
        aws: OneOrMany,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Statement {
    #[serde(default)]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(default)]
    principal: Option<PrincipalSpec>,
    #[serde(default)]
    action: OneOrMany,
    #[serde(default)]
    not_action: OneOrMany,
    #[serde(default)]
    resource: OneOrMany,
    /// operator → (key → values)
    #[serde(default)]
    condition: BTreeMap<String, BTreeMap<String, OneOrMany>>,
}

/// Unknown elements (`NotResource`, `NotPrincipal`, …) are refused rather than ignored: an
/// ignored restriction would silently widen what a policy allows.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    pub statement: Vec<Statement>,
}

/// The facts a request is judged on.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// e.g. `s3:GetObject`
    pub action: &'a str,
    /// `bucket` or `bucket/key` (the part after `arn:aws:s3:::`).
    pub resource: &'a str,
    /// Token claims, for `${jwt:<claim>}` and `jwt:<claim>` conditions.
    pub claims: Option<&'a serde_json::Map<String, Value>>,
    /// `${aws:username}`.
    pub username: Option<&'a str>,
    /// Condition keys of the request itself, e.g. `s3:prefix`.
    pub context: BTreeMap<&'a str, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement applied.
    NotApplicable,
}

/// The canned policy names a token's policy claim holds: a comma-separated string or a list.
pub fn names_in_claim(claim: Option<&Value>) -> Vec<String> {
    match claim {
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(|s| s.trim().to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

/// AWS's limit on a bucket policy's size.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy document was refused; the text is what S3 clients and fixture authors see.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policies are limited to {MAX_POLICY_BYTES} bytes")]
    TooLarge,
    #[error("policy is not valid: {0}")]
    Json(#[source] serde_json::Error),
    #[error("policy has no Statement")]
    NoStatement,
    #[error("a statement needs Action or NotAction")]
    NoAction,
    #[error("a statement needs Resource")]
    NoResource,
    #[error("resource {0} is not an S3 ARN")]
    NotS3Resource(String),
    #[error("condition operator {0} is not supported")]
    Operator(String),
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge);
        }
        let policy: Policy = serde_json::from_str(text).map_err(PolicyError::Json)?;
        if policy.statement.is_empty() {
            return Err(PolicyError::NoStatement);
        }
        for st in &policy.statement {
            if st.action.items().is_empty() && st.not_action.items().is_empty() {
                return Err(PolicyError::NoAction);
            }
            if st.resource.items().is_empty() {
                return Err(PolicyError::NoResource);
            }
            for r in st.resource.items() {
                if r != "*" && !r.starts_with("arn:aws:s3:::") {
                    return Err(PolicyError::NotS3Resource(r.to_owned()));
                }
            }
            if let Some(op) = st.condition.keys().find(|op| !condition::known(op)) {
                return Err(PolicyError::Operator(op.clone()));
            }
        }
        Ok(policy)
    }

    /// Buckets named by the resources (`*` for a wildcard bucket part).
    pub fn resource_buckets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for st in &self.statement {
            for r in st.resource.items() {
                let bucket = r
                    .trim_start_matches("arn:aws:s3:::")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                let bucket = if bucket.contains('*') || bucket.contains('?') {
                    "*"
                } else {
                    bucket
                };
                if !out.iter().any(|b| b == bucket) {
                    out.push(bucket.to_owned());
                }
            }
        }
        out
    }

    /// Whether some Allow statement reaches anything in `bucket` (for listing buckets): its
    /// resource's bucket part matches the bucket name, with the request's variables.
    pub fn allows_something_in(&self, bucket: &str, req: &Request<'_>) -> bool {
        self.statement
            .iter()
            .filter(|s| s.effect == Effect::Allow && s.principal.is_none())
            .any(|st| {
                st.resource.items().iter().any(|resource| {
                    let resource = resource.trim_start_matches("arn:aws:s3:::");
                    let bucket_part = resource.split('/').next().unwrap_or_default();
                    pattern::matches(bucket_part, bucket, req, true)
                })
            })
    }

    /// Whether any statement applies to anonymous callers (`"Principal": "*"`).
    fn statement_for_anyone(st: &Statement) -> bool {
        match &st.principal {
            Some(PrincipalSpec::Any(s)) => s == "*",
            Some(PrincipalSpec::Aws { aws }) => aws.items().contains(&"*"),
            None => false,
        }
    }

    /// Whether the policy is public as S3 judges it: some statement allows anyone, with no
    /// condition that pins callers to fixed addresses, networks or accounts.
    pub fn is_public(&self) -> bool {
        const FIXED: [&str; 8] = [
            "aws:sourceip",
            "aws:sourcevpc",
            "aws:sourcevpce",
            "aws:sourceaccount",
            "aws:sourcearn",
            "aws:principalaccount",
            "aws:principalorgid",
            "aws:userid",
        ];
        self.statement.iter().any(|st| {
            st.effect == Effect::Allow
                && Self::statement_for_anyone(st)
                && !st.condition.values().any(|keys| {
                    keys.keys()
                        .any(|k| FIXED.contains(&k.to_ascii_lowercase().as_str()))
                })
        })
    }

    /// Evaluates an identity policy (statements without Principal).
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        self.evaluate_where(req, |_| true)
    }

    /// Evaluates a bucket policy for an anonymous caller: only statements for `*` count.
    pub fn evaluate_anonymous(&self, req: &Request<'_>) -> Decision {
        self.evaluate_where(req, Self::statement_for_anyone)
    }

    fn evaluate_where(&self, req: &Request<'_>, applies: impl Fn(&Statement) -> bool) -> Decision {
        let mut decision = Decision::NotApplicable;
        for st in self.statement.iter().filter(|s| applies(s)) {
            if !st.matches(req) {
                continue;
            }
            match st.effect {
                Effect::Deny => return Decision::Deny,
                Effect::Allow => decision = Decision::Allow,
            }
        }
        decision
    }
}

/// Combines decisions of several policies: any Deny wins, then any Allow.
pub fn combine(decisions: impl IntoIterator<Item = Decision>) -> Decision {
    let mut out = Decision::NotApplicable;
    for d in decisions {
        match d {
            Decision::Deny => return Decision::Deny,
            Decision::Allow => out = Decision::Allow,
            Decision::NotApplicable => {}
        }
    }
    out
}

impl Statement {
    fn matches(&self, req: &Request<'_>) -> bool {
        let action_ok = if self.action.items().is_empty() {
            !self
                .not_action
                .items()
                .iter()
                .any(|a| wildcard(&a.to_ascii_lowercase(), &req.action.to_ascii_lowercase()))
        } else {
            self.action
                .items()
                .iter()
                .any(|a| wildcard(&a.to_ascii_lowercase(), &req.action.to_ascii_lowercase()))
        };
        if !action_ok {
            return false;
        }
        let resource_ok = self.resource.items().iter().any(|resource| {
            let resource = resource.trim_start_matches("arn:aws:s3:::");
            pattern::matches(resource, req.resource, req, true)
        });
        resource_ok && self.conditions_hold(req)
    }

    fn conditions_hold(&self, req: &Request<'_>) -> bool {
        self.condition.iter().all(|(op, keys)| {
            keys.iter().all(|(key, wanted)| {
                let actual = condition_value(key, req);
                condition::holds(op, actual.as_deref(), &wanted.items(), req)
            })
        })
    }
}

fn condition_value(key: &str, req: &Request<'_>) -> Option<Vec<String>> {
    if let Some(v) = req.context.get(key) {
        return Some(vec![v.clone()]);
    }
    if key == "aws:username" {
        return req.username.map(|u| vec![u.to_owned()]);
    }
    let claim = key.strip_prefix("jwt:")?;
    claim_values(req.claims?.get(claim)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STSONLY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::user-${jwt:preferred_username}","arn:aws:s3:::user-${jwt:preferred_username}/*"]},
        {"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::projet-${jwt:groups}","arn:aws:s3:::projet-${jwt:groups}/*"]},
        {"Effect":"Deny","Action":["s3:DeleteBucket"],"Resource":["arn:aws:s3:::*"]}]}"#;

    fn req<'a>(
        action: &'a str,
        resource: &'a str,
        claims: &'a serde_json::Map<String, Value>,
    ) -> Request<'a> {
        Request {
            action,
            resource,
            claims: Some(claims),
            username: None,
            context: BTreeMap::new(),
        }
    }

    #[test]
    fn stsonly_scopes_users_and_groups() {
        let p = Policy::parse(STSONLY).unwrap();
        let claims = json!({"preferred_username": "alice", "groups": ["demo", "x*"]});
        let claims = claims.as_object().unwrap();
        assert_eq!(
            p.evaluate(&req("s3:GetObject", "user-alice/a.csv", claims)),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate(&req("s3:ListBucket", "user-alice", claims)),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate(&req("s3:GetObject", "user-bob/a.csv", claims)),
            Decision::NotApplicable
        );
        assert_eq!(
            p.evaluate(&req("s3:PutObject", "projet-demo/x", claims)),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate(&req("s3:PutObject", "projet-xyz/x", claims)),
            Decision::NotApplicable,
            "a `*` in a claim is literal"
        );
        assert_eq!(
            p.evaluate(&req("s3:DeleteBucket", "user-alice", claims)),
            Decision::Deny
        );
    }

    #[test]
    fn prefix_conditions_for_shared_buckets() {
        let p = Policy::parse(r#"{"Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared",
            "Condition":{"StringLike":{"s3:prefix":["${jwt:preferred_username}/*","${jwt:preferred_username}"]}}}]}"#).unwrap();
        let claims = json!({"preferred_username": "alice"});
        let claims = claims.as_object().unwrap();
        let mut r = req("s3:ListBucket", "shared", claims);
        r.context.insert("s3:prefix", "alice/data/".into());
        assert_eq!(p.evaluate(&r), Decision::Allow);
        r.context.insert("s3:prefix", "bob/".into());
        assert_eq!(p.evaluate(&r), Decision::NotApplicable);
        r.context.remove("s3:prefix");
        assert_eq!(
            p.evaluate(&r),
            Decision::NotApplicable,
            "listing the whole bucket is not allowed"
        );
    }

    #[test]
    fn wildcards_and_bad_documents() {
        assert!(wildcard("s3:get*", "s3:getobject"));
        assert!(wildcard("a?c*", "abcdef"));
        assert!(!wildcard("a*c", "abd"));
        assert!(Policy::parse("{}").is_err());
        assert!(Policy::parse(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"arn:aws:s3:::x/*"}]}"#).is_err());
        assert!(
            Policy::parse(
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}"#
            )
            .is_err()
        );
        let anyone = Policy::parse(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::pub/shared/*"]}]}"#).unwrap();
        let none = serde_json::Map::new();
        assert_eq!(
            anyone.evaluate_anonymous(&req("s3:GetObject", "pub/shared/x", &none)),
            Decision::Allow
        );
        assert_eq!(
            anyone.evaluate_anonymous(&req("s3:GetObject", "pub/private/x", &none)),
            Decision::NotApplicable
        );
        assert_eq!(combine([Decision::Allow, Decision::Deny]), Decision::Deny);
    }

    #[test]
    fn public_means_open_to_anyone_without_pinning_conditions() {
        let policy = |statement: &str| {
            Policy::parse(&format!(
                r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#
            ))
            .unwrap()
        };
        let read = r#""Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]"#;
        assert!(policy(&format!(r#"{{"Effect":"Allow","Principal":"*",{read}}}"#)).is_public());
        assert!(
            policy(&format!(
                r#"{{"Effect":"Allow","Principal":{{"AWS":["*"]}},{read},"Condition":{{"StringLike":{{"s3:prefix":["p/*"]}}}}}}"#
            ))
            .is_public()
        );
        assert!(
            !policy(&format!(
                r#"{{"Effect":"Allow","Principal":"*",{read},"Condition":{{"StringEquals":{{"aws:SourceVpce":["vpce-1a2b3c4d"]}}}}}}"#
            ))
            .is_public()
        );
        assert!(!policy(&format!(r#"{{"Effect":"Deny","Principal":"*",{read}}}"#)).is_public());
        assert!(!policy(&format!(r#"{{"Effect":"Allow",{read}}}"#)).is_public());
    }
}
