//! The activity log and statistics: recording events, listing them, global figures.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use mitai_store::{Activity, ActivityFilter, NewActivity, Profile, UserStats};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::service::AppState;
use crate::service::Result;

/// Logs an event (and updates its profile's statistics). The change it records has
/// already happened, so a failure here is logged and is not the request's failure.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record(state: &AppState, activity: NewActivity) {
    if let Err(e) = state.store.log_activity(&activity).await {
        tracing::error!(error = %e, action = %activity.action, "activity not logged");
    }
}

/// Logs what an admin did, about a profile or (`None`) about the instance.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record_admin(
    state: &AppState,
    admin: Uuid,
    profile: Option<Uuid>,
    action: &str,
    details: serde_json::Value,
    ip: Option<String>,
) {
    let event = NewActivity::new(action, state.now())
        .profile(profile)
        .actor(Some(admin))
        .details(details)
        .ip(ip);
    record(state, event).await;
}

/// Logs an admin change for the audit trail (DESIGN §18): `details` holds what the change
/// is about (`subject`, an object) and the values `before` and `after` it — `before: null`
/// for a creation, `after: null` for a deletion. Where both are objects, only the fields
/// that differ are kept, so an entry says what changed and nothing else.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(level = "debug", skip_all)]
pub async fn audit(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    profile: Option<Uuid>,
    action: &str,
    subject: Value,
    before: Value,
    after: Value,
) {
    let details = audit_details(subject, before, after);
    record_admin(state, admin.id, profile, action, details, ip).await;
}

/// The `details` of an audit entry: `subject`'s fields, `before` and `after` (see [`audit`]).
pub fn audit_details(subject: Value, mut before: Value, mut after: Value) -> Value {
    if let (Value::Object(b), Value::Object(a)) = (&mut before, &mut after) {
        let same: Vec<String> = b
            .iter()
            .filter(|(k, v)| a.get(k.as_str()) == Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in same {
            b.remove(&k);
            a.remove(&k);
        }
    }
    let mut details = match subject {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    details.insert("before".into(), before);
    details.insert("after".into(), after);
    Value::Object(details)
}

/// A page of the log, newest first, and the cursor of the next page.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    filter: &ActivityFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<(Vec<Activity>, Option<Uuid>)> {
    let mut items = state.store.activity(filter, before, limit + 1).await?;
    let next = crate::service::paging::next_after(&mut items, limit, |a| a.id);
    Ok((items, next))
}

/// The global figures of DESIGN §8.
#[derive(Debug, Clone)]
pub struct GlobalStats {
    pub now: DateTime<Utc>,
    pub profiles_total: i64,
    pub profiles_disabled: i64,
    /// Enabled profiles by effective tier; every tier appears, with 0 if none.
    pub by_effective_tier: BTreeMap<String, i64>,
    /// Profiles active in the last 1, 7 and 30 days.
    pub active: [i64; 3],
    pub feature_days: Vec<mitai_store::FeatureDay>,
    pub coupons: Vec<mitai_store::CouponRedemptionCount>,
    pub mail: mitai_store::MailCounts,
}

/// How many days of per-feature figures the stats show.
pub const FEATURE_DAYS: i32 = 30;
/// How many coupons the stats list at most.
const COUPONS_SHOWN: i64 = 500;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn global(state: &AppState) -> Result<GlobalStats> {
    let now = state.now();
    let registry = state.registry();
    let mut by_effective_tier: BTreeMap<String, i64> =
        registry.tiers().iter().map(|t| (t.id.clone(), 0)).collect();
    let with_grants: std::collections::HashSet<Uuid> = state
        .store
        .profiles_with_grants()
        .await?
        .into_iter()
        .collect();
    let (mut total, mut disabled) = (0, 0);
    let mut after = None;
    loop {
        let page = state.store.list_profiles(None, after, 500).await?;
        for profile in &page {
            total += 1;
            if profile.disabled {
                disabled += 1;
                continue;
            }
            let tier = if with_grants.contains(&profile.id) {
                crate::service::grants::effective_tier_id(state, profile).await?
            } else {
                let idx = crate::service::grants::effective_tier(&registry, profile, &[], now);
                registry.tier(idx).id.clone()
            };
            *by_effective_tier.entry(tier).or_default() += 1;
        }
        match page.last() {
            Some(last) if page.len() == 500 => after = Some(last.id),
            _ => break,
        }
    }
    let day = TimeDelta::days(1);
    let active = state
        .store
        .active_profiles(&[now - day, now - day * 7, now - day * 30])
        .await?;
    // From the start of the UTC day 29 days ago: 30 whole days including today.
    let first_day = (now - day * (FEATURE_DAYS - 1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc());
    Ok(GlobalStats {
        now,
        profiles_total: total,
        profiles_disabled: disabled,
        by_effective_tier,
        active: [active[0], active[1], active[2]],
        feature_days: state.store.feature_days(first_day).await?,
        coupons: state.store.coupon_redemption_counts(COUPONS_SHOWN).await?,
        mail: state.store.mail_counts().await?,
    })
}

/// A profile's statistics; zeros before its first counted event.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_profile(state: &AppState, profile: &Profile) -> Result<UserStats> {
    Ok(state
        .store
        .user_stats(profile.id)
        .await?
        .unwrap_or_else(|| UserStats {
            profile_id: profile.id,
            logins: 0,
            last_login_at: None,
            last_active_at: None,
            feature_totals: serde_json::json!({}),
            redemptions: 0,
            updated_at: profile.created_at,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_details_keep_what_changed() {
        let d = audit_details(
            json!({"feature": "weight"}),
            json!({"name": "Weight", "active": true, "default_limit": 30}),
            json!({"name": "Weight", "active": false, "default_limit": 30}),
        );
        assert_eq!(
            d,
            json!({"feature": "weight", "before": {"active": true}, "after": {"active": false}})
        );
        let created = audit_details(json!({}), Value::Null, json!({"limit": 5}));
        assert_eq!(created, json!({"before": null, "after": {"limit": 5}}));
    }
}
