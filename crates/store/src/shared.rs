//! The [`Store`](crate::Store) implementation shared by both backends.
//!
//! `impl_store!` expands the same method bodies once per backend module. Each module
//! provides the few things that differ:
//! - `type Db`, the sqlx database;
//! - `type IdRepr` with `id(Uuid) -> IdRepr` and `uuid_of(IdRepr) -> Uuid`
//!   (native `uuid` on PostgreSQL, hyphenated text on SQLite);
//! - `type TsRepr` with `ts(DateTime) -> TsRepr` and `ts_of(TsRepr) -> Result<DateTime>`
//!   (`timestamptz` on PostgreSQL, fixed-width RFC 3339 text on SQLite, which sorts);
//! - inherent methods `reader()`, `begin_write()`, `notify_impl()`, `changes_impl()`.
//!
//! The SQL is one text for both (`$N` parameters work on SQLite too).

use crate::StoreError;

/// Maps a unique or foreign-key violation to a domain error naming `what`.
pub(crate) fn on_constraint(e: sqlx::Error, what: &'static str) -> StoreError {
    on_constraint_of(e, what, what)
}

/// Like [`on_constraint`] for rows whose unique key and references differ: a unique
/// violation names `taken`, a foreign-key violation names `missing`.
pub(crate) fn on_constraint_of(
    e: sqlx::Error,
    taken: &'static str,
    missing: &'static str,
) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(taken);
        }
        if db.is_foreign_key_violation() {
            return StoreError::MissingReference(missing);
        }
    }
    StoreError::Database(e)
}

/// The form of a name that searches compare: lower case by Unicode rules, computed here
/// because SQLite's `lower()` and `LIKE` fold ASCII letters only.
pub(crate) fn normalize_name(name: &str) -> String {
    name.to_lowercase()
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_pattern(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 2);
    out.push('%');
    for c in query.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) const PROFILE_COLUMNS: &str = "id, email, name, role, tier, trial_ends_at, \
    email_verified, invited_by, language, disabled, created_at, updated_at";

pub(crate) const FEATURE_COLUMNS: &str = "id, name, description, category, kind, unit, \
    reset_period, default_limit, active, sort_order";

pub(crate) const TIER_COLUMNS: &str = "id, name, description, rank, active, sort_order";

pub(crate) const RESTRICTION_COLUMNS: &str =
    "profile_id, feature_id, usage_limit, reason, valid_until, created_by, created_at";

