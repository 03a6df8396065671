//! The activity log and per-profile statistics. An entry is written by
//! [`log_activity_in`](crate::spend::log_activity_in), in the transaction of the change it
//! records; days of the log are grouped by each backend's own expression.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::{PerBackend, SqlStore};
use crate::spend::log_activity_in;
use crate::sql::{Row, corrupt, query};
use crate::{
    Activity, ActivityFilter, CouponRedemptionCount, FeatureDay, GrantedProfile, NewActivity,
    Result, TierGroup, UserStats, postgres, sqlite,
};

const ACTIVITY_COLUMNS: &str = "id, profile_id, actor_id, action, details, ip, created_at";

/// The action of most entries (one per consume). SQLite's index on `(action, id)` leaves it
/// out (migration 0013): listing it reads the log newest first anyway, and every consume
/// saves the index's insert.
const FEATURE_USED: &str = crate::actions::FEATURE_USED;

const USER_STATS: &str = "SELECT profile_id, logins, last_login_at, last_active_at, \
    feature_totals, redemptions, updated_at FROM user_stats WHERE profile_id = $1";

/// Units used, ever, per feature: the sum of the profile's `feature_used` entries (a spend
/// and its entry commit together) and of the daily counts older ones were folded into.
/// The action is tested on the profile's entries, not in their condition: PostgreSQL,
/// without fresh statistics after a burst of uses, otherwise walked its index on the
/// action over every use of everyone (14 ms for a profile with two entries).
const FEATURE_TOTALS: &str = "SELECT feature, CAST(SUM(amount) AS BIGINT) AS amount FROM ( \
        SELECT details ->> 'feature' AS feature, \
            CASE WHEN action = 'feature_used' \
                THEN CAST(details ->> 'amount' AS BIGINT) END AS amount \
        FROM user_activity_log WHERE profile_id = $1 \
        UNION ALL \
        SELECT feature_id AS feature, amount FROM activity_daily WHERE profile_id = $1 \
    ) t WHERE amount IS NOT NULL GROUP BY 1 ORDER BY 1";

/// Uses, units and refusals per UTC day and feature from the day `$1` on, as rolled up.
const FEATURE_DAYS: &str = "SELECT day, feature_id AS feature, uses, amount, limit_reached \
    FROM usage_days WHERE day >= $1 ORDER BY day, feature_id";

/// The roll-up of the usage per day (see `roll_up_usage`).
const USAGE_DAYS: &str = "usage_days";
const ROLLUP_MARK: &str = "SELECT through_id, updated_at FROM rollup_marks WHERE name = $1";
const SET_ROLLUP_MARK: &str = "INSERT INTO rollup_marks (name, through_id, updated_at) \
    VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
    SET through_id = excluded.through_id, updated_at = excluded.updated_at";
/// The first roll-up: the days folded by retention from the day `$1` on.
const ROLLUP_FOLDED: &str = "INSERT INTO usage_days (day, feature_id, uses, amount, limit_reached) \
    SELECT * FROM (SELECT day, feature_id, CAST(SUM(uses) AS BIGINT) AS uses, \
        CAST(SUM(amount) AS BIGINT) AS amount, 0 AS limit_reached \
        FROM activity_daily WHERE day >= $1 GROUP BY day, feature_id) t WHERE true \
    ON CONFLICT (day, feature_id) DO UPDATE SET uses = usage_days.uses + excluded.uses, \
        amount = usage_days.amount + excluded.amount";
/// The last of the next `$3` entries after the mark `$1` and before `$2`, and how many
/// they are.
const ROLLUP_BOUND: &str = "SELECT id, COUNT(*) OVER () AS n FROM (SELECT id \
    FROM user_activity_log WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3) t \
    ORDER BY id DESC LIMIT 1";
const ROLLUP: PerBackend = PerBackend {
    postgres: concatcp!(ROLLUP_HEAD, postgres::CREATED_DAY, ROLLUP_TAIL),
    sqlite: concatcp!(ROLLUP_HEAD, sqlite::CREATED_DAY, ROLLUP_TAIL),
};
const ROLLUP_HEAD: &str = "INSERT INTO usage_days (day, feature_id, uses, amount, limit_reached) \
    SELECT * FROM (SELECT ";
