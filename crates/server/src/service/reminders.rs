//! Jobs about access over time: trial-ending and grant-expiring reminders (each sent
//! once), and the `grant_expired` log entry (once per grant). "Once" is a mark written in
//! the same transaction as the mail or entry, so retries and other instances never repeat
//! it. Nothing here decides access: the timeline does that on every request.

use chrono::{DateTime, TimeDelta, Utc};
use mitai_access::grants::GrantStatus;
use mitai_store::{NewActivity, NewMail, actions};

use crate::service::AppState;
use crate::service::grants::profile_timeline;

/// What one round did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reminded {
    pub trial_reminders: u64,
    pub grant_reminders: u64,
    pub grants_expired: u64,
}

fn tier_name(state: &AppState, tier: &str) -> String {
    state
        .registry()
        .tier_by_id(tier)
        .map_or_else(|| tier.to_owned(), |t| t.name.clone())
}

/// Runs the reminder and expiry jobs at `now`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn run(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<Reminded> {
    let registry = state.registry();
    let lead = TimeDelta::days(registry.settings.reminder_lead_days);
    let mut done = Reminded::default();

    for profile in state
        .store
        .profiles_with_trial_ending(now, now + lead)
        .await?
    {
        let Some(ends_at) = profile.trial_ends_at else {
            continue;
        };
        let mail = NewMail::new(
            profile.email.clone(),
            "trial_ending",
            profile.language.clone(),
            serde_json::json!({
                "name": profile.name,
                "tier": tier_name(state, &registry.settings.trial_tier),
                "ends_at": ends_at,
            }),
            now,
        );
        let key = ends_at.to_rfc3339();
        if state
            .store
            .once("trial_ending", profile.id, &key, now, Some(&mail), None)
            .await?
        {
            done.trial_reminders += 1;
        }
    }

    for profile_id in state.store.profiles_with_grants().await? {
        let Some(profile) = state.store.profile(profile_id).await? else {
            continue;
        };
        let grants = state.store.grants(profile_id).await?;
        let timeline = profile_timeline(&registry, &profile, &grants, now);
        for (grant, grant_state) in grants.iter().zip(timeline.states()) {
            match grant_state.status {
                GrantStatus::Expired => {
                    let entry = NewActivity::new(actions::GRANT_EXPIRED, now)
                        .profile(Some(profile.id))
                        .details(serde_json::json!({
                            "grant_id": grant.id,
                            "tier": grant.tier_id,
                            "ended_at": grant_state.ends_at,
                        }));
                    if state
                        .store
                        .once("grant_expired", grant.id, "", now, None, Some(&entry))
                        .await?
                    {
                        done.grants_expired += 1;
                    }
                }
                GrantStatus::Running | GrantStatus::Waiting | GrantStatus::PausedStacking => {
                    let Some(ends_at) =
                        grant_state.ends_at.filter(|e| *e > now && *e <= now + lead)
                    else {
                        continue;
                    };
                    let mail = NewMail::new(
                        profile.email.clone(),
                        "grant_expiring",
                        profile.language.clone(),
                        serde_json::json!({
                            "name": profile.name,
                            "tier": tier_name(state, &grant.tier_id),
                            "ends_at": ends_at,
                        }),
                        now,
                    );
                    if state
                        .store
                        .once("grant_expiring", grant.id, "", now, Some(&mail), None)
                        .await?
                    {
                        done.grant_reminders += 1;
                    }
                }
                GrantStatus::PausedAdmin | GrantStatus::Revoked => {}
            }
        }
    }
    Ok(done)
}
