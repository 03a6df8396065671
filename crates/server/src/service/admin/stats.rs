//! Statistics: the global figures and one profile's aggregates, as admins see them.

use uuid::Uuid;

use crate::api::admin::{
    ActiveCounts, CouponRedemptionsView, FeatureDayView, MailCountsView, ProfileCounts, Stats,
    UserStatsView,
};
use crate::service::AppState;
use crate::service::activity;
use crate::service::{Error, Result};

/// The global figures: profiles by effective tier, active profiles, use and refusals
/// per feature and day, redemptions per coupon, the mail outbox.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn global(state: &AppState) -> Result<Stats> {
    let s = activity::global(state).await?;
    Ok(Stats {
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
    let s = activity::of_profile(state, &profile).await?;
    Ok(UserStatsView {
        profile_id: s.profile_id,
        logins: s.logins,
        last_login_at: s.last_login_at,
        last_active_at: s.last_active_at,
        feature_totals: s.feature_totals,
        redemptions: s.redemptions,
    })
}
