//! The SQLite backend: one file, WAL, foreign keys on.
//!
//! Writes go through a pool of one connection, so they queue in the process instead of
//! spinning on SQLite's busy lock; reads use their own pool and see committed data (WAL).
//! Consumes without an idempotency key are *group-committed*, and usage is read, on
//! connections of their own (`sqlite_hot`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

use crate::{Backend, ChangeStream, Result};

type Db = sqlx::Sqlite;
type IdRepr = uuid::fmt::Hyphenated;
type TsRepr = String;

/// Row locks taken by a claim: none, SQLite has one writer (see `writer()`).
const SKIP_LOCKED: &str = "";
/// Row locks for a read that decides a write: none, the write transaction already holds
/// the database's one write lock (`BEGIN IMMEDIATE`).
const FOR_UPDATE: &str = "";
/// The UTC calendar day (`YYYY-MM-DD`) of a row's `created_at` (RFC 3339 text).
const CREATED_DAY: &str = "substr(created_at, 1, 10)";

fn id(u: Uuid) -> IdRepr {
    u.hyphenated()
}

fn uuid_of(r: IdRepr) -> Uuid {
    r.into_uuid()
}

/// Fixed-width RFC 3339 in UTC with microseconds, so that text order is time order
/// (`%Y-%m-%dT%H:%M:%S%.6fZ`, written without parsing a format string: every spend writes
/// a few).
pub(crate) fn ts(t: DateTime<Utc>) -> TsRepr {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn ts_of(s: TsRepr) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("timestamp: {s:?}")))
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// One job round at a time in this process (one SQLite file serves one instance).
    jobs: std::sync::Arc<tokio::sync::Mutex<()>>,
    cache: std::sync::Arc<crate::cache::Cache>,
    /// The group-commit writer and usage reads of a database file (`None` in memory,
    /// where only sqlx's connection sees the database).
    hot: Option<std::sync::Arc<crate::sqlite_hot::Hot>>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The schema version this build migrates to (the last migration's version).
pub(crate) fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;

    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`) and migrates it.
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if !memory {
            let path = options.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Database(sqlx::Error::Configuration(
                        format!("cannot create {}: {e}", dir.display()).into(),
                    ))
                })?;
            }
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // A file's WAL is checkpointed by the hot path's checkpointer (`sqlite_hot`).
            .pragma("wal_autocheckpoint", if memory { "1000" } else { "0" });
        // No ping before each use: a file connection does not break the way a socket does,
        // and a statement on a broken one fails and is answered as unavailable.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = if memory {
            writer.clone()
        } else {
            // Reads run on SQLite's worker threads: a few per core keep the cores busy.
            let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
            SqlitePoolOptions::new()
                .max_connections(u32::try_from(cores * 2).unwrap_or(8).clamp(2, 16))
                .test_before_acquire(false)
                .connect_with(options.clone().read_only(true))
                .await?
        };
        let hot = if memory {
            None
        } else {
            Some(std::sync::Arc::new(crate::sqlite_hot::Hot::start(
                options.get_filename(),
            )?))
        };
        Ok(SqliteStore {
            writer,
            reader,
            jobs: Default::default(),
            cache: Default::default(),
            hot,
        })
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// One SQLite file serves one instance: the job lock is a mutex of this process,
    /// granted unless a round is running now.
    async fn job_lock_impl(&self, _name: &str) -> Result<Option<crate::JobLock>> {
        Ok(std::sync::Arc::clone(&self.jobs)
            .try_lock_owned()
            .ok()
            .map(crate::JobLock::local))
    }

    /// A consume without an idempotency key: queued for the writer's next group commit
    /// (in memory: a transaction of its own).
    async fn spend_impl(&self, r: &ConsumeRequest<'_>) -> Result<Consumed> {
        if let Some(hot) = &self.hot {
            return hot.spend(r).await;
        }
        let mut tx = self.begin_write().await?;
        let decided = spend_in(&mut tx, r).await?;
        tx.commit().await?;
        Ok(decided)
    }

    /// Held around a usage write on sqlx's connection (from before its transaction until
    /// after its commit or rollback), so the hot path's usage cache cannot answer the
    /// bucket meanwhile (`usage_cache`).
    fn usage_write(
        &self,
        profile_id: Uuid,
        feature_id: &str,
        start: DateTime<Utc>,
    ) -> Option<crate::usage_cache::SqlxWrite<'_>> {
        self.hot.as_ref().map(|hot| {
            hot.sqlx_write(crate::usage_cache::Bucket {
                profile_id,
                feature_id,
                start,
            })
        })
    }

    /// Usage read on the hot path's own connections; `None`: in memory, read with sqlx.
    async fn usage_fast(
        &self,
        profile_id: Uuid,
        buckets: &[(&str, DateTime<Utc>)],
    ) -> Result<Option<Vec<i64>>> {
        self.hot
            .as_ref()
            .map(|hot| hot.usage(profile_id, buckets))
            .transpose()
    }

    async fn notify_impl(&self) -> Result<()> {
        Ok(())
    }

    async fn changes_impl(&self) -> Result<Option<ChangeStream>> {
        Ok(None)
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

impl_store!(SqliteStore);

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    /// The stored text is what the format string wrote before, byte for byte (text order is
    /// time order, and rows written by earlier builds compare with new ones).
    #[test]
    fn timestamps_keep_their_text() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp();
        let last = Utc
            .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .unwrap()
            .timestamp();
        let span = u64::try_from(last - first).unwrap();
        let mut samples = vec![
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap(),
            DateTime::from_timestamp(1_700_000_000, 999_999_999).unwrap(),
            DateTime::from_timestamp(1_700_000_000, 1_000).unwrap(),
            DateTime::from_timestamp(1_700_000_000, 999).unwrap(),
        ];
        for _ in 0..10_000 {
            let secs = first + i64::try_from(next() % span).unwrap();
            let nanos = u32::try_from(next() % 1_000_000_000).unwrap();
            samples.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for t in samples {
            assert_eq!(
                super::ts(t),
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "{t:?}"
            );
        }
    }
}
