//! Profiles as admins manage them: list, look at, change; per-user restrictions.

use mitai_store::{Profile, ProfileFilter, ProfilePatch, Restriction, Role, actions};
use serde_json::{Value, json};
use uuid::Uuid;

use mitai_access::text::{Reason, SearchQuery};

use super::{check_instant, check_limit};
use crate::service::field;

use crate::service::AppState;
use crate::service::access::AccessList;
use crate::service::paging::next_cursor;
use crate::service::patch::double_option;
use crate::service::profiles::ProfileView;
use crate::service::{Error, Result};
use crate::service::{access, activity_log, grants};
use chrono::DateTime;
use chrono::Utc;
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

/// A page of profiles (`limit` of them after `after`), optionally only those with
/// `query` in e-mail or name, and the next cursor. Refuses a query over 200 characters.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    query: Option<&str>,
    limit: i64,
    after: Option<Uuid>,
) -> Result<(Vec<ProfileView>, Option<String>)> {
    let query = field("query", SearchQuery::parse_optional(query.unwrap_or("")))?;
    let query = query.as_ref().map(SearchQuery::as_str);
    let mut profiles = state.store.list_profiles(query, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut profiles, limit, |p| p.id);
    // One query for the grants of the whole page, not one per profile.
    let tiers = grants::effective_tiers(state, &profiles).await?;
    let items = profiles
        .iter()
        .zip(tiers)
        .map(|(p, tier)| ProfileView::new(p, tier))
        .collect();
    Ok((items, next_cursor))
}

/// The orders of the list, as the pages name them.
pub use mitai_store::ProfileOrder;

/// The admin list's question: a search, filters (plan is the effective one) and an order.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub query: Option<String>,
    /// The effective tier now.
    pub plan: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// A trial ending within seven days.
    pub trial_ending: bool,
    /// Refused at a limit within seven days.
    pub at_limit: bool,
    pub order: ProfileOrder,
}

/// How many profiles one page may look through for a plan filter (the effective plan
/// is known only after reading grants); the page may then be short, and its cursor goes on.
const PLAN_SCAN: usize = 5_000;

/// A profile whose trial ends soon, as the overview lists it.
pub struct TrialEnding {
    pub id: Uuid,
    pub email: String,
    pub ends_at: DateTime<Utc>,
}

/// Enabled profiles whose trial ends within a week, soonest first: at most `limit`, and
/// whether there are more. Read through the index on the trial's end, so its cost does not
/// grow with the profiles.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn trials_ending(state: &AppState, limit: usize) -> Result<(Vec<TrialEnding>, bool)> {
    let now = state.now();
    let mut ending: Vec<TrialEnding> = state
        .store
        .profiles_with_trial_ending(now, now + chrono::TimeDelta::days(7))
        .await?
        .into_iter()
        .filter_map(|p| {
            Some(TrialEnding {
                ends_at: p.trial_ends_at?,
                id: p.id,
                email: p.email,
            })
        })
        .collect();
    ending.sort_by_key(|t| (t.ends_at, t.id));
    let more = ending.len() > limit;
    ending.truncate(limit);
    Ok((ending, more))
}

/// A page of profiles matching `q` (`limit` of them after the cursor `after`) and the next
/// cursor. Refuses a query over 200 characters.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(
    state: &AppState,
    q: &UserQuery,
    limit: i64,
    after: Option<String>,
) -> Result<(Vec<ProfileView>, Option<String>)> {
    let query = field(
        "query",
        SearchQuery::parse_optional(q.query.as_deref().unwrap_or("")),
    )?;
    let now = state.now();
    let week = chrono::TimeDelta::days(7);
    let filter = ProfileFilter {
        query: query.as_ref().map(|s| s.as_str().to_owned()),
        role: q.role,
        disabled: q.disabled,
        trial_ending: q.trial_ending.then_some((now, now + week)),
        refused_since: q.at_limit.then_some(now - week),
    };
    let cursor_of = |p: &ProfileView| match q.order {
        ProfileOrder::Email => mitai_store::normalize_email(&p.email),
        _ => p.id.to_string(),
    };
    let wanted = usize::try_from(limit).unwrap_or(0);
    let batch = (limit + 1).clamp(1, 500);
    let (mut items, mut scanned, mut after) = (Vec::new(), 0, after);
    loop {
        let page = state
            .store
            .find_profiles(&filter, q.order, after.as_deref(), batch)
            .await?;
        let tiers = grants::effective_tiers(state, &page).await?;
        let last = page.len() < batch as usize;
        scanned += page.len();
        for (p, tier) in page.iter().zip(tiers) {
            let view = ProfileView::new(p, tier);
            after = Some(cursor_of(&view));
            if q.plan
                .as_ref()
                .is_none_or(|plan| *plan == view.effective_tier)
            {
                items.push(view);
                if items.len() > wanted {
                    break;
                }
            }
        }
        if items.len() > wanted || last {
            break;
        }
        if scanned >= PLAN_SCAN {
            // A short page; the cursor goes on from the last profile looked at.
            return Ok((items, after));
        }
    }
    let next = if items.len() > wanted {
        items.truncate(wanted);
        items.last().map(cursor_of)
    } else {
        None
    };
    Ok((items, next))
}

