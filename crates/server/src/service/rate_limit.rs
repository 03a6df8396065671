//! Fixed-window rate limits on the store's shared counters (`rate_limit_hit` /
//! `rate_limit_count`), so every instance counts against the same limit.
//!
//! A window starts at a multiple of its length since the epoch; a refusal answers 429
//! `rate_limited` with `Retry-After` = the seconds left in the window that refused.

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// At most `max` attempts per `window` in the counter `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub bucket: String,
    pub max: i64,
    pub window: TimeDelta,
}

impl Limit {
    pub fn new(bucket: impl Into<String>, max: i64, window: TimeDelta) -> Limit {
        Limit {
            bucket: bucket.into(),
            max,
            window,
        }
    }

    fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let secs = self.window.num_seconds().max(1);
        let start = now.timestamp() - now.timestamp().rem_euclid(secs);
        DateTime::from_timestamp(start, 0).unwrap_or(now)
    }

    fn refused(&self, now: DateTime<Utc>) -> ApiError {
        let left = (self.window_start(now) + self.window - now).num_seconds();
        ApiError::RateLimited {
            retry_after_secs: u64::try_from(left.max(1)).unwrap_or(1),
        }
    }
}

/// A bucket name from a free-form key (an e-mail address, an IP), bounded in length.
pub fn key(prefix: &str, value: &str) -> String {
    let value: String = value.chars().take(256).collect();
    format!("{prefix}:{value}")
}

/// Refuses if any limit is used up in its current window; counts nothing. With
/// [`hit`] after a failure, concurrent attempts can pass the check together, so a limit
/// may be passed by the number of attempts in flight at once — never by more.
pub async fn check(state: &AppState, limits: &[Limit]) -> ApiResult<()> {
    let now = state.now();
    for limit in limits {
        let count = state
            .store
            .rate_limit_count(&limit.bucket, limit.window_start(now))
            .await?;
        if count >= limit.max {
            return Err(limit.refused(now));
        }
    }
    Ok(())
}

/// Counts one attempt against every limit.
pub async fn hit(state: &AppState, limits: &[Limit]) -> ApiResult<()> {
    let now = state.now();
    for limit in limits {
        state
            .store
            .rate_limit_hit(&limit.bucket, limit.window_start(now))
            .await?;
    }
    Ok(())
}

/// Counts this attempt against every limit and refuses it if that goes over one: exact
/// under concurrency (the counter is raised atomically before the decision). For
/// requests that count whatever their outcome.
pub async fn take(state: &AppState, limits: &[Limit]) -> ApiResult<()> {
    let now = state.now();
    let mut refused = None;
    for limit in limits {
        let count = state
            .store
            .rate_limit_hit(&limit.bucket, limit.window_start(now))
            .await?;
        if count > limit.max && refused.is_none() {
            refused = Some(limit.refused(now));
        }
    }
    refused.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_is_what_is_left() {
        let limit = Limit::new("b", 1, TimeDelta::minutes(15));
        let now = DateTime::parse_from_rfc3339("2030-01-01T10:20:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let start = limit.window_start(now);
        assert_eq!(start.to_rfc3339(), "2030-01-01T10:15:00+00:00");
        match limit.refused(now) {
            ApiError::RateLimited { retry_after_secs } => assert_eq!(retry_after_secs, 570),
            other => panic!("{other:?}"),
        }
        assert_eq!(key("login", &"x".repeat(300)).len(), "login:".len() + 256);
    }
}
