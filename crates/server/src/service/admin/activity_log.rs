//! The activity log as admins read it: newest first, with filters and cursor paging.

use chrono::{DateTime, Utc};
use mitai_store::ActivityFilter;
use uuid::Uuid;

use crate::service::AppState;
use crate::service::activity_log;
use crate::service::{Error, Result};
use mitai_store::Activity;
use serde::Deserialize;
use serde::Serialize;
use utoipa::IntoParams;
use utoipa::ToSchema;

/// A page of the log, newest first, filtered by `params`, and the next (older) page's
/// cursor. Refuses every bad parameter at once, each named (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    params: &ActivityParams,
) -> Result<(Vec<ActivityLogEntry>, Option<String>)> {
    let (filter, cursor, limit) = parse(params)?;
    let (items, next) = activity_log::list(state, &filter, cursor, limit).await?;
    Ok((
        items.into_iter().map(ActivityLogEntry::from).collect(),
        next.map(|id| id.to_string()),
    ))
}

/// The name and e-mail of each profile in `ids` that still exists, each read once: the
/// log shows people, not ids.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn people(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<std::collections::HashMap<Uuid, (String, String)>> {
    let mut found = std::collections::HashMap::new();
    let mut asked = std::collections::HashSet::new();
    for id in ids {
        if !asked.insert(id) {
            continue;
        }
        if let Some(p) = state.store.profile(id).await? {
            found.insert(id, (p.name, p.email));
        }
    }
    Ok(found)
}

/// The id of the profile with this e-mail, if there is one (the log's filter takes either).
pub async fn profile_of_email(state: &AppState, email: &str) -> Result<Option<Uuid>> {
    Ok(state.store.credentials(email).await?.map(|(p, _)| p.id))
}

/// Empty values count as absent (`?action=` filters nothing).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The filter, the cursor and the page size; each bad value is named.
fn parse(params: &ActivityParams) -> Result<(ActivityFilter, Option<Uuid>, i64)> {
    let mut fields = std::collections::BTreeMap::new();
    let mut uuid = |field: &str, value: Option<&str>, why: &str| {
        value.and_then(|v| {
            Uuid::parse_str(v)
                .map_err(|_| fields.insert(field.to_owned(), why.to_owned()))
                .ok()
        })
    };
    let profile_id = uuid("profile_id", given(&params.profile_id), "must be a UUID");
    let cursor = uuid(
        "cursor",
        given(&params.cursor),
        "is not a cursor of this list",
    );
    let action = given(&params.action).map(str::to_owned);
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
    let since = given(&params.since).and_then(|s| {
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
    let limit = match given(&params.limit) {
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
        return Err(Error::Invalid {
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
