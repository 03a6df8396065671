//! Statistics: the global figures and one profile's aggregates, as admins see them.

use uuid::Uuid;

use crate::service::AppState;
use crate::service::activity_log;
use crate::service::{Error, Result};
use chrono::DateTime;
use chrono::NaiveDate;
use chrono::Utc;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The global figures: profiles by effective tier, active profiles, use and refusals
/// per feature and day, redemptions per coupon, the mail outbox.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn global(state: &AppState) -> Result<Stats> {
    let (s, figures) = tokio::try_join!(
        activity_log::global(state),
        crate::service::billing::figures(state)
    )?;
    let amounts = |list: Vec<(String, i64)>| {
        list.into_iter()
            .map(|(currency, amount)| Amount { currency, amount })
            .collect()
    };
    Ok(Stats {
        billing: BillingFiguresView {
            paying_subscribers: figures.paying_subscribers,
            monthly_recurring_revenue: amounts(figures.monthly_recurring),
            revenue_last_30_days: amounts(figures.revenue_since),
        },
        generated_at: s.now,
        profiles: ProfileCounts {
            total: s.profiles_total,
            disabled: s.profiles_disabled,
            by_effective_tier: s.by_effective_tier,
        },
        active_profiles: ActiveCounts {
            last_1_day: s.active[0],
            last_7_days: s.active[1],
            last_30_days: s.active[2],
        },
        active_profiles_at: s.active_at,
        feature_usage_per_day: s
            .feature_days
            .into_iter()
            .map(|d| FeatureDayView {
                day: d.day,
                feature: d.feature,
                uses: d.uses,
                amount: d.amount,
                limit_reached: d.limit_reached,
            })
            .collect(),
        feature_usage_through: s.feature_days_through,
        redemptions_per_coupon: s
            .coupons
            .into_iter()
            .map(|c| CouponRedemptionsView {
                coupon_id: c.coupon_id,
                code: c.code,
                campaign: c.campaign,
                tier: c.tier_id,
                redemptions: c.redemptions,
                last_redeemed_at: c.last_redeemed_at,
            })
            .collect(),
        mail: MailCountsView {
            pending: s.mail.pending,
            sending: s.mail.sending,
            sent: s.mail.sent,
            failed: s.mail.failed,
        },
    })
}

/// One profile's aggregates; 404 if there is no profile.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn user(state: &AppState, id: Uuid) -> Result<UserStatsView> {
    let profile = state.store.profile(id).await?.ok_or(Error::NotFound)?;
    let s = activity_log::of_profile(state, &profile).await?;
    Ok(UserStatsView {
        profile_id: s.profile_id,
        logins: s.logins,
        last_login_at: s.last_login_at,
        last_active_at: s.last_active_at,
        feature_totals: s.feature_totals,
        redemptions: s.redemptions,
    })
}

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
    /// When the active profiles were counted: the jobs count them each round, and figures
    /// at most two minutes old are shown as they are (else they are counted at once).
    pub active_profiles_at: DateTime<Utc>,
    /// Days with any use or refusal, oldest first: the last 30 UTC days, today included.
    pub feature_usage_per_day: Vec<FeatureDayView>,
    /// Up to when uses and refusals are counted in `feature_usage_per_day`: the jobs roll
    /// the activity log up every minute, a minute behind the clock. `null` before the
    /// first roll-up.
    pub feature_usage_through: Option<DateTime<Utc>>,
    /// Coupons with at least one redemption, most redeemed first.
    pub redemptions_per_coupon: Vec<CouponRedemptionsView>,
    pub mail: MailCountsView,
    /// Payments: paying subscribers, monthly recurring revenue and revenue of the last 30
    /// days (zero and empty while payments are off).
    pub billing: BillingFiguresView,
}

/// An amount in one currency, in its minor unit (cents).
#[derive(Debug, Serialize, ToSchema)]
pub struct Amount {
    pub currency: String,
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingFiguresView {
    /// Subscriptions active, trialing or past due.
    pub paying_subscribers: i64,
    /// Per currency: what those subscriptions bring a month (a yearly price a twelfth).
    pub monthly_recurring_revenue: Vec<Amount>,
    /// Per currency: paid and not refunded in the last 30 days.
    pub revenue_last_30_days: Vec<Amount>,
}

/// One profile's aggregates, kept current with every logged event.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserStatsView {
    pub profile_id: Uuid,
    pub logins: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    /// The last event the profile did itself (a spend moves it only when a minute or more
    /// later).
    pub last_active_at: Option<DateTime<Utc>>,
    /// Units used per feature, ever: `{"weight": 12, …}`.
    #[schema(value_type = Object)]
    pub feature_totals: serde_json::Value,
    pub redemptions: i64,
}
