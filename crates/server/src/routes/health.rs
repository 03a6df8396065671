//! Liveness and readiness.

use axum::extract::State;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ErrorCode, Json};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The database answers"),
              (status = 503, description = "The database does not answer", body = crate::api::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ok", "database": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::refused(
                ErrorCode::DatabaseUnavailable,
                "the database does not answer",
            ))
        }
    }
}
