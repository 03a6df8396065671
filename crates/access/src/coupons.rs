//! Coupon rules: code normalisation and generation, and what a redemption grants.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::period::start_of_local_day;

/// Crockford's base32 alphabet: no I, L, O, U, so codes read aloud and typed well.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a generated code: 12 × 5 bits = 60 bits of randomness.
pub const GENERATED_LEN: usize = 12;

/// The form codes are compared in: upper case, spaces and dashes removed. Returns `None`
/// for a code that cannot be a code (empty, too long, or with other characters).
pub fn normalize_code(code: &str) -> Option<String> {
    let normalized: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = !normalized.is_empty()
        && normalized.len() <= 64
        && normalized
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(normalized)
}

/// A generated code from 8 random bytes (the top 60 bits are used), in Crockford base32.
pub fn code_from_random(random: [u8; 8]) -> String {
    let mut n = u64::from_be_bytes(random) >> 4;
    let mut out = [0u8; GENERATED_LEN];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(n & 31) as usize];
        n >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

/// A code shown in groups of four: `ABCD-EFGH-JKMN`.
pub fn display_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The calendar month (in `tz`) of an instant, as `YYYY-MM`: the Wellpass period key.
pub fn month_key(tz: Tz, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&tz);
    format!("{:04}-{:02}", local.year(), local.month())
}

/// The end of the Wellpass access that a redemption at `now` gives: the start of the next
/// local calendar month plus `grace_days`.
pub fn wellpass_ends_at(tz: Tz, now: DateTime<Utc>, grace_days: i64) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).date_naive();
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    start_of_local_day(tz, next) + TimeDelta::days(grace_days.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_case_spaces_and_dashes() {
        assert_eq!(
            normalize_code(" abcd-efgh jkmn "),
            Some("ABCDEFGHJKMN".into())
        );
        assert_eq!(normalize_code("Summer-2026"), normalize_code("SUMMER 2026"));
        assert_eq!(normalize_code("--"), None);
        assert_eq!(normalize_code("a;b"), None);
        assert_eq!(normalize_code(&"x".repeat(65)), None);
    }

    #[test]
    fn generated_codes_are_12_crockford_characters() {
        let code = code_from_random([0xff; 8]);
        assert_eq!(code, "ZZZZZZZZZZZZ");
        assert_eq!(code_from_random([0; 8]), "000000000000");
        let code = code_from_random([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(code.len(), GENERATED_LEN);
        assert!(code.bytes().all(|b| CROCKFORD.contains(&b)));
        assert_eq!(normalize_code(&display_code(&code)), Some(code));
    }

    #[test]
    fn wellpass_runs_to_the_end_of_the_local_month_plus_grace() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = DateTime::parse_from_rfc3339("2027-01-31T23:30:00Z")
            .unwrap()
            .to_utc();
        // Already February in Berlin.
        assert_eq!(month_key(tz, now), "2027-02");
        let ends = wellpass_ends_at(tz, now, 3);
        assert_eq!(
            ends,
            DateTime::parse_from_rfc3339("2027-03-03T23:00:00Z")
                .unwrap()
                .to_utc()
        );
    }
}
