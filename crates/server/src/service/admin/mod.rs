//! What the admin API and the admin pages do: one function per admin action, so the
//! rules of each are written once. Handlers parse and map; these check, store and log.

use chrono::{DateTime, Datelike, Utc};

use crate::service::Error;

pub mod activity_log;
pub mod coupons;
pub mod features;
pub mod grants;
pub mod limits;
pub mod mail;
pub mod settings;
pub mod stats;
pub mod tiers;
pub mod users;

/// Ids of features and tiers: a lowercase slug.
pub fn check_slug(field: &str, id: &str) -> Result<(), Error> {
    let mut chars = id.chars();
    let ok = id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            "must be a slug: a lowercase letter, then lowercase letters, digits or _ (at most 64)",
        ))
    }
}

/// A limit as given by an admin: `null` (unlimited), 0 (disabled) or a positive count.
pub fn check_limit(field: &str, limit: Option<i64>) -> Result<Option<i64>, Error> {
    match limit {
        Some(n) if !(0..=1_000_000_000_000).contains(&n) => Err(Error::field(
            field,
            "must be null or an integer from 0 to 10^12",
        )),
        other => Ok(other),
    }
}

/// Checks an instant given by an admin: years 1970 to 9999, which both backends store
/// and read back (SQLite keeps fixed-width RFC 3339 text; PostgreSQL has no year < -4713).
pub fn check_instant(field: &str, instant: DateTime<Utc>) -> Result<(), Error> {
    if (1970..=9999).contains(&instant.year()) {
        Ok(())
    } else {
        Err(Error::field(
            field,
            "must be between 1970-01-01 and 9999-12-31",
        ))
    }
}
