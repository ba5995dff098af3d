//! Which buckets `ListBuckets` shows a caller: those their policies reach.

use std::sync::Arc;

#[derive(Clone)]
pub struct VisibleBuckets(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl VisibleBuckets {
    pub fn new(filter: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        VisibleBuckets(Arc::new(filter))
    }
    pub fn all() -> Self {
        Self::new(|_| true)
    }
    pub fn none() -> Self {
        Self::new(|_| false)
    }
    pub fn allows(&self, bucket: &str) -> bool {
        (self.0)(bucket)
    }
}
