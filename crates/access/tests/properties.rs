//! Property tests for periods and limit resolution.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use mitai_access::period::{period_start, resets_at};
use mitai_access::{
    FeatureKind, LimitSource, Refusal, ResetPeriod, Resolved, RestrictionRule, Settings,
    consume_cap, sample_registry,
};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
];

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(ZONES).prop_map(|name| name.parse::<Tz>().unwrap())
}

fn period() -> impl Strategy<Value = ResetPeriod> {
    prop::sample::select(ResetPeriod::ALL.to_vec())
}

/// Instants from 1990 to 2060, to the second.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (631_152_000i64..2_871_763_200i64).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

/// Instants near DST transitions in 2026 for the zones above.
fn near_transition() -> impl Strategy<Value = DateTime<Utc>> {
    let anchors = [
        "2026-03-29T01:00:00Z", // Europe
        "2026-10-25T01:00:00Z",
        "2026-03-08T07:00:00Z", // US
        "2026-11-01T06:00:00Z",
        "2026-04-05T03:00:00Z", // Santiago
        "2026-09-06T04:00:00Z",
    ];
    (prop::sample::select(anchors.to_vec()), -7200i64..7200).prop_map(|(a, d)| {
        DateTime::parse_from_rfc3339(a).unwrap().with_timezone(&Utc) + TimeDelta::seconds(d)
    })
}