const ROLLUP_TAIL: &str = " AS day, COALESCE(details ->> 'feature', '') AS feature, \
        CAST(SUM(CASE WHEN action = 'feature_used' THEN 1 ELSE 0 END) AS BIGINT) AS uses, \
        CAST(SUM(CASE WHEN action = 'feature_used' \
            THEN CAST(details ->> 'amount' AS BIGINT) ELSE 0 END) AS BIGINT) AS amount, \
        CAST(SUM(CASE WHEN action = 'limit_reached' THEN 1 ELSE 0 END) AS BIGINT) \
            AS limit_reached \
        FROM user_activity_log \
        WHERE id > $1 AND id <= $2 AND action IN ('feature_used', 'limit_reached') \
        GROUP BY 1, 2) t WHERE true \
    ON CONFLICT (day, feature_id) DO UPDATE SET uses = usage_days.uses + excluded.uses, \
        amount = usage_days.amount + excluded.amount, \
        limit_reached = usage_days.limit_reached + excluded.limit_reached";

/// The fold's mark: the last entry it folded. Entries are folded in id order (time-ordered),
/// so each batch starts where the last one ended instead of walking again over what the
/// log keeps (logins, admin changes) or what was removed.
const FOLD: &str = "activity_fold";

/// The newest of the next `$4` entries to fold after the mark `$2` and before the id `$3`
/// (older than `$1`): the batch is every such entry up to it.
const FOLD_BOUND: &str = "SELECT id FROM (SELECT id FROM user_activity_log \
    WHERE id > $2 AND id < $3 AND action = 'feature_used' AND created_at < $1 \
    ORDER BY id LIMIT $4) t ORDER BY id DESC LIMIT 1";

const FOLD_INTO_DAYS: PerBackend = PerBackend {
    postgres: concatcp!(FOLD_HEAD, postgres::CREATED_DAY, FOLD_TAIL),
    sqlite: concatcp!(FOLD_HEAD, sqlite::CREATED_DAY, FOLD_TAIL),
};
const FOLD_HEAD: &str = "INSERT INTO activity_daily (profile_id, day, feature_id, uses, amount) \
    SELECT * FROM (SELECT profile_id, ";
const FOLD_TAIL: &str = " AS day, COALESCE(details ->> 'feature', '') AS feature, \
        COUNT(*) AS uses, CAST(SUM(CAST(details ->> 'amount' AS BIGINT)) AS BIGINT) AS amount \
    FROM user_activity_log \
    WHERE id > $2 AND id <= $3 AND action = 'feature_used' AND created_at < $1 \
        AND profile_id IS NOT NULL \
    GROUP BY 1, 2, 3) t WHERE true \
    ON CONFLICT (profile_id, day, feature_id) DO UPDATE \
    SET uses = activity_daily.uses + excluded.uses, \
        amount = activity_daily.amount + excluded.amount";

/// The batch's entries: a range of the primary key from the mark to the bound (both
/// backends walk it, not the index on the time, whose range holds every old entry).
const FOLD_REMOVE: &str = "DELETE FROM user_activity_log \
    WHERE id > $2 AND id <= $3 AND action = 'feature_used' AND created_at < $1";

/// Kept by triggers on `profiles` (migration 0022): one row, not a pass over the profiles.
const PROFILE_COUNTS: &str = "SELECT total, disabled FROM profile_totals WHERE id = 1";
const KEPT_ACTIVE: &str = "SELECT counted_at, last_1_day, last_7_days, last_30_days \
    FROM active_counts WHERE id = 1";
const KEEP_ACTIVE: &str = "INSERT INTO active_counts \
    (id, counted_at, last_1_day, last_7_days, last_30_days) VALUES (1, $1, $2, $3, $4) \
    ON CONFLICT (id) DO UPDATE SET counted_at = excluded.counted_at, \
        last_1_day = excluded.last_1_day, last_7_days = excluded.last_7_days, \
        last_30_days = excluded.last_30_days";

