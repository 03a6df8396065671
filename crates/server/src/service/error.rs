//! The errors of the service functions: every refusal has a stable [`ErrorCode`], a message
//! for people and, for some codes, details (the fields of `invalid_input`, the limit of
//! `feature_limit_reached`, …). The API answers them as `{"error": {"code", "message", …}}`
//! with the code's HTTP status (`crate::error`); the pages show them in words.

use std::collections::BTreeMap;

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

            /// The HTTP status the API answers this code with (part of the code's contract).
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => axum::http::StatusCode::$status.as_u16(),)*
                }
            }
        }
    };
}

error_codes! {
    /// The request could not be read (a broken body, a malformed header).
    BadRequest = "bad_request" => BAD_REQUEST,
    /// A webhook whose `Stripe-Signature` does not verify (or is older than 300 s).
    InvalidSignature = "invalid_signature" => BAD_REQUEST,
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
    /// A subscription price while a subscription runs (passes may be bought any time).
    SubscriptionActive = "subscription_active" => CONFLICT,
    /// The billing portal for a profile that never bought anything.
    NoBillingAccount = "no_billing_account" => CONFLICT,
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
    /// Stripe failed or did not answer in time; nothing changed.
    BillingFailed = "billing_failed" => BAD_GATEWAY,
    /// Payments are not configured (no Stripe keys).
    BillingUnavailable = "billing_unavailable" => SERVICE_UNAVAILABLE,
    /// The database cannot be reached or went away mid-request (readiness, and requests
    /// during an outage); nothing was half-done. With `Retry-After`.
    Unavailable = "unavailable" => SERVICE_UNAVAILABLE,
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
pub enum Error {
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
    /// The password that confirms a grave step (deleting the account) is wrong: the code of
    /// a failed sign-in, `invalid_credentials`, with 403 — the person is signed in (API.md).
    #[error("the password is wrong")]
    NotConfirmed,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Refused {
            code,
            message: message.into(),
        }
    }

    /// 422 `invalid_input` naming one field.
    pub fn field(name: &str, why: impl Into<String>) -> Self {
        let why = why.into();
        Error::Invalid {
            message: format!("{name}: {why}"),
            fields: BTreeMap::from([(name.to_owned(), why)]),
        }
    }

    /// The HTTP status of this error: its code's, but for [`Error::NotConfirmed`].
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotConfirmed => axum::http::StatusCode::FORBIDDEN.as_u16(),
            _ => self.code().http_status(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthenticated => ErrorCode::Unauthenticated,
            Error::Forbidden => ErrorCode::Forbidden,
            Error::NotFound => ErrorCode::NotFound,
            Error::Invalid { .. } => ErrorCode::InvalidInput,
            Error::Refused { code, .. } => *code,
            Error::FeatureDisabled { .. } => ErrorCode::FeatureDisabled,
            Error::LimitReached { .. } => ErrorCode::FeatureLimitReached,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::NotConfirmed => ErrorCode::InvalidCredentials,
            Error::Internal(_) => ErrorCode::Internal,
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
            Error::Invalid { fields, .. } => detail.fields = Some(fields.clone()),
            Error::FeatureDisabled { feature } => detail.feature = Some(feature.clone()),
            Error::LimitReached {
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
            Error::RateLimited { retry_after_secs } => {
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
/// a database that fails or does not answer is 503 `unavailable` or a logged
/// 500 — never 4xx, so a client never mistakes an outage for its own mistake.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyMismatch => Error::refused(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ),
            StoreError::LastAdmin => {
                Error::refused(ErrorCode::LastAdmin, "this is the only active admin")
            }
            e if e.is_unavailable() => {
                tracing::error!(error = %e, "the database does not answer");
                Error::refused(
                    ErrorCode::Unavailable,
                    "the database does not answer; try again shortly",
                )
            }
            e => Error::Internal(anyhow::Error::new(e)),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A field's value checked by its domain type, or 422 `invalid_input` naming the field with
/// the type's reason: `let note = field("note", Note::parse_optional(raw))?;`.
pub fn field<T, E: std::fmt::Display>(name: &str, checked: std::result::Result<T, E>) -> Result<T> {
    checked.map_err(|why| Error::field(name, why.to_string()))
}