/// Every profile matching `q` as CSV, at most 100,000 rows: e-mail, name, plan now, base
/// plan, role, status, created, trial end.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn export_csv(state: &AppState, q: &UserQuery) -> Result<String> {
    use crate::service::export::csv::line;
    let mut out = line(
        [
            "email",
            "name",
            "plan",
            "base_plan",
            "role",
            "disabled",
            "created_at",
            "trial_ends_at",
        ]
        .iter(),
    );
    let (mut after, mut rows) = (None, 0);
    loop {
        let (items, next) = find(state, q, 1000, after).await?;
        for p in &items {
            let trial = p.trial_ends_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            out.push_str(&line(
                [
                    p.email.as_str(),
                    p.name.as_str(),
                    p.effective_tier.as_str(),
                    p.tier.as_str(),
                    p.role.as_str(),
                    if p.disabled { "true" } else { "false" },
                    &p.created_at.to_rfc3339(),
                    &trial,
                ]
                .iter(),
            ));
        }
        rows += items.len();
        match next {
            Some(n) if rows < 100_000 => after = Some(n),
            _ => break,
        }
    }
    Ok(out)
}

/// A profile; 404 if there is none.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load(state: &AppState, id: Uuid) -> Result<Profile> {
    state.store.profile(id).await?.ok_or(Error::NotFound)
}

/// The profile's personal limits (expired ones too).
pub async fn restrictions(state: &AppState, id: Uuid) -> Result<Vec<Restriction>> {
    Ok(state.store.restrictions(id).await?)
}

/// One profile with its restrictions; 404 if there is none.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn detail(state: &AppState, id: Uuid) -> Result<UserDetail> {
    let profile = load(state, id).await?;
    let restrictions = state.store.restrictions(id).await?;
    Ok(UserDetail {
        profile: grants::profile_view(state, &profile).await?,
        restrictions: restrictions.iter().map(RestrictionView::from).collect(),
    })
}

/// Changes a profile's base tier, role, disabled flag or trial and logs each change.
/// Refuses an unknown profile (404), bad values (422) and demoting or disabling the
/// last active admin (409 `last_admin`, from the store).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
    patch: UserPatch,
) -> Result<ProfileView> {
    let registry = state.registry();
    let profile = load(state, id).await?;
    if let Some(Some(ends)) = patch.trial_ends_at {
        check_instant("trial_ends_at", ends)?;
    }
    if let Some(tier) = &patch.tier
        && registry.tier_by_id(tier).is_none()
    {
        return Err(Error::field("tier", "no such tier"));
    }
    let role = match patch.role.as_deref() {
        None => None,
        Some(r) => {
            Some(Role::parse(r).ok_or_else(|| Error::field("role", "must be user or admin"))?)
        }
    };
    let changes = ProfilePatch {
        tier: patch.tier,
        role,
        disabled: patch.disabled,
        trial_ends_at: patch.trial_ends_at,
        ..Default::default()
    };
    let updated = state
        .store
        .update_profile(id, &changes, state.now())
        .await?
        .ok_or(Error::NotFound)?;
    log_changes(state, admin, &profile, &updated, ip).await;
    grants::profile_view(state, &updated).await
}

