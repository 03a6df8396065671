//! Access grants: the timeline of a profile's grants, and admin changes to them.

use chrono::{DateTime, Utc};
use mitai_access::grants::{self, GrantKind, Pause, Timeline};
use mitai_access::{Registry, TierIdx};
use mitai_store::Profile;
use mitai_store::coupons::{Grant, GrantChange, GrantSpan, NewGrant};
use uuid::Uuid;

use crate::service::AppState;
use crate::service::{Error, ErrorCode, Result};
use mitai_access::grants::GrantState;
use serde::Serialize;
use utoipa::ToSchema;

/// The pure-domain form of a stored grant.
pub fn to_access(g: &Grant) -> grants::Grant {
    grants::Grant {
        id: g.id,
        tier_id: g.tier_id.clone(),
        kind: match g.span {
            GrantSpan::Fixed { starts_at, ends_at } => GrantKind::Fixed { starts_at, ends_at },
            GrantSpan::Duration { seconds } => GrantKind::Duration { seconds },
        },
        created_at: g.created_at,
        revoked_at: g.revoked_at,
        pauses: g
            .pauses
            .iter()
            .map(|p| Pause {
                from: p.paused_at,
                to: p.resumed_at,
            })
            .collect(),
    }
}

/// The timeline of a profile: base tier, trial and every grant, as seen at `now`.
pub fn profile_timeline(
    registry: &Registry,
    profile: &Profile,
    grants: &[Grant],
    now: DateTime<Utc>,
) -> Timeline {
    timeline_of(registry, &profile.tier, profile.trial_ends_at, grants, now)
}

/// The timeline of a profile of base tier `tier` whose trial (if any) ends at `trial_ends_at`.
pub fn timeline_of(
    registry: &Registry,
    tier: &str,
    trial_ends_at: Option<DateTime<Utc>>,
    grants: &[Grant],
    now: DateTime<Utc>,
) -> Timeline {
    let trial = trial_ends_at.map(|ends| (registry.settings.trial_tier.as_str(), ends));
    let domain: Vec<grants::Grant> = grants.iter().map(to_access).collect();
    grants::timeline(registry, tier, trial, &domain, now)
}

/// The effective tier of a profile at `now`: base tier, trial, running grants.
pub fn effective_tier(
    registry: &Registry,
    profile: &Profile,
    grants: &[Grant],
    now: DateTime<Utc>,
) -> TierIdx {
    let trial = profile
        .trial_ends_at
        .map(|ends| (registry.settings.trial_tier.as_str(), ends));
    if grants.is_empty() {
        return registry.effective_tier(&profile.tier, trial, [], now);
    }
    let timeline = profile_timeline(registry, profile, grants, now);
    registry.effective_tier(&profile.tier, trial, timeline.running_tiers_at_now(), now)
}

/// The effective tier of a profile (base tier `tier`, a trial ending at `trial_ends_at`) at
/// `now`, and the first instant within a day after it at which it may change (a trial's or
/// a grant's start or end).
pub fn effective_tier_until(
    registry: &Registry,
    tier: &str,
    trial_ends_at: Option<DateTime<Utc>>,
    grants: &[Grant],
    now: DateTime<Utc>,
) -> (TierIdx, Option<DateTime<Utc>>) {
    let trial = trial_ends_at.map(|ends| (registry.settings.trial_tier.as_str(), ends));
    let timeline = timeline_of(registry, tier, trial_ends_at, grants, now);
    let next = timeline
        .changes_within(now, now + chrono::TimeDelta::days(1))
        .first()
        .copied();
    let tier = registry.effective_tier(tier, trial, timeline.running_tiers_at_now(), now);
    (tier, next)
}

/// Profiles with grants read per page by the jobs and the count by effective tier: a
/// page's grants are what either holds at once (a year's operator has tens of thousands).
const GRANTED_PAGE: i64 = 1_000;

/// The enabled profiles with grants, each with its grants, a page at a time
/// ([`mitai_store::ActivityStore::granted_profiles`]).
#[derive(Debug, Default)]
pub struct GrantedPages {
    after: Option<Uuid>,
    done: bool,
}

impl GrantedPages {
    /// The next page; `None` after the last.
    pub async fn next(
        &mut self,
        state: &AppState,
    ) -> mitai_store::Result<Option<Vec<mitai_store::GrantedProfile>>> {
        if self.done {
            return Ok(None);
        }
        let page = state
            .store
            .granted_profiles(self.after, GRANTED_PAGE)
            .await?;
        self.after = page.last().map(|p| p.id);
        self.done = page.len() < usize::try_from(GRANTED_PAGE).unwrap_or(usize::MAX);
        Ok(Some(page).filter(|p| !p.is_empty()))
    }
}

