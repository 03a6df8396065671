//! Profiles, sessions, e-mailed tokens and invitations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::mail::enqueue_mail_in;
use super::{PerBackend, SqlStore, like_pattern, normalize_name};
use crate::spend::log_activity_in;
use crate::sql::{Executor, Row, Tx, corrupt, on_constraint, on_constraint_of, query};
use crate::{
    AccountToken, Body, Invitation, NewAccountToken, NewActivity, NewInvitation, NewMail,
    NewProfile, NewRegistration, NewSession, Photo, Profile, ProfileFilter, ProfileOrder,
    ProfilePatch, RegisterOutcome, Result, Role, Session, StoreError, TokenKind, normalize_email,
    postgres, sqlite,
};

const PROFILE_COLUMNS: &str = "id, email, name, role, tier, trial_ends_at, \
    email_verified, invited_by, language, disabled, created_at, updated_at, height_cm, \
    birth_date, sex, timezone, units, goal_weight_kg, show_rewards, kcal_target, \
    protein_target_g, carbs_target_g, fat_target_g, reminder_days, reminder_time";

/// [`PROFILE_COLUMNS`] of the profile joined as `p`.
const PROFILE_COLUMNS_OF_P: &str = "p.id, p.email, p.name, p.role, p.tier, \
    p.trial_ends_at, p.email_verified, p.invited_by, p.language, p.disabled, p.created_at, \
    p.updated_at, p.height_cm, p.birth_date, p.sex, p.timezone, p.units, p.goal_weight_kg, \
    p.show_rewards, p.kcal_target, p.protein_target_g, p.carbs_target_g, p.fat_target_g, \
    p.reminder_days, p.reminder_time";

const INVITATION_COLUMNS: &str = "id, email, invited_by, created_at, expires_at, used_at, used_by";

const INSERT_PROFILE: &str = concatcp!(
    "INSERT INTO profiles (id, email, email_norm, password_hash, name, role, tier, \
     trial_ends_at, email_verified, invited_by, language, disabled, created_at, \
     updated_at, name_norm) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, FALSE, $12, $12, $13) \
     RETURNING ",
    PROFILE_COLUMNS
);

const PROFILE_BY_ID: &str = concatcp!("SELECT ", PROFILE_COLUMNS, " FROM profiles WHERE id = $1");

const CREDENTIALS: &str = concatcp!(
    "SELECT ",
    PROFILE_COLUMNS,
    ", password_hash FROM profiles WHERE email_norm = $1"
);

/// A page of profiles: `$1` the search pattern (or NULL), `$2` the limit, `$3` the id the
/// page starts after. The cursor's condition is left out of the first page rather than
/// disabled with `$3 IS NULL OR`, so that a page deep in the list seeks in the primary key
/// instead of scanning up to the cursor.
const LIST_PROFILES_WHERE: &str = concatcp!(
    "SELECT ",
    PROFILE_COLUMNS,
    " FROM profiles \
     WHERE ($1 IS NULL OR email_norm LIKE $1 ESCAPE '\\' OR name_norm LIKE $1 ESCAPE '\\') "
);
const LIST_PROFILES_FIRST: &str =
    concatcp!(LIST_PROFILES_WHERE, "AND $3 IS NULL ORDER BY id LIMIT $2");
const LIST_PROFILES_AFTER: &str =
    concatcp!(LIST_PROFILES_WHERE, "AND id > $3 ORDER BY id LIMIT $2");

/// Profiles by the admin list's filters: `$1` the search pattern, `$2` the limit, `$3` the
/// cursor (an id, or an `email_norm` when sorted by e-mail), `$4` the role, `$5` disabled,
/// `$6`/`$7` a trial ending in `($6, $7]`, `$8` refused (a `limit_reached` entry) since.
/// Each unset filter is NULL. As above, the cursor's condition is in the text only when
/// there is one, so a deep page seeks.
const FIND_PROFILES_WHERE: &str = concatcp!(
    "SELECT ",
    PROFILE_COLUMNS,
    " FROM profiles \
     WHERE ($1 IS NULL OR email_norm LIKE $1 ESCAPE '\\' OR name_norm LIKE $1 ESCAPE '\\') \
     AND ($4 IS NULL OR role = $4) \
     AND ($5 IS NULL OR disabled = $5) \
     AND ($6 IS NULL OR (trial_ends_at > $6 AND trial_ends_at <= $7)) \
     AND ($8 IS NULL OR id IN (SELECT profile_id FROM user_activity_log \
          WHERE action = 'limit_reached' AND created_at >= $8 AND profile_id IS NOT NULL)) "
);
const FIND_OLDEST_FIRST: &str =
    concatcp!(FIND_PROFILES_WHERE, "AND $3 IS NULL ORDER BY id LIMIT $2");
