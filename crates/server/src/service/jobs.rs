//! Housekeeping jobs, run on a schedule by `mitai serve`, once by `mitai jobs run`, and
//! on demand by `POST /api/test/jobs/run` under the test clock.

use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// What one round of jobs did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct JobReport {
    /// Expired sessions removed.
    pub sessions_purged: u64,
    /// Idempotency keys older than a day removed.
    pub idempotency_keys_purged: u64,
}

/// Runs every due job once. A failing job is logged and does not stop the others.
pub async fn run_due(state: &AppState) -> JobReport {
    let now = state.now();
    let mut report = JobReport::default();
    match state.store.purge_expired(now).await {
        Ok(purged) => {
            report.sessions_purged = purged.sessions;
            report.idempotency_keys_purged = purged.idempotency_keys;
        }
        Err(e) => tracing::error!(error = %e, job = "purge", "job failed"),
    }
    report
}
