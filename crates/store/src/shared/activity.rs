//! The activity log and per-profile statistics, for both backends. Days of the log are
//! grouped with the backend's `CREATED_DAY` expression; the rest of the SQL is shared.

/// One activity entry: `$1` id, `$2` profile, `$3` actor, `$4` action, `$5` details,
/// `$6` ip, `$7` created_at.
pub(crate) const INSERT_ACTIVITY_SQL: &str = "INSERT INTO user_activity_log \
    (id, profile_id, actor_id, action, details, ip, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Applies a [`StatsDelta`](crate::StatsDelta) to a profile's statistics: `$1` profile,
/// `$2` logins, `$3` last_login_at, `$4` last_active_at, `$5` redemptions, `$6` updated_at.
/// Instants move forward only: a late event does not move them back.
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

/// The action of most entries (one per consume). SQLite's index on `(action, id)` leaves it
/// out (migration 0013): listing it reads the log newest first anyway, and every consume
/// saves the index's insert.
const FEATURE_USED: &str = crate::actions::FEATURE_USED;

/// The listing of [`ActivityStore::activity`](crate::ActivityStore::activity), newest
/// first, with only the conditions of the filters given, so that the planner picks the
/// index they match (a condition like `($1 IS NULL OR profile_id = $1)` matches none):
/// parameters are numbered in the order profile, action, since, before, limit, skipping
/// those absent. An action other than `feature_used` also states that it is not, the
/// condition of SQLite's partial index on `(action, id)`.
pub(crate) fn activity_list_sql(
    columns: &str,
    filter: &crate::ActivityFilter,
    before: bool,
) -> String {
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

macro_rules! impl_activity_store {
    ($store:ty) => {
        use $crate::shared::activity::{INSERT_ACTIVITY_SQL, UPSERT_STATS_SQL};

        const ACTIVITY_COLUMNS: &str = "id, profile_id, actor_id, action, details, ip, created_at";

        fn activity_from(row: &Row) -> $crate::Result<$crate::Activity> {
            let details: sqlx::types::Json<serde_json::Value> = row.try_get("details")?;
            Ok($crate::Activity {
                id: uuid_of(row.try_get("id")?),
                profile_id: row.try_get::<Option<IdRepr>, _>("profile_id")?.map(uuid_of),
                actor_id: row.try_get::<Option<IdRepr>, _>("actor_id")?.map(uuid_of),
                action: row.try_get("action")?,
                details: details.0,
                ip: row.try_get("ip")?,
                created_at: ts_of(row.try_get("created_at")?)?,
            })
        }

        fn user_stats_from(row: &Row) -> $crate::Result<$crate::UserStats> {
            let totals: sqlx::types::Json<serde_json::Value> = row.try_get("feature_totals")?;
            Ok($crate::UserStats {
                profile_id: uuid_of(row.try_get("profile_id")?),
                logins: row.try_get("logins")?,
                last_login_at: opt_ts(row.try_get("last_login_at")?)?,
                last_active_at: opt_ts(row.try_get("last_active_at")?)?,
                feature_totals: totals.0,
                redemptions: row.try_get("redemptions")?,
                updated_at: ts_of(row.try_get("updated_at")?)?,
            })
        }

        /// Logs one event on `conn` (the caller's transaction) and applies its
        /// [`StatsDelta`]($crate::StatsDelta) to the profile's `user_stats`. Per-feature
        /// totals are not written here: [`user_stats`]($crate::ActivityStore::user_stats)
        /// derives them from the log when they are read.
        async fn log_activity_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            a: &$crate::NewActivity,
        ) -> $crate::Result<()> {
            sqlx::query(INSERT_ACTIVITY_SQL)
                .bind(id(a.id))
                .bind(a.profile_id.map(id))
                .bind(a.actor_id.map(id))
                .bind(&a.action)
                .bind(sqlx::types::Json(&a.details))
                .bind(&a.ip)
                .bind(ts(a.created_at))
                .execute(&mut *conn)
                .await
                .map_err(|e| on_constraint_of(e, "activity", "profile"))?;
            let delta = $crate::StatsDelta::of(a);
            let Some(profile_id) = a.profile_id.filter(|_| !delta.is_empty()) else {
                return Ok(());
            };
            sqlx::query(UPSERT_STATS_SQL)
                .bind(id(profile_id))
                .bind(delta.logins)
                .bind(delta.last_login_at.map(ts))
                .bind(delta.last_active_at.map(ts))
                .bind(delta.redemptions)
                .bind(ts(a.created_at))
                .execute(&mut *conn)
                .await
                .map_err(|e| on_constraint(e, "profile"))?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::ActivityStore for $store {
            async fn log_activity(&self, a: &$crate::NewActivity) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                log_activity_in(&mut *tx, a).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn activity(
                &self,
                filter: &$crate::ActivityFilter,
                before: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::Activity>> {
                let sql = $crate::shared::activity::activity_list_sql(
                    ACTIVITY_COLUMNS,
                    filter,
                    before.is_some(),
                );
                let mut query = sqlx::query(&sql);
                if let Some(profile_id) = filter.profile_id {
                    query = query.bind(id(profile_id));
                }
                if let Some(action) = &filter.action {
                    query = query.bind(action.as_str());
                }
                if let Some(since) = filter.since {
                    query = query.bind(ts(since));
                }
                if let Some(before) = before {
                    query = query.bind(id(before));
                }
                query
                    .bind(limit)
                    .fetch_all(self.reader())
                .await?
                .iter()
                .map(activity_from)
                .collect()
            }

            async fn user_stats(
                &self,
                profile_id: uuid::Uuid,
            ) -> $crate::Result<Option<$crate::UserStats>> {
                let Some(mut stats) = sqlx::query(
                    "SELECT profile_id, logins, last_login_at, last_active_at, feature_totals, \
                     redemptions, updated_at FROM user_stats WHERE profile_id = $1",
                )
                .bind(id(profile_id))
                .fetch_optional(self.reader())
                .await?
                .as_ref()
                .map(user_stats_from)
                .transpose()?
                else {
                    return Ok(None);
                };
                // Units used, ever, per feature: the sum of the profile's `feature_used`
                // entries (a spend and its entry commit together).
                let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
                    "SELECT details ->> 'feature' AS feature, \
                        CAST(SUM(CAST(details ->> 'amount' AS BIGINT)) AS BIGINT) AS amount \
                     FROM user_activity_log WHERE profile_id = $1 AND action = 'feature_used' \
                     GROUP BY 1 ORDER BY 1",
                )
                .bind(id(profile_id))
                .fetch_all(self.reader())
                .await?;
                stats.feature_totals = serde_json::Value::Object(
                    rows.into_iter()
                        .filter_map(|(f, n)| Some((f?, serde_json::json!(n))))
                        .collect(),
                );
                Ok(Some(stats))
            }

            async fn active_profiles(
                &self,
                since: &[chrono::DateTime<chrono::Utc>],
            ) -> $crate::Result<Vec<i64>> {
                let mut counts = Vec::with_capacity(since.len());
                for t in since {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM user_stats WHERE last_active_at >= $1",
                    )
                    .bind(ts(*t))
                    .fetch_one(self.reader())
                    .await?;
                    counts.push(n);
                }
                Ok(counts)
            }

            async fn feature_days(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Vec<$crate::FeatureDay>> {
                let rows = sqlx::query(&format!(
                    "SELECT {CREATED_DAY} AS day, details ->> 'feature' AS feature, \
                        CAST(SUM(CASE WHEN action = 'feature_used' THEN 1 ELSE 0 END) AS BIGINT) AS uses, \
                        CAST(SUM(CASE WHEN action = 'feature_used' \
                            THEN CAST(details ->> 'amount' AS BIGINT) ELSE 0 END) AS BIGINT) AS amount, \
                        CAST(SUM(CASE WHEN action = 'limit_reached' THEN 1 ELSE 0 END) AS BIGINT) \
                            AS limit_reached \
                     FROM user_activity_log \
                     WHERE action IN ('feature_used', 'limit_reached') AND created_at >= $1 \
                     GROUP BY 1, 2 ORDER BY 1, 2"
                ))
                .bind(ts(since))
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        let day: String = row.try_get("day")?;
                        Ok($crate::FeatureDay {
                            day: chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                                .map_err(|_| corrupt("day", &day))?,
                            feature: row
                                .try_get::<Option<String>, _>("feature")?
                                .unwrap_or_default(),
                            uses: row.try_get("uses")?,
                            amount: row.try_get("amount")?,
                            limit_reached: row.try_get("limit_reached")?,
                        })
                    })
                    .collect()
            }

            async fn profiles_with_grants(&self) -> $crate::Result<Vec<uuid::Uuid>> {
                let ids: Vec<IdRepr> = sqlx::query_scalar(
                    "SELECT DISTINCT profile_id FROM access_grants ORDER BY profile_id",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(ids.into_iter().map(uuid_of).collect())
            }

            async fn coupon_redemption_counts(
                &self,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::CouponRedemptionCount>> {
                let rows = sqlx::query(
                    "SELECT c.id, COALESCE(NULLIF(c.display_code, ''), c.code) AS code, c.campaign, \
                        c.tier_id, COUNT(*) AS redemptions, MAX(r.redeemed_at) AS last_redeemed_at \
                     FROM coupon_redemptions r JOIN coupons c ON c.id = r.coupon_id \
                     GROUP BY c.id, c.code, c.display_code, c.campaign, c.tier_id \
                     ORDER BY redemptions DESC, c.code LIMIT $1",
                )
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::CouponRedemptionCount {
                            coupon_id: uuid_of(row.try_get("id")?),
                            code: row.try_get("code")?,
                            campaign: row.try_get("campaign")?,
                            tier_id: row.try_get("tier_id")?,
                            redemptions: row.try_get("redemptions")?,
                            last_redeemed_at: ts_of(row.try_get("last_redeemed_at")?)?,
                        })
                    })
                    .collect()
            }
        }

        /// The helper other store methods use: the event and its statistics commit and
        /// roll back with the caller's transaction.
        #[cfg(test)]
        mod log_in_transaction {
            use super::*;
            use $crate::{AccountStore as _, ActivityStore as _};

            #[tokio::test]
            async fn commits_and_rolls_back_with_the_caller() {
                let db = $crate::testing::TestDb::new(<$store>::BACKEND).await;
                let store = <$store>::connect(&db.url).await.expect("connect");
                let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
                let profile = store
                    .create_profile(&$crate::NewProfile {
                        id: uuid::Uuid::now_v7(),
                        email: "tx@example.org".into(),
                        password_hash: "x".into(),
                        name: String::new(),
                        role: $crate::Role::User,
                        tier: "free".into(),
                        trial_ends_at: None,
                        email_verified: false,
                        invited_by: None,
                        language: "en".into(),
                        created_at: now,
                    })
                    .await
                    .unwrap();
                let login = |at| $crate::NewActivity::new($crate::actions::LOGIN, at).by_self(profile.id);

                let mut tx = store.begin_write().await.unwrap();
                log_activity_in(&mut *tx, &login(now)).await.unwrap();
                tx.rollback().await.unwrap();
                assert_eq!(store.user_stats(profile.id).await.unwrap(), None);

                let later = now + chrono::TimeDelta::seconds(1);
                let mut tx = store.begin_write().await.unwrap();
                log_activity_in(&mut *tx, &login(later)).await.unwrap();
                tx.commit().await.unwrap();
                let all = store
                    .activity(&$crate::ActivityFilter::default(), None, 10)
                    .await
                    .unwrap();
                assert_eq!(all.len(), 1);
                assert_eq!(all[0].created_at, later);
                let stats = store.user_stats(profile.id).await.unwrap().expect("stats");
                assert_eq!((stats.logins, stats.last_login_at), (1, Some(later)));
                store.close().await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::activity_list_sql;
    use crate::ActivityFilter;

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
}