/// Logs each change an admin made to a profile, with the value before and after:
/// `tier_changed`, `role_changed`, `account_disabled` / `account_enabled`, `trial_changed`.
async fn log_changes(
    state: &AppState,
    admin: &Profile,
    before: &Profile,
    after: &Profile,
    ip: Option<String>,
) {
    let mut changes = Vec::new();
    if before.tier != after.tier {
        let change = (json!({"tier": before.tier}), json!({"tier": after.tier}));
        changes.push((actions::TIER_CHANGED, change));
    }
    if before.role != after.role {
        let (from, to) = (before.role.as_str(), after.role.as_str());
        changes.push((
            actions::ROLE_CHANGED,
            (json!({"role": from}), json!({"role": to})),
        ));
    }
    if before.disabled != after.disabled {
        let action = if after.disabled {
            actions::ACCOUNT_DISABLED
        } else {
            actions::ACCOUNT_ENABLED
        };
        let change = (
            json!({"disabled": before.disabled}),
            json!({"disabled": after.disabled}),
        );
        changes.push((action, change));
    }
    if before.trial_ends_at != after.trial_ends_at {
        let (from, to) = (before.trial_ends_at, after.trial_ends_at);
        let change = (json!({"trial_ends_at": from}), json!({"trial_ends_at": to}));
        changes.push((actions::TRIAL_CHANGED, change));
    }
    for (action, (old, new)) in changes {
        let profile = Some(after.id);
        let subject = json!({});
        activity_log::audit(state, admin, ip.clone(), profile, action, subject, old, new).await;
    }
}

/// The profile's access to every feature, as they see it; 404 if there is no profile.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn access(state: &AppState, id: Uuid) -> Result<AccessList> {
    let profile = load(state, id).await?;
    let (effective_tier, features) = access::access_list(state, &profile).await?;
    Ok(AccessList {
        effective_tier,
        features,
    })
}

/// Overrides one feature's limit for a profile (replacing an earlier override) and logs
/// `restriction_set`. Refuses an unknown feature or profile (404), then a missing or bad
/// limit, a long reason, or a `valid_until` not in the future (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_restriction(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
    feature: &str,
    body: RestrictionBody,
) -> Result<RestrictionView> {
    if state.registry().feature_by_id(feature).is_none() {
        return Err(Error::NotFound);
    }
    load(state, id).await?;
    let limit = body
        .limit
        .ok_or_else(|| Error::field("limit", "is required (null for unlimited)"))?;
    let limit = check_limit("limit", limit)?;
    let reason = field("reason", Reason::parse_or_empty(&body.reason))?;
    let now = state.now();
    if let Some(until) = body.valid_until {
        if until <= now {
            return Err(Error::field("valid_until", "must be in the future"));
        }
        check_instant("valid_until", until)?;
    }
    let restriction = Restriction {
        profile_id: id,
        feature_id: feature.to_owned(),
        limit,
        reason: reason.into(),
        valid_until: body.valid_until,
        created_by: Some(admin.id),
        created_at: now,
    };
    let before = restriction_value(state, id, feature).await?;
    state.store.put_restriction(&restriction).await?;
    let after = json!({
        "limit": restriction.limit,
        "reason": restriction.reason,
        "valid_until": restriction.valid_until,
    });
    let subject = json!({ "feature": restriction.feature_id });
    let action = actions::RESTRICTION_SET;
    activity_log::audit(state, admin, ip, Some(id), action, subject, before, after).await;
    Ok(RestrictionView::from(&restriction))
}

/// Removes a profile's override of a feature, so the tier's limit applies again, and
/// logs `restriction_cleared`. Refuses an unknown feature or a missing override (404).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn clear_restriction(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
    feature: &str,
) -> Result<()> {
    if state.registry().feature_by_id(feature).is_none() {
        return Err(Error::NotFound);
    }
    let before = restriction_value(state, id, feature).await?;
    if !state.store.delete_restriction(id, feature).await? {
        return Err(Error::NotFound);
    }
    let subject = json!({ "feature": feature });
    let action = actions::RESTRICTION_CLEARED;
    activity_log::audit(
        state,
        admin,
        ip,
        Some(id),
        action,
        subject,
        before,
        Value::Null,
    )
    .await;
    Ok(())
}

/// A personal limit as the audit trail keeps it, or null when there is none.
async fn restriction_value(state: &AppState, profile: Uuid, feature: &str) -> Result<Value> {
    let restrictions = state.store.restrictions(profile).await?;
    Ok(restrictions
        .into_iter()
        .find(|r| r.feature_id == feature)
        .map_or(
            Value::Null,
            |r| json!({"limit": r.limit, "reason": r.reason, "valid_until": r.valid_until}),
        ))
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
