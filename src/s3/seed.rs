//! Buckets and objects from the fixtures, created once (a bucket a user deletes stays deleted).

use crate::config::fixtures::Fixtures;
use crate::objects::{ObjectError, ObjectHeaders, ObjectStore, PutSpec};

pub fn seed(objects: &ObjectStore, fixtures: &Fixtures) -> Result<(), ObjectError> {
    let mut buckets: Vec<(String, Option<String>)> = fixtures
        .s3
        .buckets
        .iter()
        .map(|b| (b.name.clone(), b.policy.clone()))
        .collect();
    if fixtures.s3.create_user_buckets {
        buckets.extend(
            fixtures
                .users
                .iter()
                .map(|u| (format!("user-{}", u.username.to_ascii_lowercase()), None)),
        );
        buckets.extend(
            fixtures
                .realm
                .groups
                .iter()
                .map(|g| (format!("projet-{}", g.name), None)),
        );
    }
    let done = objects.seeded()?;
    let mut created = Vec::new();
    for (name, policy) in buckets {
        let item = format!("bucket/{name}");
        if done.contains(&item) {
            continue;
        }
        created.push(item);
        match objects.create_bucket(&name, None) {
            Ok(())
            | Err(ObjectError::BucketAlreadyOwnedByYou)
            | Err(ObjectError::BucketAlreadyExists) => {}
            Err(ObjectError::InvalidBucketName(why)) => {
                tracing::warn!(
                    bucket = name,
                    why,
                    "not seeding a bucket whose name S3 refuses"
                );
                continue;
            }
            Err(e) => return Err(e),
        }
        if let Some(policy) = policy {
            objects.update_bucket(&name, |b| b.policy = Some(policy))?;
        }
    }
    for bucket in &fixtures.s3.buckets {
        for object in &bucket.objects {
            // A bucket a user deleted (or whose name S3 refused) gets no seeded objects.
            let item = format!("object/{}/{}", bucket.name, object.key);
            if done.contains(&item) || objects.bucket(&bucket.name).is_err() {
                continue;
            }
            created.push(item);
            let content = object
                .content
                .strip_prefix('\n')
                .unwrap_or(&object.content)
                .as_bytes()
                .to_vec();
            let spec = PutSpec {
                headers: ObjectHeaders {
                    content_type: Some(
                        object
                            .content_type
                            .clone()
                            .unwrap_or_else(|| "application/octet-stream".into()),
                    ),
                    ..Default::default()
                },
                ..Default::default()
            };
            objects.put_blocking(&bucket.name, &object.key, content, spec)?;
        }
    }
    objects.mark_seeded(&created)
}
