//! Profiles, sessions, e-mailed tokens and invitations, for both backends.

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

        const INVITATION_COLUMNS: &str =
            "id, email, invited_by, created_at, expires_at, used_at, used_by";

        fn invitation_from(row: &Row) -> $crate::Result<$crate::Invitation> {
            Ok($crate::Invitation {
                id: uuid_of(row.try_get("id")?),
                email: row.try_get("email")?,
                invited_by: row.try_get::<Option<IdRepr>, _>("invited_by")?.map(uuid_of),
                created_at: ts_of(row.try_get("created_at")?)?,
                expires_at: ts_of(row.try_get("expires_at")?)?,
                used_at: opt_ts(row.try_get("used_at")?)?,
                used_by: row.try_get::<Option<IdRepr>, _>("used_by")?.map(uuid_of),
            })
        }

        /// `PROFILE_COLUMNS` of the profile joined as `p`.
        fn profile_columns_of_p() -> String {
            PROFILE_COLUMNS
                .split(", ")
                .map(|c| format!("p.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// Uses the token `token_hash` of `kind` on `conn` (the caller's transaction) and
        /// returns its profile, or `None` if it cannot be used at `now`.
        ///
        /// The profile's row is locked first (a no-op update), so every use of one
        /// profile's tokens queues on that row: two requests with the same token cannot
        /// both see it unused, and uses of two tokens of one profile cannot deadlock.
        /// Then the token and the profile's other unused tokens of the kind are marked
        /// used: an older link stops working once one of them did its job.
        async fn use_token(
            conn: &mut <Db as sqlx::Database>::Connection,
            token_hash: &str,
            kind: $crate::TokenKind,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::Result<Option<uuid::Uuid>> {
            let locked = sqlx::query(
                "UPDATE profiles SET updated_at = updated_at \
                 WHERE id = (SELECT profile_id FROM account_tokens \
                             WHERE token_hash = $1 AND kind = $2)",
            )
            .bind(token_hash)
            .bind(kind.as_str())
            .execute(&mut *conn)
            .await?;
            if locked.rows_affected() == 0 {
                return Ok(None);
            }
            let used: Option<IdRepr> = sqlx::query_scalar(
                "UPDATE account_tokens SET used_at = $3 \
                 WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING profile_id",
            )
            .bind(token_hash)
            .bind(kind.as_str())
            .bind(ts(now))
            .fetch_optional(&mut *conn)
            .await?;
            let Some(pid) = used.map(uuid_of) else {
                return Ok(None);
            };
            use_tokens_of(&mut *conn, pid, kind, now).await?;
            Ok(Some(pid))
        }

        /// Marks every unused token of `kind` of a profile used.
        async fn use_tokens_of<'c, E>(
            exec: E,
            pid: uuid::Uuid,
            kind: $crate::TokenKind,
            now: chrono::DateTime<chrono::Utc>,
        ) -> $crate::Result<u64>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let done = sqlx::query(
                "UPDATE account_tokens SET used_at = $3 \
                 WHERE profile_id = $1 AND kind = $2 AND used_at IS NULL",
            )
            .bind(id(pid))
            .bind(kind.as_str())
            .bind(ts(now))
            .execute(exec)
            .await?;
            Ok(done.rows_affected())
        }

        async fn insert_account_token<'c, E>(
            exec: E,
            t: &$crate::NewAccountToken,
        ) -> $crate::Result<()>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            sqlx::query(
                "INSERT INTO account_tokens (token_hash, kind, profile_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&t.token_hash)
            .bind(t.kind.as_str())
            .bind(id(t.profile_id))
            .bind(ts(t.created_at))
            .bind(ts(t.expires_at))
            .execute(exec)
            .await
            .map_err(|e| on_constraint_of(e, "token", "profile"))?;
            Ok(())
        }

        /// Ends the sessions of a profile, except the one with hash `except`.
        async fn delete_sessions_of<'c, E>(
            exec: E,
            pid: uuid::Uuid,
            except: Option<&str>,
        ) -> $crate::Result<u64>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let done = sqlx::query(
                "DELETE FROM sessions WHERE profile_id = $1 AND ($2 IS NULL OR token_hash <> $2)",
            )
            .bind(id(pid))
            .bind(except)
            .execute(exec)
            .await?;
            Ok(done.rows_affected())
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
                // The cursor condition is left out rather than disabled with `$2 IS NULL OR`,
                // so that a page deep in the list seeks in the primary key instead of
                // scanning up to the cursor.
                let seek = if after.is_some() { "AND id > $3" } else { "AND $3 IS NULL" };
                sqlx::query(&format!(
                    "SELECT {PROFILE_COLUMNS} FROM profiles \
                     WHERE ($1 IS NULL OR email_norm LIKE $1 ESCAPE '\\' OR name_norm LIKE $1 ESCAPE '\\') \
                       {seek} \
                     ORDER BY id LIMIT $2"
                ))
                .bind(query.map(like_pattern))
                .bind(limit)
                .bind(after.map(id))
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
                let _changed = self.cache.on_change();
                let (set_trial, trial) = match patch.trial_ends_at {
                    Some(t) => (true, t),
                    None => (false, None),
                };
                let mut tx = self.begin_write().await?;
                // A change that can leave no active admin locks the active admins first, so
                // that two such changes at once are decided one after the other.
                let may_lose_admin = patch.role == Some(Role::User) || patch.disabled == Some(true);
                if may_lose_admin {
                    let admins: Vec<IdRepr> = sqlx::query_scalar(&format!(
                        "SELECT id FROM profiles WHERE role = 'admin' AND NOT disabled {FOR_UPDATE}"
                    ))
                    .fetch_all(&mut *tx)
                    .await?;
                    if admins.len() == 1 && admins.iter().any(|a| uuid_of(*a) == pid) {
                        tx.rollback().await?;
                        return Err($crate::StoreError::LastAdmin);
                    }
                }
                let row = sqlx::query(&format!(
                    "UPDATE profiles SET \
                        name = COALESCE($2, name), \
                        name_norm = COALESCE($10, name_norm), \
                        tier = COALESCE($3, tier), \
                        role = COALESCE($4, role), \
                        disabled = COALESCE($5, disabled), \
                        trial_ends_at = CASE WHEN $6 THEN $7 ELSE trial_ends_at END, \
                        language = COALESCE($8, language), \
                        email_verified = COALESCE($11, email_verified), \
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
                .bind(patch.email_verified)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| on_constraint(e, "tier"))?;
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                if patch.disabled == Some(true) {
                    delete_sessions_of(&mut *tx, pid, None).await?;
                }
                tx.commit().await?;
                profile_from(&row).map(Some)
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
                let _changed = self.cache.on_change();
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
                Ok($crate::AccountStore::session(self, token_hash, now)
                    .await?
                    .map(|s| s.profile))
            }

            async fn delete_session(&self, token_hash: &str) -> $crate::Result<bool> {
                let _changed = self.cache.on_change();
                let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn session(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::Session>> {
                if let Some(session) = self.cache.session(token_hash) {
                    return Ok((session.expires_at > now).then_some(session));
                }
                let generation = self.cache.generation();
                let cols = profile_columns_of_p();
                let row = sqlx::query(&format!(
                    "SELECT {cols}, s.created_at AS session_created_at, \
                        s.expires_at AS session_expires_at, s.last_seen_at \
                     FROM sessions s JOIN profiles p ON p.id = s.profile_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2"
                ))
                .bind(token_hash)
                .bind(ts(now))
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let session = $crate::Session {
                    profile: profile_from(&row)?,
                    created_at: ts_of(row.try_get("session_created_at")?)?,
                    expires_at: ts_of(row.try_get("session_expires_at")?)?,
                    last_seen_at: ts_of(row.try_get("last_seen_at")?)?,
                };
                self.cache.put_session(token_hash, &session, generation);
                Ok(Some(session))
            }

            async fn renew_session(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                let _changed = self.cache.on_change();
                let done = sqlx::query(
                    "UPDATE sessions SET expires_at = $3, last_seen_at = $2 \
                     WHERE token_hash = $1 AND expires_at > $2 AND expires_at < $3",
                )
                .bind(token_hash)
                .bind(ts(now))
                .bind(ts(expires_at))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_sessions(
                &self,
                pid: uuid::Uuid,
                except: Option<&str>,
            ) -> $crate::Result<u64> {
                let _changed = self.cache.on_change();
                delete_sessions_of(self.writer(), pid, except).await
            }

            async fn register(
                &self,
                r: &$crate::NewRegistration,
            ) -> $crate::Result<$crate::RegisterOutcome> {
                let _changed = self.cache.on_change();
                use $crate::RegisterOutcome;
                let p = &r.profile;
                let mut tx = self.begin_write().await?;
                // The invitation first: one conditional update, so it is used once however
                // many registrations present it at once.
                let (invitation_id, invited_by, email_verified) = match &r.invitation {
                    None => (None, p.invited_by, p.email_verified),
                    Some(token_hash) => {
                        let row = sqlx::query(
                            "UPDATE invitations SET used_at = $2 \
                             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                               AND email_norm = $3 \
                             RETURNING id, invited_by",
                        )
                        .bind(token_hash)
                        .bind(ts(p.created_at))
                        .bind(normalize_email(&p.email))
                        .fetch_optional(&mut *tx)
                        .await?;
                        let Some(row) = row else {
                            tx.rollback().await?;
                            return Ok(RegisterOutcome::InvalidInvitation);
                        };
                        let inviter = row.try_get::<Option<IdRepr>, _>("invited_by")?.map(uuid_of);
                        (Some(uuid_of(row.try_get("id")?)), inviter, true)
                    }
                };
                let inserted = sqlx::query(&format!(
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
                .bind(email_verified)
                .bind(invited_by.map(id))
                .bind(&p.language)
                .bind(ts(p.created_at))
                .bind(normalize_name(&p.name))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| on_constraint_of(e, "email", "tier or inviter"));
                let row = match inserted {
                    Ok(row) => row,
                    Err(StoreError::Conflict(_)) => {
                        tx.rollback().await?;
                        return Ok(RegisterOutcome::EmailTaken);
                    }
                    Err(e) => return Err(e),
                };
                let profile = profile_from(&row)?;
                if let Some(invitation_id) = invitation_id {
                    sqlx::query("UPDATE invitations SET used_by = $2 WHERE id = $1")
                        .bind(id(invitation_id))
                        .bind(id(profile.id))
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(token) = &r.token {
                    insert_account_token(&mut *tx, token).await?;
                }
                if let Some(mail) = &r.mail {
                    enqueue_mail_in(&mut *tx, mail).await?;
                }
                if let Some(activity) = &r.activity {
                    log_activity_in(&mut tx, activity).await?;
                }
                tx.commit().await?;
                Ok(RegisterOutcome::Registered(Box::new(profile)))
            }

            async fn create_account_token(
                &self,
                token: &$crate::NewAccountToken,
                mail: &$crate::NewMail,
                activity: Option<&$crate::NewActivity>,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                insert_account_token(&mut *tx, token).await?;
                enqueue_mail_in(&mut *tx, mail).await?;
                if let Some(activity) = activity {
                    log_activity_in(&mut tx, activity).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn account_token(
                &self,
                token_hash: &str,
                kind: $crate::TokenKind,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::AccountToken>> {
                let row = sqlx::query(
                    "SELECT profile_id, created_at, expires_at FROM account_tokens \
                     WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3",
                )
                .bind(token_hash)
                .bind(kind.as_str())
                .bind(ts(now))
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some($crate::AccountToken {
                    kind,
                    profile_id: uuid_of(row.try_get("profile_id")?),
                    created_at: ts_of(row.try_get("created_at")?)?,
                    expires_at: ts_of(row.try_get("expires_at")?)?,
                }))
            }

            async fn verify_email(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                activity: &$crate::NewActivity,
            ) -> $crate::Result<Option<Profile>> {
                let _changed = self.cache.on_change();
                let mut tx = self.begin_write().await?;
                let Some(pid) =
                    use_token(&mut tx, token_hash, $crate::TokenKind::VerifyEmail, now).await?
                else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let row = sqlx::query(&format!(
                    "UPDATE profiles SET email_verified = TRUE, updated_at = $2 \
                     WHERE id = $1 RETURNING {PROFILE_COLUMNS}"
                ))
                .bind(id(pid))
                .bind(ts(now))
                .fetch_one(&mut *tx)
                .await?;
                let profile = profile_from(&row)?;
                log_activity_in(&mut tx, &activity.clone().by_self(pid)).await?;
                tx.commit().await?;
                Ok(Some(profile))
            }

            async fn reset_password(
                &self,
                token_hash: &str,
                password_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                activity: &$crate::NewActivity,
            ) -> $crate::Result<Option<Profile>> {
                let _changed = self.cache.on_change();
                let mut tx = self.begin_write().await?;
                let Some(pid) =
                    use_token(&mut tx, token_hash, $crate::TokenKind::PasswordReset, now).await?
                else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let row = sqlx::query(&format!(
                    "UPDATE profiles SET password_hash = $2, updated_at = $3 \
                     WHERE id = $1 RETURNING {PROFILE_COLUMNS}"
                ))
                .bind(id(pid))
                .bind(password_hash)
                .bind(ts(now))
                .fetch_one(&mut *tx)
                .await?;
                let profile = profile_from(&row)?;
                delete_sessions_of(&mut *tx, pid, None).await?;
                log_activity_in(&mut tx, &activity.clone().by_self(pid)).await?;
                tx.commit().await?;
                Ok(Some(profile))
            }

            async fn change_password(
                &self,
                pid: uuid::Uuid,
                expected_hash: &str,
                password_hash: &str,
                keep_session: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
                activity: &$crate::NewActivity,
            ) -> $crate::Result<bool> {
                let _changed = self.cache.on_change();
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE profiles SET password_hash = $3, updated_at = $4 \
                     WHERE id = $1 AND password_hash = $2",
                )
                .bind(id(pid))
                .bind(expected_hash)
                .bind(password_hash)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                use_tokens_of(&mut *tx, pid, $crate::TokenKind::PasswordReset, now).await?;
                delete_sessions_of(&mut *tx, pid, keep_session).await?;
                log_activity_in(&mut tx, activity).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn create_invitation(
                &self,
                inv: &$crate::NewInvitation,
                mail: &$crate::NewMail,
                activity: Option<&$crate::NewActivity>,
            ) -> $crate::Result<$crate::Invitation> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(&format!(
                    "INSERT INTO invitations (id, token_hash, email, email_norm, invited_by, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING {INVITATION_COLUMNS}"
                ))
                .bind(id(inv.id))
                .bind(&inv.token_hash)
                .bind(inv.email.trim())
                .bind(normalize_email(&inv.email))
                .bind(inv.invited_by.map(id))
                .bind(ts(inv.created_at))
                .bind(ts(inv.expires_at))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| on_constraint_of(e, "invitation", "inviter"))?;
                let invitation = invitation_from(&row)?;
                enqueue_mail_in(&mut *tx, mail).await?;
                if let Some(activity) = activity {
                    log_activity_in(&mut tx, activity).await?;
                }
                tx.commit().await?;
                Ok(invitation)
            }

            async fn invitation(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::Invitation>> {
                sqlx::query(&format!(
                    "SELECT {INVITATION_COLUMNS} FROM invitations \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
                ))
                .bind(token_hash)
                .bind(ts(now))
                .fetch_optional(self.reader())
                .await?
                .as_ref()
                .map(invitation_from)
                .transpose()
            }
        }
    };
}
