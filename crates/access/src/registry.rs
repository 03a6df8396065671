//! The feature registry and tiers, and the tier × feature matrix.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::period::ResetPeriod;
use crate::settings::Settings;

/// A limit: `None` is unlimited, `Some(0)` disabled, `Some(n)` n uses per period.
/// For a boolean feature, `Some(0)` is off and anything else is on.
pub type Limit = Option<i64>;

/// Whether a feature is metered in units or is simply on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Count,
    Boolean,
}

impl FeatureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureKind::Count => "count",
            FeatureKind::Boolean => "boolean",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "count" => Some(FeatureKind::Count),
            "boolean" => Some(FeatureKind::Boolean),
            _ => None,
        }
    }
}

/// A limitable feature of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub kind: FeatureKind,
    pub unit: Option<String>,
    pub reset_period: ResetPeriod,
    pub default_limit: Limit,
    pub active: bool,
    pub sort_order: i32,
}

/// A subscription tier. A higher rank gives more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rank: i32,
    pub active: bool,
    pub sort_order: i32,
}

/// One cell of the tier × feature matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierLimit {
    pub tier_id: String,
    pub feature_id: String,
    pub limit: Limit,
}

/// Everything the access rules read that changes rarely: features, tiers, the matrix and
/// the settings. Built once from storage and shared read-only; rebuilt on change.
#[derive(Debug, Clone)]
pub struct Registry {
    features: Vec<Feature>,
    feature_index: HashMap<String, usize>,
    tiers: Vec<Tier>,
    tier_index: HashMap<String, usize>,
    /// `matrix[tier][feature]`: `None` when the cell has no row (fall back to the default).
    matrix: Vec<Vec<Option<Limit>>>,
    pub settings: Settings,
}

/// Index of a feature in a [`Registry`]; valid only for the registry that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureIdx(pub(crate) usize);

/// Index of a tier in a [`Registry`]; valid only for the registry that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierIdx(pub(crate) usize);

impl Registry {
    /// Builds a registry. Features and tiers are kept in `sort_order`, then id, order.
    /// Matrix cells naming an unknown tier or feature are ignored.
    pub fn new(
        mut features: Vec<Feature>,
        mut tiers: Vec<Tier>,
        limits: &[TierLimit],
        settings: Settings,
    ) -> Registry {
        features.sort_by(|a, b| (a.sort_order, &a.id).cmp(&(b.sort_order, &b.id)));
        tiers.sort_by(|a, b| (a.sort_order, &a.id).cmp(&(b.sort_order, &b.id)));
        let feature_index = features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i))
            .collect::<HashMap<_, _>>();
        let tier_index = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect::<HashMap<_, _>>();
        let mut matrix = vec![vec![None; features.len()]; tiers.len()];
        for cell in limits {
            if let (Some(&t), Some(&f)) = (
                tier_index.get(&cell.tier_id),
                feature_index.get(&cell.feature_id),
            ) {
                matrix[t][f] = Some(cell.limit);
            }
        }
        Registry {
            features,
            feature_index,
            tiers,
            tier_index,
            matrix,
            settings,
        }
    }

    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The indices of all features, in display order.
    pub fn feature_idxs(&self) -> impl Iterator<Item = FeatureIdx> + '_ {
        (0..self.features.len()).map(FeatureIdx)
    }

    pub fn feature_idx(&self, id: &str) -> Option<FeatureIdx> {
        self.feature_index.get(id).copied().map(FeatureIdx)
    }

    pub fn feature(&self, idx: FeatureIdx) -> &Feature {
        &self.features[idx.0]
    }

    pub fn feature_by_id(&self, id: &str) -> Option<&Feature> {
        self.feature_idx(id).map(|i| self.feature(i))
    }

    pub fn tier_idx(&self, id: &str) -> Option<TierIdx> {
        self.tier_index.get(id).copied().map(TierIdx)
    }

    pub fn tier(&self, idx: TierIdx) -> &Tier {
        &self.tiers[idx.0]
    }

    pub fn tier_by_id(&self, id: &str) -> Option<&Tier> {
        self.tier_idx(id).map(|i| self.tier(i))
    }

    /// The matrix cell for (tier, feature): `None` when there is no row.
    pub fn tier_limit(&self, tier: TierIdx, feature: FeatureIdx) -> Option<Limit> {
        self.matrix[tier.0][feature.0]
    }

    /// Iterates over all rows of the matrix that exist.
    pub fn tier_limits(&self) -> impl Iterator<Item = (&Tier, &Feature, Limit)> + '_ {
        self.tiers.iter().enumerate().flat_map(move |(t, tier)| {
            self.features
                .iter()
                .enumerate()
                .filter_map(move |(f, feature)| {
                    self.matrix[t][f].map(|limit| (tier, feature, limit))
                })
        })
    }
}
