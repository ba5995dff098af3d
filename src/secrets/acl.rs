//! Vault ACL policies: path rules with `*` (trailing prefix glob) and `+` (one segment), and
//! templates `{{username}}` / `{{group}}` filled from the token's identity.

use std::collections::{BTreeSet, HashMap};

use crate::config::fixtures::VaultPolicyFixture;

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    capabilities: BTreeSet<String>,
}

pub struct Policies {
    by_name: HashMap<String, Vec<Rule>>,
}

/// Who a token belongs to, for templates.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub username: String,
    pub groups: Vec<String>,
}

/// Vault's globs: `+` stands for exactly one path segment, a trailing `*` for any rest.
fn segment_match(pattern: &str, path: &str) -> bool {
    let concrete = if pattern.split('/').any(|s| s == "+") {
        let segments: Vec<&str> = path.split('/').collect();
        let mut out = Vec::new();
        for (i, seg) in pattern.split('/').enumerate() {
            match (seg, segments.get(i)) {
                ("+", Some(actual)) => out.push(*actual),
                ("+", None) => return false,
                (literal, _) => out.push(literal),
            }
        }
        out.join("/")
    } else {
        pattern.to_owned()
    };
    match concrete.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => concrete == path,
    }
}

/// Vault's ordering of matching rules: fewer wildcards, then longer literal text, wins.
fn priority(pattern: &str) -> (usize, usize) {
    let wild = pattern.matches('+').count() + usize::from(pattern.ends_with('*'));
    (usize::MAX - wild, pattern.len())
}

impl Policies {
    pub fn new(fixtures: &[VaultPolicyFixture]) -> Self {
        let by_name = fixtures
            .iter()
            .map(|p| {
                let rules = p
                    .paths
                    .iter()
                    .map(|r| Rule {
                        pattern: r.path.trim_start_matches('/').to_owned(),
                        capabilities: r.capabilities.iter().cloned().collect(),
                    })
                    .collect();
                (p.name.clone(), rules)
            })
            .collect();
        Policies { by_name }
    }

    /// Capabilities the named policies grant on `path`: the most specific matching rule wins;
    /// rules with that same pattern in several policies are merged; `deny` overrides.
    pub fn capabilities(
        &self,
        policies: &[String],
        identity: &Identity,
        path: &str,
    ) -> BTreeSet<String> {
        let mut best: Option<((usize, usize), BTreeSet<String>)> = None;
        for name in policies {
            for rule in self.by_name.get(name).into_iter().flatten() {
                for pattern in expand(&rule.pattern, identity) {
                    if !segment_match(&pattern, path) {
                        continue;
                    }
                    let p = priority(&pattern);
                    match &mut best {
                        Some((bp, caps)) if *bp == p => {
                            caps.extend(rule.capabilities.iter().cloned())
                        }
                        Some((bp, _)) if *bp > p => {}
                        _ => best = Some((p, rule.capabilities.clone())),
                    }
                }
            }
        }
        match best {
            Some((_, caps)) if caps.contains("deny") => BTreeSet::new(),
            Some((_, caps)) => caps,
            None => BTreeSet::new(),
        }
    }
}

/// Fills templates; `{{group}}` yields one pattern per group. Values with glob characters or
/// slashes are skipped, so a claim cannot widen a rule.
fn expand(pattern: &str, identity: &Identity) -> Vec<String> {
    let safe = |v: &str| !v.is_empty() && !v.contains(['*', '+', '/']);
    let mut out = vec![pattern.to_owned()];
    if pattern.contains("{{username}}") {
        if !safe(&identity.username) {
            return Vec::new();
        }
        out = out
            .into_iter()
            .map(|p| p.replace("{{username}}", &identity.username))
            .collect();
    }
    if pattern.contains("{{group}}") {
        out = out
            .into_iter()
            .flat_map(|p| {
                identity
                    .groups
                    .iter()
                    .filter(|g| safe(g))
                    .map(move |g| p.replace("{{group}}", g))
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> Policies {
        let fixture: crate::config::fixtures::VaultFixture =
            toml::from_str(include_str!("../../fixtures/vault.toml")).unwrap();
        Policies::new(&fixture.policies)
    }

    #[test]
    fn onyxia_user_layout() {
        let p = policies();
        let alice = Identity {
            username: "alice".into(),
            groups: vec!["demo".into()],
        };
        let names = vec!["onyxia-user".to_owned()];
        let caps = |path: &str| p.capabilities(&names, &alice, path);
        assert!(caps("onyxia-kv/data/user-alice/db").contains("read"));
        assert!(caps("onyxia-kv/metadata/user-alice").contains("list"));
        assert!(caps("onyxia-kv/delete/user-alice/db").contains("update"));
        assert!(caps("onyxia-kv/data/projet-demo/x").contains("create"));
        assert!(caps("onyxia-kv/data/user-bob/db").is_empty());
        assert!(caps("onyxia-kv/data/user-alice2/db").is_empty());
        assert!(caps("secret/data/user-alice/db").is_empty());
        assert!(caps("onyxia-kv/data/projet-other/x").is_empty());
    }
}
