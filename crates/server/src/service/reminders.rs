//! Jobs about time: trial-ending and grant-expiring reminders (each sent once), the
//! `grant_expired` log entry (once per grant), and the weigh-in reminders people switch on
//! (once a day at most, on their weekdays from their time of day, in their time zone, and
//! not when they weighed in that day already). "Once" is a mark written in
//! the same transaction as the mail or entry, so retries and other instances never repeat
//! it. Nothing here decides access: the timeline does that on every request.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc};
use mitai_access::EntryKind;
use mitai_access::grants::GrantStatus;
use mitai_store::{EntryOrder, EntryQuery, NewActivity, NewMail, actions};
use uuid::Uuid;

use crate::service::AppState;
use crate::service::grants::timeline_of;

/// What one round did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reminded {
    pub trial_reminders: u64,
    pub grant_reminders: u64,
    pub grants_expired: u64,
    pub weigh_in_reminders: u64,
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

    // Every enabled profile with grants and its grants, a page at a time (three statements
    // a page), and what was done already in two: a round costs a few reads a thousand
    // profiles, holds one page, and writes only what is new.
    let expired: HashSet<Uuid> = state
        .store
        .done_for("grant_expired")
        .await?
        .into_iter()
        .collect();
    let expiring: HashSet<Uuid> = state
        .store
        .done_for("grant_expiring")
        .await?
        .into_iter()
        .collect();
    let mut pages = crate::service::grants::GrantedPages::default();
    while let Some(page) = pages.next(state).await? {
        for profile in &page {
            let grants = &profile.grants;
            let timeline =
                timeline_of(&registry, &profile.tier, profile.trial_ends_at, grants, now);
            for (grant, grant_state) in grants.iter().zip(timeline.states()) {
                match grant_state.status {
                    GrantStatus::Expired if !expired.contains(&grant.id) => {
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
                    GrantStatus::Running | GrantStatus::Waiting | GrantStatus::PausedStacking
                        if !expiring.contains(&grant.id) =>
                    {
                        let Some(ends_at) =
                            grant_state.ends_at.filter(|e| *e > now && *e <= now + lead)
                        else {
                            continue;
                        };
                        // The whole profile only for those who get mail.
                        let Some(profile) = state.store.profile(profile.id).await? else {
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
                    _ => {}
                }
            }
        }
    }
    done.weigh_in_reminders = weigh_in_reminders(state, now).await?;
    Ok(done)
}

/// Enqueues the weigh-in reminders due at `now`: for each person with one on, whose
/// weekday it is and whose time of day has come where they live, once that day, unless
/// they weighed in that day already or their address is not confirmed.
async fn weigh_in_reminders(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let verification = state.registry().settings.require_email_verification;
    let mut sent = 0;
    for profile in state.store.profiles_with_weigh_in_reminders().await? {
        if verification && !profile.email_verified {
            continue;
        }
        let local = now.with_timezone(&crate::service::profiles::timezone_of(state, &profile));
        let weekday = 1 << local.weekday().num_days_from_monday();
        let time = profile
            .body
            .reminder_time
            .as_deref()
            .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok());
        let Some(time) = time else {
            continue;
        };
        if profile.body.reminder_days & weekday == 0 || local.time() < time {
            continue;
        }
        let today = local.date_naive();
        let weighed = state
            .store
            .list_entries(
                profile.id,
                EntryKind::Weight,
                &EntryQuery {
                    from: Some(today),
                    to: Some(today),
                    after: None,
                    limit: 1,
                    order: EntryOrder::NewestFirst,
                },
            )
            .await?;
        if !weighed.is_empty() {
            continue;
        }
        let mail = NewMail::new(
            profile.email.clone(),
            "weigh_in_reminder",
            profile.language.clone(),
            serde_json::json!({ "name": profile.name }),
            now,
        );
        let key = today.to_string();
        if state
            .store
            .once(
                "weigh_in_reminder",
                profile.id,
                &key,
                now,
                Some(&mail),
                None,
            )
            .await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}
