//! The [`Store`](crate::Store) implementation: one type, [`SqlStore`], for both backends.
//!
//! Each file implements one narrow trait (`registry.rs`, `accounts.rs`, `usage.rs`,
//! `coupons.rs`, `mail.rs`, `activity.rs`, `data.rs`, `media.rs`): its statements as
//! constants, one text for both backends (`$N` parameters work on SQLite too; column lists
//! are joined in at compile time with `concatcp!`), the functions that read its rows, and
//! helpers that run inside a caller's transaction (`&mut Tx`). Statements run through the
//! SQL layer ([`crate::sql`]), which binds and decodes each value as its backend stores it.
//!
//! What truly differs between the backends is reached through one seam, [`Engine`]: the
//! methods below that match on it (the hot path's spends and usage reads, job locks,
//! registry signals, the usage cache's write guard) and the few statements whose text
//! differs ([`PerBackend`]: row locks, the day of an instant).

mod accounts;
mod activity;
mod billing;
mod coupons;
mod data;
mod mail;
mod media;
mod notifications;
mod registry;
mod usage;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::cache::Cache;
use crate::postgres::PgEngine;
use crate::spend::{log_activity_in, spend_in};
use crate::sql::{Pool, Tx, query};
use crate::sqlite::SqliteEngine;
use crate::usage_cache::SqlxWrite;
use crate::{
    Backend, ConsumeRequest, Consumed, CopyMarker, JobLock, NewActivity, NewMail, Purged, Result,
    StoreError,
};

use mail::enqueue_mail_in;

/// The store of either backend.
#[derive(Debug)]
pub(crate) struct SqlStore {
    /// Where reads run: PostgreSQL's pool; SQLite's read-only pool.
    reader: Pool,
    /// Where writes run: PostgreSQL's pool; SQLite's pool of one connection, so that
    /// writers queue in the process instead of spinning on the busy lock.
    writer: Pool,
    cache: Arc<Cache>,
    engine: Engine,
}

/// What only one backend does.
#[derive(Debug)]
enum Engine {
    Postgres(PgEngine),
    Sqlite(SqliteEngine),
}

/// A statement whose text differs between the backends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerBackend {
    pub(crate) postgres: &'static str,
    pub(crate) sqlite: &'static str,
}

