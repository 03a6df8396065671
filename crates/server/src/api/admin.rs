//! The JSON shapes of the admin API (`/api/admin`): what its handlers parse and answer,
//! and what the admin service functions take and return.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use mitai_store::coupons::Coupon;
use mitai_store::{Activity, OutboxMail};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::{FeatureView, ProfileView, RestrictionView, TierView};
use crate::error::double_option;

// Features.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeatureBody {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    /// `count` or `boolean`.
    pub kind: String,
    pub unit: Option<String>,
    /// `never`, `daily`, `weekly`, `monthly` or `yearly`.
    pub reset_period: String,
    /// Used when a tier has no limit for this feature: `null` = unlimited; absent = 0.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub default_limit: Option<Option<i64>>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeaturePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub unit: Option<Option<String>>,
    pub reset_period: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub default_limit: Option<Option<i64>>,
    /// `false` switches the feature off for everyone (kill switch).
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

// Tiers.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTierBody {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Higher rank = more access.
    pub rank: i32,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rank: Option<i32>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

// The tier × feature matrix.

#[derive(Debug, Serialize, ToSchema)]
pub struct Matrix {
    pub tiers: Vec<TierView>,
    pub features: Vec<FeatureView>,
    /// `limits[tier][feature]`: `null` = unlimited. A missing cell falls back to the
    /// feature's default limit.
    #[schema(value_type = Object)]
    pub limits: BTreeMap<String, BTreeMap<String, Option<i64>>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitBody {
    /// `null` = unlimited, 0 = disabled, N = uses per reset period. Required.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub limit: Option<Option<i64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cell {
    pub tier: String,
    pub feature: String,
    pub limit: Option<i64>,
}

// Users.

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    pub profile: ProfileView,
    pub restrictions: Vec<RestrictionView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The base tier.
    pub tier: Option<String>,
    /// `user` or `admin`.
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// `null` ends the trial.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub trial_ends_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionBody {
    /// `null` = unlimited, 0 = disabled, N = uses per reset period. Required.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub limit: Option<Option<i64>>,
    pub reason: String,
    /// The override stops applying at this instant.
    pub valid_until: Option<DateTime<Utc>>,
}

// Grants.

/// `{tier, days}` gives a duration grant; `{tier, starts_at, ends_at}` a fixed one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrantBody {
    pub tier: String,
    pub days: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    pub reason: String,
}

