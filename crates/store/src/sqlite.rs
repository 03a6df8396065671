//! The SQLite backend: one file, WAL, foreign keys on.
//!
//! Writes go through a pool of one connection, so they queue in the process instead of
//! spinning on SQLite's busy lock; reads use their own pool and see committed data (WAL).

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

/// Fixed-width RFC 3339 in UTC with microseconds, so that text order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> TsRepr {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
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
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.read_only(true))
                .await?
        };
        Ok(SqliteStore {
            writer,
            reader,
            jobs: Default::default(),
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
