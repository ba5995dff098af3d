//! Work that must not hold an async worker: redb write transactions (every commit fsyncs),
//! argon2, file installs. [`run`] moves a closure to tokio's blocking pool and waits for it,
//! so a handler awaits the disk instead of stalling every other request on its worker.

/// The blocking pool did not hand a result back: the closure panicked, or the runtime is
/// shutting down and cancelled it.
#[derive(Debug, thiserror::Error)]
#[error("work on the blocking pool did not finish: {0}")]
pub struct BlockingError(#[source] tokio::task::JoinError);

/// Runs `work` on the blocking pool and returns what it returned.
pub async fn run<T, F>(work: F) -> Result<T, BlockingError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(BlockingError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_result_and_turns_a_panic_into_an_error() {
        assert_eq!(run(|| 2 + 2).await.unwrap(), 4);
        let err = run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(std::error::Error::source(&err).is_some());
        assert!(err.to_string().starts_with("work on the blocking pool"));
    }
}