/// The profile's grants as stored (every status), oldest first.
pub async fn of_profile(state: &AppState, profile_id: Uuid) -> Result<Vec<Grant>> {
    Ok(state.store.grants(profile_id).await?)
}

/// The effective tier id of a profile now, loading its grants.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn effective_tier_id(state: &AppState, profile: &Profile) -> Result<String> {
    let registry = state.registry();
    let grants = state.store.grants(profile.id).await?;
    let tier = effective_tier(&registry, profile, &grants, state.now());
    Ok(registry.tier(tier).id.clone())
}

/// The `<grant>` views of a profile's grants, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn grant_views(state: &AppState, profile: &Profile) -> Result<Vec<GrantView>> {
    let registry = state.registry();
    let grants = state.store.grants(profile.id).await?;
    let timeline = profile_timeline(&registry, profile, &grants, state.now());
    let mut views: Vec<GrantView> = grants
        .iter()
        .zip(timeline.states())
        .map(|(g, s)| GrantView::new(g, s))
        .collect();
    views.reverse();
    Ok(views)
}

/// The view of one grant of a profile (its state depends on the profile's other grants).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn grant_view(state: &AppState, grant_id: Uuid) -> Result<GrantView> {
    let grant = state.store.grant(grant_id).await?.ok_or(Error::NotFound)?;
    let profile = state
        .store
        .profile(grant.profile_id)
        .await?
        .ok_or(Error::NotFound)?;
    grant_views(state, &profile)
        .await?
        .into_iter()
        .find(|v| v.id == grant_id)
        .ok_or(Error::NotFound)
}

/// What an admin asks for.
pub enum GrantRequest {
    Duration {
        days: i64,
    },
    Fixed {
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
}

/// Creates an admin grant for a profile.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_admin_grant(
    state: &AppState,
    admin: Uuid,
    profile_id: Uuid,
    tier: &str,
    request: GrantRequest,
) -> Result<GrantView> {
    let registry = state.registry();
    if !registry.tier_by_id(tier).is_some_and(|t| t.active) {
        return Err(Error::field("tier", "must be the id of an active tier"));
    }
    state
        .store
        .profile(profile_id)
        .await?
        .ok_or(Error::NotFound)?;
    let span = match request {
        GrantRequest::Duration { days } if (1..=3650).contains(&days) => GrantSpan::Duration {
            seconds: days * 86_400,
        },
        GrantRequest::Duration { .. } => {
            return Err(Error::field("days", "must be from 1 to 3650"));
        }
        GrantRequest::Fixed { starts_at, ends_at } if starts_at < ends_at => {
            GrantSpan::Fixed { starts_at, ends_at }
        }
        GrantRequest::Fixed { .. } => {
            return Err(Error::field("ends_at", "must be after starts_at"));
        }
    };
    let grant = state
        .store
        .create_grant(&NewGrant {
            id: Uuid::now_v7(),
            profile_id,
            tier_id: tier.to_owned(),
            source: "admin".into(),
            coupon_id: None,
            span,
            created_by: Some(admin),
            created_at: state.now(),
        })
        .await?;
    grant_view(state, grant.id).await
}

/// Maps an admin change to its answer.
pub fn change_result(change: GrantChange, no_change: ErrorCode) -> Result<()> {
    match change {
        GrantChange::Done => Ok(()),
        GrantChange::NotFound => Err(Error::NotFound),
        GrantChange::Revoked => Err(Error::refused(
            ErrorCode::GrantRevoked,
            "this grant is revoked",
        )),
        GrantChange::NoChange => Err(Error::refused(
            no_change,
            no_change.as_str().replace('_', " "),
        )),
    }
}

/// The API view of a profile, with its effective tier computed from its grants.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn profile_view(
    state: &AppState,
    profile: &Profile,
) -> Result<crate::service::profiles::ProfileView> {
    let tier = effective_tier_id(state, profile).await?;
    Ok(crate::service::profiles::ProfileView::new(profile, tier))
}

/// The effective tier id of each profile (in order), with the grants of all of them read
/// at once: for pages and figures over many profiles.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn effective_tiers(state: &AppState, profiles: &[Profile]) -> Result<Vec<String>> {
    let registry = state.registry();
    let now = state.now();
    let ids: Vec<Uuid> = profiles.iter().map(|p| p.id).collect();
    let mut by_profile: std::collections::HashMap<Uuid, Vec<Grant>> =
        std::collections::HashMap::new();
    for grant in state.store.grants_of(&ids).await? {
        by_profile.entry(grant.profile_id).or_default().push(grant);
    }
    Ok(profiles
        .iter()
        .map(|p| {
            let grants = by_profile.get(&p.id).map_or(&[][..], Vec::as_slice);
            registry
                .tier(effective_tier(&registry, p, grants, now))
                .id
                .clone()
        })
        .collect())
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