impl SqlStore {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`) and migrates
    /// it (see [`crate::connect`]).
    pub(crate) async fn open(url: &str) -> Result<SqlStore> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            SqlStore::postgres(url).await
        } else if url.starts_with("sqlite:") {
            SqlStore::sqlite(url).await
        } else {
            Err(StoreError::Corrupt(format!(
                "unsupported database URL (use sqlite://PATH or postgres://…): {}",
                crate::redact_url(url)
            )))
        }
    }

    /// Connects to the PostgreSQL database at `url` and migrates it.
    async fn postgres(url: &str) -> Result<SqlStore> {
        let cache = Arc::<Cache>::default();
        let (pool, engine) = PgEngine::open(url, Arc::clone(&cache)).await?;
        Ok(SqlStore {
            reader: Pool::Postgres(pool.clone()),
            writer: Pool::Postgres(pool),
            cache,
            engine: Engine::Postgres(engine),
        })
    }

    /// Opens (creating if needed) the SQLite database at `url` and migrates it.
    async fn sqlite(url: &str) -> Result<SqlStore> {
        let (pools, engine) = SqliteEngine::open(url).await?;
        Ok(SqlStore {
            reader: Pool::Sqlite(pools.reader),
            writer: Pool::Sqlite(pools.writer),
            cache: Arc::default(),
            engine: Engine::Sqlite(engine),
        })
    }

    /// Closes the pools (and, on PostgreSQL, stops following changes).
    #[cfg(test)]
    pub(crate) async fn close(&self) {
        if let Engine::Postgres(pg) = &self.engine {
            pg.close();
        }
        self.reader.close().await;
        self.writer.close().await;
    }

    fn backend(&self) -> Backend {
        match self.engine {
            Engine::Postgres(_) => Backend::Postgres,
            Engine::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The text of a statement that differs between the backends, for this one.
    fn sql(&self, statement: PerBackend) -> &'static str {
        match self.engine {
            Engine::Postgres(_) => statement.postgres,
            Engine::Sqlite(_) => statement.sqlite,
        }
    }

    fn reader(&self) -> &Pool {
        &self.reader
    }

    fn writer(&self) -> &Pool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<Tx> {
        Ok(self.writer.begin_write().await?)
    }

    /// A consume without an idempotency key: PostgreSQL queues it for a batcher's next
    /// batch; SQLite for the writer's next group commit (in memory: a transaction of its
    /// own).
    async fn spend(&self, r: &ConsumeRequest<'_>) -> Result<Consumed> {
        match &self.engine {
            Engine::Postgres(pg) => pg.spend(r).await,
            Engine::Sqlite(lite) => match lite.hot() {
                Some(hot) => hot.spend(r).await,
                None => {
                    let mut tx = self.begin_write().await?;
                    let decided = spend_in(&mut tx, r).await?;
                    tx.commit().await?;
                    Ok(decided)
                }
            },
        }
    }

    /// The usage of `buckets` where a backend reads it its own way: PostgreSQL's read
    /// batcher (one bucket), SQLite's usage cache and read connections (a file); `None`:
    /// read it with one query.
    async fn usage_fast(
        &self,
        profile_id: Uuid,
        buckets: &[(&str, DateTime<Utc>)],
    ) -> Result<Option<Vec<i64>>> {
        match &self.engine {
            Engine::Postgres(pg) => pg.usage(profile_id, buckets).await,
            Engine::Sqlite(lite) => lite
                .hot()
                .map(|hot| hot.usage(profile_id, buckets))
                .transpose(),
        }
    }

    /// Held around a usage write on sqlx's connection, from before its transaction until
    /// after it ends: SQLite's usage cache cannot answer the bucket meanwhile. Usage is
    /// not cached on PostgreSQL (other instances write it too): nothing to hold.
    fn usage_write(
        &self,
        profile_id: Uuid,
        feature_id: &str,
        start: DateTime<Utc>,
    ) -> Option<SqlxWrite<'_>> {
        match &self.engine {
            Engine::Postgres(_) => None,
            Engine::Sqlite(lite) => lite.usage_write(profile_id, feature_id, start),
        }
    }
}

/// The job marks of [`Store::once`](crate::Store::once).
const MARK_JOB: &str = "INSERT INTO job_marks (kind, subject_id, due_key, done_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (kind, subject_id, due_key) DO NOTHING";

#[async_trait]
impl crate::Store for SqlStore {
    fn backend(&self) -> Backend {
        SqlStore::backend(self)
    }

    fn access_generation(&self) -> u64 {
        self.cache.generation()
    }

    async fn ping(&self) -> Result<()> {
        query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    async fn unfinished_copy(&self) -> Result<Option<CopyMarker>> {
        let row = query("SELECT source, started_at FROM db_copy_marker")
            .fetch_optional(self.reader())
            .await?;
        row.map(|row| {
            Ok(CopyMarker {
                source: row.get("source")?,
                started_at: row.get("started_at")?,
            })
        })
        .transpose()
    }

    async fn try_job_lock(&self, name: &str) -> Result<Option<JobLock>> {
        match &self.engine {
            Engine::Postgres(pg) => pg.job_lock(name).await,
            Engine::Sqlite(lite) => Ok(lite.job_lock()),
        }
    }

    async fn last_done(&self, kind: &str, subject: Uuid) -> Result<Option<DateTime<Utc>>> {
        query("SELECT max(done_at) FROM job_marks WHERE kind = $1 AND subject_id = $2")
            .bind(kind)
            .bind(subject)
            .fetch_one(self.reader())
            .await?
            .get(0)
    }

    async fn done_for(&self, kind: &str) -> Result<Vec<Uuid>> {
        query("SELECT DISTINCT subject_id FROM job_marks WHERE kind = $1")
            .bind(kind)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    async fn once(
        &self,
        kind: &str,
        subject: Uuid,
        due_key: &str,
        now: DateTime<Utc>,
        mail: Option<&NewMail>,
        activity: Option<&NewActivity>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let marked = query(MARK_JOB)
            .bind(kind)
            .bind(subject)
            .bind(due_key)
            .bind(now)
            .execute(&mut tx)
            .await?
            == 1;
        if !marked {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(mail) = mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        if let Some(activity) = activity {
            log_activity_in(&mut tx, activity).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<Purged> {
        let day_ago = now - TimeDelta::days(1);
        // Removing sessions is a change every cache hears of (each instance drops what it
        // cached); a round with none expired removes nothing and tells nobody.
        let expired = query("SELECT 1 FROM sessions WHERE expires_at <= $1 LIMIT 1")
            .bind(now)
            .fetch_optional(self.reader())
            .await?
            .is_some();
        let sessions = if expired {
            let _changed = self.cache.on_change();
            query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(self.writer())
                .await?
        } else {
            0
        };
        let idempotency_keys = query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(day_ago)
            .execute(self.writer())
            .await?;
        let tokens = query("DELETE FROM account_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        let invitations = query("DELETE FROM invitations WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        let rate_limits = query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(day_ago)
            .execute(self.writer())
            .await?;
        Ok(Purged {
            sessions,
            idempotency_keys,
            tokens: tokens + invitations,
            rate_limits,
        })
    }
}

/// The form of a name that searches compare: lower case by Unicode rules, computed here
/// because SQLite's `lower()` and `LIKE` fold ASCII letters only.
fn normalize_name(name: &str) -> String {
    name.to_lowercase()
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(query: &str) -> String {
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
