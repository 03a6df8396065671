//! The one error type of the API and the extractors that route axum's own rejections
//! through it, so every failure answers `{"error": {"code", "message", …}}`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mitai_store::StoreError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Declares [`ErrorCode`]: every code of the API with its HTTP status, in one place.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:tt => $status:ident,)*) => {
        /// Every error code the API answers with, each with its one HTTP status. Clients
        /// branch on the code; the OpenAPI document lists these values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* #[serde(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    /// The request could not be read (a broken body, a malformed header).
    BadRequest = "bad_request" => BAD_REQUEST,
    /// An e-mailed token that is unknown, used or expired.
    InvalidToken = "invalid_token" => BAD_REQUEST,
    /// No session, or one that ended.
    Unauthenticated = "unauthenticated" => UNAUTHORIZED,
    /// Wrong e-mail or password at sign-in.
    InvalidCredentials = "invalid_credentials" => UNAUTHORIZED,
    /// Signed in, but not allowed (not an admin, a cross-origin request, …).
    Forbidden = "forbidden" => FORBIDDEN,
    /// The current password given to change it is wrong.
    WrongPassword = "wrong_password" => FORBIDDEN,
    AccountDisabled = "account_disabled" => FORBIDDEN,
    RegistrationClosed = "registration_closed" => FORBIDDEN,
    EmailNotVerified = "email_not_verified" => FORBIDDEN,
    FeatureDisabled = "feature_disabled" => FORBIDDEN,
    FeatureLimitReached = "feature_limit_reached" => FORBIDDEN,
    NotFound = "not_found" => NOT_FOUND,
    /// Unknown or inactive coupon code (the same answer for both).
    InvalidCoupon = "invalid_coupon" => NOT_FOUND,
    MethodNotAllowed = "method_not_allowed" => METHOD_NOT_ALLOWED,
    /// Another request changes the same thing right now; try again.
    Conflict = "conflict" => CONFLICT,
    EmailTaken = "email_taken" => CONFLICT,
    AlreadyVerified = "already_verified" => CONFLICT,
    CodeTaken = "code_taken" => CONFLICT,
    IdTaken = "id_taken" => CONFLICT,
    TierInUse = "tier_in_use" => CONFLICT,
    LastAdmin = "last_admin" => CONFLICT,
    CouponAlreadyRedeemed = "coupon_already_redeemed" => CONFLICT,
    GrantRevoked = "grant_revoked" => CONFLICT,
    GrantAlreadyPaused = "grant_already_paused" => CONFLICT,
    GrantNotPaused = "grant_not_paused" => CONFLICT,
    CouponExpired = "coupon_expired" => GONE,
    CouponExhausted = "coupon_exhausted" => GONE,
    PayloadTooLarge = "payload_too_large" => PAYLOAD_TOO_LARGE,
    UnsupportedMediaType = "unsupported_media_type" => UNSUPPORTED_MEDIA_TYPE,
    /// Malformed JSON or invalid fields; `fields` names each.
    InvalidInput = "invalid_input" => UNPROCESSABLE_ENTITY,
    IdempotencyKeyReused = "idempotency_key_reused" => UNPROCESSABLE_ENTITY,
    RateLimited = "rate_limited" => TOO_MANY_REQUESTS,
    /// A failure of the server itself (logged with the request id; no details).
    Internal = "internal" => INTERNAL_SERVER_ERROR,
    AiFailed = "ai_failed" => BAD_GATEWAY,
    AiUnavailable = "ai_unavailable" => SERVICE_UNAVAILABLE,
    /// The database does not answer (readiness, and requests during an outage).
    DatabaseUnavailable = "database_unavailable" => SERVICE_UNAVAILABLE,
    /// The request took longer than the server allows.
    Timeout = "timeout" => REQUEST_TIMEOUT,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every failure: `{"error": {"code", "message", …details}}`. The server
