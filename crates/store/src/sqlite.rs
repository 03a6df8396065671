//! The SQLite backend: one file, WAL, foreign keys on.
//!
//! Writes go through a pool of one connection, so they queue in the process instead of
//! spinning on SQLite's busy lock; reads use their own pool and see committed data (WAL).
//! Consumes without an idempotency key are *group-committed*: a task takes every spend
//! waiting in its queue and decides them one after the other, in order, in one
//! transaction of the writer (see [`group_commit`]).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

use crate::{Backend, ChangeStream, Result, SpendLog};

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
    cache: std::sync::Arc<crate::cache::Cache>,
    /// Spends waiting for the writer's next group commit.
    spends: tokio::sync::mpsc::Sender<Spend>,
}

/// The most spends one group commit decides.
const MAX_BATCH: usize = 512;

/// A consume waiting in the queue of [`group_commit`], owning its request.
#[derive(Debug)]
struct Spend {
    profile_id: Uuid,
    feature_id: String,
    period_start: DateTime<Utc>,
    amount: i64,
    cap: Option<i64>,
    now: DateTime<Utc>,
    log: Option<(Uuid, Option<String>)>,
    decided: tokio::sync::oneshot::Sender<Result<Consumed>>,
}

impl Spend {
    fn request(&self) -> ConsumeRequest<'_> {
        ConsumeRequest {
            profile_id: self.profile_id,
            feature_id: &self.feature_id,
            period_start: self.period_start,
            amount: self.amount,
            cap: self.cap,
            now: self.now,
            idempotency: None,
            log: self.log.as_ref().map(|(activity_id, ip)| SpendLog {
                activity_id: *activity_id,
                ip: ip.as_deref(),
            }),
        }
    }
}

/// The writer's group commit: waits for a spend, takes every other one waiting (up to
/// [`MAX_BATCH`]), and decides them in queue order in one `BEGIN IMMEDIATE` transaction,
/// each exactly as alone (the conditional upsert, its activity entry or the refusal's
/// usage). One commit then makes them all durable together, and only then is anyone
/// answered. When a spend fails, the batch is rolled back and decided again with each
/// spend in its own savepoint, so that the failure is that spend's alone. Ends when the
/// store is dropped.
async fn group_commit(writer: SqlitePool, mut queue: tokio::sync::mpsc::Receiver<Spend>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcomes = match decide_batch(&writer, &batch, false).await {
            Ok(outcomes) => outcomes,
            Err(_) => match decide_batch(&writer, &batch, true).await {
                Ok(outcomes) => outcomes,
                Err(e) => batch.iter().map(|_| Err(e.duplicate())).collect(),
            },
        };
        for (spend, outcome) in batch.drain(..).zip(outcomes) {
            // The requester may have gone away; what was decided stays decided.
            let _ = spend.decided.send(outcome);
        }
    }
}

/// One transaction deciding `batch` in order. Not `isolated`: the first failure fails the
/// whole batch (nothing is committed). `isolated`: each spend in its own savepoint.
async fn decide_batch(
    writer: &SqlitePool,
    batch: &[Spend],
    isolated: bool,
) -> Result<Vec<Result<Consumed>>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for spend in batch {
        let request = spend.request();
        if !isolated {
            outcomes.push(Ok(spend_in(&mut tx, &request).await?));
            continue;
        }
        sqlx::query("SAVEPOINT spend").execute(&mut *tx).await?;
        let outcome = spend_in(&mut tx, &request).await;
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO spend").execute(&mut *tx).await?;
        }
        sqlx::query("RELEASE spend").execute(&mut *tx).await?;
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
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
                .connect_with(options.read_only(true))
                .await?
        };
        let (spends, queue) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(writer.clone(), queue));
        Ok(SqliteStore {
            writer,
            reader,
            jobs: Default::default(),
            cache: Default::default(),
            spends,
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

    /// A consume without an idempotency key: queued for the writer's next group commit.
    async fn spend_impl(&self, r: &ConsumeRequest<'_>) -> Result<Consumed> {
        let (decided, answer) = tokio::sync::oneshot::channel();
        let spend = Spend {
            profile_id: r.profile_id,
            feature_id: r.feature_id.to_owned(),
            period_start: r.period_start,
            amount: r.amount,
            cap: r.cap,
            now: r.now,
            log: r.log.map(|l| (l.activity_id, l.ip.map(str::to_owned))),
            decided,
        };
        self.spends
            .send(spend)
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
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
