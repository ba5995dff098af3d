//! Who sent an S3 request, as authorization resolved it.

/// Resolved once per request by `access.rs` and stored in the request's extensions.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The root keys: everything is allowed.
    Root,
    /// A static user from the fixtures, with its canned policies.
    User { name: String, policies: Vec<String> },
    /// STS temporary credentials of an OIDC user.
    Session {
        username: String,
        claims: serde_json::Map<String, serde_json::Value>,
        policies: Vec<String>,
    },
    /// No signature: only bucket policies can allow it.
    Anonymous,
}

impl Principal {
    /// The name recorded as a bucket's owner.
    pub fn name(&self) -> Option<String> {
        match self {
            Principal::Root => Some("root".into()),
            Principal::User { name, .. } => Some(name.clone()),
            Principal::Session { username, .. } => Some(username.clone()),
            Principal::Anonymous => None,
        }
    }
}
