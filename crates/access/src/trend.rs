//! The weight trend: what the scale says once the day-to-day noise (water, salt, the time of
//! the weigh-in) is smoothed away, how fast it moves, and when it reaches a goal.
//!
//! The trend is an exponentially smoothed average carried day by day (each day moves it a
//! tenth of the way to that day's weight; days without a weigh-in keep it), as in *The
//! Hacker's Diet*: one odd weigh-in moves it a little, a real change moves it steadily. Two
//! weigh-ins on one day count as their mean. The rate is the slope of a straight line
//! fitted to the trend over the last four weeks — not the difference of the last two
//! weigh-ins — and the projected date follows that rate to the goal.

use chrono::{Days, NaiveDate};

/// How far each day's weight moves the trend.
pub const SMOOTHING: f64 = 0.1;
/// The span the rate is measured over.
pub const RATE_DAYS: i64 = 28;
/// A projection further than this is no projection.
pub const HORIZON_DAYS: i64 = 2 * 365;

/// One weight a day, oldest first: the mean of the day's weigh-ins (the rule for two
/// weigh-ins on one day — both are kept, the chart and the trend use their mean).
/// Non-finite values are left out.
pub fn daily_means(points: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut sorted: Vec<(NaiveDate, f64)> =
        points.iter().copied().filter(|p| p.1.is_finite()).collect();
    sorted.sort_by_key(|p| p.0);
    let mut days: Vec<(NaiveDate, f64, u32)> = Vec::new();
    for (date, value) in sorted {
        match days.last_mut() {
            Some((d, sum, n)) if *d == date => {
                *sum += value;
                *n += 1;
            }
            _ => days.push((date, value, 1)),
        }
    }
    days.into_iter()
        .map(|(d, sum, n)| (d, sum / f64::from(n)))
        .collect()
}

/// The trend for every day from the first weigh-in to the last, oldest first. `points` may
/// come in any order and hold several weights a day (their mean counts); non-finite values
/// are left out.
pub fn smoothed(points: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let days = daily_means(points);
    let Some(&(first, mut trend)) = days.first() else {
        return Vec::new();
    };
    let mut out = vec![(first, trend)];
    let mut next = days.iter().skip(1).peekable();
    let mut day = first;
    let last = days.last().map_or(first, |d| d.0);
    while day < last {
        let Some(following) = day.checked_add_days(Days::new(1)) else {
            break;
        };
        day = following;
        if let Some(&&(d, weight)) = next.peek()
            && d == day
        {
            trend += SMOOTHING * (weight - trend);
            next.next();
        }
        out.push((day, trend));
    }
    out
}

/// The trend's change per week, fitted over the last [`RATE_DAYS`] days of `trend` (from
/// [`smoothed`]); `None` with less than a week of it.
pub fn rate_per_week(trend: &[(NaiveDate, f64)]) -> Option<f64> {
    let &(last, _) = trend.last()?;
    let window: Vec<(f64, f64)> = trend
        .iter()
        .filter(|(d, _)| (last - *d).num_days() < RATE_DAYS)
        .map(|(d, v)| ((*d - last).num_days() as f64, *v))
        .collect();
    if window.len() < 8 {
        return None;
    }
    let n = window.len() as f64;
    let (mx, my) = (
        window.iter().map(|p| p.0).sum::<f64>() / n,
        window.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = window.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = window.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx * 7.0)
}

/// When the trend, at `rate` per week from `current` on `today`, reaches `goal`: `None` when
/// it moves away from the goal (or not at all), or would take longer than
/// [`HORIZON_DAYS`]. A goal already reached is today.
pub fn projected_date(current: f64, rate: f64, goal: f64, today: NaiveDate) -> Option<NaiveDate> {
    let to_go = goal - current;
    if to_go.abs() < 0.05 {
        return Some(today);
    }
    if rate == 0.0 || to_go.signum() != rate.signum() {
        return None;
    }
    let days = (to_go / rate * 7.0).ceil();
    (days.is_finite() && days <= HORIZON_DAYS as f64)
        .then(|| today.checked_add_days(Days::new(days as u64)))
        .flatten()
}

/// The trend's change from `days` days before its last day to its last day; `None` when the
/// trend does not reach back that far.
pub fn change_over(trend: &[(NaiveDate, f64)], days: i64) -> Option<f64> {
    let &(last, now) = trend.last()?;
    let then = last.checked_sub_days(Days::new(u64::try_from(days).ok()?))?;
    trend.iter().find(|(d, _)| *d == then).map(|(_, v)| now - v)
}

/// The trend's change since its first day.
pub fn change_since_start(trend: &[(NaiveDate, f64)]) -> Option<f64> {
    Some(trend.last()?.1 - trend.first()?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Days::new(u64::from(day))
    }

    #[test]
    fn one_odd_weigh_in_moves_the_trend_a_tenth() {
        let t = smoothed(&[(d(0), 80.0), (d(1), 90.0), (d(3), 80.0)]);
        assert_eq!(t.len(), 4, "every day from the first to the last");
        assert_eq!(t[0], (d(0), 80.0));
        assert!((t[1].1 - 81.0).abs() < 1e-9);
        assert_eq!(t[2].1, t[1].1, "a day without a weigh-in keeps it");
        assert!((t[3].1 - 80.9).abs() < 1e-9);
        // Two weigh-ins on a day count as their mean, in any order.
        let t = smoothed(&[(d(1), 79.0), (d(0), 80.0), (d(1), 81.0)]);
        assert_eq!(t.last().unwrap().1, 80.0);
        assert!(smoothed(&[]).is_empty());
    }

    #[test]
    fn the_rate_is_the_trend_s_slope_not_the_last_two_points() {
        // Half a kilo a week down for eight weeks, with a day-to-day swing of ±1 kg.
        let points: Vec<_> = (0..56)
            .map(|i| {
                let swing = if i % 2 == 0 { 1.0 } else { -1.0 };
                (d(i), 90.0 - 0.5 * f64::from(i) / 7.0 + swing)
            })
            .collect();
        let trend = smoothed(&points);
        let rate = rate_per_week(&trend).unwrap();
        assert!((rate + 0.5).abs() < 0.1, "{rate}");
        assert!(rate_per_week(&trend[..5]).is_none(), "less than a week");
        // The last two raw points say +2 kg in a day; the trend does not.
        assert!(points[55].1 - points[54].1 < 0.0 || rate < 0.0);
    }

    #[test]
    fn the_goal_is_reached_at_the_rate_or_never() {
        let today = d(0);
        assert_eq!(projected_date(80.0, -0.5, 78.0, today), Some(d(28)));
        assert_eq!(projected_date(80.0, 0.5, 78.0, today), None, "moving away");
        assert_eq!(projected_date(80.0, 0.0, 78.0, today), None);
        assert_eq!(
            projected_date(80.0, -0.01, 60.0, today),
            None,
            "beyond two years"
        );
        assert_eq!(projected_date(78.02, -0.5, 78.0, today), Some(today));
        assert_eq!(
            projected_date(70.0, 0.25, 71.0, today),
            Some(d(28)),
            "gaining"
        );
    }

    #[test]
    fn changes_over_a_span() {
        let trend: Vec<_> = (0..10).map(|i| (d(i), 80.0 - f64::from(i) * 0.1)).collect();
        assert!((change_over(&trend, 7).unwrap() + 0.7).abs() < 1e-9);
        assert_eq!(change_over(&trend, 30), None);
        assert!((change_since_start(&trend).unwrap() + 0.9).abs() < 1e-9);
    }
}
