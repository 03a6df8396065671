//! Restrictions, usage and exact consumption, for both backends.

/// The conditional upsert at the heart of exact consumption: the bucket's usage
/// rises by `amount` only if the result stays within the cap; otherwise no row
/// comes back and nothing changes. One statement, so two racing requests for the
/// last unit cannot both win.
pub(crate) const CONSUME_SQL: &str = concat!(spend_sql!(), " RETURNING used");

/// [`CONSUME_SQL`] without its `RETURNING`: one row changed or none. SQLite collects the
/// rows of a `RETURNING` in a temporary b-tree it opens and closes for every statement,
/// which cost the group-commit writer more than reading the row back (`sqlite_hot`).
pub(crate) const SPEND_SQL: &str = spend_sql!();

macro_rules! spend_sql {
    () => {
        "INSERT INTO user_feature_usage \
            (profile_id, feature_id, period_start, used, updated_at) \
         SELECT $1, $2, $3, $4, $5 WHERE $6 IS NULL OR $4 <= $6 \
         ON CONFLICT (profile_id, feature_id, period_start) DO UPDATE \
            SET used = user_feature_usage.used + excluded.used, updated_at = excluded.updated_at \
            WHERE $6 IS NULL OR user_feature_usage.used + excluded.used <= $6"
    };
}
use spend_sql;

pub(crate) const USED_SQL: &str = "SELECT used FROM user_feature_usage \
     WHERE profile_id = $1 AND feature_id = $2 AND period_start = $3";

