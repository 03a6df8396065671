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
    /// Profiles active in the last 1, 7 and 30 days before `active_at`.
    pub active: [i64; 3],
    /// When the active profiles were counted: by the jobs' last round (at most
    /// [`ACTIVE_KEPT`] before `now`), else now.
    pub active_at: DateTime<Utc>,
    pub feature_days: Vec<mitai_store::FeatureDay>,
    /// Up to when the log is counted in `feature_days` (the jobs roll it up, a minute
    /// behind the clock); `None` before the first roll-up.
    pub feature_days_through: Option<DateTime<Utc>>,
    pub coupons: Vec<mitai_store::CouponRedemptionCount>,
    pub mail: mitai_store::MailCounts,
}

/// How many days of per-feature figures the stats show.
pub const FEATURE_DAYS: i32 = 30;
/// How many coupons the stats list at most.
const COUPONS_SHOWN: i64 = 500;
/// How long the profiles' count by effective tier is kept at most without a change being
/// announced: a change made where no notification reaches (a `mitai user` command on a
/// served SQLite file) shows within a minute. Computing it reads every profile with grants.
const TIERS_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// How old the jobs' counts of active profiles may be when the figures use them (the jobs
/// count them each round, a minute apart); older ones — the jobs stopped, or a test's clock
/// moved on — are counted again, by a pass over every profile's statistics.
pub const ACTIVE_KEPT: TimeDelta = TimeDelta::minutes(2);

/// The start of the first day the stats show: the UTC day `FEATURE_DAYS - 1` days before
/// `now`'s (30 whole days including today).
pub fn first_stats_day(now: DateTime<Utc>) -> DateTime<Utc> {
    (now - TimeDelta::days(i64::from(FEATURE_DAYS - 1)))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc())
}

/// What the global figures keep between requests.
#[derive(Default)]
pub struct StatsCache {
    /// One computation of the figures at a time, and the last one with the moment it
    /// began: a request is answered by a computation that began after it arrived, so
    /// requests that arrive together share one and none sees figures older than itself.
    global: tokio::sync::Mutex<Option<(std::time::Instant, GlobalStats)>>,
    tiers: std::sync::Mutex<Option<TierCounts>>,
    /// A refresh of `tiers` runs in the background.
    refreshing: std::sync::atomic::AtomicBool,
}

/// Profiles by effective tier, valid while nothing they were computed from changes: the
/// access facts (the store's generation), the number of profiles, the clock before the
/// next start or end of a trial or grant.
#[derive(Clone)]
struct TierCounts {
    generation: u64,
    profiles: i64,
    until: DateTime<Utc>,
    computed: std::time::Instant,
    counts: BTreeMap<String, i64>,
}

/// The global figures (DESIGN §8). Their cost does not grow with the log (the usage per
/// day is read from the daily counts the jobs roll up) and barely with the profiles (the
/// count by effective tier is kept until a change; the rest are a few aggregates).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn global(state: &AppState) -> Result<GlobalStats> {
    let asked = std::time::Instant::now();
    let mut last = state.stats.global.lock().await;
    if let Some((began, stats)) = last.as_ref()
        && *began >= asked
    {
        return Ok(stats.clone());
    }
    let began = std::time::Instant::now();
    let stats = compute_global(state).await?;
    *last = Some((began, stats.clone()));
    Ok(stats)
}

/// The figures are independent reads, made at once on connections of their own; none
/// reads every profile while the kept counts serve (the profile counts kept by the
/// database, the count by tier by this instance, the active profiles by the jobs).
async fn compute_global(state: &AppState) -> Result<GlobalStats> {
    let now = state.now();
    let store = &state.store;
    let profiles = async {
        let (total, disabled) = store.profile_counts().await?;
        let by_tier = tier_counts(state, now, total).await?;
        Ok::<_, crate::service::Error>((total, disabled, by_tier))
    };
    let first_day = first_stats_day(now);
    let reads = async {
        Ok::<_, crate::service::Error>(tokio::try_join!(
            active_profiles(state, now),
            store.usage_rolled_through(),
            store.feature_days(first_day),
            store.coupon_redemption_counts(COUPONS_SHOWN),
            store.mail_counts(),
        )?)
    };
    let (
        (total, disabled, by_effective_tier),
        ((active_at, active), through, feature_days, coupons, mail),
    ) = tokio::try_join!(profiles, reads)?;
    Ok(GlobalStats {
        now,
        profiles_total: total,
        profiles_disabled: disabled,
        by_effective_tier,
        active,
        active_at,
        feature_days,
        feature_days_through: through,
        coupons,
        mail,
    })
}

