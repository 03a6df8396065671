//! Mitai's access rules, as plain functions over plain data.
//!
//! No I/O, no async, no clock reads: everything time-dependent takes `now`.
//! - [`accounts`]: what e-mail addresses and passwords must look like; [`body`]: a
//!   person's height, birth date, time zone, units and goal weight.
//! - [`registry`]: features, tiers and the tier × feature matrix.
//! - [`resolve`]: which limit applies (user restriction > tier limit > default), the
//!   effective tier, the `<access>` view and the consume decision.
//! - [`period`]: reset periods aligned to local midnight in the usage time zone.
//! - [`settings`]: the global settings, their types and validation.
//! - [`grants`]: the grant timeline (stacking, pauses, statuses) and the grants running at t.
//! - [`trend`]: the weight trend (smoothed), its rate per week and the projected date of a
//!   goal.
//! - [`text`]: text people type (names, notes, reasons, …), trimmed and checked by kind.
//! - [`entries`]: the tracked data (weight, circumference, caliper, nutrition, activity) and
//!   its plausible ranges; [`caliper`]: Jackson–Pollock body density and Siri's body fat.

pub mod accounts;
pub mod body;
pub mod caliper;
pub mod coupons;
pub mod entries;
pub mod grants;
pub mod period;
pub mod registry;
pub mod resolve;
pub mod settings;
pub mod text;
pub mod trend;

pub use entries::{EntryData, EntryKind, FieldErrors};
pub use grants::{Grant, GrantKind, GrantState, GrantStatus, Pause, Span, Timeline, timeline};
pub use period::ResetPeriod;
pub use registry::{Feature, FeatureIdx, FeatureKind, Limit, Registry, Tier, TierIdx, TierLimit};
pub use resolve::{Access, LimitSource, Period, Refusal, Resolved, RestrictionRule, consume_cap};
pub use settings::{RegistrationMode, Settings};

/// A small registry for tests and benchmarks: three tiers, three features.
#[doc(hidden)]
pub fn sample_registry(settings: Settings) -> Registry {
    let tier = |id: &str, rank: i32| Tier {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        rank,
        active: true,
        sort_order: rank,
    };
    let feature = |id: &str, kind: FeatureKind, reset: ResetPeriod, default_limit: Limit| Feature {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        category: "data".into(),
        kind,
        unit: None,
        reset_period: reset,
        default_limit,
        active: true,
        sort_order: 0,
    };
    let features = vec![
        feature("weight", FeatureKind::Count, ResetPeriod::Monthly, Some(5)),
        feature("ai_calls", FeatureKind::Count, ResetPeriod::Daily, Some(1)),
        feature(
            "ai_pipeline",
            FeatureKind::Boolean,
            ResetPeriod::Never,
            Some(0),
        ),
    ];
    let tiers = vec![tier("free", 0), tier("basic", 10), tier("premium", 20)];
    let cell = |t: &str, f: &str, limit: Limit| TierLimit {
        tier_id: t.into(),
        feature_id: f.into(),
        limit,
    };
    let limits = vec![
        cell("free", "weight", Some(30)),
        cell("basic", "weight", Some(100)),
        cell("premium", "weight", None),
        cell("premium", "ai_calls", Some(50)),
        cell("premium", "ai_pipeline", Some(1)),
    ];
    Registry::new(features, tiers, &limits, settings)
}
