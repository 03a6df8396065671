//! The SQLite backend: one file, WAL, foreign keys on.
//!
//! Writes go through a pool of one connection, so they queue in the process instead of
//! spinning on SQLite's busy lock; reads use their own pool and see committed data (WAL).
//! Consumes without an idempotency key are *group-committed*, and usage is read, on
//! connections of their own (`sqlite_hot`).
//!
//! What only SQLite does lives here ([`SqliteEngine`]); everything else is the shared
//! store (`crate::store`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

use crate::sqlite_hot::{Hot, HotFirst};
use crate::usage_cache::{Bucket, SqlxWrite};
use crate::{JobLock, Result, StoreError};

/// Row locks taken by a claim: none, SQLite has one writer (see the store's `writer`).
pub(crate) const SKIP_LOCKED: &str = "";
/// Row locks for a read that decides a write: none, the write transaction already holds
/// the database's one write lock (`BEGIN IMMEDIATE`).
pub(crate) const FOR_UPDATE: &str = "";
/// The UTC calendar day (`YYYY-MM-DD`) of a row's `created_at` (RFC 3339 text).
pub(crate) const CREATED_DAY: &str = "substr(created_at, 1, 10)";

/// What only SQLite does: the in-process job lock, and on a file the hot path's own
/// connections (group commit, usage reads).
#[derive(Debug)]
pub(crate) struct SqliteEngine {
    /// One job round at a time in this process (one SQLite file serves one instance).
    jobs: Arc<tokio::sync::Mutex<()>>,
    /// The group-commit writer and usage reads of a database file (`None` in memory,
    /// where only sqlx's connection sees the database).
    hot: Option<Hot>,
}

/// The pools a SQLite store runs its statements on.
pub(crate) struct Pools {
    /// One connection: writes queue in the process.
    pub(crate) writer: SqlitePool,
    /// Read-only connections (the writer's own pool in memory).
    pub(crate) reader: SqlitePool,
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The schema version this build migrates to (the last migration's version).
pub(crate) fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl SqliteEngine {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`), migrates it and,
    /// for a file, starts the hot path's writer and checkpointer.
    pub(crate) async fn open(url: &str) -> Result<(Pools, SqliteEngine)> {
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
        // The hot path goes first (`sqlite_hot::HotFirst`).
        let turn = Arc::new(HotFirst::default());
        let (first, told) = (Arc::clone(&turn), Arc::clone(&turn));
        // No ping before each use: a file connection does not break the way a socket does,
        // and a statement on a broken one fails and is answered as unavailable.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            // A write that fails for want of room (or an I/O error) may make SQLite roll its
            // transaction back by itself; the driver's own rollback then fails, and the
            // connection would think it is still in a transaction and refuse every later
            // `BEGIN`. Such a connection is replaced instead of handed out (an atomic read).
            .before_acquire(move |conn, _| {
                let turn = Arc::clone(&first);
                Box::pin(async move {
                    turn.after_waiting_batch().await;
                    Ok(!sqlx::Connection::is_in_transaction(conn))
                })
            })
            .after_release(move |_, _| {
                told.sqlx_released();
                Box::pin(async { Ok(true) })
            })
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
            Some(Hot::start(options.get_filename(), turn)?)
        };
        let engine = SqliteEngine {
            jobs: Default::default(),
            hot,
        };
        Ok((Pools { writer, reader }, engine))
    }

    /// One SQLite file serves one instance: the job lock is a mutex of this process,
    /// granted unless a round is running now.
    pub(crate) fn job_lock(&self) -> Option<JobLock> {
        Arc::clone(&self.jobs)
            .try_lock_owned()
            .ok()
            .map(JobLock::local)
    }

    /// The group-commit writer and usage reads of a file (`None` in memory).
    pub(crate) fn hot(&self) -> Option<&Hot> {
        self.hot.as_ref()
    }

    /// Held around a usage write on sqlx's connection (from before its transaction until
    /// after its commit or rollback), so the hot path's usage cache cannot answer the
    /// bucket meanwhile (`usage_cache`).
    pub(crate) fn usage_write(
        &self,
        profile_id: Uuid,
        feature_id: &str,
        start: DateTime<Utc>,
    ) -> Option<SqlxWrite<'_>> {
        self.hot.as_ref().map(|hot| {
            hot.sqlx_write(Bucket {
                profile_id,
                feature_id,
                start,
            })
        })
    }
}