fn check_bucket(p: ResetPeriod, tz: Tz, t: DateTime<Utc>) -> Result<(), TestCaseError> {
    let start = period_start(p, tz, t);
    prop_assert!(start <= t, "start {start} after t {t}");
    match resets_at(p, tz, t) {
        None => prop_assert_eq!(p, ResetPeriod::Never),
        Some(next) => {
            prop_assert!(t < next, "t {t} not before reset {next}");
            // The next period starts exactly where this one ends.
            prop_assert_eq!(period_start(p, tz, next), next);
            // The last instant of this period is still in it.
            let last = next - TimeDelta::nanoseconds(1);
            prop_assert_eq!(period_start(p, tz, last), start);
            // A period starts at local midnight (or the first instant after a gap).
            let local = start.with_timezone(&tz);
            let before = (start - TimeDelta::seconds(1)).with_timezone(&tz);
            prop_assert_ne!(local.date_naive(), before.date_naive());
            let hours = (next - start).num_minutes() as f64 / 60.0;
            let (lo, hi) = match p {
                ResetPeriod::Daily => (22.0, 26.0),
                ResetPeriod::Weekly => (166.0, 170.0),
                ResetPeriod::Monthly => (27.0 * 24.0, 32.0 * 24.0),
                ResetPeriod::Yearly => (364.0 * 24.0, 367.0 * 24.0),
                ResetPeriod::Never => unreachable!(),
            };
            prop_assert!((lo..=hi).contains(&hours), "{p:?} lasted {hours} h");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_instant_lies_in_exactly_one_period(p in period(), tz in zone(), t in instant()) {
        check_bucket(p, tz, t)?;
    }

    #[test]
    fn periods_around_dst_transitions(p in period(), tz in zone(), t in near_transition()) {
        check_bucket(p, tz, t)?;
    }

    #[test]
    fn instants_in_one_period_share_its_start(
        p in period(), tz in zone(), t in instant(), frac in 0.0f64..1.0,
    ) {
        if let Some(next) = resets_at(p, tz, t) {
            let start = period_start(p, tz, t);
            let span = (next - start).num_seconds();
            let u = start + TimeDelta::seconds((span as f64 * frac) as i64);
            prop_assert_eq!(period_start(p, tz, u), start);
        }
    }

    #[test]
    fn resolution_order(
        active in any::<bool>(),
        restriction in proptest::option::of((proptest::option::of(0i64..100), proptest::option::of(-1000i64..1000))),
        base in prop::sample::select(vec!["free", "basic", "premium"]),
        t in instant(),
    ) {
        let mut registry = sample_registry(Settings::default());
        if !active {
            let mut features = registry.features().to_vec();
            for f in &mut features { f.active = false; }
            let limits: Vec<_> = registry.tier_limits().map(|(t, f, l)| mitai_access::TierLimit {
                tier_id: t.id.clone(), feature_id: f.id.clone(), limit: l,
            }).collect();
            registry = mitai_access::Registry::new(features, registry.tiers().to_vec(), &limits, Settings::default());
        }
        let rule = restriction.map(|(limit, until)| RestrictionRule {
            limit,
            valid_until: until.map(|s| t + TimeDelta::seconds(s)),
        });
        let f = registry.feature_idx("weight").unwrap();
        let tier = registry.effective_tier(base, None, [], t);
        let got = registry.resolve(f, tier, rule.as_ref(), t);
        let expected = if !active {
            Resolved { limit: Some(0), source: LimitSource::FeatureInactive }
        } else if let Some(rule) = rule.as_ref().filter(|r| r.valid_until.is_none_or(|u| t < u)) {
            Resolved { limit: rule.limit, source: LimitSource::UserRestriction }
        } else {
            let limit = match base { "free" => Some(30), "basic" => Some(100), _ => None };
            Resolved { limit, source: LimitSource::TierLimit }
        };
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn effective_tier_is_the_highest_rank(
        base in prop::sample::select(vec!["free", "basic", "premium", "unknown"]),
        trial in proptest::option::of((prop::sample::select(vec!["free", "basic", "premium"]), -100i64..100)),
        grants in prop::collection::vec(prop::sample::select(vec!["free", "basic", "premium", "gone"]), 0..4),
        t in instant(),
    ) {
        let registry = sample_registry(Settings::default());
        let trial = trial.map(|(tier, secs)| (tier, t + TimeDelta::seconds(secs)));
        let got = registry.effective_tier(base, trial, grants.iter().copied(), t);
        let rank = |id: &str| match id { "basic" => Some(10), "premium" => Some(20), "free" => Some(0), _ => None };
        let mut best = rank(base).unwrap_or(0);
        if let Some((tier, ends)) = trial && t < ends { best = best.max(rank(tier).unwrap()); }
        for g in &grants { best = best.max(rank(g).unwrap_or(0)); }
        prop_assert_eq!(registry.tier(got).rank, best);
        // Adding a running grant never lowers the effective tier.
        let mut more = grants.clone();
        more.push("basic");
        let with_more = registry.effective_tier(base, trial, more.iter().copied(), t);
        prop_assert!(registry.tier(with_more).rank >= registry.tier(got).rank);
    }

    #[test]
    fn consume_cap_never_allows_more_than_the_limit(limit in proptest::option::of(0i64..1000), amount in 1i64..2000) {
        let resolved = Resolved { limit, source: LimitSource::TierLimit };
        match consume_cap(FeatureKind::Count, resolved, amount) {
            Ok(Some(cap)) => { prop_assert_eq!(Some(cap), limit); prop_assert!(amount <= cap); }
            Ok(None) => prop_assert_eq!(limit, None),
            Err(Refusal::Disabled) => prop_assert_eq!(limit, Some(0)),
            Err(Refusal::LimitReached) => prop_assert!(amount > limit.unwrap()),
        }
        // Boolean features: off only at 0, never capped otherwise.
        let b = consume_cap(FeatureKind::Boolean, resolved, amount);
        prop_assert_eq!(b.is_err(), limit == Some(0));
    }
}

#[test]
fn a_restriction_past_valid_until_no_longer_applies() {
    let registry = sample_registry(Settings::default());
    let t = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap();
    let rule = RestrictionRule {
        limit: Some(1),
        valid_until: Some(t),
    };
    let f = registry.feature_idx("weight").unwrap();
    let tier = registry.tier_idx("free").unwrap();
    let before = registry.resolve(f, tier, Some(&rule), t - TimeDelta::seconds(1));
    assert_eq!(before.source, LimitSource::UserRestriction);
    let at = registry.resolve(f, tier, Some(&rule), t);
    assert_eq!(at.source, LimitSource::TierLimit);
    assert_eq!(at.limit, Some(30));
}

#[test]
fn a_missing_matrix_cell_falls_back_to_the_feature_default() {
    let registry = sample_registry(Settings::default());
    let f = registry.feature_idx("ai_calls").unwrap();
    let tier = registry.tier_idx("free").unwrap();
    let r = registry.resolve(f, tier, None, Utc::now());
    assert_eq!(
        r,
        Resolved {
            limit: Some(1),
            source: LimitSource::FeatureDefault
        }
    );
}
