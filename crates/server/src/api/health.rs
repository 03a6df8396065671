//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::api::error::{Json, Result};
use crate::service::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The database answers"),
              (status = 503, description = "The database does not answer", body = crate::api::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>> {
    crate::service::health::ready(&state).await?;
    Ok(Json(json!({ "status": "ok", "database": "ok" })))
}

/// Prometheus metrics of this instance.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&state.registry()),
    )
}
