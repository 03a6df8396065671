//! The tracked data: `/api/<type>` and `/api/<type>/{id}` for weight, circumference,
//! caliper, nutrition and activity. The five types have the same five routes, so one
//! macro writes them (each with its own OpenAPI description) around the generic service.

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Query, Result};
use crate::api::idempotency::idempotency_key;
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::entries::kinds::*;
use crate::service::entries::{self, CreateAnswer, ListArgs};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// `from`, `to` (dates, inclusive), `limit` (default 50, max 500) and `cursor`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntryListParams {
    /// Entries dated on or after this day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Entries dated on or before this day (`YYYY-MM-DD`).
    pub to: Option<String>,
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

async fn create<T: EntryType>(
    state: AppState,
    user: CurrentUser,
    ip: Option<String>,
    headers: HeaderMap,
    body: Value,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    match entries::create::<T>(&state, &user.profile, body, key.as_ref(), ip).await? {
        CreateAnswer::Created(view) => {
            Ok((StatusCode::CREATED, Json(EntryEnvelope { entry: view })).into_response())
        }
        CreateAnswer::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
            Ok((status, Json(stored.body)).into_response())
        }
    }
}

async fn list<T: EntryType>(
    state: AppState,
    user: CurrentUser,
    params: EntryListParams,
) -> Result<Json<Page<T::View>>> {
    let args = ListArgs::parse(
        params.from.as_deref(),
        params.to.as_deref(),
        params.limit,
        params.cursor.as_deref(),
    )?;
    let (items, next_cursor) = entries::list::<T>(&state, &user.profile, args).await?;
    Ok(Json(Page { items, next_cursor }))
}

async fn one<T: EntryType>(
    state: AppState,
    user: CurrentUser,
    id: Uuid,
) -> Result<Json<EntryEnvelope<T::View>>> {
    let entry = entries::get::<T>(&state, &user.profile, id).await?;
    Ok(Json(EntryEnvelope {
        entry: T::view(&entry),
    }))
}

async fn update<T: EntryType>(
    state: AppState,
    user: CurrentUser,
    id: Uuid,
    patch: Value,
) -> Result<Json<EntryEnvelope<T::View>>> {
    let entry = entries::update::<T>(&state, &user.profile, id, patch).await?;
    Ok(Json(EntryEnvelope { entry }))
}

