//! Profiles and sessions, for both backends.

macro_rules! impl_account_store {
    ($store:ty) => {
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


        #[async_trait::async_trait]
        impl $crate::AccountStore for $store {
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

            async fn profiles_with_trial_ending(
                &self,
                after: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Vec<Profile>> {
                sqlx::query(&format!(
                    "SELECT {PROFILE_COLUMNS} FROM profiles \
                     WHERE trial_ends_at > $1 AND trial_ends_at <= $2 AND NOT disabled ORDER BY id"
                ))
                .bind(ts(after))
                .bind(ts(until))
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(profile_from)
                .collect()
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
        }
    };
}
