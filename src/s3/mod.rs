//! The S3 listener: an S3 service on s3s over the object store, with STS on the same port,
//! MinIO-style canned policies, bucket CORS, and seeding from fixtures.

pub mod access;
mod acl;
mod backend;
mod conditions;
mod cors;
mod course_reads;
mod errors;
pub mod keys;
mod ops_acl;
mod ops_attributes;
mod ops_bucket;
mod ops_lifecycle;
mod ops_lock;
mod ops_multipart;
mod ops_object;
mod ops_ownership;
mod ops_public;
mod ops_versions;
mod payload;
mod post_form;
pub mod principal;
mod seed;
mod spec;
mod sts;
mod visible;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::fixtures::Fixtures;
use crate::identity::verifier::Verifier;
use crate::objects::{ObjectError, ObjectStore};
use crate::policy::Policy;
use crate::store::Store;

pub use keys::KeyRing;

/// `<bucket>.<domain>` is virtual-host style; any other host is path style.
struct Hosts {
    domain: Option<String>,
}

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<VirtualHost<'a>> {
        let name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        if let Some(domain) = &self.domain
            && let Some(bucket) = name
                .strip_suffix(domain.as_str())
                .and_then(|h| h.strip_suffix('.'))
            && !bucket.is_empty()
        {
            return Ok(VirtualHost::new(host).with_bucket(bucket.to_owned()));
        }
        Ok(VirtualHost::new(host))
    }
}

/// Logs each S3 answer by what it means: a refusal (4xx) is the client's mistake and is logged
/// at debug level, a failure (5xx) at error level; either with a short excerpt of the path only.
async fn log_outcome(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = crate::markup::excerpt(request.uri().path());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::error!(%method, path, status, "S3 request failed");
    } else if response.status().is_client_error() {
        tracing::debug!(%method, path, status, "S3 request refused");
    }
    response
}

/// Applies the buckets' lifecycle rules every `period` (and once at start) until the platform
/// stops; the store's work runs on the blocking pool.
pub async fn lifecycle_sweeps(
    objects: Arc<ObjectStore>,
    clock: Clock,
    period: std::time::Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut tick = tokio::time::interval(period.max(std::time::Duration::from_secs(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let (objects, now) = (objects.clone(), clock.millis());
                let swept = crate::blocking::run(move || objects.apply_lifecycle(now))
                    .await
                    .map_err(|e| crate::markup::chain(&e))
                    .and_then(|outcome| outcome.map_err(|e| crate::markup::chain(&e)));
                match swept {
                    Ok(swept) if swept.expired + swept.removed_versions + swept.aborted > 0 => tracing::info!(
                        expired = swept.expired,
                        removed_versions = swept.removed_versions,
                        aborted = swept.aborted,
                        "lifecycle rules applied"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "cannot apply lifecycle rules"),
                }
            }
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    return Ok(());
                }
            }
        }
    }
}

/// What the rest of the platform keeps of the S3 part.
pub struct S3Part {
    pub router: Router,
    pub objects: Arc<ObjectStore>,
    pub keys: Arc<KeyRing>,
    /// Reads judged as S3 would, for course mounts.
    pub course_reads: Arc<dyn crate::classes::course::ReadAccess>,
}

/// Builds the S3 service: object store under `<data_dir>/objects`, keys, policies, STS.
pub fn build(
    config: &Config,
    fixtures: &Fixtures,
    verifier: Arc<Verifier>,
    store: Arc<Store>,
    data_dir: &Path,
    clock: Clock,
) -> Result<S3Part, ObjectError> {
    let objects = Arc::new(ObjectStore::open(
        store.clone(),
        &data_dir.join("objects"),
        config.s3.max_object_size,
        clock.clone(),
    )?);
    let policies: HashMap<String, Policy> = fixtures
        .s3
        .policies
        .iter()
        .filter_map(|(name, text)| Policy::parse(text).ok().map(|p| (name.clone(), p)))
        .collect();
    let keys = Arc::new(KeyRing::new(
        config.s3.root_access_key.clone(),
        config.s3.root_secret_key.expose().to_owned(),
        &fixtures.s3.users,
        policies,
        store,
        clock.clone(),
    ));
    seed::seed(&objects, fixtures)?;

    let backend = backend::S3Backend {
        objects: objects.clone(),
        region: config.s3.region.clone(),
    };
    let mut builder = S3ServiceBuilder::new(backend);
    // s3s reads a POST upload's file into memory before checking its policy: bound it (and
    // the layer that completes the form's key reads the same form).
    let post_limit = config
        .s3
        .max_post_object_size
        .min(config.s3.max_object_size);
    let mut s3s_config = s3s::config::S3Config::default();
    s3s_config.post_object_max_file_size = post_limit;
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        s3s_config,
    ))));
    builder.set_auth(access::Auth { keys: keys.clone() });
    builder.set_access(access::Access {
        keys: keys.clone(),
        objects: objects.clone(),
        region: config.s3.region.clone(),
    });
    builder.set_host(Hosts {
        domain: config.s3.domain.clone().filter(|d| !d.is_empty()),
    });
    builder.set_route(sts::Sts {
        verifier,
        clock: clock.clone(),
        keys: keys.clone(),
        client_id: config.s3.sts_client_id.clone(),
        max_duration: config.s3.sts_max_duration_seconds,
        policy_claim: config.s3.policy_claim.clone(),
    });
    let service = builder.build();
    let handled = axum::error_handling::HandleError::new(service, |e: s3s::HttpError| async move {
        tracing::error!(error = %crate::markup::excerpt(&format!("{e:?}")), "S3 request failed");
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )
    });
    let router = Router::new()
        .fallback_service(handled)
        .layer(axum::middleware::from_fn(payload::verify_documents))
        .layer(axum::middleware::from_fn(move |request, next| {
            post_form::complete_key(post_limit, request, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            cors::CorsState {
                objects: objects.clone(),
                domain: config.s3.domain.clone(),
            },
            cors::cors,
        ))
        .layer(axum::middleware::from_fn(log_outcome));
    let course_reads = Arc::new(course_reads::CourseReads {
        access: access::Access {
            keys: keys.clone(),
            objects: objects.clone(),
            region: config.s3.region.clone(),
        },
        policy_claim: config.s3.policy_claim.clone(),
    });
    Ok(S3Part {
        router,
        objects,
        keys,
        course_reads,
    })
}
