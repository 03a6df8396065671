//! The activity log, newest first, with filters and cursor pagination.

use axum::extract::State;
use chrono::{DateTime, Utc};
use mitai_store::{Activity, ActivityFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::{ErrorBody, Page};
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::service::activity;
use crate::state::AppState;

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

/// Empty values count as absent (`?action=` filters nothing).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ActivityParams {
    /// The filter, the cursor and the page size; each bad value is named.
    fn parse(&self) -> ApiResult<(ActivityFilter, Option<Uuid>, i64)> {
        let mut fields = std::collections::BTreeMap::new();
        let mut uuid = |field: &str, value: Option<&str>, why: &str| {
            value.and_then(|v| {
                Uuid::parse_str(v)
                    .map_err(|_| fields.insert(field.to_owned(), why.to_owned()))
                    .ok()
            })
        };
        let profile_id = uuid("profile_id", given(&self.profile_id), "must be a UUID");
        let cursor = uuid(
            "cursor",
            given(&self.cursor),
            "is not a cursor of this list",
        );
        let action = given(&self.action).map(str::to_owned);
        if let Some(a) = &action {
            let ok = a.len() <= 64
                && a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                fields.insert(
                    "action".to_owned(),
                    "must be an action name such as login_failed".to_owned(),
                );
            }
        }
        let since = given(&self.since).and_then(|s| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| (1970..=9999).contains(&chrono::Datelike::year(t)))
                .or_else(|| {
                    fields.insert(
                        "since".to_owned(),
                        "must be an RFC 3339 instant, e.g. 2025-03-14T00:00:00Z".to_owned(),
                    );
                    None
                })
        });
        let limit = match given(&self.limit) {
            None => 50,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => {
                    fields.insert("limit".to_owned(), "must be from 1 to 500".to_owned());
                    50
                }
            },
        };
        if !fields.is_empty() {
            return Err(ApiError::Invalid {
                message: "some query parameters are invalid".into(),
                fields,
            });
        }
        let filter = ActivityFilter {
            profile_id,
            action,
            since,
        };
        Ok((filter, cursor, limit))
    }
}

/// The activity log, newest first.
///
/// Filters combine (`profile_id` and `action` and `since`); pass `next_cursor` as
/// `cursor` for the next (older) page.
#[utoipa::path(get, path = "/activity", tag = "admin", params(ActivityParams),
    responses((status = 200, body = Page<ActivityLogEntry>),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ActivityParams>,
) -> ApiResult<Json<Page<ActivityLogEntry>>> {
    let (filter, cursor, limit) = params.parse()?;
    let (items, next) = activity::list(&state, &filter, cursor, limit).await?;
    Ok(Json(Page {
        items: items.into_iter().map(ActivityLogEntry::from).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}