/// Enabled profiles without grants by base tier and running trial (`$1`: now).
const TIER_GROUPS: &str = "SELECT tier, \
        CAST(CASE WHEN trial_ends_at > $1 THEN 1 ELSE 0 END AS BIGINT) AS trial, COUNT(*) AS n, MIN(CASE WHEN trial_ends_at > $1 THEN trial_ends_at END) AS next_end \
    FROM profiles p WHERE NOT p.disabled \
        AND NOT EXISTS (SELECT 1 FROM access_grants g WHERE g.profile_id = p.id) \
    GROUP BY 1, 2 ORDER BY 1, 2";
/// A page of the enabled profiles with grants (`$1`: after this id, `$2`: at most).
const WITH_GRANTS: &str = "SELECT p.id, p.tier, p.trial_ends_at FROM profiles p \
    WHERE p.id > $1 AND NOT p.disabled \
        AND EXISTS (SELECT 1 FROM access_grants g WHERE g.profile_id = p.id) \
    ORDER BY p.id LIMIT $2";
/// The grants and pauses of a page's profiles: those of enabled profiles in its range of ids
/// (`$1` < id <= `$2`).
const GRANTS_OF_ENABLED: &str = concatcp!(
    super::coupons::GRANT_SELECT,
    " JOIN profiles pr ON pr.id = g.profile_id \
     WHERE g.profile_id > $1 AND g.profile_id <= $2 AND NOT pr.disabled \
     ORDER BY g.profile_id, g.created_at, g.id"
);
const PAUSES_OF_ENABLED: &str = concatcp!(
    "SELECT ",
    super::coupons::PAUSE_COLUMNS,
    " FROM grant_pauses p JOIN access_grants g ON g.id = p.grant_id \
     JOIN profiles pr ON pr.id = g.profile_id \
     WHERE g.profile_id > $1 AND g.profile_id <= $2 AND NOT pr.disabled \
     ORDER BY p.paused_at, p.id"
);

const PROFILES_WITH_GRANTS: &str =
    "SELECT DISTINCT profile_id FROM access_grants ORDER BY profile_id";

const REDEMPTION_COUNTS: &str = "SELECT c.id, \
        COALESCE(NULLIF(c.display_code, ''), c.code) AS code, c.campaign, c.tier_id, \
        COUNT(*) AS redemptions, MAX(r.redeemed_at) AS last_redeemed_at \
    FROM coupon_redemptions r JOIN coupons c ON c.id = r.coupon_id \
    GROUP BY c.id, c.code, c.display_code, c.campaign, c.tier_id \
    ORDER BY redemptions DESC, c.code LIMIT $1";

/// The listing of [`ActivityStore::activity`](crate::ActivityStore::activity), newest
/// first, with only the conditions of the filters given, so that the planner picks the
/// index they match (a condition like `($1 IS NULL OR profile_id = $1)` matches none):
/// parameters are numbered in the order profile, action, since, before, limit, skipping
/// those absent. An action other than `feature_used` also states that it is not, the
/// condition of SQLite's partial index on `(action, id)`.
fn activity_list_sql(columns: &str, filter: &ActivityFilter, before: bool) -> String {
    let mut sql = format!("SELECT {columns} FROM user_activity_log");
    let mut n = 0;
    let mut condition = |sql: &mut String, text: &str| {
        n += 1;
        sql.push_str(if n == 1 { " WHERE " } else { " AND " });
        sql.push_str(&text.replace('?', &format!("${n}")));
    };
    if filter.profile_id.is_some() {
        condition(&mut sql, "profile_id = ?");
    }
    if let Some(action) = &filter.action {
        if action == FEATURE_USED {
            condition(&mut sql, "action = ?");
        } else {
            condition(
                &mut sql,
                &format!("action = ? AND action <> '{FEATURE_USED}'"),
            );
        }
    }
    if filter.since.is_some() {
        condition(&mut sql, "created_at >= ?");
    }
    if before {
        condition(&mut sql, "id < ?");
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
    sql
}

fn activity_from(row: &Row) -> Result<Activity> {
    Ok(Activity {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        actor_id: row.get("actor_id")?,
        action: row.get("action")?,
        details: row.get("details")?,
        ip: row.get("ip")?,
        created_at: row.get("created_at")?,
    })
}

fn user_stats_from(row: &Row) -> Result<UserStats> {
    Ok(UserStats {
        profile_id: row.get("profile_id")?,
        logins: row.get("logins")?,
        last_login_at: row.get("last_login_at")?,
        last_active_at: row.get("last_active_at")?,
        feature_totals: row.get("feature_totals")?,
        redemptions: row.get("redemptions")?,
        updated_at: row.get("updated_at")?,
    })
}

fn feature_day_from(row: &Row) -> Result<FeatureDay> {
    let day: String = row.get("day")?;
    Ok(FeatureDay {
        day: NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| corrupt("day", &day))?,
        feature: row.get::<Option<String>>("feature")?.unwrap_or_default(),
        uses: row.get("uses")?,
        amount: row.get("amount")?,
        limit_reached: row.get("limit_reached")?,
    })
}

