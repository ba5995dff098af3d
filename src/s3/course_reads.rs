//! Reads of course buckets judged for mounts (`classes::course::ReadAccess`): the decision a
//! request signed with the user's STS keys would get — their canned policies, then the
//! bucket's policy and ACLs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::access::Access;
use super::principal::Principal;
use crate::classes::course::{Judge, ReadAccess};

pub struct CourseReads {
    pub access: Access,
    /// The token claim naming a user's canned policies (as STS reads it).
    pub policy_claim: String,
}

impl ReadAccess for CourseReads {
    fn judge<'a>(&'a self, claims: &Map<String, Value>) -> Judge<'a> {
        let principal = Principal::Session {
            username: claims
                .get("preferred_username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            claims: claims.clone(),
            policies: crate::policy::names_in_claim(claims.get(&self.policy_claim)),
        };
        Box::new(move |action, resource| {
            self.access
                .permits(&principal, action, resource, BTreeMap::new())
        })
    }
}
