//! The [`Store`](crate::Store) implementation shared by both backends.
//!
//! `impl_store!` expands the same method bodies once per backend module, one macro per
//! narrow trait (`registry.rs`, `accounts.rs`, `usage.rs`). Each module
//! provides the few things that differ:
//! - `type Db`, the sqlx database;
//! - `type IdRepr` with `id(Uuid) -> IdRepr` and `uuid_of(IdRepr) -> Uuid`
//!   (native `uuid` on PostgreSQL, hyphenated text on SQLite);
//! - `type TsRepr` with `ts(DateTime) -> TsRepr` and `ts_of(TsRepr) -> Result<DateTime>`
//!   (`timestamptz` on PostgreSQL, fixed-width RFC 3339 text on SQLite, which sorts);
//! - inherent methods `reader()`, `begin_write()`, `notify_impl()`, `changes_impl()`,
//!   `spend_impl()` (a consume without a key: PostgreSQL's batchers, SQLite's group
//!   commit) and `usage_fast()`; a field `cache` (see [`crate::cache`]).
//!
//! SQL that needs no backend type lives outside the macros as constants (`usage.rs`,
//! `activity.rs`). Helpers take their connection one way: a single statement takes any
//! `Executor` (the pool or a transaction), a helper of several statements the caller's
//! `&mut Connection` (a transaction derefs to it), so it runs inside the caller's
//! transaction.
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

#[macro_use]
mod registry;
#[macro_use]
mod accounts;
#[macro_use]
pub(crate) mod usage;
#[macro_use]
mod coupons;
#[macro_use]
mod mail;
#[macro_use]
pub(crate) mod activity;
#[macro_use]
mod data;
#[macro_use]
mod media;

macro_rules! impl_store {
    ($store:ty) => {
        use sqlx::Row as _;
        use $crate::shared::{
            FEATURE_COLUMNS, PROFILE_COLUMNS, RESTRICTION_COLUMNS, TIER_COLUMNS, like_pattern,
            normalize_name, on_constraint, on_constraint_of,
        };
        use $crate::{
            ConsumeRequest, ConsumeResult, Consumed, NewProfile, NewSession, Profile, ProfilePatch,
            Purged, RegistrySnapshot, Restriction, Role, Setting, StoreError, StoredResponse,
            normalize_email,
        };

        type Row = <Db as sqlx::Database>::Row;

        fn corrupt(what: &str, value: &str) -> StoreError {
            StoreError::Corrupt(format!("{what}: {value:?}"))
        }

        fn opt_ts(v: Option<TsRepr>) -> $crate::Result<Option<chrono::DateTime<chrono::Utc>>> {
            v.map(ts_of).transpose()
        }

        impl_registry_store!($store);
        impl_account_store!($store);
        impl_usage_store!($store);
        impl_coupons_store!($store);
        impl_mail_store!($store);
        impl_activity_store!($store);
        impl_data_store!($store);
        impl_media_store!($store);

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                Self::BACKEND
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn unfinished_copy(&self) -> $crate::Result<Option<$crate::CopyMarker>> {
                let row: Option<(String, TsRepr)> =
                    sqlx::query_as("SELECT source, started_at FROM db_copy_marker")
                        .fetch_optional(self.reader())
                        .await?;
                row.map(|(source, started_at)| {
                    Ok($crate::CopyMarker {
                        source,
                        started_at: ts_of(started_at)?,
                    })
                })
                .transpose()
            }

            async fn try_job_lock(&self, name: &str) -> $crate::Result<Option<$crate::JobLock>> {
                self.job_lock_impl(name).await
            }

            async fn once(
                &self,
                kind: &str,
                subject: uuid::Uuid,
                due_key: &str,
                now: chrono::DateTime<chrono::Utc>,
                mail: Option<&$crate::NewMail>,
                activity: Option<&$crate::NewActivity>,
            ) -> $crate::Result<bool> {
                let mut tx = self.begin_write().await?;
                let marked = sqlx::query(
                    "INSERT INTO job_marks (kind, subject_id, due_key, done_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (kind, subject_id, due_key) DO NOTHING",
                )
                .bind(kind)
                .bind(id(subject))
                .bind(due_key)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !marked {
                    tx.rollback().await?;
                    return Ok(false);
                }
                if let Some(mail) = mail {
                    enqueue_mail_in(&mut *tx, mail).await?;
                }
                if let Some(activity) = activity {
                    log_activity_in(&mut tx, activity).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn purge_expired(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Purged> {
                let _changed = self.cache.on_change();
                let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                let idempotency_keys =
                    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                        .bind(ts(now - chrono::TimeDelta::days(1)))
                        .execute(self.writer())
                        .await?
                        .rows_affected();
                let tokens = sqlx::query("DELETE FROM account_tokens WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                let invitations = sqlx::query("DELETE FROM invitations WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                let rate_limits = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                    .bind(ts(now - chrono::TimeDelta::days(1)))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                Ok(Purged {
                    sessions,
                    idempotency_keys,
                    tokens: tokens + invitations,
                    rate_limits,
                })
            }
        }
    };
}
