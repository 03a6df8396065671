//! Reset periods and their boundaries.
//!
//! Usage is counted per *period bucket*: the bucket of an instant `t` starts at
//! [`period_start`] and ends (exclusive) at [`resets_at`]. Boundaries are local
//! midnights in the configured time zone, so a "day" in `Europe/Berlin` is 23 or 25
//! hours long on DST days. Because every instant maps to exactly one bucket, a reset
//! needs no job and cannot be missed.

use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::settings::ZoneChange;

/// How often the usage of a feature starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetPeriod {
    Never,
    Daily,
    /// ISO weeks: they start on Monday.
    Weekly,
    Monthly,
    Yearly,
}

impl ResetPeriod {
    pub const ALL: [ResetPeriod; 5] = [
        ResetPeriod::Never,
        ResetPeriod::Daily,
        ResetPeriod::Weekly,
        ResetPeriod::Monthly,
        ResetPeriod::Yearly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResetPeriod::Never => "never",
            ResetPeriod::Daily => "daily",
            ResetPeriod::Weekly => "weekly",
            ResetPeriod::Monthly => "monthly",
            ResetPeriod::Yearly => "yearly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The bucket that a `never` feature counts in: one bucket for all time.
pub fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// Start of the period containing `t`, as a UTC instant.
pub fn period_start(period: ResetPeriod, tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
    let Some(first_day) = first_local_day(period, tz, t) else {
        return epoch();
    };
    // The first instant of the local day D is never after an instant whose local date is D.
    start_of_local_day(tz, first_day)
}

/// Start of the next period after the one containing `t`; `None` for [`ResetPeriod::Never`].
pub fn resets_at(period: ResetPeriod, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let first_day = first_local_day(period, tz, t)?;
    let next_day = match period {
        ResetPeriod::Never => return None,
        ResetPeriod::Daily => first_day.checked_add_days(Days::new(1)),
        ResetPeriod::Weekly => first_day.checked_add_days(Days::new(7)),
        ResetPeriod::Monthly => first_day.checked_add_months(Months::new(1)),
        ResetPeriod::Yearly => first_day.checked_add_months(Months::new(12)),
    }?;
    Some(start_of_local_day(tz, next_day))
}

/// The bucket `[start, resets_at)` of `t` when the zone has changed over time: `tz` now,
/// and before each change in `history` (oldest first) the zone it names (DESIGN §18).
///
/// The period running at a change keeps its start — its count neither disappears nor
/// reappears — and ends at the next boundary of the new zone, so it may be up to a day
/// shorter or longer; every later period follows the new zone.
pub fn bucket(
    period: ResetPeriod,
    tz: Tz,
    history: &[ZoneChange],
    t: DateTime<Utc>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    // The changes made by `t`; the zone in force at `t` is the one after the last of them.
    let made = history.partition_point(|c| c.at <= t);
    let zone = history.get(made).map_or(tz, |next| next.before);
    let start = period_start(period, zone, t);
    let end = resets_at(period, zone, t);
    match made.checked_sub(1).map(|i| (i, history[i])) {
        // This zone's period began before the change: it is the period that was running
        // at the change, which keeps the start it had in the zone before.
        Some((i, change)) if start < change.at && period != ResetPeriod::Never => {
            let (old_start, _) = bucket(period, change.before, &history[..i], change.at);
            (old_start, end)
        }
        _ => (start, end),
    }
}

/// The local calendar date on which the period containing `t` begins.
fn first_local_day(period: ResetPeriod, tz: Tz, t: DateTime<Utc>) -> Option<NaiveDate> {
    let mut local = t.with_timezone(&tz).date_naive();
    // Where clocks went back across midnight (St. John's, 1992: from 00:01 back to 23:01),
    // an instant just after the change reads the previous date again although the next
    // day has begun. The day of `t` is the last day that has begun by `t`, so that days
    // (and every period made of them) follow each other without overlap.
    if let Some(next) = local.succ_opt()
        && start_of_local_day(tz, next) <= t
    {
        local = next;
    }
    match period {
        ResetPeriod::Never => None,
        ResetPeriod::Daily => Some(local),
        ResetPeriod::Weekly => {
            let back = u64::from(local.weekday().num_days_from_monday());
            local.checked_sub_days(Days::new(back))
        }
        ResetPeriod::Monthly => local.with_day(1),
        ResetPeriod::Yearly => NaiveDate::from_ymd_opt(local.year(), 1, 1),
    }
}

/// The first instant whose local date in `tz` is `day`.
///
/// Usually local midnight. When midnight is ambiguous (clocks go back over midnight)
/// the earlier instant is the start; when midnight does not exist (clocks jump forward
/// over midnight, as in some zones) the day starts at the first local time after the gap.
pub fn start_of_local_day(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    let mut probe = midnight;
    // Gaps are at most a few hours; step minute by minute until local time exists.
    for _ in 0..(26 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(dt) => return dt.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => probe += TimeDelta::minutes(1),
        }
    }
    // Unreachable with real time-zone data; fall back to the UTC reading of midnight.
    midnight.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    #[test]
    fn a_zone_change_keeps_the_running_period() {
        let tokyo = chrono_tz::Asia::Tokyo;
        let change = ZoneChange {
            at: utc("2026-12-06T20:00:00Z"),
            before: Tz::UTC,
        };
        let history = [change];
        let daily = ResetPeriod::Daily;
        // Before the change: UTC days.
        let before = bucket(daily, tokyo, &history, utc("2026-12-06T19:59:00Z"));
        assert_eq!(before.0, utc("2026-12-06T00:00:00Z"));
        // After it, the running day keeps its start and ends at Tokyo's next midnight.
        let after = bucket(daily, tokyo, &history, utc("2026-12-06T21:00:00Z"));
        assert_eq!(
            after,
            (
                utc("2026-12-06T00:00:00Z"),
                Some(utc("2026-12-07T15:00:00Z"))
            )
        );
        // Then Tokyo's days.
        let next = bucket(daily, tokyo, &history, utc("2026-12-07T16:00:00Z"));
        assert_eq!(next.0, utc("2026-12-07T15:00:00Z"));
        // Monthly: December keeps its UTC start until Tokyo's January begins.
        let month = bucket(
            ResetPeriod::Monthly,
            tokyo,
            &history,
            utc("2026-12-20T00:00:00Z"),
        );
        assert_eq!(
            month,
            (
                utc("2026-12-01T00:00:00Z"),
                Some(utc("2026-12-31T15:00:00Z"))
            )
        );
        // Switching back later in the month keeps the same December bucket.
        let back = ZoneChange {
            at: utc("2026-12-21T00:00:00Z"),
            before: tokyo,
        };
        let history = [change, back];
        let month = bucket(
            ResetPeriod::Monthly,
            Tz::UTC,
            &history,
            utc("2026-12-22T00:00:00Z"),
        );
        assert_eq!(month.0, utc("2026-12-01T00:00:00Z"));
        // No history: the plain zone.
        let plain = bucket(daily, Berlin, &[], utc("2026-12-06T21:00:00Z"));
        assert_eq!(
            plain.0,
            period_start(daily, Berlin, utc("2026-12-06T21:00:00Z"))
        );
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_in_utc() {
        let t = utc("2026-03-10T15:30:00Z");
        assert_eq!(
            period_start(ResetPeriod::Daily, Tz::UTC, t),
            utc("2026-03-10T00:00:00Z")
        );
        assert_eq!(
            resets_at(ResetPeriod::Daily, Tz::UTC, t),
            Some(utc("2026-03-11T00:00:00Z"))
        );
    }

    #[test]
    fn weekly_starts_on_monday() {
        // 2026-03-12 is a Thursday.
        let t = utc("2026-03-12T10:00:00Z");
        assert_eq!(
            period_start(ResetPeriod::Weekly, Tz::UTC, t),
            utc("2026-03-09T00:00:00Z")
        );
        assert_eq!(
            resets_at(ResetPeriod::Weekly, Tz::UTC, t),
            Some(utc("2026-03-16T00:00:00Z"))
        );
    }

    #[test]
    fn monthly_and_yearly() {
        let t = utc("2026-02-28T23:59:59Z");
        assert_eq!(
            period_start(ResetPeriod::Monthly, Tz::UTC, t),
            utc("2026-02-01T00:00:00Z")
        );
        assert_eq!(
            resets_at(ResetPeriod::Monthly, Tz::UTC, t),
            Some(utc("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            period_start(ResetPeriod::Yearly, Tz::UTC, t),
            utc("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            resets_at(ResetPeriod::Yearly, Tz::UTC, t),
            Some(utc("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn never_has_one_bucket() {
        let t = utc("2031-05-05T05:05:05Z");
        assert_eq!(period_start(ResetPeriod::Never, Berlin, t), epoch());
        assert_eq!(resets_at(ResetPeriod::Never, Berlin, t), None);
    }

    #[test]
    fn berlin_spring_forward_day_is_23_hours() {
        // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
        let t = utc("2026-03-29T12:00:00Z");
        let start = period_start(ResetPeriod::Daily, Berlin, t);
        let end = resets_at(ResetPeriod::Daily, Berlin, t).unwrap();
        assert_eq!(start, utc("2026-03-28T23:00:00Z"));
        assert_eq!(end, utc("2026-03-29T22:00:00Z"));
        assert_eq!(end - start, TimeDelta::hours(23));
    }

    #[test]
    fn berlin_fall_back_day_is_25_hours() {
        // 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET.
        let t = utc("2026-10-25T12:00:00Z");
        let start = period_start(ResetPeriod::Daily, Berlin, t);
        let end = resets_at(ResetPeriod::Daily, Berlin, t).unwrap();
        assert_eq!(start, utc("2026-10-24T22:00:00Z"));
        assert_eq!(end - start, TimeDelta::hours(25));
    }

    #[test]
    fn a_day_that_began_before_the_clocks_went_back_over_midnight_keeps_its_instants() {
        // St. John's, 1992-10-25: 00:00 NDT (02:30Z), at 00:01 back to 23:01 NST of the 24th.
        let tz: Tz = "America/St_Johns".parse().unwrap();
        let start = utc("1992-10-25T02:30:00Z");
        for t in [
            "1992-10-25T02:30:00Z",
            "1992-10-25T02:45:00Z",
            "1992-10-25T03:30:00Z",
        ] {
            assert_eq!(period_start(ResetPeriod::Daily, tz, utc(t)), start, "{t}");
        }
        assert_eq!(
            period_start(ResetPeriod::Daily, tz, utc("1992-10-25T02:29:59Z")),
            utc("1992-10-24T02:30:00Z")
        );
    }

    #[test]
    fn midnight_gap_starts_day_after_gap() {
        // America/Santiago springs forward at local midnight (2026-09-06 00:00 -> 01:00).
        let tz: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = start_of_local_day(tz, day);
        let local = start.with_timezone(&tz);
        assert_eq!(local.date_naive(), day);
        // The instant just before is the previous local day.
        let before = (start - TimeDelta::seconds(1)).with_timezone(&tz);
        assert_eq!(before.date_naive(), day.pred_opt().unwrap());
    }
}
