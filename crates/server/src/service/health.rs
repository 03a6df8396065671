//! Whether this instance can serve: the database answers.

use super::{AppState, Error, ErrorCode, Result};

/// `Ok` when the database answers, else 503 `database_unavailable` (the cause is logged).
pub async fn ready(state: &AppState) -> Result<()> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        Error::refused(
            ErrorCode::DatabaseUnavailable,
            "the database does not answer",
        )
    })
}
