//! The JSON shapes of the API (what the OpenAPI document describes).

pub mod admin;
pub mod entries;

use chrono::{DateTime, Utc};
use mitai_access::grants::GrantState;
use mitai_access::{Access, Feature, Tier};
use mitai_store::{Profile, Restriction, Setting};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A profile as shown to its owner and to admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
    /// The base tier.
    pub tier: String,
    /// The highest tier the profile has right now (base, trial, grants).
    pub effective_tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub email_verified: bool,
    /// `de` or `en`.
    pub language: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl ProfileView {
    /// The view of a profile whose effective tier is `effective_tier`.
    pub fn new(profile: &Profile, effective_tier: String) -> ProfileView {
        ProfileView {
            id: profile.id,
            email: profile.email.clone(),
            name: profile.name.clone(),
            role: profile.role.as_str().to_owned(),
            tier: profile.tier.clone(),
            effective_tier,
            trial_ends_at: profile.trial_ends_at,
            email_verified: profile.email_verified,
            language: profile.language.clone(),
            disabled: profile.disabled,
            created_at: profile.created_at,
        }
    }
}

/// `{"profile": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileEnvelope {
    pub profile: ProfileView,
}

/// What a profile may do with one feature right now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccessView {
    pub feature: String,
    /// `count` or `boolean`.
    pub kind: String,
    pub enabled: bool,
    /// `null` = unlimited, `0` = disabled, N = uses per period.
    pub limit: Option<i64>,
    pub used: i64,
    /// `null` when unlimited or boolean.
    pub remaining: Option<i64>,
    /// `never`, `daily`, `weekly`, `monthly` or `yearly`.
    pub reset_period: String,
    pub period_start: DateTime<Utc>,
    /// The next reset; `null` for `never`.
    pub resets_at: Option<DateTime<Utc>>,
    /// `feature_inactive`, `user_restriction`, `tier_limit` or `feature_default`.
    pub source: String,
}

impl From<Access> for AccessView {
    fn from(a: Access) -> AccessView {
        AccessView {
            feature: a.feature,
            kind: a.kind.as_str().to_owned(),
            enabled: a.enabled,
            limit: a.limit,
            used: a.used,
            remaining: a.remaining,
            reset_period: a.reset_period.as_str().to_owned(),
            period_start: a.period_start,
            resets_at: a.resets_at,
            source: a.source.as_str().to_owned(),
        }
    }
}

/// `{"effective_tier", "features": [<access>…]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessList {
    pub effective_tier: String,
    pub features: Vec<AccessView>,
}

/// A feature of the registry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    /// `count` or `boolean`.
    pub kind: String,
    pub unit: Option<String>,
    pub reset_period: String,
    pub default_limit: Option<i64>,
    pub active: bool,
    pub sort_order: i32,
}

impl From<&Feature> for FeatureView {
    fn from(f: &Feature) -> FeatureView {
        FeatureView {
            id: f.id.clone(),
            name: f.name.clone(),
            description: f.description.clone(),
            category: f.category.clone(),
            kind: f.kind.as_str().to_owned(),
            unit: f.unit.clone(),
            reset_period: f.reset_period.as_str().to_owned(),
            default_limit: f.default_limit,
            active: f.active,
            sort_order: f.sort_order,
        }
    }
}

/// A tier.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TierView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rank: i32,
    pub active: bool,
    pub sort_order: i32,
}

impl From<&Tier> for TierView {
    fn from(t: &Tier) -> TierView {
        TierView {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            rank: t.rank,
            active: t.active,
            sort_order: t.sort_order,
        }
    }
}

/// A per-user limit override.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestrictionView {
    pub profile_id: Uuid,
    pub feature: String,
    pub limit: Option<i64>,
    pub reason: String,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&Restriction> for RestrictionView {
    fn from(r: &Restriction) -> RestrictionView {
        RestrictionView {
            profile_id: r.profile_id,
            feature: r.feature_id.clone(),
            limit: r.limit,
            reason: r.reason.clone(),
            valid_until: r.valid_until,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A global setting.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingView {
    pub key: String,
    /// A string, number or boolean, by the key (see the settings in the docs).
    pub value: serde_json::Value,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

impl From<Setting> for SettingView {
    fn from(s: Setting) -> SettingView {
        SettingView {
            key: s.key,
            value: s.value,
            updated_at: s.updated_at,
            updated_by: s.updated_by,
        }
    }
}

/// The bytes of a file (an image, an archive), as the OpenAPI document describes them.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// A page of a list: `{"items": […], "next_cursor": "…" | null}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub use crate::error::{ErrorBody, ErrorCode, ErrorDetail};

/// List parameters: `limit` (default 50, max 500) and `cursor`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Free-text filter, where the list supports one.
    pub query: Option<String>,
}

/// Checks the list parameters `limit` (default 50, 1–500) and `cursor` (the id the page
/// starts after). Lists fetch `limit + 1` rows and hand them to [`next_cursor`].
pub fn page_args(
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<(i64, Option<Uuid>), crate::error::Error> {
    use crate::error::Error;
    let limit = match limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(Error::field("limit", "must be from 1 to 500")),
    };
    let after = match cursor {
        None | Some("") => None,
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| Error::field("cursor", "is not a cursor of this list"))?,
        ),
    };
    Ok((limit, after))
}

/// Cuts rows fetched with `limit + 1` down to the page and returns the id of the page's
/// last row when more rows follow (the next page starts after it), else `None`.
pub fn next_after<R>(rows: &mut Vec<R>, limit: i64, id: impl Fn(&R) -> Uuid) -> Option<Uuid> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(id)
    } else {
        None
    }
}

/// [`next_after`] as the `next_cursor` string of a [`Page`].
pub fn next_cursor<R>(rows: &mut Vec<R>, limit: i64, id: impl Fn(&R) -> Uuid) -> Option<String> {
    next_after(rows, limit, id).map(|id| id.to_string())
}

/// An access grant as shown to people.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantView {
    pub id: Uuid,
    pub tier: String,
    /// `fixed` or `duration`.
    pub kind: String,
    /// `coupon` or `admin`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    /// `running`, `paused_stacking`, `paused_admin`, `waiting`, `expired` or `revoked`.
    pub status: String,
    /// Fixed: the window's start. Duration: when it first ran (or is projected to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Fixed: the window's end. Duration: the projected end if nothing changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// Duration grants: access time left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_seconds: Option<i64>,
    /// Duration grants: the whole access time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// The reason of the admin pause in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl GrantView {
    pub fn new(g: &mitai_store::coupons::Grant, state: &GrantState) -> GrantView {
        use mitai_store::coupons::GrantSpan;
        let (kind, starts_at, duration_seconds) = match g.span {
            GrantSpan::Fixed { starts_at, .. } => ("fixed", Some(starts_at), None),
            GrantSpan::Duration { seconds } => ("duration", state.first_run_at, Some(seconds)),
        };
        GrantView {
            id: g.id,
            tier: g.tier_id.clone(),
            kind: kind.to_owned(),
            source: g.source.clone(),
            coupon_code: g.coupon_code.clone(),
            status: state.status.as_str().to_owned(),
            starts_at,
            ends_at: state.ends_at,
            remaining_seconds: state.remaining_seconds,
            duration_seconds,
            pause_reason: g
                .pauses
                .iter()
                .find(|p| p.resumed_at.is_none())
                .map(|p| p.reason.clone()),
            revoked_at: g.revoked_at,
            created_at: g.created_at,
        }
    }
}