const FIND_OLDEST_AFTER: &str = concatcp!(FIND_PROFILES_WHERE, "AND id > $3 ORDER BY id LIMIT $2");
const FIND_NEWEST_FIRST: &str = concatcp!(
    FIND_PROFILES_WHERE,
    "AND $3 IS NULL ORDER BY id DESC LIMIT $2"
);
const FIND_NEWEST_AFTER: &str =
    concatcp!(FIND_PROFILES_WHERE, "AND id < $3 ORDER BY id DESC LIMIT $2");
const FIND_EMAIL_FIRST: &str = concatcp!(
    FIND_PROFILES_WHERE,
    "AND $3 IS NULL ORDER BY email_norm LIMIT $2"
);
const FIND_EMAIL_AFTER: &str = concatcp!(
    FIND_PROFILES_WHERE,
    "AND email_norm > $3 ORDER BY email_norm LIMIT $2"
);

/// The enabled admins, locked until the transaction ends (PostgreSQL; SQLite's write
/// transaction holds the database's one write lock already).
const LOCK_ADMINS: PerBackend = PerBackend {
    postgres: concatcp!(
        "SELECT id FROM profiles WHERE role = 'admin' AND NOT disabled ",
        postgres::FOR_UPDATE
    ),
    sqlite: concatcp!(
        "SELECT id FROM profiles WHERE role = 'admin' AND NOT disabled ",
        sqlite::FOR_UPDATE
    ),
};

const UPDATE_PROFILE: &str = concatcp!(
    "UPDATE profiles SET \
        name = COALESCE($2, name), \
        name_norm = COALESCE($10, name_norm), \
        tier = COALESCE($3, tier), \
        role = COALESCE($4, role), \
        disabled = COALESCE($5, disabled), \
        trial_ends_at = CASE WHEN $6 THEN $7 ELSE trial_ends_at END, \
        language = COALESCE($8, language), \
        email_verified = COALESCE($11, email_verified), \
        height_cm = CASE WHEN $12 THEN $13 ELSE height_cm END, \
        birth_date = CASE WHEN $14 THEN $15 ELSE birth_date END, \
        sex = CASE WHEN $16 THEN $17 ELSE sex END, \
        timezone = CASE WHEN $18 THEN $19 ELSE timezone END, \
        units = COALESCE($20, units), \
        goal_weight_kg = CASE WHEN $21 THEN $22 ELSE goal_weight_kg END, \
        show_rewards = COALESCE($23, show_rewards), \
        kcal_target = CASE WHEN $24 THEN $25 ELSE kcal_target END, \
        protein_target_g = CASE WHEN $26 THEN $27 ELSE protein_target_g END, \
        carbs_target_g = CASE WHEN $28 THEN $29 ELSE carbs_target_g END, \
        fat_target_g = CASE WHEN $30 THEN $31 ELSE fat_target_g END, \
        reminder_days = COALESCE($32, reminder_days), \
        reminder_time = CASE WHEN $33 THEN $34 ELSE reminder_time END, \
        updated_at = $9 \
     WHERE id = $1 RETURNING ",
    PROFILE_COLUMNS
);

/// The person's traces in the activity log, removed when the profile goes: the e-mail in
/// the details (failed logins, invitations) and the IP.
const FORGET_ACTIVITY: PerBackend = PerBackend {
    postgres: "UPDATE user_activity_log SET details = details - 'email', ip = NULL \
               WHERE profile_id = $1 OR actor_id = $1",
    sqlite: "UPDATE user_activity_log SET details = json_remove(details, '$.email'), ip = NULL \
             WHERE profile_id = $1 OR actor_id = $1",
};

