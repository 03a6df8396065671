//! The API's answer to a failed request: a service [`Error`] as `{"error": {"code",
//! "message", …}}` with its code's HTTP status, and the extractors that route axum's own
//! rejections (bad JSON, a bad path or query) through the same shape.

pub use crate::service::{Error, ErrorBody, ErrorCode, ErrorDetail, Result};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// The HTTP status of a service error.
pub fn status_of(e: &Error) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(cause) = &self {
            // The cause goes to the log (inside the request's span, with its id), never
            // to the client.
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut response = (status_of(&self), axum::Json(self.body())).into_response();
        match self {
            Error::RateLimited { retry_after_secs } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
            }
            e if e.code() == ErrorCode::Unavailable => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_OUTAGE));
            }
            _ => {}
        }
        response
    }
}

/// Seconds a client waits before trying again when the database is away: a restart or a
/// failover takes a few seconds.
pub const RETRY_AFTER_OUTAGE: u64 = 2;

impl Error {
    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    pub fn not_json() -> Error {
        Error::refused(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        )
    }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Error::not_json(),
            JsonRejection::JsonDataError(e) => Error::Invalid {
                message: e.body_text(),
                fields: BTreeMap::from([("body".to_owned(), e.body_text())]),
            },
            JsonRejection::JsonSyntaxError(e) => Error::Invalid {
                message: "the body is not valid JSON".into(),
                fields: BTreeMap::from([("body".to_owned(), e.body_text())]),
            },
            JsonRejection::BytesRejection(e) => e.into(),
            other => Error::refused(ErrorCode::BadRequest, other.body_text()),
        }
    }
}

impl From<BytesRejection> for Error {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::refused(ErrorCode::PayloadTooLarge, "the request body is too large")
        } else {
            Error::refused(ErrorCode::BadRequest, rejection.body_text())
        }
    }
}

impl From<PathRejection> for Error {
    fn from(_: PathRejection) -> Self {
        // A path that does not parse names nothing that exists.
        Error::NotFound
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        Error::Invalid {
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
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !is_json(req.headers()) {
            return Err(Error::not_json());
        }
        let bytes = Bytes::from_request(req, state).await?;
        if has_escaped_nul(&bytes) {
            return Err(Error::field("body", "must not contain NUL characters"));
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
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` whose rejections answer 422 in the API's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

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
