//! Fixed-window rate limits on the store's shared counters (`rate_limit_take` /
//! `rate_limit_refund`), so every instance counts against the same limit, and an attempt
//! is counted before it is checked.
//!
//! A window starts at a multiple of its length since the epoch; a refusal answers 429
//! `rate_limited` with `Retry-After` = the seconds left in the window that refused.

use chrono::{DateTime, TimeDelta, Utc};

use crate::service::AppState;
use crate::service::{Error, Result};

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

    fn refused(&self, now: DateTime<Utc>) -> Error {
        let left = (self.window_start(now) + self.window - now).num_seconds();
        Error::RateLimited {
            retry_after_secs: u64::try_from(left.max(1)).unwrap_or(1),
        }
    }
}

/// A bucket name from a free-form key (an e-mail address, an IP), bounded in length.
pub fn key(prefix: &str, value: &str) -> String {
    let value: String = value.chars().take(256).collect();
    format!("{prefix}:{value}")
}

/// Attempts reserved against their limits by [`reserve`]. An attempt that the policy does
/// not count (a successful login, a code that exists) is given back with [`Reserved::refund`];
/// otherwise it stays counted.
#[must_use = "an attempt is counted unless it is refunded"]
#[derive(Debug)]
pub struct Reserved {
    taken: Vec<(String, DateTime<Utc>)>,
}

impl Reserved {
    /// Gives the attempt back to every limit it was counted against. Best effort: a failure
    /// is logged and leaves the attempt counted (the safe side).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn refund(self, state: &AppState) {
        give_back(state, &self.taken).await;
    }
}

async fn give_back(state: &AppState, taken: &[(String, DateTime<Utc>)]) {
    for (bucket, window) in taken {
        if let Err(e) = state.store.rate_limit_refund(bucket, *window).await {
            tracing::warn!(error = %e, bucket, "rate-limit refund failed");
        }
    }
}

/// Counts this attempt against every limit *before* the work it guards, and refuses it
/// (429 `rate_limited`, counting nothing) when any limit is used up. Each count is one
/// atomic statement, so N attempts at once never pass more than a limit allows — on any
/// number of instances.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reserve(state: &AppState, limits: &[Limit]) -> Result<Reserved> {
    let now = state.now();
    let mut taken = Vec::with_capacity(limits.len());
    for limit in limits {
        let window = limit.window_start(now);
        let took = match state
            .store
            .rate_limit_take(&limit.bucket, window, limit.max)
            .await
        {
            Ok(took) => took,
            Err(e) => {
                give_back(state, &taken).await;
                return Err(e.into());
            }
        };
        if !took {
            give_back(state, &taken).await;
            return Err(limit.refused(now));
        }
        taken.push((limit.bucket.clone(), window));
    }
    Ok(Reserved { taken })
}

/// [`reserve`] for requests that count whatever their outcome (password-reset mails,
/// invitations, registrations): nothing is ever refunded.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn take(state: &AppState, limits: &[Limit]) -> Result<()> {
    let reserved = reserve(state, limits).await?;
    drop(reserved.taken);
    Ok(())
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
            Error::RateLimited { retry_after_secs } => assert_eq!(retry_after_secs, 570),
            other => panic!("{other:?}"),
        }
        assert_eq!(key("login", &"x".repeat(300)).len(), "login:".len() + 256);
    }
}