const PHOTOS_OF_PROFILE: &str = concatcp!(
    "SELECT ",
    super::media::PHOTO_COLUMNS,
    " FROM photos WHERE profile_id = $1"
);

const WITH_REMINDERS: &str = concatcp!(
    "SELECT ",
    PROFILE_COLUMNS,
    " FROM profiles WHERE reminder_days > 0 AND reminder_time IS NOT NULL AND NOT disabled \
     ORDER BY id"
);

const TRIAL_ENDING: &str = concatcp!(
    "SELECT ",
    PROFILE_COLUMNS,
    " FROM profiles \
     WHERE trial_ends_at > $1 AND trial_ends_at <= $2 AND NOT disabled ORDER BY id"
);

const SESSION: &str = concatcp!(
    "SELECT ",
    PROFILE_COLUMNS_OF_P,
    ", s.created_at AS session_created_at, \
        s.expires_at AS session_expires_at, s.last_seen_at \
     FROM sessions s JOIN profiles p ON p.id = s.profile_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2"
);

const VERIFY_EMAIL: &str = concatcp!(
    "UPDATE profiles SET email_verified = TRUE, updated_at = $2 \
     WHERE id = $1 RETURNING ",
    PROFILE_COLUMNS
);

const RESET_PASSWORD: &str = concatcp!(
    "UPDATE profiles SET password_hash = $2, updated_at = $3 \
     WHERE id = $1 RETURNING ",
    PROFILE_COLUMNS
);

const INSERT_INVITATION: &str = concatcp!(
    "INSERT INTO invitations (id, token_hash, email, email_norm, invited_by, \
     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     RETURNING ",
    INVITATION_COLUMNS
);

const LIVE_INVITATION: &str = concatcp!(
    "SELECT ",
    INVITATION_COLUMNS,
    " FROM invitations \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
);

