//! Canned ACLs. A bucket and its objects have one owner here, so an ACL says only what that
//! owner grants everyone: `private` (nothing), `public-read`, `public-read-write` or
//! `authenticated-read` (the owner-only names mean `private`). They are kept by name on buckets
//! and objects and add to what policies allow; a policy's explicit Deny still wins. ACLs that
//! name other grantees are refused (MinIO's answer): there are no other account owners to name.

use s3s::dto::{AccessControlPolicy, Grant, Grantee, Owner, Permission, Type};
use s3s::{S3Result, s3_error};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canned {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
}

/// What an ACL's READ lets a grantee do on a bucket (list it), and WRITE (write its objects).
const BUCKET_READ: [&str; 3] = [
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
];
const BUCKET_WRITE: [&str; 4] = [
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
];
/// What an object's READ lets a grantee do.
const OBJECT_READ: [&str; 2] = ["s3:GetObject", "s3:GetObjectVersion"];

fn not_supported(what: &str) -> s3s::S3Error {
    s3_error!(
        NotImplemented,
        "{what}: only the canned ACLs private, public-read, public-read-write and authenticated-read are supported"
    )
}

impl Canned {
    /// A canned ACL by its `x-amz-acl` name.
    pub fn parse(name: &str) -> S3Result<Canned> {
        Ok(match name {
            "private" | "bucket-owner-read" | "bucket-owner-full-control" => Canned::Private,
            "public-read" => Canned::PublicRead,
            "public-read-write" => Canned::PublicReadWrite,
            "authenticated-read" => Canned::AuthenticatedRead,
            "aws-exec-read" | "log-delivery-write" => return Err(not_supported(name)),
            other => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Invalid canned ACL `{other}` in x-amz-acl"
                ));
            }
        })
    }

    /// The ACL stored as `name` (none, or a name no longer known, is private).
    pub fn of(stored: Option<&str>) -> Canned {
        stored
            .and_then(|name| Canned::parse(name).ok())
            .unwrap_or(Canned::Private)
    }

    /// The name to store: none for private.
    pub fn stored(self) -> Option<String> {
        let name = match self {
            Canned::Private => return None,
            Canned::PublicRead => "public-read",
            Canned::PublicReadWrite => "public-read-write",
            Canned::AuthenticatedRead => "authenticated-read",
        };
        Some(name.to_owned())
    }

    /// The grants `GetBucketAcl` and `GetObjectAcl` show: the owner's full control, then the
    /// groups'.
    pub fn grants(self, owner: &Owner) -> Vec<Grant> {
        let user = Grantee {
            display_name: owner.display_name.clone(),
            id: owner.id.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        };
        let group = |uri: &str| Grantee {
            type_: Type::from_static(Type::GROUP),
            uri: Some(uri.to_owned()),
            display_name: None,
            email_address: None,
            id: None,
        };
        let grant = |grantee: Grantee, permission: &'static str| Grant {
            grantee: Some(grantee),
            permission: Some(Permission::from_static(permission)),
        };
        let mut grants = vec![grant(user, Permission::FULL_CONTROL)];
        match self {
            Canned::Private => {}
            Canned::PublicRead => grants.push(grant(group(ALL_USERS), Permission::READ)),
            Canned::PublicReadWrite => {
                grants.push(grant(group(ALL_USERS), Permission::READ));
                grants.push(grant(group(ALL_USERS), Permission::WRITE));
            }
            Canned::AuthenticatedRead => {
                grants.push(grant(group(AUTHENTICATED_USERS), Permission::READ));
            }
        }
        grants
    }

    /// The canned ACL an `AccessControlPolicy` document spells out grant by grant (what
    /// `GetBucketAcl` answered, edited and sent back); any other grant is refused.
    pub fn from_policy(policy: &AccessControlPolicy, owner: Option<&str>) -> S3Result<Canned> {
        let mut groups: Vec<(&str, &str)> = Vec::new();
        for grant in policy.grants.iter().flatten() {
            let (Some(grantee), Some(permission)) = (&grant.grantee, &grant.permission) else {
                return Err(s3_error!(
                    MalformedACLError,
                    "A grant has no grantee or permission"
                ));
            };
            let permission = permission.as_str();
            match (grantee.type_.as_str(), grantee.uri.as_deref()) {
                (Type::GROUP, Some(uri)) if uri == ALL_USERS || uri == AUTHENTICATED_USERS => {
                    groups.push((uri, permission));
                }
                (Type::CANONICAL_USER, _)
                    if permission == Permission::FULL_CONTROL
                        && (grantee.id.as_deref() == owner || owner.is_none()) => {}
                _ => return Err(not_supported("a grant to another grantee")),
            }
        }
        groups.sort_unstable();
        groups.dedup();
        Ok(match groups.as_slice() {
            [] => Canned::Private,
            [(ALL_USERS, Permission::READ)] => Canned::PublicRead,
            [
                (ALL_USERS, Permission::READ),
                (ALL_USERS, Permission::WRITE),
            ] => Canned::PublicReadWrite,
            [(AUTHENTICATED_USERS, Permission::READ)] => Canned::AuthenticatedRead,
            _ => return Err(not_supported("these group grants")),
        })
    }

    /// Whether the ACL reaches this caller: everyone for the public ACLs, signed-in callers
    /// for `authenticated-read`.
    fn reaches(self, anonymous: bool) -> bool {
        match self {
            Canned::Private => false,
            Canned::PublicRead | Canned::PublicReadWrite => true,
            Canned::AuthenticatedRead => !anonymous,
        }
    }

    /// Whether a bucket's ACL lets the caller do `action` on the bucket or its objects.
    pub fn bucket_allows(self, anonymous: bool, action: &str) -> bool {
        self.reaches(anonymous)
            && (BUCKET_READ.contains(&action)
                || (self == Canned::PublicReadWrite && BUCKET_WRITE.contains(&action)))
    }

    /// Whether an object's ACL lets the caller do `action` on it.
    pub fn object_allows(self, anonymous: bool, action: &str) -> bool {
        self.reaches(anonymous) && OBJECT_READ.contains(&action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            display_name: Some("alice".into()),
            id: Some("alice".into()),
        }
    }

    #[test]
    fn documents_round_trip_to_their_canned_acl() {
        for canned in [
            Canned::Private,
            Canned::PublicRead,
            Canned::PublicReadWrite,
            Canned::AuthenticatedRead,
        ] {
            let policy = AccessControlPolicy {
                grants: Some(canned.grants(&owner())),
                owner: Some(owner()),
            };
            assert_eq!(Canned::from_policy(&policy, Some("alice")).unwrap(), canned);
            assert_eq!(Canned::of(canned.stored().as_deref()), canned);
        }
        let mut other = Canned::Private.grants(&owner());
        other[0].grantee.as_mut().unwrap().id = Some("bob".into());
        let policy = AccessControlPolicy {
            grants: Some(other),
            owner: Some(owner()),
        };
        let refused = Canned::from_policy(&policy, Some("alice")).unwrap_err();
        assert_eq!(*refused.code(), s3s::S3ErrorCode::NotImplemented);
        assert!(Canned::parse("nonsense").is_err());
    }

    #[test]
    fn what_each_acl_lets_whom_do() {
        let public = Canned::PublicRead;
        assert!(public.bucket_allows(true, "s3:ListBucket"));
        assert!(!public.bucket_allows(true, "s3:PutObject"));
        assert!(Canned::PublicReadWrite.bucket_allows(true, "s3:PutObject"));
        assert!(public.object_allows(true, "s3:GetObject"));
        assert!(!public.object_allows(true, "s3:DeleteObject"));
        let signed_in = Canned::AuthenticatedRead;
        assert!(!signed_in.object_allows(true, "s3:GetObject"));
        assert!(signed_in.object_allows(false, "s3:GetObject"));
        assert!(!Canned::Private.bucket_allows(false, "s3:ListBucket"));
    }
}
