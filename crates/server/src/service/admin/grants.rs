//! Admin grants: give a profile access, pause, resume, revoke; each change is logged.

use mitai_store::coupons::GrantChange;
use mitai_store::{Profile, actions};
use serde_json::{Value, json};
use uuid::Uuid;

use mitai_access::text::Reason;

use super::check_instant;
use crate::service::field;
use crate::service::grants::GrantView;

use crate::service::AppState;
use crate::service::activity_log;
use crate::service::grants::{self, GrantRequest};
use crate::service::{Error, ErrorCode, Result};
use chrono::DateTime;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

/// A profile's grants with their status now, newest first; 404 if there is no profile.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(state: &AppState, profile_id: Uuid) -> Result<Vec<GrantView>> {
    let profile = state
        .store
        .profile(profile_id)
        .await?
        .ok_or(Error::NotFound)?;
    grants::grant_views(state, &profile).await
}

/// Gives a profile access (`days`: a duration grant; `starts_at` and `ends_at`: a fixed
/// one) and logs `grant_created`. Refuses any other mix, bad instants, an inactive tier
/// (422) and an unknown profile (404).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    profile_id: Uuid,
    body: NewGrantBody,
) -> Result<GrantView> {
    let request = match (body.days, body.starts_at, body.ends_at) {
        (Some(days), None, None) => GrantRequest::Duration { days },
        (None, Some(starts_at), Some(ends_at)) => {
            check_instant("starts_at", starts_at)?;
            check_instant("ends_at", ends_at)?;
            GrantRequest::Fixed { starts_at, ends_at }
        }
        _ => {
            return Err(Error::field(
                "body",
                "give either days (duration grant) or starts_at and ends_at (fixed grant)",
            ));
        }
    };
    let view = grants::create_admin_grant(state, admin.id, profile_id, &body.tier, request).await?;
    let subject = json!({ "grant_id": view.id });
    let (action, after) = (actions::GRANT_CREATED, audited(&view));
    let profile = Some(profile_id);
    activity_log::audit(
        state,
        admin,
        ip,
        profile,
        action,
        subject,
        Value::Null,
        after,
    )
    .await;
    Ok(view)
}

/// Pauses a grant (a duration grant keeps its remaining time) and logs `grant_paused`.
/// Refuses an empty or long reason (422), an unknown grant (404), and a paused or
/// revoked one (409).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn pause(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
    body: PauseBody,
) -> Result<GrantView> {
    let reason = field("reason", Reason::parse(&body.reason))?;
    let reason = reason.as_str();
    let before = grants::grant_view(state, id).await.ok();
    let change = state
        .store
        .pause_grant(id, Some(admin.id), reason, state.now())
        .await?;
    grants::change_result(change, ErrorCode::GrantAlreadyPaused)?;
    let view = grants::grant_view(state, id).await?;
    let action = actions::GRANT_PAUSED;
    log_change(state, admin, action, before, &view, ip).await?;
    Ok(view)
}

/// Resumes a paused grant and logs `grant_resumed`. Refuses an unknown grant (404) and
/// one not paused or revoked (409).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resume(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
) -> Result<GrantView> {
    let before = grants::grant_view(state, id).await.ok();
    let change = state
        .store
        .resume_grant(id, Some(admin.id), state.now())
        .await?;
    grants::change_result(change, ErrorCode::GrantNotPaused)?;
    let view = grants::grant_view(state, id).await?;
    log_change(state, admin, actions::GRANT_RESUMED, before, &view, ip).await?;
    Ok(view)
}

/// Revokes a grant, so it gives nothing from now on, and logs `grant_revoked`.
/// Refuses an unknown grant (404); revoking twice is not an error (and not logged).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(state: &AppState, admin: &Profile, ip: Option<String>, id: Uuid) -> Result<()> {
    let before = grants::grant_view(state, id).await.ok();
    match state
        .store
        .revoke_grant(id, Some(admin.id), state.now())
        .await?
    {
        GrantChange::NotFound => Err(Error::NotFound),
        GrantChange::Done => {
            let view = grants::grant_view(state, id).await?;
            log_change(state, admin, actions::GRANT_REVOKED, before, &view, ip).await
        }
        _ => Ok(()),
    }
}

/// Logs an admin change of a grant, about the grant's profile, with its state before
/// and after.
async fn log_change(
    state: &AppState,
    admin: &Profile,
    action: &str,
    before: Option<GrantView>,
    after: &GrantView,
    ip: Option<String>,
) -> Result<()> {
    let grant = state.store.grant(after.id).await?.ok_or(Error::NotFound)?;
    let subject = json!({ "grant_id": after.id });
    let before = before.as_ref().map_or(Value::Null, audited);
    let profile = Some(grant.profile_id);
    let after = audited(after);
    activity_log::audit(state, admin, ip, profile, action, subject, before, after).await;
    Ok(())
}

/// A grant as the audit trail keeps it: what it gives and its state, not the time left.
fn audited(view: &GrantView) -> Value {
    json!({
        "tier": view.tier,
        "kind": view.kind,
        "status": view.status,
        "starts_at": view.starts_at,
        "ends_at": view.ends_at,
        "pause_reason": view.pause_reason,
    })
}

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