fn redemption_count_from(row: &Row) -> Result<CouponRedemptionCount> {
    Ok(CouponRedemptionCount {
        coupon_id: row.get("id")?,
        code: row.get("code")?,
        campaign: row.get("campaign")?,
        tier_id: row.get("tier_id")?,
        redemptions: row.get("redemptions")?,
        last_redeemed_at: row.get("last_redeemed_at")?,
    })
}

#[async_trait]
impl crate::ActivityStore for SqlStore {
    async fn log_activity(&self, a: &NewActivity) -> Result<()> {
        let mut tx = self.begin_write().await?;
        log_activity_in(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn activity(
        &self,
        filter: &ActivityFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Activity>> {
        let sql = activity_list_sql(ACTIVITY_COLUMNS, filter, before.is_some());
        let mut statement = query(&sql);
        if let Some(profile_id) = filter.profile_id {
            statement = statement.bind(profile_id);
        }
        if let Some(action) = &filter.action {
            statement = statement.bind(action.as_str());
        }
        if let Some(since) = filter.since {
            statement = statement.bind(since);
        }
        if let Some(before) = before {
            statement = statement.bind(before);
        }
        statement
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(activity_from)
            .collect()
    }

    async fn user_stats(&self, profile_id: Uuid) -> Result<Option<UserStats>> {
        let Some(row) = query(USER_STATS)
            .bind(profile_id)
            .fetch_optional(self.reader())
            .await?
        else {
            return Ok(None);
        };
        let mut stats = user_stats_from(&row)?;
        let totals = query(FEATURE_TOTALS)
            .bind(profile_id)
            .fetch_all(self.reader())
            .await?;
        let mut features = serde_json::Map::new();
        for row in &totals {
            if let Some(feature) = row.get::<Option<String>>("feature")? {
                features.insert(feature, serde_json::json!(row.get::<i64>("amount")?));
            }
        }
        stats.feature_totals = serde_json::Value::Object(features);
        Ok(Some(stats))
    }

    async fn active_profiles(&self, since: &[DateTime<Utc>]) -> Result<Vec<i64>> {
        if since.is_empty() {
            return Ok(Vec::new());
        }
        // One pass over the statistics, however many instants.
        let sums: Vec<String> = (1..=since.len())
            .map(|i| {
                format!("CAST(COALESCE(SUM(CASE WHEN last_active_at >= ${i} THEN 1 ELSE 0 END), 0) AS BIGINT)")
            })
            .collect();
        let sql = format!("SELECT {} FROM user_stats", sums.join(", "));
        let mut statement = query(&sql);
        for t in since {
            statement = statement.bind(*t);
        }
        let row = statement.fetch_one(self.reader()).await?;
        (0..since.len()).map(|i| row.get(i)).collect()
    }

    async fn kept_active_profiles(&self) -> Result<Option<(DateTime<Utc>, [i64; 3])>> {
        query(KEPT_ACTIVE)
            .fetch_optional(self.reader())
            .await?
            .map(|row| Ok((row.get(0)?, [row.get(1)?, row.get(2)?, row.get(3)?])))
            .transpose()
    }

    async fn keep_active_profiles(&self, at: DateTime<Utc>, counts: [i64; 3]) -> Result<()> {
        query(KEEP_ACTIVE)
            .bind(at)
            .bind(counts[0])
            .bind(counts[1])
            .bind(counts[2])
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn feature_days(&self, since: DateTime<Utc>) -> Result<Vec<FeatureDay>> {
        query(FEATURE_DAYS)
            .bind(since.date_naive().format("%Y-%m-%d").to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(feature_day_from)
            .collect()
    }

    async fn roll_up_usage(
        &self,
        from: DateTime<Utc>,
        through: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mark = query(ROLLUP_MARK)
            .bind(USAGE_DAYS)
            .fetch_optional(&mut tx)
            .await?;
        let (mark, counted) = match mark {
            Some(row) => (row.get::<Uuid>(0)?, Some(row.get::<DateTime<Utc>>(1)?)),
            None => {
                query(ROLLUP_FOLDED)
                    .bind(from.format("%Y-%m-%d").to_string())
                    .execute(&mut tx)
                    .await?;
                (crate::time_ordered_floor(from), None)
            }
        };
        let bound = query(ROLLUP_BOUND)
            .bind(mark)
            .bind(crate::time_ordered_floor(through))
            .bind(batch)
            .fetch_optional(&mut tx)
            .await?;
        let (read, mark, counted_to) = match bound {
            Some(row) => {
                let bound: Uuid = row.get(0)?;
                query(self.sql(ROLLUP))
                    .bind(mark)
                    .bind(bound)
                    .execute(&mut tx)
                    .await?;
                // Counted up to the last entry read (more may follow before `through`).
                let at = bound
                    .get_timestamp()
                    .and_then(|t| {
                        let (secs, nanos) = t.to_unix();
                        DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
                    })
                    .unwrap_or(through)
                    .min(through);
                (row.get::<i64>(1)?, bound, at)
            }
            // Everything before `through` is counted. The mark stays on the last entry
            // read, so that no entry after it can be passed by.
            None if counted.is_none_or(|c| c < through) => (0, mark, through),
            None => {
                tx.rollback().await?;
                return Ok(0);
            }
        };
        query(SET_ROLLUP_MARK)
            .bind(USAGE_DAYS)
            .bind(mark)
            .bind(counted_to)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(u64::try_from(read).unwrap_or(0))
    }

    async fn usage_rolled_through(&self) -> Result<Option<DateTime<Utc>>> {
        query(ROLLUP_MARK)
            .bind(USAGE_DAYS)
            .fetch_optional(self.reader())
            .await?
            .map(|row| row.get(1))
            .transpose()
    }

    async fn fold_activity(&self, before: DateTime<Utc>, batch: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mark: Uuid = query(ROLLUP_MARK)
            .bind(FOLD)
            .fetch_optional(&mut tx)
            .await?
            .map(|row| row.get(0))
            .transpose()?
            .unwrap_or_else(Uuid::nil);
        let bound: Option<Uuid> = query(FOLD_BOUND)
            .bind(before)
            .bind(mark)
            .bind(crate::time_ordered_floor(before))
            .bind(batch)
            .fetch_optional(&mut tx)
            .await?
            .map(|row| row.get(0))
            .transpose()?;
        let Some(bound) = bound else {
            tx.rollback().await?;
            return Ok(0);
        };
        query(self.sql(FOLD_INTO_DAYS))
            .bind(before)
            .bind(mark)
            .bind(bound)
            .execute(&mut tx)
            .await?;
        let removed = query(FOLD_REMOVE)
            .bind(before)
            .bind(mark)
            .bind(bound)
            .execute(&mut tx)
            .await?;
        query(SET_ROLLUP_MARK)
            .bind(FOLD)
            .bind(bound)
            .bind(before)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn profile_counts(&self) -> Result<(i64, i64)> {
        let row = query(PROFILE_COUNTS).fetch_one(self.reader()).await?;
        Ok((row.get("total")?, row.get("disabled")?))
    }

    async fn tier_groups(&self, now: DateTime<Utc>) -> Result<Vec<TierGroup>> {
        query(TIER_GROUPS)
            .bind(now)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(TierGroup {
                    tier: row.get("tier")?,
                    trial: row.get::<i64>("trial")? == 1,
                    profiles: row.get("n")?,
                    next_trial_end: row.get("next_end")?,
                })
            })
            .collect()
    }

    async fn granted_profiles(
        &self,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<GrantedProfile>> {
        let after = after.unwrap_or(Uuid::nil());
        let mut page = query(WITH_GRANTS)
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(GrantedProfile {
                    id: row.get("id")?,
                    tier: row.get("tier")?,
                    trial_ends_at: row.get("trial_ends_at")?,
                    grants: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(last) = page.last().map(|p| p.id) else {
            return Ok(page);
        };
        let grants = query(GRANTS_OF_ENABLED)
            .bind(after)
            .bind(last)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(super::coupons::grant_from)
            .collect::<Result<Vec<_>>>()?;
        let pauses = query(PAUSES_OF_ENABLED)
            .bind(after)
            .bind(last)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(super::coupons::pause_from)
            .collect::<Result<Vec<_>>>()?;
        let index: std::collections::HashMap<Uuid, usize> =
            page.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        for grant in super::coupons::with_pauses(grants, pauses) {
            // (A profile enabled between the statements waits for the next count.)
            if let Some(&i) = index.get(&grant.profile_id) {
                page[i].grants.push(grant);
            }
        }
        Ok(page)
    }

    async fn profiles_with_grants(&self) -> Result<Vec<Uuid>> {
        query(PROFILES_WITH_GRANTS)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    async fn coupon_redemption_counts(&self, limit: i64) -> Result<Vec<CouponRedemptionCount>> {
        query(REDEMPTION_COUNTS)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(redemption_count_from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::activity_list_sql;
    use crate::store::SqlStore;
    use crate::testing::TestDb;
    use crate::{AccountStore as _, ActivityFilter, ActivityStore as _, Backend};

    /// Only the filters given are conditions, their parameters numbered in order.
    #[test]
    fn the_listing_names_the_filters_given() {
        let all = ActivityFilter {
            profile_id: Some(uuid::Uuid::nil()),
            action: Some("login".into()),
            since: Some(chrono::DateTime::UNIX_EPOCH),
        };
        assert_eq!(
            activity_list_sql("id", &all, true),
            "SELECT id FROM user_activity_log WHERE profile_id = $1 AND action = $2 \
             AND action <> 'feature_used' AND created_at >= $3 AND id < $4 \
             ORDER BY id DESC LIMIT $5"
        );
        assert_eq!(
            activity_list_sql("id", &ActivityFilter::default(), false),
            "SELECT id FROM user_activity_log ORDER BY id DESC LIMIT $1"
        );
        let used = ActivityFilter {
            action: Some("feature_used".into()),
            ..ActivityFilter::default()
        };
        assert_eq!(
            activity_list_sql("id", &used, true),
            "SELECT id FROM user_activity_log WHERE action = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        );
    }

    /// The helper other store methods use: the event and its statistics commit and roll
    /// back with the caller's transaction.
    async fn log_commits_and_rolls_back_with_the_caller(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = SqlStore::open(&db.url).await.expect("connect");
        let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let profile = store
            .create_profile(&crate::NewProfile {
                id: uuid::Uuid::now_v7(),
                email: "tx@example.org".into(),
                password_hash: "x".into(),
                name: String::new(),
                role: crate::Role::User,
                tier: "free".into(),
                trial_ends_at: None,
                email_verified: false,
                invited_by: None,
                language: "en".into(),
                created_at: now,
            })
            .await
            .unwrap();
        let login = |at| crate::NewActivity::new(crate::actions::LOGIN, at).by_self(profile.id);

        let mut tx = store.begin_write().await.unwrap();
        super::log_activity_in(&mut tx, &login(now)).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(store.user_stats(profile.id).await.unwrap(), None);

        let later = now + chrono::TimeDelta::seconds(1);
        let mut tx = store.begin_write().await.unwrap();
        super::log_activity_in(&mut tx, &login(later))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let all = store
            .activity(&ActivityFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].created_at, later);
        let stats = store.user_stats(profile.id).await.unwrap().expect("stats");
        assert_eq!((stats.logins, stats.last_login_at), (1, Some(later)));
        store.close().await;
    }

    #[tokio::test]
    async fn log_in_a_transaction_on_sqlite() {
        log_commits_and_rolls_back_with_the_caller(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn log_in_a_transaction_on_postgres() {
        log_commits_and_rolls_back_with_the_caller(Backend::Postgres).await;
    }
}
