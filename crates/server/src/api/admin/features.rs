//! The feature registry.

use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use axum::extract::State;
use axum::http::StatusCode;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Result};
use crate::service::AppState;
use crate::service::admin::features;
use crate::service::admin::features::FeatureView;
use crate::service::admin::features::{FeaturePatch, NewFeatureBody};

/// All features, in display order.
#[utoipa::path(get, path = "/features", tag = "admin",
    responses((status = 200, body = Page<FeatureView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Json<Page<FeatureView>> {
    Json(Page {
        items: features::list(&state),
        next_cursor: None,
    })
}

/// Add a limitable feature (no schema change needed).
#[utoipa::path(post, path = "/features", tag = "admin", request_body = NewFeatureBody,
    responses((status = 201, body = FeatureView),
              (status = 409, description = "id_taken", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<NewFeatureBody>,
) -> Result<(StatusCode, Json<FeatureView>)> {
    let feature = features::create(&state, &admin.profile, ip, body).await?;
    Ok((StatusCode::CREATED, Json(feature)))
}

/// One feature.
#[utoipa::path(get, path = "/features/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = FeatureView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FeatureView>> {
    Ok(Json(features::get(&state, &id)?))
}

/// Change a feature; absent fields stay as they are.
#[utoipa::path(patch, path = "/features/{id}", tag = "admin",
    params(("id" = String, Path)), request_body = FeaturePatch,
    responses((status = 200, body = FeatureView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Json(body): Json<FeaturePatch>,
) -> Result<Json<FeatureView>> {
    let feature = features::update(&state, &admin.profile, ip, &id, body).await?;
    Ok(Json(feature))
}
