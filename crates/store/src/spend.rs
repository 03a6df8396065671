//! The statements of a spend, which every path that decides one shares: the store's write
//! transactions (idempotent consumes, gated creations, SQLite in memory), PostgreSQL's
//! batchers when a batch fails, and SQLite's group commit (`sqlite_hot`, which runs the
//! same text through its own connections). The `feature_used` entry of a spend is an
//! activity entry, so the activity log's insert is here too.

use const_format::concatcp;
use sqlx::types::Json;

use crate::sql::{Tx, on_constraint, on_constraint_of, query};
use crate::{ConsumeRequest, Consumed, NewActivity, Result, StatsDelta};

/// [`CONSUME_SQL`] without its `RETURNING`: one row changed or none. SQLite collects the
/// rows of a `RETURNING` in a temporary b-tree it opens and closes for every statement,
/// which cost the group-commit writer more than reading the row back (`sqlite_hot`).
pub(crate) const SPEND_SQL: &str = "INSERT INTO user_feature_usage \
        (profile_id, feature_id, period_start, used, updated_at) \
     SELECT $1, $2, $3, $4, $5 WHERE $6 IS NULL OR $4 <= $6 \
     ON CONFLICT (profile_id, feature_id, period_start) DO UPDATE \
        SET used = user_feature_usage.used + excluded.used, updated_at = excluded.updated_at \
        WHERE $6 IS NULL OR user_feature_usage.used + excluded.used <= $6";

/// The conditional upsert at the heart of exact consumption: the bucket's usage rises by
/// `amount` only if the result stays within the cap; otherwise no row comes back and
/// nothing changes. One statement, so two racing requests for the last unit cannot both
/// win.
pub(crate) const CONSUME_SQL: &str = concatcp!(SPEND_SQL, " RETURNING used");

/// The usage of one bucket: `$1` profile, `$2` feature, `$3` period start.
pub(crate) const USED_SQL: &str = "SELECT used FROM user_feature_usage \
     WHERE profile_id = $1 AND feature_id = $2 AND period_start = $3";

/// One activity entry: `$1` id, `$2` profile, `$3` actor, `$4` action, `$5` details,
/// `$6` ip, `$7` created_at.
pub(crate) const INSERT_ACTIVITY_SQL: &str = "INSERT INTO user_activity_log \
    (id, profile_id, actor_id, action, details, ip, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Applies a [`StatsDelta`] to a profile's statistics: `$1` profile, `$2` logins,
/// `$3` last_login_at, `$4` last_active_at, `$5` redemptions, `$6` updated_at. Instants
/// move forward only: a late event does not move them back.
pub(crate) const UPSERT_STATS_SQL: &str = "INSERT INTO user_stats (profile_id, logins, \
        last_login_at, last_active_at, feature_totals, redemptions, updated_at) \
    VALUES ($1, $2, $3, $4, '{}', $5, $6) \
    ON CONFLICT (profile_id) DO UPDATE SET \
        logins = user_stats.logins + excluded.logins, \
        last_login_at = CASE WHEN excluded.last_login_at IS NOT NULL \
            AND (user_stats.last_login_at IS NULL \
                 OR excluded.last_login_at > user_stats.last_login_at) \
            THEN excluded.last_login_at ELSE user_stats.last_login_at END, \
        last_active_at = CASE WHEN excluded.last_active_at IS NOT NULL \
            AND (user_stats.last_active_at IS NULL \
                 OR excluded.last_active_at > user_stats.last_active_at) \
            THEN excluded.last_active_at ELSE user_stats.last_active_at END, \
        redemptions = user_stats.redemptions + excluded.redemptions, \
        updated_at = excluded.updated_at";

/// How much later than the profile's `last_active_at` a spend must be to move it. A person
/// spending many times a minute leaves the row as it is: with a year of profiles each
/// row sits on a page of its own, which every move writes (WAL and checkpoint).
pub(crate) const ACTIVE_STEP: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A spend by the profile itself (the hot paths): active at `$2`, which becomes its
/// `last_active_at` when it has none or one at or before `$3` (`$2` − [`ACTIVE_STEP`]).
/// `$1` profile.
pub(crate) const TOUCH_SQL: &str = "INSERT INTO user_stats (profile_id, logins, \
        last_login_at, last_active_at, feature_totals, redemptions, updated_at) \
    VALUES ($1, 0, NULL, $2, '{}', 0, $2) \
    ON CONFLICT (profile_id) DO UPDATE SET last_active_at = excluded.last_active_at, \
        updated_at = excluded.updated_at \
    WHERE user_stats.last_active_at IS NULL OR user_stats.last_active_at <= $3";

/// The conditional upsert of `r` ([`CONSUME_SQL`]): the bucket's usage after the spend, or
/// `None` when it was refused (nothing changed).
pub(crate) async fn consume_in<'e>(
    on: impl crate::sql::Executor<'e>,
    r: &ConsumeRequest<'_>,
) -> Result<Option<i64>> {
    let row = query(CONSUME_SQL)
        .bind(r.profile_id)
        .bind(r.feature_id)
        .bind(r.period_start)
        .bind(r.amount)
        .bind(r.now)
        .bind(r.cap)
        .fetch_optional(on)
        .await
        .map_err(|e| on_constraint(e, "profile or feature"))?;
    row.map(|row| row.get(0)).transpose()
}

/// The usage of the bucket of `r` (0 when it was never spent).
pub(crate) async fn used_in<'e>(
    on: impl crate::sql::Executor<'e>,
    r: &ConsumeRequest<'_>,
) -> Result<i64> {
    let row = query(USED_SQL)
        .bind(r.profile_id)
        .bind(r.feature_id)
        .bind(r.period_start)
        .fetch_optional(on)
        .await?;
    Ok(row.map(|row| row.get(0)).transpose()?.unwrap_or(0))
}

/// Decides a spend in the caller's write transaction: the conditional upsert, the
/// `feature_used` entry when the request asks for one, or the unchanged usage of a refusal.
pub(crate) async fn spend_in(tx: &mut Tx, r: &ConsumeRequest<'_>) -> Result<Consumed> {
    match consume_in(&mut *tx, r).await? {
        Some(used) => {
            if let Some(entry) = r.spend_activity(used) {
                log_activity_in(tx, &entry).await?;
            }
            Ok(Consumed::Spent { used })
        }
        None => Ok(Consumed::LimitReached {
            used: used_in(&mut *tx, r).await?,
        }),
    }
}

/// Logs one event in the caller's transaction and applies its [`StatsDelta`] to the
/// profile's `user_stats`. Per-feature totals are not written here:
/// [`user_stats`](crate::ActivityStore::user_stats) derives them from the log when they are
/// read.
pub(crate) async fn log_activity_in(tx: &mut Tx, a: &NewActivity) -> Result<()> {
    query(INSERT_ACTIVITY_SQL)
        .bind(a.id)
        .bind(a.profile_id)
        .bind(a.actor_id)
        .bind(&a.action)
        .bind(Json(&a.details))
        .bind(&a.ip)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_constraint_of(e, "activity", "profile"))?;
    let delta = StatsDelta::of(a);
    let Some(profile_id) = a.profile_id.filter(|_| !delta.is_empty()) else {
        return Ok(());
    };
    query(UPSERT_STATS_SQL)
        .bind(profile_id)
        .bind(delta.logins)
        .bind(delta.last_login_at)
        .bind(delta.last_active_at)
        .bind(delta.redemptions)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_constraint(e, "profile"))?;
    Ok(())
}
