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
use serde_json::{Map, Value, json};

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
    /// Any other refusal with its own status and code (`email_taken`, `registration_closed`, …).
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
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
    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Refused {
            status,
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
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden
            | ApiError::FeatureDisabled { .. }
            | ApiError::LimitReached { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Refused { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Invalid { .. } => "invalid_input",
            ApiError::Refused { code, .. } => code,
            ApiError::FeatureDisabled { .. } => "feature_disabled",
            ApiError::LimitReached { .. } => "feature_limit_reached",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The JSON body: `{"error": {"code", "message", …details}}`.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.to_string()));
        match self {
            ApiError::Invalid { fields, .. } => {
                error.insert("fields".into(), json!(fields));
            }
            ApiError::FeatureDisabled { feature } => {
                error.insert("feature".into(), json!(feature));
            }
            ApiError::LimitReached {
                feature,
                limit,
                used,
                resets_at,
            } => {
                error.insert("feature".into(), json!(feature));
                error.insert("limit".into(), json!(limit));
                error.insert("used".into(), json!(used));
                error.insert("resets_at".into(), json!(resets_at));
            }
            ApiError::RateLimited { retry_after_secs } => {
                error.insert("retry_after".into(), json!(retry_after_secs));
            }
            _ => {}
        }
        json!({ "error": error })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(anyhow::Error::new(e))
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
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
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
            other => ApiError::refused(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
        } else {
            ApiError::refused(
                StatusCode::BAD_REQUEST,
                "bad_request",
                rejection.body_text(),
            )
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
