//! Downloads of the profile's data: `/api/export/csv`, `/api/export/json`, `/api/export/zip`.

use crate::api::error::ErrorBody;
use crate::api::error::{Error, ErrorCode, Query, Result};
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::export::{self, Format};
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use mitai_access::EntryKind;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvParams {
    /// `weight`, `circumference`, `caliper`, `nutrition` or `activity`: that type's CSV.
    /// Without it: every type in one CSV with a `type` column.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

async fn download(
    state: AppState,
    user: CurrentUser,
    ip: Option<String>,
    method: Method,
    format: Format,
) -> Result<Response> {
    // axum answers HEAD with the GET handler; a HEAD must not spend an export.
    if method == Method::HEAD {
        return Err(Error::refused(
            ErrorCode::MethodNotAllowed,
            "exports are downloaded with GET",
        ));
    }
    let download = export::start(&state, &user.profile, format, ip).await?;
    crate::http::download::attachment(download, format)
}

/// Download entries as CSV; spends 1 of `export_csv`.
///
/// `?type=<entry type>` gives that type's CSV (`id, date, <the type's columns>, note,
/// created_at, updated_at`); without it, every type in one CSV with a leading `type` column
/// and the union of the columns. Entries oldest first; streamed.
#[utoipa::path(get, path = "/export/csv", tag = "data", params(CsvParams),
    responses((status = 200, description = "`attachment; filename=\"mitai-<type or all>-<date>.csv\"`",
               content_type = "text/csv", body = String),
              (status = 403, description = "feature_limit_reached, feature_disabled or email_not_verified; no file", body = ErrorBody),
              (status = 422, description = "invalid_input (type)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn csv(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    method: Method,
    Query(params): Query<CsvParams>,
) -> Result<Response> {
    let kind = match params.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(EntryKind::parse(k).ok_or_else(|| {
            Error::field(
                "type",
                "must be weight, circumference, caliper, nutrition or activity",
            )
        })?),
    };
    download(state, user, ip, method, Format::Csv(kind)).await
}

/// Download everything of the profile as one JSON document; spends 1 of `export_json`.
///
/// `{"format": "mitai-export", "version": 1, "exported_at", "profile", "weight": [...],
/// "circumference": [...], "caliper": [...], "nutrition": [...], "activity": [...],
/// "photos": [...], "ai_results": [...]}`; entries as the API shows them, oldest first.
#[utoipa::path(get, path = "/export/json", tag = "data",
    responses((status = 200, description = "`attachment; filename=\"mitai-all-<date>.json\"`",
               content_type = "application/json", body = Object),
              (status = 403, description = "feature_limit_reached, feature_disabled or email_not_verified; no file", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn json(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    method: Method,
) -> Result<Response> {
    download(state, user, ip, method, Format::Json).await
}

/// Download a zip of everything; spends 1 of `export_zip`.
///
/// Holds `<type>.csv` for each entry type, `mitai.json` (the JSON export) and
/// `photos/<id>.<ext>` for each photo; streamed.
#[utoipa::path(get, path = "/export/zip", tag = "data",
    responses((status = 200, description = "`attachment; filename=\"mitai-all-<date>.zip\"`",
               content_type = "application/zip", body = crate::api::FileBytes),
              (status = 403, description = "feature_limit_reached, feature_disabled or email_not_verified; no file", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn zip(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    method: Method,
) -> Result<Response> {
    download(state, user, ip, method, Format::Zip).await
}

/// The export routes, to be nested under `/api`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(csv))
        .routes(routes!(json))
        .routes(routes!(zip))
}
