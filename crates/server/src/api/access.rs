//! The feature gate as seen by a profile: what it may do, and metered consumption.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::error::ErrorBody;
use crate::api::error::{Error, Json, Path, Result};
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::access::{self, ConsumeAnswer};
use crate::service::access::{AccessList, AccessView};

/// Every feature with its limit, usage and next reset.
#[utoipa::path(get, path = "/me/access", tag = "access",
    responses((status = 200, body = AccessList),
              (status = 401, description = "unauthenticated", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<AccessList>> {
    let (effective_tier, features) = access::access_list(&state, &user.profile).await?;
    Ok(Json(AccessList {
        effective_tier,
        features,
    }))
}

/// One feature.
#[utoipa::path(get, path = "/me/access/{feature}", tag = "access",
    params(("feature" = String, Path, description = "feature id")),
    responses((status = 200, body = AccessView),
              (status = 404, description = "not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(feature): Path<String>,
) -> Result<Json<AccessView>> {
    Ok(Json(
        access::access_one(&state, &user.profile, &feature).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeBody {
    /// Units to spend (default 1).
    #[schema(minimum = 1, maximum = 1000000)]
    pub amount: Option<i64>,
}

/// Spend units of a feature, exactly: racing requests never exceed the limit.
///
/// With an `Idempotency-Key` header, a retried request is counted once and answers as
/// the first did.
#[utoipa::path(post, path = "/me/access/{feature}/consume", tag = "access",
    params(("feature" = String, Path, description = "feature id"),
           ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body(content = Option<ConsumeBody>, description = "`{\"amount\": 1}`; the body may be omitted"),
    responses((status = 200, body = AccessView),
              (status = 403, description = "feature_disabled, feature_limit_reached or email_not_verified", body = ErrorBody),
              (status = 404, description = "not_found", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn consume(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    Path(feature): Path<String>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response> {
    // A body over the limit answers 413 in the API's error shape.
    let body = body?;
    crate::http::csrf::require_body_or_bearer(&user, &body)?;
    // The body is optional: empty means `{"amount": 1}`.
    let amount = if body.iter().all(u8::is_ascii_whitespace) {
        1
    } else {
        if !crate::api::error::is_json(&headers) {
            return Err(Error::not_json());
        }
        let parsed: ConsumeBody =
            serde_json::from_slice(&body).map_err(|e| Error::field("body", e.to_string()))?;
        parsed.amount.unwrap_or(1)
    };
    if !(1..=1_000_000).contains(&amount) {
        return Err(Error::field(
            "amount",
            "must be an integer from 1 to 1000000",
        ));
    }
    let key = crate::api::idempotency::idempotency_key(&headers)?;
    match access::consume(&state, &user.profile, &feature, amount, key.as_ref(), ip).await? {
        ConsumeAnswer::Fresh(view) => Ok(Json(view).into_response()),
        ConsumeAnswer::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            Ok((status, Json(stored.body)).into_response())
        }
    }
}
