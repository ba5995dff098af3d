//! Work that outlives the request that started it (a service's deploy after its install
//! answered), tracked so that shutdown waits for it, for a while, then cancels what is left.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::{JoinError, JoinSet};

/// Tasks running in the background of their owner. Cancelled when dropped.
pub struct Tasks {
    /// `None` once shut down: nothing new starts.
    running: Mutex<Option<JoinSet<()>>>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            running: Mutex::new(Some(JoinSet::new())),
        }
    }
}

impl Tasks {
    /// Runs `task` in the background. After [`Tasks::shutdown`] began, `task` is dropped
    /// unstarted and `false` returned.
    pub fn spawn(
        &self,
        what: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> bool {
        let mut running = crate::sync::lock(&self.running);
        let Some(running) = running.as_mut() else {
            tracing::debug!(what, "not started: shutting down");
            return false;
        };
        // Finished tasks are reaped here, so the set holds only those still running.
        while let Some(done) = running.try_join_next() {
            report(done);
        }
        running.spawn(task);
        true
    }

    /// How many tasks are running.
    #[cfg(test)]
    fn running(&self) -> usize {
        let mut running = crate::sync::lock(&self.running);
        let Some(running) = running.as_mut() else {
            return 0;
        };
        while let Some(done) = running.try_join_next() {
            report(done);
        }
        running.len()
    }

    /// Stops taking tasks, waits at most `grace` for those running, then cancels the rest and
    /// waits for them to be dropped. Returns how many were cancelled.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let Some(mut running) = crate::sync::lock(&self.running).take() else {
            return 0;
        };
        let finished = tokio::time::timeout(grace, async {
            while let Some(done) = running.join_next().await {
                report(done);
            }
        })
        .await;
        if finished.is_ok() {
            return 0;
        }
        let cancelled = running.len();
        running.shutdown().await;
        cancelled
    }
}

/// A task that panicked is logged; one cancelled at shutdown is not news.
fn report(done: Result<(), JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "a background task panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn shutdown_waits_for_running_tasks() {
        let tasks = Tasks::default();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        assert!(tasks.spawn("test", async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        }));
        assert_eq!(tasks.running(), 1);
        assert_eq!(tasks.shutdown(Duration::from_secs(10)).await, 0);
        assert!(done.load(Ordering::SeqCst));
        assert!(
            !tasks.spawn("late", async {}),
            "nothing starts after shutdown"
        );
    }

    #[tokio::test]
    async fn shutdown_cancels_what_outlives_the_grace() {
        let tasks = Tasks::default();
        let held = Arc::new(());
        let mine = held.clone();
        tasks.spawn("stuck", async move {
            let _mine = mine;
            std::future::pending::<()>().await;
        });
        assert_eq!(tasks.shutdown(Duration::from_millis(50)).await, 1);
        assert_eq!(
            Arc::strong_count(&held),
            1,
            "the cancelled task was dropped"
        );
    }

    #[tokio::test]
    async fn finished_tasks_are_reaped() {
        let tasks = Tasks::default();
        tasks.spawn("quick", async {});
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(tasks.running(), 0);
    }
}