macro_rules! impl_store {
    ($store:ty) => {
        use sqlx::Row as _;
        use $crate::shared::{
            FEATURE_COLUMNS, PROFILE_COLUMNS, RESTRICTION_COLUMNS, TIER_COLUMNS, like_pattern,
            normalize_name, on_constraint, on_constraint_of,
        };
        use $crate::{
            ConsumeRequest, ConsumeResult, Consumed, NewProfile, NewSession, Profile,
            ProfilePatch, Purged, RegistrySnapshot, Restriction, Role, Setting, StoreError,
            StoredResponse, normalize_email,
        };

        type Row = <Db as sqlx::Database>::Row;

        fn corrupt(what: &str, value: &str) -> StoreError {
            StoreError::Corrupt(format!("{what}: {value:?}"))
        }

        fn opt_ts(v: Option<TsRepr>) -> $crate::Result<Option<chrono::DateTime<chrono::Utc>>> {
            v.map(ts_of).transpose()
        }

        fn profile_from(row: &Row) -> $crate::Result<Profile> {
            let role: String = row.try_get("role")?;
            Ok(Profile {
                id: uuid_of(row.try_get("id")?),
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
                tier: row.try_get("tier")?,
                trial_ends_at: opt_ts(row.try_get("trial_ends_at")?)?,
                email_verified: row.try_get("email_verified")?,
                invited_by: row.try_get::<Option<IdRepr>, _>("invited_by")?.map(uuid_of),
                language: row.try_get("language")?,
                disabled: row.try_get("disabled")?,
                created_at: ts_of(row.try_get("created_at")?)?,
                updated_at: ts_of(row.try_get("updated_at")?)?,
            })
        }

        fn feature_from(row: &Row) -> $crate::Result<mitai_access::Feature> {
            let kind: String = row.try_get("kind")?;
            let period: String = row.try_get("reset_period")?;
            Ok(mitai_access::Feature {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                category: row.try_get("category")?,
                kind: mitai_access::FeatureKind::parse(&kind)
                    .ok_or_else(|| corrupt("feature kind", &kind))?,
                unit: row.try_get("unit")?,
                reset_period: mitai_access::ResetPeriod::parse(&period)
                    .ok_or_else(|| corrupt("reset period", &period))?,
                default_limit: row.try_get("default_limit")?,
                active: row.try_get("active")?,
                sort_order: row.try_get("sort_order")?,
            })
        }

        fn tier_from(row: &Row) -> $crate::Result<mitai_access::Tier> {
            Ok(mitai_access::Tier {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                rank: row.try_get("rank")?,
                active: row.try_get("active")?,
                sort_order: row.try_get("sort_order")?,
            })
        }

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

        fn setting_from(row: &Row) -> $crate::Result<Setting> {
            let value: sqlx::types::Json<serde_json::Value> = row.try_get("value")?;
            Ok(Setting {
                key: row.try_get("key")?,
                value: value.0,
                updated_at: ts_of(row.try_get("updated_at")?)?,
                updated_by: row.try_get::<Option<IdRepr>, _>("updated_by")?.map(uuid_of),
            })
        }

        /// The conditional upsert at the heart of exact consumption: the bucket's usage
        /// rises by `amount` only if the result stays within the cap; otherwise no row
        /// comes back and nothing changes. One statement, so two racing requests for the
        /// last unit cannot both win.
        const CONSUME_SQL: &str = "INSERT INTO user_feature_usage \
                (profile_id, feature_id, period_start, used, updated_at) \
             SELECT $1, $2, $3, $4, $5 WHERE $6 IS NULL OR $4 <= $6 \
             ON CONFLICT (profile_id, feature_id, period_start) DO UPDATE \
                SET used = user_feature_usage.used + excluded.used, updated_at = excluded.updated_at \
                WHERE $6 IS NULL OR user_feature_usage.used + excluded.used <= $6 \
             RETURNING used";

        const USED_SQL: &str = "SELECT used FROM user_feature_usage \
             WHERE profile_id = $1 AND feature_id = $2 AND period_start = $3";

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
                .await?;
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

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                Self::BACKEND
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn registry_snapshot(&self) -> $crate::Result<RegistrySnapshot> {
                let features = sqlx::query(&format!("SELECT {FEATURE_COLUMNS} FROM features"))
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(feature_from)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let tiers = sqlx::query(&format!("SELECT {TIER_COLUMNS} FROM tiers"))
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(tier_from)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let limits = sqlx::query("SELECT tier_id, feature_id, usage_limit FROM tier_limits")
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(mitai_access::TierLimit {
                            tier_id: row.try_get("tier_id")?,
                            feature_id: row.try_get("feature_id")?,
                            limit: row.try_get("usage_limit")?,
                        })
                    })
                    .collect::<$crate::Result<Vec<_>>>()?;
                let settings =
                    sqlx::query("SELECT key, value, updated_at, updated_by FROM app_settings")
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(setting_from)
                        .collect::<$crate::Result<Vec<_>>>()?;
                Ok(RegistrySnapshot {
                    features,
                    tiers,
                    limits,
                    settings,
                })
            }

            async fn notify_registry_changed(&self) -> $crate::Result<()> {
                self.notify_impl().await
            }

            async fn registry_changes(&self) -> $crate::Result<Option<$crate::ChangeStream>> {
                self.changes_impl().await
            }

            async fn create_feature(
                &self,
                f: &mitai_access::Feature,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO features (id, name, description, category, kind, unit, \
                     reset_period, default_limit, active, sort_order, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                )
                .bind(&f.id)
                .bind(&f.name)
                .bind(&f.description)
                .bind(&f.category)
                .bind(f.kind.as_str())
                .bind(&f.unit)
                .bind(f.reset_period.as_str())
                .bind(f.default_limit)
                .bind(f.active)
                .bind(f.sort_order)
                .bind(ts(now))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "feature"))?;
                Ok(())
            }

            async fn update_feature(
                &self,
                f: &mitai_access::Feature,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE features SET name = $2, description = $3, category = $4, kind = $5, \
                     unit = $6, reset_period = $7, default_limit = $8, active = $9, \
                     sort_order = $10, updated_at = $11 WHERE id = $1",
                )
                .bind(&f.id)
                .bind(&f.name)
                .bind(&f.description)
                .bind(&f.category)
                .bind(f.kind.as_str())
                .bind(&f.unit)
                .bind(f.reset_period.as_str())
                .bind(f.default_limit)
                .bind(f.active)
                .bind(f.sort_order)
                .bind(ts(now))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_tier(
                &self,
                t: &mitai_access::Tier,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO tiers (id, name, description, rank, active, sort_order, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.rank)
                .bind(t.active)
                .bind(t.sort_order)
                .bind(ts(now))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "tier"))?;
                Ok(())
            }

            async fn update_tier(
                &self,
                t: &mitai_access::Tier,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE tiers SET name = $2, description = $3, rank = $4, active = $5, \
                     sort_order = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.rank)
                .bind(t.active)
                .bind(t.sort_order)
                .bind(ts(now))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_tier_limit(
                &self,
                tier_id: &str,
                feature_id: &str,
                limit: mitai_access::Limit,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO tier_limits (tier_id, feature_id, usage_limit, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tier_id, feature_id) DO UPDATE \
                     SET usage_limit = excluded.usage_limit, updated_at = excluded.updated_at",
                )
                .bind(tier_id)
                .bind(feature_id)
                .bind(limit)
                .bind(ts(now))
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint(e, "tier or feature"))?;
                Ok(())
            }

            async fn delete_tier_limit(&self, tier_id: &str, feature_id: &str) -> $crate::Result<bool> {
                let done = sqlx::query("DELETE FROM tier_limits WHERE tier_id = $1 AND feature_id = $2")
                    .bind(tier_id)
                    .bind(feature_id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_setting(
                &self,
                key: &str,
                value: &serde_json::Value,
                by: Option<uuid::Uuid>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Setting> {
                let row = sqlx::query(
                    "INSERT INTO app_settings (key, value, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE \
                     SET value = excluded.value, updated_at = excluded.updated_at, \
                         updated_by = excluded.updated_by \
                     RETURNING key, value, updated_at, updated_by",
                )
                .bind(key)
                .bind(sqlx::types::Json(value))
                .bind(ts(now))
                .bind(by.map(id))
                .fetch_one(self.writer())
                .await?;
                setting_from(&row)
            }

            async fn create_profile(&self, p: &NewProfile) -> $crate::Result<Profile> {
                let row = sqlx::query(&format!(
                    "INSERT INTO profiles (id, email, email_norm, password_hash, name, role, tier, \
                     trial_ends_at, email_verified, invited_by, language, disabled, created_at, \
                     updated_at, name_norm) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, FALSE, $12, $12, $13) \
                     RETURNING {PROFILE_COLUMNS}"
                ))
                .bind(id(p.id))
                .bind(p.email.trim())
                .bind(normalize_email(&p.email))
                .bind(&p.password_hash)
                .bind(&p.name)
                .bind(p.role.as_str())
                .bind(&p.tier)
                .bind(p.trial_ends_at.map(ts))
                .bind(p.email_verified)
                .bind(p.invited_by.map(id))
                .bind(&p.language)
                .bind(ts(p.created_at))
                .bind(normalize_name(&p.name))
                .fetch_one(self.writer())
                .await
                .map_err(|e| on_constraint_of(e, "email", "tier or inviter"))?;
                profile_from(&row)
            }

            async fn profile(&self, pid: uuid::Uuid) -> $crate::Result<Option<Profile>> {
                sqlx::query(&format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = $1"))
                    .bind(id(pid))
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(profile_from)
                    .transpose()
            }

            async fn credentials(&self, email: &str) -> $crate::Result<Option<(Profile, String)>> {
                let row = sqlx::query(&format!(
                    "SELECT {PROFILE_COLUMNS}, password_hash FROM profiles WHERE email_norm = $1"
                ))
                .bind(normalize_email(email))
                .fetch_optional(self.reader())
                .await?;
                match row {
                    Some(row) => Ok(Some((profile_from(&row)?, row.try_get("password_hash")?))),
                    None => Ok(None),
                }
            }

            async fn list_profiles(
                &self,
                query: Option<&str>,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<Profile>> {
                sqlx::query(&format!(
                    "SELECT {PROFILE_COLUMNS} FROM profiles \
                     WHERE ($1 IS NULL OR email_norm LIKE $1 ESCAPE '\\' OR name_norm LIKE $1 ESCAPE '\\') \
                       AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(query.map(like_pattern))
                .bind(after.map(id))
                .bind(limit)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(profile_from)
                .collect()
            }

            async fn update_profile(
                &self,
                pid: uuid::Uuid,
                patch: &ProfilePatch,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<Profile>> {
                let (set_trial, trial) = match patch.trial_ends_at {
                    Some(t) => (true, t),
                    None => (false, None),
                };
                sqlx::query(&format!(
                    "UPDATE profiles SET \
                        name = COALESCE($2, name), \
                        name_norm = COALESCE($10, name_norm), \
                        tier = COALESCE($3, tier), \
                        role = COALESCE($4, role), \
                        disabled = COALESCE($5, disabled), \
                        trial_ends_at = CASE WHEN $6 THEN $7 ELSE trial_ends_at END, \
                        language = COALESCE($8, language), \
                        updated_at = $9 \
                     WHERE id = $1 RETURNING {PROFILE_COLUMNS}"
                ))
                .bind(id(pid))
                .bind(&patch.name)
                .bind(&patch.tier)
                .bind(patch.role.map(Role::as_str))
                .bind(patch.disabled)
                .bind(set_trial)
                .bind(trial.map(ts))
                .bind(&patch.language)
                .bind(ts(now))
                .bind(patch.name.as_deref().map(normalize_name))
                .fetch_optional(self.writer())
                .await
                .map_err(|e| on_constraint(e, "tier"))?
                .as_ref()
                .map(profile_from)
                .transpose()
            }

            async fn admin_exists(&self) -> $crate::Result<bool> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM profiles WHERE role = 'admin' AND NOT disabled",
                )
                .fetch_one(self.reader())
                .await?;
                Ok(n > 0)
            }

            async fn set_password(
                &self,
                pid: uuid::Uuid,
                password_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE profiles SET password_hash = $2, updated_at = $3 WHERE id = $1",
                )
                .bind(id(pid))
                .bind(password_hash)
                .bind(ts(now))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_session(&self, s: &NewSession) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, profile_id, created_at, expires_at, \
                     last_seen_at, user_agent) VALUES ($1, $2, $3, $4, $3, $5)",
                )
                .bind(&s.token_hash)
                .bind(id(s.profile_id))
                .bind(ts(s.created_at))
                .bind(ts(s.expires_at))
                .bind(&s.user_agent)
                .execute(self.writer())
                .await
                .map_err(|e| on_constraint_of(e, "session", "profile"))?;
                Ok(())
            }

            async fn session_profile(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<Profile>> {
                let cols = PROFILE_COLUMNS
                    .split(", ")
                    .map(|c| format!("p.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                sqlx::query(&format!(
                    "SELECT {cols} FROM sessions s JOIN profiles p ON p.id = s.profile_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2"
                ))
                .bind(token_hash)
                .bind(ts(now))
                .fetch_optional(self.reader())
                .await?
                .as_ref()
                .map(profile_from)
                .transpose()
            }

            async fn delete_session(&self, token_hash: &str) -> $crate::Result<bool> {
                let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_restriction(&self, r: &Restriction) -> $crate::Result<()> {
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
                let done = sqlx::query(
                    "DELETE FROM user_feature_restrictions WHERE profile_id = $1 AND feature_id = $2",
                )
                .bind(id(profile_id))
                .bind(feature_id)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn restrictions(&self, profile_id: uuid::Uuid) -> $crate::Result<Vec<Restriction>> {
                sqlx::query(&format!(
                    "SELECT {RESTRICTION_COLUMNS} FROM user_feature_restrictions \
                     WHERE profile_id = $1 ORDER BY feature_id"
                ))
                .bind(id(profile_id))
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(restriction_from)
                .collect()
            }

            async fn usage(
                &self,
                profile_id: uuid::Uuid,
                buckets: &[(&str, chrono::DateTime<chrono::Utc>)],
            ) -> $crate::Result<Vec<i64>> {
                if buckets.is_empty() {
                    return Ok(Vec::new());
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

            async fn consume(
                &self,
                r: &ConsumeRequest<'_>,
                respond: &(dyn Fn(Consumed) -> StoredResponse + Send + Sync),
            ) -> $crate::Result<ConsumeResult> {
                let Some(key) = r.idempotency else {
                    // One statement decides; the refusal path reads the unchanged usage.
                    return Ok(ConsumeResult::Fresh(match consume_in(self.writer(), r).await? {
                        Some(used) => Consumed::Spent { used },
                        None => Consumed::LimitReached {
                            used: used_in(self.reader(), r).await?,
                        },
                    }));
                };
                let mut tx = self.begin_write().await?;
                // Claim the key. A concurrent holder of the same key makes this wait until it
                // commits (PostgreSQL: unique index; SQLite: one writer), then find its answer.
                let claimed = sqlx::query(
                    "INSERT INTO idempotency_keys (profile_id, key, request_hash, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, key) DO NOTHING",
                )
                .bind(id(r.profile_id))
                .bind(key.key)
                .bind(key.request_hash)
                .bind(ts(r.now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !claimed {
                    let row = sqlx::query(
                        "SELECT request_hash, response_status, response_body FROM idempotency_keys \
                         WHERE profile_id = $1 AND key = $2",
                    )
                    .bind(id(r.profile_id))
                    .bind(key.key)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.rollback().await?;
                    let hash: String = row.try_get("request_hash")?;
                    if hash != key.request_hash {
                        return Err(StoreError::IdempotencyMismatch);
                    }
                    let status: Option<i32> = row.try_get("response_status")?;
                    let body: Option<sqlx::types::Json<serde_json::Value>> =
                        row.try_get("response_body")?;
                    return match (status, body) {
                        (Some(status), Some(body)) => Ok(ConsumeResult::Replayed(StoredResponse {
                            status: u16::try_from(status)
                                .map_err(|_| corrupt("response status", &status.to_string()))?,
                            body: body.0,
                        })),
                        _ => Err(corrupt("idempotency key without response", key.key)),
                    };
                }
                let decided = match consume_in(&mut *tx, r).await? {
                    Some(used) => Consumed::Spent { used },
                    None => Consumed::LimitReached {
                        used: used_in(&mut *tx, r).await?,
                    },
                };
                let answer = respond(decided);
                sqlx::query(
                    "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
                     WHERE profile_id = $1 AND key = $2",
                )
                .bind(id(r.profile_id))
                .bind(key.key)
                .bind(i32::from(answer.status))
                .bind(sqlx::types::Json(&answer.body))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ConsumeResult::Fresh(decided))
            }

            async fn purge_expired(&self, now: chrono::DateTime<chrono::Utc>) -> $crate::Result<Purged> {
                let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                let idempotency_keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(ts(now - chrono::TimeDelta::days(1)))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                Ok(Purged {
                    sessions,
                    idempotency_keys,
                })
            }
        }
    };
}
