//! The `Idempotency-Key` header of the writes that spend: checked as an
//! [`IdempotencyKey`] (1–200 visible ASCII characters), else 422 naming the header.

use axum::http::HeaderMap;
use mitai_access::text::IdempotencyKey;

use crate::service::{Error, Result, field};

/// The request's `Idempotency-Key`, if it sent one.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::field("Idempotency-Key", "must be visible ASCII"))?;
    Ok(Some(field(
        "Idempotency-Key",
        IdempotencyKey::parse(value),
    )?))
}