/// serialises exactly this type, and the OpenAPI document is generated from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// `code` is stable; the other fields appear with the codes that carry them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people; may change.
    pub message: String,
    /// `invalid_input`: why each named field was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// `feature_disabled`, `feature_limit_reached`: the feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// `feature_limit_reached`: the limit (`null` = unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub limit: Option<Option<i64>>,
    /// `feature_limit_reached`: the uses of this period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<i64>,
    /// `feature_limit_reached`: when the period resets (`null` = never).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub resets_at: Option<Option<DateTime<Utc>>>,
    /// `rate_limited`: seconds until a new attempt may pass (also `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// Everything a request can fail with. `code()` is stable; clients branch on it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        message: String,
        fields: BTreeMap<String, String>,
    },
    /// Any other refusal with its own code (`email_taken`, `registration_closed`, …).
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the feature {feature} is not available")]
    FeatureDisabled { feature: String },
    #[error("the limit of {feature} is reached")]
    LimitReached {
        feature: String,
        limit: Option<i64>,
        used: i64,
        resets_at: Option<DateTime<Utc>>,
    },
    #[error("too many attempts; try again later")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Refused {
            code,
            message: message.into(),
        }
    }

    /// 422 `invalid_input` naming one field.
    pub fn field(name: &str, why: impl Into<String>) -> Self {
        let why = why.into();
        ApiError::Invalid {
            message: format!("{name}: {why}"),
            fields: BTreeMap::from([(name.to_owned(), why)]),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated => ErrorCode::Unauthenticated,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::Invalid { .. } => ErrorCode::InvalidInput,
            ApiError::Refused { code, .. } => *code,
            ApiError::FeatureDisabled { .. } => ErrorCode::FeatureDisabled,
            ApiError::LimitReached { .. } => ErrorCode::FeatureLimitReached,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The typed body of this error.
    pub fn error_body(&self) -> ErrorBody {
        let mut detail = ErrorDetail {
            code: self.code(),
            message: self.to_string(),
            fields: None,
            feature: None,
            limit: None,
            used: None,
            resets_at: None,
            retry_after: None,
        };
        match self {
            ApiError::Invalid { fields, .. } => detail.fields = Some(fields.clone()),
            ApiError::FeatureDisabled { feature } => detail.feature = Some(feature.clone()),
            ApiError::LimitReached {
                feature,
                limit,
                used,
                resets_at,
            } => {
                detail.feature = Some(feature.clone());
                detail.limit = Some(*limit);
                detail.used = Some(*used);
                detail.resets_at = Some(*resets_at);
            }
            ApiError::RateLimited { retry_after_secs } => {
                detail.retry_after = Some(*retry_after_secs);
            }
            _ => {}
        }
        ErrorBody { error: detail }
    }

    /// The JSON body: `{"error": {"code", "message", …details}}`.
    pub fn body(&self) -> Value {
        serde_json::to_value(self.error_body()).unwrap_or(Value::Null)
    }
}

/// Store failures: the domain refusals the store reports map to their codes here, once;
/// a database that fails or does not answer is 503 `database_unavailable` or a logged
/// 500 — never 4xx, so a client never mistakes an outage for its own mistake.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyMismatch => ApiError::refused(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ),
            StoreError::LastAdmin => {
                ApiError::refused(ErrorCode::LastAdmin, "this is the only active admin")
            }
            e if e.is_unavailable() => {
                tracing::error!(error = %e, "the database does not answer");
                ApiError::refused(
                    ErrorCode::DatabaseUnavailable,
                    "the database does not answer; try again shortly",
                )
            }
            e => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // The cause goes to the log (inside the request's span, with its id), never
            // to the client.
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

impl ApiError {
    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    pub fn not_json() -> ApiError {
        ApiError::refused(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::not_json(),
            JsonRejection::JsonDataError(e) => ApiError::Invalid {
                message: e.body_text(),
                fields: BTreeMap::from([("body".to_owned(), e.body_text())]),
            },
            JsonRejection::JsonSyntaxError(e) => ApiError::Invalid {
                message: "the body is not valid JSON".into(),
                fields: BTreeMap::from([("body".to_owned(), e.body_text())]),
            },
            JsonRejection::BytesRejection(e) => e.into(),
            other => ApiError::refused(ErrorCode::BadRequest, other.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::refused(ErrorCode::PayloadTooLarge, "the request body is too large")
        } else {
            ApiError::refused(ErrorCode::BadRequest, rejection.body_text())
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // A path that does not parse names nothing that exists.
        ApiError::NotFound
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Invalid {
            message: rejection.body_text(),
            fields: BTreeMap::from([("query".to_owned(), rejection.body_text())]),
        }
    }
}

/// `axum::Json` whose rejections answer in the API's error shape. A body with a NUL
/// character (`\u0000`) in any string is refused: no text of the API may hold one, and
/// PostgreSQL cannot store it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::not_json());
        }
        let bytes = Bytes::from_request(req, state).await?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::field("body", "must not contain NUL characters"));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(value))
    }
}

/// Whether the request declares a JSON body: `application/json` or `application/*+json`,
/// with any parameters.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// Whether a JSON text holds the escape `\u0000` (the only way a valid JSON string can
/// carry NUL). Escaped backslashes are skipped, so `"\\u0000"` is not a NUL.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections answer 404 in the API's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` whose rejections answer 422 in the API's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

pub type ApiResult<T> = Result<T, ApiError>;

/// Deserialises a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::has_escaped_nul;

    #[test]
    fn finds_only_real_nul_escapes() {
        assert!(has_escaped_nul(br#"{"a": "x\u0000y"}"#));
        assert!(has_escaped_nul(br#"{"a\u0000": 1}"#));
        assert!(!has_escaped_nul(br#"{"a": "x\\u0000y"}"#));
        assert!(!has_escaped_nul(br#"{"a": "\u0001"}"#));
        assert!(!has_escaped_nul(br#"{"a": "\\"}"#));
        assert!(!has_escaped_nul(b"\\"));
    }
}