fn profile_from(row: &Row) -> Result<Profile> {
    let role: String = row.get("role")?;
    Ok(Profile {
        id: row.get("id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        tier: row.get("tier")?,
        trial_ends_at: row.get("trial_ends_at")?,
        email_verified: row.get("email_verified")?,
        invited_by: row.get("invited_by")?,
        language: row.get("language")?,
        disabled: row.get("disabled")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        body: Body {
            height_cm: row.get("height_cm")?,
            birth_date: row.get("birth_date")?,
            sex: row.get("sex")?,
            timezone: row.get("timezone")?,
            units: row.get("units")?,
            goal_weight_kg: row.get("goal_weight_kg")?,
            show_rewards: row.get("show_rewards")?,
            kcal_target: row.get("kcal_target")?,
            protein_target_g: row.get("protein_target_g")?,
            carbs_target_g: row.get("carbs_target_g")?,
            fat_target_g: row.get("fat_target_g")?,
            reminder_days: row.get("reminder_days")?,
            reminder_time: row.get("reminder_time")?,
        },
    })
}

fn invitation_from(row: &Row) -> Result<Invitation> {
    Ok(Invitation {
        id: row.get("id")?,
        email: row.get("email")?,
        invited_by: row.get("invited_by")?,
        created_at: row.get("created_at")?,
        expires_at: row.get("expires_at")?,
        used_at: row.get("used_at")?,
        used_by: row.get("used_by")?,
    })
}

/// Uses the token `token_hash` of `kind` in the caller's transaction and returns its
/// profile, or `None` if it cannot be used at `now`.
///
/// The profile's row is locked first (a no-op update), so every use of one profile's
/// tokens queues on that row: two requests with the same token cannot both see it unused,
/// and uses of two tokens of one profile cannot deadlock. Then the token and the profile's
/// other unused tokens of the kind are marked used: an older link stops working once one
/// of them did its job.
async fn use_token(
    tx: &mut Tx,
    token_hash: &str,
    kind: TokenKind,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>> {
    let locked = query(
        "UPDATE profiles SET updated_at = updated_at \
         WHERE id = (SELECT profile_id FROM account_tokens \
                     WHERE token_hash = $1 AND kind = $2)",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .execute(&mut *tx)
    .await?;
    if locked == 0 {
        return Ok(None);
    }
    let used = query(
        "UPDATE account_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING profile_id",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(pid) = used.map(|row| row.get::<Uuid>(0)).transpose()? else {
        return Ok(None);
    };
    use_tokens_of(&mut *tx, pid, kind, now).await?;
    Ok(Some(pid))
}

/// Marks every unused token of `kind` of a profile used.
async fn use_tokens_of<'e>(
    on: impl Executor<'e>,
    pid: Uuid,
    kind: TokenKind,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(query(
        "UPDATE account_tokens SET used_at = $3 \
         WHERE profile_id = $1 AND kind = $2 AND used_at IS NULL",
    )
    .bind(pid)
    .bind(kind.as_str())
    .bind(now)
    .execute(on)
    .await?)
}

async fn insert_account_token<'e>(on: impl Executor<'e>, t: &NewAccountToken) -> Result<()> {
    query(
        "INSERT INTO account_tokens (token_hash, kind, profile_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.token_hash)
    .bind(t.kind.as_str())
    .bind(t.profile_id)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(on)
    .await
    .map_err(|e| on_constraint_of(e, "token", "profile"))?;
    Ok(())
}

/// Ends the sessions of a profile, except the one with hash `except`.
async fn delete_sessions_of<'e>(
    on: impl Executor<'e>,
    pid: Uuid,
    except: Option<&str>,
) -> Result<u64> {
    Ok(
        query("DELETE FROM sessions WHERE profile_id = $1 AND ($2 IS NULL OR token_hash <> $2)")
            .bind(pid)
            .bind(except)
            .execute(on)
            .await?,
    )
}

#[async_trait]
impl crate::AccountStore for SqlStore {
    async fn create_profile(&self, p: &NewProfile) -> Result<Profile> {
        let row = query(INSERT_PROFILE)
            .bind(p.id)
            .bind(p.email.trim())
            .bind(normalize_email(&p.email))
            .bind(&p.password_hash)
            .bind(&p.name)
            .bind(p.role.as_str())
            .bind(&p.tier)
            .bind(p.trial_ends_at)
            .bind(p.email_verified)
            .bind(p.invited_by)
            .bind(&p.language)
            .bind(p.created_at)
            .bind(normalize_name(&p.name))
            .fetch_one(self.writer())
            .await
            .map_err(|e| on_constraint_of(e, "email", "tier or inviter"))?;
        profile_from(&row)
    }

    async fn profile(&self, pid: Uuid) -> Result<Option<Profile>> {
        query(PROFILE_BY_ID)
            .bind(pid)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(profile_from)
            .transpose()
    }

    async fn credentials(&self, email: &str) -> Result<Option<(Profile, String)>> {
        let row = query(CREDENTIALS)
            .bind(normalize_email(email))
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(row) => Ok(Some((profile_from(&row)?, row.get("password_hash")?))),
            None => Ok(None),
        }
    }

    async fn list_profiles(
        &self,
        search: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Profile>> {
        let sql = match after {
            Some(_) => LIST_PROFILES_AFTER,
            None => LIST_PROFILES_FIRST,
        };
        query(sql)
            .bind(search.map(like_pattern))
            .bind(limit)
            .bind(after)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(profile_from)
            .collect()
    }

    async fn find_profiles(
        &self,
        filter: &ProfileFilter,
        order: ProfileOrder,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Profile>> {
        let sql = match (order, after.is_some()) {
            (ProfileOrder::Oldest, false) => FIND_OLDEST_FIRST,
            (ProfileOrder::Oldest, true) => FIND_OLDEST_AFTER,
            (ProfileOrder::Newest, false) => FIND_NEWEST_FIRST,
            (ProfileOrder::Newest, true) => FIND_NEWEST_AFTER,
            (ProfileOrder::Email, false) => FIND_EMAIL_FIRST,
            (ProfileOrder::Email, true) => FIND_EMAIL_AFTER,
        };
        let q = query(sql)
            .bind(filter.query.as_deref().map(like_pattern))
            .bind(limit);
        // An id cursor is a UUID (a bad one matches nothing); an e-mail cursor is text.
        let q = match order {
            ProfileOrder::Email => q.bind(after),
            _ => match after {
                Some(a) => match Uuid::parse_str(a) {
                    Ok(id) => q.bind(Some(id)),
                    Err(_) => return Ok(Vec::new()),
                },
                None => q.bind(None::<Uuid>),
            },
        };
        let (trial_after, trial_until) = filter.trial_ending.unzip();
        q.bind(filter.role.map(Role::as_str))
            .bind(filter.disabled)
            .bind(trial_after)
            .bind(trial_until)
            .bind(filter.refused_since)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(profile_from)
            .collect()
    }

    async fn update_profile(
        &self,
        pid: Uuid,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Option<Profile>> {
        let _changed = self.cache.on_change();
        let (set_trial, trial) = match patch.trial_ends_at {
            Some(t) => (true, t),
            None => (false, None),
        };
        let mut tx = self.begin_write().await?;
        // A change that can leave no active admin locks the active admins first, so that
        // two such changes at once are decided one after the other.
        let may_lose_admin = patch.role == Some(Role::User) || patch.disabled == Some(true);
        if may_lose_admin {
            let admins = query(self.sql(LOCK_ADMINS)).fetch_all(&mut tx).await?;
            let admins = admins
                .iter()
                .map(|row| row.get::<Uuid>(0))
                .collect::<Result<Vec<_>>>()?;
            if admins == [pid] {
                tx.rollback().await?;
                return Err(StoreError::LastAdmin);
            }
        }
        let row = query(UPDATE_PROFILE)
            .bind(pid)
            .bind(&patch.name)
            .bind(&patch.tier)
            .bind(patch.role.map(Role::as_str))
            .bind(patch.disabled)
            .bind(set_trial)
            .bind(trial)
            .bind(&patch.language)
            .bind(now)
            .bind(patch.name.as_deref().map(normalize_name))
            .bind(patch.email_verified)
            .bind(patch.height_cm.is_some())
            .bind(patch.height_cm.flatten())
            .bind(patch.birth_date.is_some())
            .bind(patch.birth_date.flatten())
            .bind(patch.sex.is_some())
            .bind(patch.sex.clone().flatten())
            .bind(patch.timezone.is_some())
            .bind(patch.timezone.clone().flatten())
            .bind(&patch.units)
            .bind(patch.goal_weight_kg.is_some())
            .bind(patch.goal_weight_kg.flatten())
            .bind(patch.show_rewards)
            .bind(patch.kcal_target.is_some())
            .bind(patch.kcal_target.flatten())
            .bind(patch.protein_target_g.is_some())
            .bind(patch.protein_target_g.flatten())
            .bind(patch.carbs_target_g.is_some())
            .bind(patch.carbs_target_g.flatten())
            .bind(patch.fat_target_g.is_some())
            .bind(patch.fat_target_g.flatten())
            .bind(patch.reminder_days)
            .bind(patch.reminder_time.is_some())
            .bind(patch.reminder_time.clone().flatten())
            .fetch_optional(&mut tx)
            .await
            .map_err(|e| on_constraint(e, "tier"))?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        if patch.disabled == Some(true) {
            delete_sessions_of(&mut tx, pid, None).await?;
        }
        tx.commit().await?;
        profile_from(&row).map(Some)
    }

    async fn delete_profile(&self, pid: Uuid) -> Result<Option<Vec<Photo>>> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        let row = query("SELECT role, disabled, email FROM profiles WHERE id = $1")
            .bind(pid)
            .fetch_optional(&mut tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let (role, disabled, email): (String, bool, String) =
            (row.get("role")?, row.get("disabled")?, row.get("email")?);
        if role == Role::Admin.as_str() && !disabled {
            let admins = query(self.sql(LOCK_ADMINS)).fetch_all(&mut tx).await?;
            let admins = admins
                .iter()
                .map(|row| row.get::<Uuid>(0))
                .collect::<Result<Vec<_>>>()?;
            if admins == [pid] {
                tx.rollback().await?;
                return Err(StoreError::LastAdmin);
            }
        }
        let photos = query(PHOTOS_OF_PROFILE)
            .bind(pid)
            .fetch_all(&mut tx)
            .await?
            .iter()
            .map(super::media::photo_from)
            .collect::<Result<Vec<_>>>()?;
        query(self.sql(FORGET_ACTIVITY))
            .bind(pid)
            .execute(&mut tx)
            .await?;
        let email = normalize_email(&email);
        query("DELETE FROM mail_outbox WHERE lower(recipient) = $1")
            .bind(&email)
            .execute(&mut tx)
            .await?;
        query("DELETE FROM invitations WHERE email_norm = $1 AND used_at IS NULL")
            .bind(&email)
            .execute(&mut tx)
            .await?;
        // The rest goes with the profile (foreign keys: cascade, or set null in the log).
        query("DELETE FROM profiles WHERE id = $1")
            .bind(pid)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Some(photos))
    }

    async fn profiles_with_trial_ending(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Profile>> {
        query(TRIAL_ENDING)
            .bind(after)
            .bind(until)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(profile_from)
            .collect()
    }

    async fn profiles_with_weigh_in_reminders(&self) -> Result<Vec<Profile>> {
        query(WITH_REMINDERS)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(profile_from)
            .collect()
    }

    async fn admin_exists(&self) -> Result<bool> {
        let row = query("SELECT COUNT(*) FROM profiles WHERE role = 'admin' AND NOT disabled")
            .fetch_one(self.reader())
            .await?;
        Ok(row.get::<i64>(0)? > 0)
    }

    async fn set_password(
        &self,
        pid: Uuid,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _changed = self.cache.on_change();
        let done = query("UPDATE profiles SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(pid)
            .bind(password_hash)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn create_session(&self, s: &NewSession) -> Result<()> {
        query(
            "INSERT INTO sessions (token_hash, profile_id, created_at, expires_at, \
             last_seen_at, user_agent) VALUES ($1, $2, $3, $4, $3, $5)",
        )
        .bind(&s.token_hash)
        .bind(s.profile_id)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(&s.user_agent)
        .execute(self.writer())
        .await
        .map_err(|e| on_constraint_of(e, "session", "profile"))?;
        Ok(())
    }

    async fn session_profile(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Profile>> {
        Ok(crate::AccountStore::session(self, token_hash, now)
            .await?
            .map(|s| s.profile))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let _changed = self.cache.on_change();
        let done = query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        if let Some(session) = self.cache.session(token_hash) {
            return Ok((session.expires_at > now).then_some(session));
        }
        let generation = self.cache.generation();
        let row = query(SESSION)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.reader())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session = Session {
            profile: profile_from(&row)?,
            created_at: row.get("session_created_at")?,
            expires_at: row.get("session_expires_at")?,
            last_seen_at: row.get("last_seen_at")?,
        };
        self.cache.put_session(token_hash, &session, generation);
        Ok(Some(session))
    }

    async fn renew_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let _changed = self.cache.on_change();
        let done = query(
            "UPDATE sessions SET expires_at = $3, last_seen_at = $2 \
             WHERE token_hash = $1 AND expires_at > $2 AND expires_at < $3",
        )
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(done == 1)
    }

    async fn delete_sessions(&self, pid: Uuid, except: Option<&str>) -> Result<u64> {
        let _changed = self.cache.on_change();
        delete_sessions_of(self.writer(), pid, except).await
    }

    async fn register(&self, r: &NewRegistration) -> Result<RegisterOutcome> {
        let _changed = self.cache.on_change();
        let p = &r.profile;
        let mut tx = self.begin_write().await?;
        // The invitation first: one conditional update, so it is used once however many
        // registrations present it at once.
        let (invitation_id, invited_by, email_verified) = match &r.invitation {
            None => (None, p.invited_by, p.email_verified),
            Some(token_hash) => {
                let row = query(
                    "UPDATE invitations SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                       AND email_norm = $3 \
                     RETURNING id, invited_by",
                )
                .bind(token_hash)
                .bind(p.created_at)
                .bind(normalize_email(&p.email))
                .fetch_optional(&mut tx)
                .await?;
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(RegisterOutcome::InvalidInvitation);
                };
                let inviter: Option<Uuid> = row.get("invited_by")?;
                (Some(row.get::<Uuid>("id")?), inviter, true)
            }
        };
        let inserted = query(INSERT_PROFILE)
            .bind(p.id)
            .bind(p.email.trim())
            .bind(normalize_email(&p.email))
            .bind(&p.password_hash)
            .bind(&p.name)
            .bind(p.role.as_str())
            .bind(&p.tier)
            .bind(p.trial_ends_at)
            .bind(email_verified)
            .bind(invited_by)
            .bind(&p.language)
            .bind(p.created_at)
            .bind(normalize_name(&p.name))
            .fetch_one(&mut tx)
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
            query("UPDATE invitations SET used_by = $2 WHERE id = $1")
                .bind(invitation_id)
                .bind(profile.id)
                .execute(&mut tx)
                .await?;
        }
        if let Some(token) = &r.token {
            insert_account_token(&mut tx, token).await?;
        }
        if let Some(mail) = &r.mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        if let Some(activity) = &r.activity {
            log_activity_in(&mut tx, activity).await?;
        }
        tx.commit().await?;
        Ok(RegisterOutcome::Registered(Box::new(profile)))
    }

    async fn create_account_token(
        &self,
        token: &NewAccountToken,
        mail: &NewMail,
        activity: Option<&NewActivity>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_account_token(&mut tx, token).await?;
        enqueue_mail_in(&mut tx, mail).await?;
        if let Some(activity) = activity {
            log_activity_in(&mut tx, activity).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn account_token(
        &self,
        token_hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountToken>> {
        let row = query(
            "SELECT profile_id, created_at, expires_at FROM account_tokens \
             WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(AccountToken {
            kind,
            profile_id: row.get("profile_id")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        }))
    }

    async fn verify_email(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        activity: &NewActivity,
    ) -> Result<Option<Profile>> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        let Some(pid) = use_token(&mut tx, token_hash, TokenKind::VerifyEmail, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let row = query(VERIFY_EMAIL)
            .bind(pid)
            .bind(now)
            .fetch_one(&mut tx)
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
        now: DateTime<Utc>,
        activity: &NewActivity,
    ) -> Result<Option<Profile>> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        let Some(pid) = use_token(&mut tx, token_hash, TokenKind::PasswordReset, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let row = query(RESET_PASSWORD)
            .bind(pid)
            .bind(password_hash)
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
        let profile = profile_from(&row)?;
        delete_sessions_of(&mut tx, pid, None).await?;
        log_activity_in(&mut tx, &activity.clone().by_self(pid)).await?;
        tx.commit().await?;
        Ok(Some(profile))
    }

    async fn change_password(
        &self,
        pid: Uuid,
        expected_hash: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        now: DateTime<Utc>,
        activity: &NewActivity,
    ) -> Result<bool> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        let done = query(
            "UPDATE profiles SET password_hash = $3, updated_at = $4 \
             WHERE id = $1 AND password_hash = $2",
        )
        .bind(pid)
        .bind(expected_hash)
        .bind(password_hash)
        .bind(now)
        .execute(&mut tx)
        .await?;
        if done != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        use_tokens_of(&mut tx, pid, TokenKind::PasswordReset, now).await?;
        delete_sessions_of(&mut tx, pid, keep_session).await?;
        log_activity_in(&mut tx, activity).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_invitation(
        &self,
        inv: &NewInvitation,
        mail: &NewMail,
        activity: Option<&NewActivity>,
    ) -> Result<Invitation> {
        let mut tx = self.begin_write().await?;
        let row = query(INSERT_INVITATION)
            .bind(inv.id)
            .bind(&inv.token_hash)
            .bind(inv.email.trim())
            .bind(normalize_email(&inv.email))
            .bind(inv.invited_by)
            .bind(inv.created_at)
            .bind(inv.expires_at)
            .fetch_one(&mut tx)
            .await
            .map_err(|e| on_constraint_of(e, "invitation", "inviter"))?;
        let invitation = invitation_from(&row)?;
        enqueue_mail_in(&mut tx, mail).await?;
        if let Some(activity) = activity {
            log_activity_in(&mut tx, activity).await?;
        }
        tx.commit().await?;
        Ok(invitation)
    }

    async fn invitation(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Invitation>> {
        query(LIVE_INVITATION)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(invitation_from)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    /// The joined profile's columns are the profile's, each of `p`.
    #[test]
    fn profile_columns_of_p_are_the_profile_columns() {
        let prefixed: Vec<String> = super::PROFILE_COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect();
        assert_eq!(super::PROFILE_COLUMNS_OF_P, prefixed.join(", "));
    }
}
