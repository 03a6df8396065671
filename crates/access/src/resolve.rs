//! Limit resolution, the effective tier, and the consume decision (DESIGN §3–4).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::period::{self, ResetPeriod};
use crate::registry::{FeatureIdx, FeatureKind, Limit, Registry, TierIdx};

/// Where a resolved limit comes from; the first that applies wins, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    FeatureInactive,
    UserRestriction,
    TierLimit,
    FeatureDefault,
}

impl LimitSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitSource::FeatureInactive => "feature_inactive",
            LimitSource::UserRestriction => "user_restriction",
            LimitSource::TierLimit => "tier_limit",
            LimitSource::FeatureDefault => "feature_default",
        }
    }
}

/// A per-user override of one feature's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionRule {
    pub limit: Limit,
    /// The override stops applying at this instant (exclusive).
    pub valid_until: Option<DateTime<Utc>>,
}

impl RestrictionRule {
    pub fn applies_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_none_or(|until| now < until)
    }
}

/// The limit that applies and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub limit: Limit,
    pub source: LimitSource,
}

impl Registry {
    /// Resolves the limit of `feature` for a profile whose effective tier is `tier` and
    /// whose restriction for this feature (if any) is `restriction`, at `now`.
    pub fn resolve(
        &self,
        feature: FeatureIdx,
        tier: TierIdx,
        restriction: Option<&RestrictionRule>,
        now: DateTime<Utc>,
    ) -> Resolved {
        let f = self.feature(feature);
        if !f.active {
            return Resolved {
                limit: Some(0),
                source: LimitSource::FeatureInactive,
            };
        }
        if let Some(rule) = restriction.filter(|r| r.applies_at(now)) {
            return Resolved {
                limit: rule.limit,
                source: LimitSource::UserRestriction,
            };
        }
        match self.tier_limit(tier, feature) {
            Some(limit) => Resolved {
                limit,
                source: LimitSource::TierLimit,
            },
            None => Resolved {
                limit: f.default_limit,
                source: LimitSource::FeatureDefault,
            },
        }
    }

    /// The effective tier at `now`: the highest-rank tier among the base tier, the trial
    /// tier while `now < trial_ends_at`, and the tiers of the grants running at `now`
    /// (ties: the earlier candidate, so the base tier wins a tie). Unknown ids are
    /// ignored; if even the base tier is unknown, the lowest-rank tier is used.
    pub fn effective_tier<'a>(
        &self,
        base_tier: &'a str,
        trial: Option<(&'a str, DateTime<Utc>)>,
        running_grant_tiers: impl IntoIterator<Item = &'a str>,
        now: DateTime<Utc>,
    ) -> TierIdx {
        let trial = trial.filter(|(_, ends)| now < *ends).map(|(tier, _)| tier);
        let candidates = std::iter::once(base_tier)
            .chain(trial)
            .chain(running_grant_tiers)
            .filter_map(|id| self.tier_idx(id));
        let mut best: Option<TierIdx> = None;
        for idx in candidates {
            if best.is_none_or(|b| self.tier(idx).rank > self.tier(b).rank) {
                best = Some(idx);
            }
        }
        best.unwrap_or_else(|| self.lowest_tier())
    }

    fn lowest_tier(&self) -> TierIdx {
        let i = (0..self.tiers().len())
            .min_by_key(|&i| self.tiers()[i].rank)
            .unwrap_or(0);
        TierIdx(i)
    }

    /// The usage bucket and the next reset of `feature` at `now`.
    pub fn period(&self, feature: FeatureIdx, now: DateTime<Utc>) -> Period {
        let p = self.feature(feature).reset_period;
        let settings = &self.settings;
        let history = &settings.usage_timezone_history;
        let (start, resets_at) = period::bucket(p, settings.usage_timezone, history, now);
        Period { start, resets_at }
    }
}

/// A usage bucket: `[start, resets_at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub resets_at: Option<DateTime<Utc>>,
}

/// What a profile may do with one feature right now: the `<access>` object of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub feature: String,
    pub kind: FeatureKind,
    pub enabled: bool,
    pub limit: Limit,
    pub used: i64,
    pub remaining: Option<i64>,
    pub reset_period: ResetPeriod,
    pub period_start: DateTime<Utc>,
    pub resets_at: Option<DateTime<Utc>>,
    pub source: LimitSource,
}

impl Access {
    pub fn new(
        registry: &Registry,
        feature: FeatureIdx,
        resolved: Resolved,
        period: Period,
        used: i64,
    ) -> Access {
        let f = registry.feature(feature);
        let enabled = resolved.limit != Some(0);
        let remaining = match (f.kind, resolved.limit) {
            (FeatureKind::Count, Some(limit)) => Some((limit - used).max(0)),
            _ => None,
        };
        Access {
            feature: f.id.clone(),
            kind: f.kind,
            enabled,
            limit: resolved.limit,
            used,
            remaining,
            reset_period: f.reset_period,
            period_start: period.start,
            resets_at: period.resets_at,
            source: resolved.source,
        }
    }
}

/// Why a consume is refused before touching storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The feature is off for this profile (limit 0 or the feature is inactive).
    Disabled,
    /// The amount alone exceeds the limit; no current usage could make it fit.
    LimitReached,
}

/// The most `used` may reach after a consume: `Ok(None)` means no cap (unlimited count,
/// or a boolean feature that is on). Usage is counted in every case.
pub fn consume_cap(
    kind: FeatureKind,
    resolved: Resolved,
    amount: i64,
) -> Result<Option<i64>, Refusal> {
    match (kind, resolved.limit) {
        (_, Some(0)) => Err(Refusal::Disabled),
        (FeatureKind::Boolean, _) | (FeatureKind::Count, None) => Ok(None),
        (FeatureKind::Count, Some(limit)) if amount > limit => Err(Refusal::LimitReached),
        (FeatureKind::Count, Some(limit)) => Ok(Some(limit)),
    }
}
