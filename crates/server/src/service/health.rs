//! Whether this instance can serve: the database answers.

use super::{AppState, Error, ErrorCode, Result};

/// `Ok` when the database answers, else 503 `unavailable` (the cause is logged).
/// The check waits at most a second: a load balancer asks often and must hear "not
/// ready" during an outage, not wait for the pool's own timeout.
pub async fn ready(state: &AppState) -> Result<()> {
    let answered = tokio::time::timeout(std::time::Duration::from_secs(1), state.store.ping())
        .await
        .unwrap_or_else(|_| Err(mitai_store::StoreError::Database(sqlx_timeout())));
    answered.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        Error::refused(ErrorCode::Unavailable, "the database does not answer")
    })
}

fn sqlx_timeout() -> mitai_store::SqlxError {
    mitai_store::SqlxError::PoolTimedOut
}

/// How many connections the database was found to have ended so far (see
/// `mitai_store::lost`): a request that sees this change while it ran met one.
pub fn connections_lost() -> u64 {
    mitai_store::lost::deaths()
}

pub use mitai_store::lost::Attempt;

/// Runs `request` and answers what it did on the database: whether it met a dead
/// connection before anything it did could be kept, so that it may be sent once more.
pub async fn watch<F: std::future::Future>(request: F) -> (F::Output, Attempt) {
    mitai_store::lost::watch(request).await
}