macro_rules! impl_usage_store {
    ($store:ty) => {
        use $crate::shared::usage::{CONSUME_SQL, USED_SQL};

        fn restriction_from(row: &Row) -> $crate::Result<Restriction> {
            Ok(Restriction {
                profile_id: uuid_of(row.try_get("profile_id")?),
                feature_id: row.try_get("feature_id")?,
                limit: row.try_get("usage_limit")?,
                reason: row.try_get("reason")?,
                valid_until: opt_ts(row.try_get("valid_until")?)?,
                created_by: row.try_get::<Option<IdRepr>, _>("created_by")?.map(uuid_of),
                created_at: ts_of(row.try_get("created_at")?)?,
            })
        }

        async fn consume_in<'c, E>(exec: E, r: &ConsumeRequest<'_>) -> $crate::Result<Option<i64>>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let used: Option<i64> = sqlx::query_scalar(CONSUME_SQL)
                .bind(id(r.profile_id))
                .bind(r.feature_id)
                .bind(ts(r.period_start))
                .bind(r.amount)
                .bind(ts(r.now))
                .bind(r.cap)
                .fetch_optional(exec)
                .await
                .map_err(|e| on_constraint(e, "profile or feature"))?;
            Ok(used)
        }

        async fn used_in<'c, E>(exec: E, r: &ConsumeRequest<'_>) -> $crate::Result<i64>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let used: Option<i64> = sqlx::query_scalar(USED_SQL)
                .bind(id(r.profile_id))
                .bind(r.feature_id)
                .bind(ts(r.period_start))
                .fetch_optional(exec)
                .await?;
            Ok(used.unwrap_or(0))
        }

        /// Decides a spend on `conn` (the caller's write transaction): the conditional
        /// upsert, the `feature_used` entry when the request asks for one, or the unchanged
        /// usage of a refusal.
        async fn spend_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            r: &ConsumeRequest<'_>,
        ) -> $crate::Result<Consumed> {
            match consume_in(&mut *conn, r).await? {
                Some(used) => {
                    if let Some(entry) = r.spend_activity(used) {
                        log_activity_in(conn, &entry).await?;
                    }
                    Ok(Consumed::Spent { used })
                }
                None => Ok(Consumed::LimitReached {
                    used: used_in(&mut *conn, r).await?,
                }),
            }
        }

        /// Claims an idempotency key inside the caller's write transaction (`conn`). `None`: claimed,
        /// go on (and store the answer with [`remember_response_in`] before committing).
        /// `Some`: an earlier call with the key answered this; the caller rolls back and
        /// replays it. A concurrent holder of the key makes the claim wait until it commits
        /// (PostgreSQL: unique index; SQLite: one writer). A key used for another request
        /// is `IdempotencyMismatch`.
        async fn claim_idempotency_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            profile_id: uuid::Uuid,
            key: $crate::IdempotencyKey<'_>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::Result<Option<StoredResponse>> {
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (profile_id, key, request_hash, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, key) DO NOTHING",
            )
            .bind(id(profile_id))
            .bind(key.key)
            .bind(key.request_hash)
            .bind(ts(now))
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                return Ok(None);
            }
            let row = sqlx::query(
                "SELECT request_hash, response_status, response_body FROM idempotency_keys \
                 WHERE profile_id = $1 AND key = $2",
            )
            .bind(id(profile_id))
            .bind(key.key)
            .fetch_one(&mut *conn)
            .await?;
            let hash: String = row.try_get("request_hash")?;
            if hash != key.request_hash {
                return Err(StoreError::IdempotencyMismatch);
            }
            let status: Option<i32> = row.try_get("response_status")?;
            let body: Option<sqlx::types::Json<serde_json::Value>> = row.try_get("response_body")?;
            match (status, body) {
                (Some(status), Some(body)) => Ok(Some(StoredResponse {
                    status: u16::try_from(status)
                        .map_err(|_| corrupt("response status", &status.to_string()))?,
                    body: body.0,
                })),
                _ => Err(corrupt("idempotency key without response", key.key)),
            }
        }

        /// Stores the answer of a claimed key, in the same transaction as the change.
        async fn remember_response_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            profile_id: uuid::Uuid,
            key: $crate::IdempotencyKey<'_>,
            answer: &StoredResponse,
        ) -> $crate::Result<()> {
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
                 WHERE profile_id = $1 AND key = $2",
            )
            .bind(id(profile_id))
            .bind(key.key)
            .bind(i32::from(answer.status))
            .bind(sqlx::types::Json(&answer.body))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::UsageStore for $store {
            async fn put_restriction(&self, r: &Restriction) -> $crate::Result<()> {
                let _changed = self.cache.on_change();
                sqlx::query(
                    "INSERT INTO user_feature_restrictions (profile_id, feature_id, usage_limit, \
                     reason, valid_until, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (profile_id, feature_id) DO UPDATE SET \
                        usage_limit = excluded.usage_limit, reason = excluded.reason, \
                        valid_until = excluded.valid_until, created_by = excluded.created_by, \
                        created_at = excluded.created_at",
                )
                .bind(id(r.profile_id))
                .bind(&r.feature_id)
                .bind(r.limit)
                .bind(&r.reason)
                .bind(r.valid_until.map(ts))
                .bind(r.created_by.map(id))
                .bind(ts(r.created_at))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "profile or feature"))?;
                Ok(())
            }

            async fn delete_restriction(
                &self,
                profile_id: uuid::Uuid,
                feature_id: &str,
            ) -> $crate::Result<bool> {
                let _changed = self.cache.on_change();
                let done = sqlx::query(
                    "DELETE FROM user_feature_restrictions WHERE profile_id = $1 AND feature_id = $2",
                )
                .bind(id(profile_id))
                .bind(feature_id)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn restrictions(&self, profile_id: uuid::Uuid) -> $crate::Result<Vec<Restriction>> {
                if let Some(cached) = self.cache.restrictions(profile_id) {
                    return Ok(cached);
                }
                let generation = self.cache.generation();
                let found = sqlx::query(&format!(
                    "SELECT {RESTRICTION_COLUMNS} FROM user_feature_restrictions \
                     WHERE profile_id = $1 ORDER BY feature_id"
                ))
                .bind(id(profile_id))
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(restriction_from)
                .collect::<$crate::Result<Vec<_>>>()?;
                self.cache.put_restrictions(profile_id, &found, generation);
                Ok(found)
            }

            async fn restrictions_of_feature(
                &self,
                feature_id: &str,
            ) -> $crate::Result<Vec<Restriction>> {
                sqlx::query(&format!(
                    "SELECT {RESTRICTION_COLUMNS} FROM user_feature_restrictions \
                     WHERE feature_id = $1 ORDER BY profile_id"
                ))
                .bind(feature_id)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(restriction_from)
                .collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn usage(
                &self,
                profile_id: uuid::Uuid,
                buckets: &[(&str, chrono::DateTime<chrono::Utc>)],
            ) -> $crate::Result<Vec<i64>> {
                if buckets.is_empty() {
                    return Ok(Vec::new());
                }
                if let Some(used) = self.usage_fast(profile_id, buckets).await? {
                    return Ok(used);
                }
                // Exactly the buckets asked for, in one query.
                let mut sql = String::from(
                    "SELECT feature_id, period_start, used FROM user_feature_usage \
                     WHERE profile_id = $1 AND (",
                );
                for i in 0..buckets.len() {
                    if i > 0 {
                        sql.push_str(" OR ");
                    }
                    sql.push_str(&format!(
                        "(feature_id = ${} AND period_start = ${})",
                        2 * i + 2,
                        2 * i + 3
                    ));
                }
                sql.push(')');
                let mut query = sqlx::query(&sql).bind(id(profile_id));
                for (feature, start) in buckets {
                    query = query.bind(*feature).bind(ts(*start));
                }
                let rows = query.fetch_all(self.reader()).await?;
                let mut found = std::collections::HashMap::with_capacity(rows.len());
                for row in &rows {
                    let feature: String = row.try_get("feature_id")?;
                    let start = ts_of(row.try_get("period_start")?)?;
                    found.insert((feature, start), row.try_get::<i64, _>("used")?);
                }
                Ok(buckets
                    .iter()
                    .map(|(f, start)| found.get(&(f.to_string(), *start)).copied().unwrap_or(0))
                    .collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn consume(
                &self,
                r: &ConsumeRequest<'_>,
                respond: &(dyn Fn(Consumed) -> StoredResponse + Send + Sync),
            ) -> $crate::Result<ConsumeResult> {
                let Some(key) = r.idempotency else {
                    // The backend decides and records it in one round trip (PostgreSQL) or
                    // in the writer's next group commit (SQLite).
                    return Ok(ConsumeResult::Fresh(self.spend_impl(r).await?));
                };
                let _usage = self.usage_write(r.profile_id, r.feature_id, r.period_start);
                let mut tx = self.begin_write().await?;
                if let Some(stored) = claim_idempotency_in(&mut tx, r.profile_id, key, r.now).await? {
                    tx.rollback().await?;
                    return Ok(ConsumeResult::Replayed(stored));
                }
                let decided = spend_in(&mut tx, r).await?;
                let answer = respond(decided);
                remember_response_in(&mut tx, r.profile_id, key, &answer).await?;
                tx.commit().await?;
                Ok(ConsumeResult::Fresh(decided))
            }
        }
    };
}