// Coupons.

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CouponView {
    pub id: Uuid,
    /// The code as shown; redemption ignores case, spaces and dashes.
    pub code: String,
    /// `single_use`, `period` or `wellpass`.
    pub kind: String,
    pub tier: String,
    pub duration_days: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub period_ends_at: Option<DateTime<Utc>>,
    pub max_redemptions: Option<i32>,
    pub redeemed_count: i32,
    pub active: bool,
    pub campaign: Option<String>,
    pub note: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&Coupon> for CouponView {
    fn from(c: &Coupon) -> CouponView {
        CouponView {
            id: c.id,
            code: c.display_code.clone(),
            kind: c.kind.as_str().to_owned(),
            tier: c.tier_id.clone(),
            duration_days: c.duration_days,
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            period_ends_at: c.period_ends_at,
            max_redemptions: c.max_redemptions,
            redeemed_count: c.redeemed_count,
            active: c.active,
            campaign: c.campaign.clone(),
            note: c.note.clone(),
            created_by: c.created_by,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CouponListParams {
    pub campaign: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCouponBody {
    /// Without a code, one is generated (12 characters, 60 random bits).
    pub code: Option<String>,
    pub kind: String,
    pub tier: String,
    /// single_use: the length of the access it gives.
    pub duration_days: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// period: when the access it gives ends.
    pub period_ends_at: Option<DateTime<Utc>>,
    pub max_redemptions: Option<i32>,
    pub campaign: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// 1 to 10000.
    pub count: i64,
    /// Only `single_use`.
    pub kind: String,
    pub tier: String,
    pub duration_days: i32,
    pub campaign: String,
    pub valid_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Batch {
    pub items: Vec<CouponView>,
    /// Where the batch can be downloaded as CSV.
    pub csv: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    pub campaign: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponPatchBody {
    /// `false` deactivates: redemption then answers `invalid_coupon`.
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub max_redemptions: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub campaign: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionView {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub email: String,
    pub grant_id: Option<Uuid>,
    pub redeemed_at: DateTime<Utc>,
    /// `YYYY-MM` for Wellpass coupons.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub period: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

// Settings.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingBody {
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

// Statistics.

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileCounts {
    pub total: i64,
    pub disabled: i64,
    /// Enabled profiles by their effective tier now (base tier, trial, grants); every
    /// tier is listed.
    pub by_effective_tier: BTreeMap<String, i64>,
}

/// Profiles with an event of their own (login, use of a feature, …) in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveCounts {
    pub last_1_day: i64,
    pub last_7_days: i64,
    pub last_30_days: i64,
}

/// One feature on one day (UTC).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureDayView {
    pub day: NaiveDate,
    pub feature: String,
    /// Successful consumptions.
    pub uses: i64,
    /// Units spent by them.
    pub amount: i64,
    /// Consumptions refused because the limit was reached.
    pub limit_reached: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouponRedemptionsView {
    pub coupon_id: Uuid,
    pub code: String,
    pub campaign: Option<String>,
    pub tier: String,
    pub redemptions: i64,
    pub last_redeemed_at: DateTime<Utc>,
}

/// Messages in the outbox by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailCountsView {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// The global figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub generated_at: DateTime<Utc>,
    pub profiles: ProfileCounts,
    pub active_profiles: ActiveCounts,
    /// Days with any use or refusal, oldest first: the last 30 UTC days, today included.
    pub feature_usage_per_day: Vec<FeatureDayView>,
    /// Coupons with at least one redemption, most redeemed first.
    pub redemptions_per_coupon: Vec<CouponRedemptionsView>,
    pub mail: MailCountsView,
}

/// One profile's aggregates, kept current with every logged event.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserStatsView {
    pub profile_id: Uuid,
    pub logins: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_active_at: Option<DateTime<Utc>>,
    /// Units used per feature, ever: `{"weight": 12, …}`.
    #[schema(value_type = Object)]
    pub feature_totals: serde_json::Value,
    pub redemptions: i64,
}

// The activity log.

/// One logged event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityLogEntry {
    pub id: Uuid,
    /// The profile the event is about (`null` for global events, e.g. a setting).
    pub profile_id: Option<Uuid>,
    /// Who did it: the profile itself, an admin, or `null` (e.g. a failed login).
    pub actor_id: Option<Uuid>,
    /// `register`, `login`, `login_failed`, `logout`, `feature_used`, `limit_reached`,
    /// `tier_changed`, `restriction_set`, `restriction_cleared`, `setting_changed`, …
    pub action: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Activity> for ActivityLogEntry {
    fn from(a: Activity) -> ActivityLogEntry {
        ActivityLogEntry {
            id: a.id,
            profile_id: a.profile_id,
            actor_id: a.actor_id,
            action: a.action,
            details: a.details,
            ip: a.ip,
            created_at: a.created_at,
        }
    }
}

/// Filters and paging of the log; every one is optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// Only events about this profile (UUID).
    pub profile_id: Option<String>,
    /// Only this action, e.g. `login_failed`.
    pub action: Option<String>,
    /// Only events at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

// The mail outbox.

/// One message of the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailView {
    pub id: Uuid,
    pub to: String,
    /// `verify_email`, `invitation`, `password_reset`, `trial_ending`, `grant_expiring`
    /// or `coupon_redeemed`.
    pub template: String,
    pub language: String,
    /// `pending`, `sending`, `sent` or `failed` (given up).
    pub status: String,
    /// Sending attempts so far.
    pub attempts: i32,
    /// Pending: the next attempt. Sending: when the sender's lease runs out.
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxMail> for MailView {
    fn from(m: OutboxMail) -> MailView {
        MailView {
            id: m.id,
            to: m.to,
            template: m.template,
            language: m.language,
            status: m.status.as_str().to_owned(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MailParams {
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