async fn delete<T: EntryType>(state: AppState, user: CurrentUser, id: Uuid) -> Result<StatusCode> {
    entries::delete::<T>(&state, &user.profile, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The five routes of one entry type, in a module named after it.
macro_rules! entry_routes {
    ($module:ident, $type:ident, $input:ident, $view:ident, $what:literal) => {
        pub mod $module {
            use super::*;

            #[utoipa::path(post, path = concat!("/", stringify!($module)), tag = "data",
                operation_id = concat!("create_", stringify!($module)),
                summary = concat!("Create a ", $what, " entry; spends 1 of the `", stringify!($module), "` feature"),
                description = "The spend and the insert commit together: over the limit nothing is \
                    written. With an `Idempotency-Key`, a retried request creates one entry and \
                    answers as the first did (the same key with another body → 422 \
                    `idempotency_key_reused`).",
                params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
                request_body = $input,
                responses((status = 201, body = EntryEnvelope<$view>),
                          (status = 403, description = "feature_limit_reached (with feature, limit, used, resets_at), feature_disabled or email_not_verified", body = ErrorBody),
                          (status = 422, description = "invalid_input, the fields named", body = ErrorBody)),
                security(("bearer" = [])))]
            pub async fn create(
                State(state): State<AppState>,
                user: CurrentUser,
                ClientIp(ip): ClientIp,
                headers: HeaderMap,
                Json(body): Json<Value>,
            ) -> Result<Response> {
                super::create::<$type>(state, user, ip, headers, body).await
            }

            #[utoipa::path(get, path = concat!("/", stringify!($module)), tag = "data",
                operation_id = concat!("list_", stringify!($module)),
                summary = concat!("The profile's ", $what, " entries, newest first"),
                params(EntryListParams),
                responses((status = 200, body = Page<$view>),
                          (status = 422, description = "invalid_input", body = ErrorBody)),
                security(("bearer" = [])))]
            pub async fn list(
                State(state): State<AppState>,
                user: CurrentUser,
                Query(params): Query<EntryListParams>,
            ) -> Result<Json<Page<$view>>> {
                super::list::<$type>(state, user, params).await
            }

            #[utoipa::path(get, path = concat!("/", stringify!($module), "/{id}"), tag = "data",
                operation_id = concat!("get_", stringify!($module)),
                summary = concat!("One ", $what, " entry"),
                params(("id" = Uuid, Path, description = "entry id")),
                responses((status = 200, body = EntryEnvelope<$view>),
                          (status = 404, description = "not_found (also another profile's entry)", body = ErrorBody)),
                security(("bearer" = [])))]
            pub async fn one(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
            ) -> Result<Json<EntryEnvelope<$view>>> {
                super::one::<$type>(state, user, id).await
            }

            #[utoipa::path(patch, path = concat!("/", stringify!($module), "/{id}"), tag = "data",
                operation_id = concat!("update_", stringify!($module)),
                summary = concat!("Change fields of a ", $what, " entry; spends nothing"),
                description = "Send the fields to change (`null` clears an optional one); the \
                    result is checked like a create.",
                params(("id" = Uuid, Path, description = "entry id")),
                request_body(content = $input, description = "any subset of the fields"),
                responses((status = 200, body = EntryEnvelope<$view>),
                          (status = 404, description = "not_found", body = ErrorBody),
                          (status = 422, description = "invalid_input", body = ErrorBody)),
                security(("bearer" = [])))]
            pub async fn update(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
                Json(patch): Json<Value>,
            ) -> Result<Json<EntryEnvelope<$view>>> {
                super::update::<$type>(state, user, id, patch).await
            }

            #[utoipa::path(delete, path = concat!("/", stringify!($module), "/{id}"), tag = "data",
                operation_id = concat!("delete_", stringify!($module)),
                summary = concat!("Delete a ", $what, " entry (the spent unit stays spent)"),
                params(("id" = Uuid, Path, description = "entry id")),
                responses((status = 204, description = "deleted"),
                          (status = 404, description = "not_found", body = ErrorBody)),
                security(("bearer" = [])))]
            pub async fn delete(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
            ) -> Result<StatusCode> {
                super::delete::<$type>(state, user, id).await
            }
        }
    };
}

entry_routes!(weight, WeightType, WeightInput, WeightView, "weight");

entry_routes!(
    circumference,
    CircumferenceType,
    CircumferenceInput,
    CircumferenceView,
    "circumference"
);

entry_routes!(caliper, CaliperType, CaliperInput, CaliperView, "caliper");

entry_routes!(
    nutrition,
    NutritionType,
    NutritionInput,
    NutritionView,
    "nutrition"
);

entry_routes!(
    activity,
    ActivityType,
    ActivityInput,
    ActivityView,
    "activity"
);

/// Every entry route, to be nested under `/api`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(weight::create, weight::list))
        .routes(routes!(weight::one, weight::update, weight::delete))
        .routes(routes!(circumference::create, circumference::list))
        .routes(routes!(
            circumference::one,
            circumference::update,
            circumference::delete
        ))
        .routes(routes!(caliper::create, caliper::list))
        .routes(routes!(caliper::one, caliper::update, caliper::delete))
        .routes(routes!(nutrition::create, nutrition::list))
        .routes(routes!(
            nutrition::one,
            nutrition::update,
            nutrition::delete
        ))
        .routes(routes!(activity::create, activity::list))
        .routes(routes!(activity::one, activity::update, activity::delete))
}