/// Profiles active in the last 1, 7 and 30 days: the jobs' last counts while they are at
/// most [`ACTIVE_KEPT`] old, else counted now.
async fn active_profiles(
    state: &AppState,
    now: DateTime<Utc>,
) -> mitai_store::Result<(DateTime<Utc>, [i64; 3])> {
    if let Some((at, counts)) = state.store.kept_active_profiles().await?
        && at <= now
        && now - at <= ACTIVE_KEPT
    {
        return Ok((at, counts));
    }
    Ok((now, count_active(state, now).await?))
}

/// Counts the profiles active in the last 1, 7 and 30 days before `now` (one pass over
/// every profile's statistics).
async fn count_active(state: &AppState, now: DateTime<Utc>) -> mitai_store::Result<[i64; 3]> {
    let day = TimeDelta::days(1);
    let counts = state
        .store
        .active_profiles(&[now - day, now - day * 7, now - day * 30])
        .await?;
    Ok([counts[0], counts[1], counts[2]])
}

/// The jobs' count of active profiles, kept for the global figures (a job of each round).
pub async fn keep_active_profiles(state: &AppState) -> mitai_store::Result<()> {
    let now = state.now();
    let counts = count_active(state, now).await?;
    state.store.keep_active_profiles(now, counts).await
}

/// Enabled profiles by effective tier at `now` (every tier listed), from the kept counts
/// while they are valid.
async fn tier_counts(
    state: &AppState,
    now: DateTime<Utc>,
    profiles: i64,
) -> Result<BTreeMap<String, i64>> {
    // Read before the facts: a change committed while they are read makes them stale.
    let generation = state.store.access_generation();
    let kept = state
        .stats
        .tiers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(kept) = kept
        && kept.generation == generation
        && kept.profiles == profiles
        && now < kept.until
    {
        // Nothing it depends on changed. Only old: answer it, and refresh it in the
        // background (one refresh at a time) for changes no notification reached.
        if kept.computed.elapsed() >= TIERS_KEPT
            && !state
                .stats
                .refreshing
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let state = state.clone();
            tokio::spawn(async move {
                let now = state.now();
                if let Err(e) = compute_tier_counts(&state, now, profiles, generation).await {
                    tracing::warn!(error = %e, "refreshing the count by effective tier");
                }
                state
                    .stats
                    .refreshing
                    .store(false, std::sync::atomic::Ordering::Release);
            });
        }
        return Ok(kept.counts);
    }
    compute_tier_counts(state, now, profiles, generation).await
}

/// Computes the count by effective tier and keeps it.
async fn compute_tier_counts(
    state: &AppState,
    now: DateTime<Utc>,
    profiles: i64,
    generation: u64,
) -> Result<BTreeMap<String, i64>> {
    let computed = std::time::Instant::now();
    let registry = state.registry();
    let mut counts: BTreeMap<String, i64> =
        registry.tiers().iter().map(|t| (t.id.clone(), 0)).collect();
    let mut until = now + TimeDelta::days(1);
    for group in state.store.tier_groups(now).await? {
        let trial_end = group.next_trial_end.filter(|_| group.trial);
        let trial = trial_end.map(|ends| (registry.settings.trial_tier.as_str(), ends));
        let tier = registry.effective_tier(&group.tier, trial, [], now);
        *counts.entry(registry.tier(tier).id.clone()).or_default() += group.profiles;
        if let Some(ends) = trial_end {
            until = until.min(ends);
        }
    }
    let mut pages = crate::service::grants::GrantedPages::default();
    while let Some(page) = pages.next(state).await? {
        for profile in &page {
            let (tier, next) = crate::service::grants::effective_tier_until(
                &registry,
                &profile.tier,
                profile.trial_ends_at,
                &profile.grants,
                now,
            );
            *counts.entry(registry.tier(tier).id.clone()).or_default() += 1;
            if let Some(next) = next {
                until = until.min(next);
            }
        }
    }
    *state.stats.tiers.lock().unwrap_or_else(|p| p.into_inner()) = Some(TierCounts {
        generation,
        profiles,
        until,
        computed,
        counts: counts.clone(),
    });
    Ok(counts)
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
