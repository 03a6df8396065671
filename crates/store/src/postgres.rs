//! The PostgreSQL backend: many `mitai serve` instances may share one database.

//!
//! What only PostgreSQL does lives here ([`PgEngine`]): the spend batchers and the read
//! batcher of the hot path, the listener that outdates the cache, registry change
//! signals and advisory job locks. Everything else is the shared store (`crate::store`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use uuid::Uuid;

use crate::cache::Cache;
use crate::spend::{consume_in, used_in};
use crate::sql::on_constraint;
use crate::{ChangeStream, ConsumeRequest, Consumed, JobLock, Result, StoreError};

/// Row locks taken by a claim: rows another claimer holds are skipped, not waited for.
pub(crate) const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";
/// Row locks for a read that decides a write (others wait until this transaction ends).
pub(crate) const FOR_UPDATE: &str = "FOR UPDATE";
/// The UTC calendar day (`YYYY-MM-DD`) of a row's `created_at`.
pub(crate) const CREATED_DAY: &str = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

/// The channel on which instances announce registry changes.
const REGISTRY_CHANNEL: &str = "mitai_registry";
/// The channel on which the database announces, at commit, every change to what the
/// cache holds (sessions, profiles, restrictions, grants, pauses: triggers of migration
/// 0011), whoever made it.
const ACCESS_CHANNEL: &str = "mitai_access";

/// A consume with its activity entry and statistics in one statement: the conditional
/// upsert of [`CONSUME_SQL`](crate::spend::CONSUME_SQL), and only for the row it
/// returns, the `feature_used` entry and the profile's `last_active_at` (moved only by a
/// step of [`ACTIVE_STEP`](crate::spend::ACTIVE_STEP): `TOUCH_SQL`). `$7` is the entry's
/// id, `$8` its ip. No row back: refused, nothing written.
const SPEND_LOGGED_SQL: &str = "WITH spent AS ( \
        INSERT INTO user_feature_usage (profile_id, feature_id, period_start, used, updated_at) \
        SELECT $1, $2, $3, $4, $5 WHERE $6::bigint IS NULL OR $4 <= $6 \
        ON CONFLICT (profile_id, feature_id, period_start) DO UPDATE \
            SET used = user_feature_usage.used + excluded.used, updated_at = excluded.updated_at \
            WHERE $6 IS NULL OR user_feature_usage.used + excluded.used <= $6 \
        RETURNING used), \
    logged AS ( \
        INSERT INTO user_activity_log (id, profile_id, actor_id, action, details, ip, created_at) \
        SELECT $7, $1, $1, 'feature_used', \
            jsonb_build_object('feature', $2::text, 'amount', $4::bigint, 'used', used), $8, $5 \
        FROM spent), \
    active AS ( \
        INSERT INTO user_stats (profile_id, logins, last_login_at, last_active_at, \
            feature_totals, redemptions, updated_at) \
        SELECT $1, 0, NULL, $5, '{}', 0, $5 FROM spent \
        ON CONFLICT (profile_id) DO UPDATE SET \
            last_active_at = excluded.last_active_at, updated_at = excluded.updated_at \
        WHERE user_stats.last_active_at IS NULL \
            OR user_stats.last_active_at <= $5 - interval '1 minute') \
    SELECT used FROM spent";

/// A stable 64-bit key for an advisory lock name (FNV-1a).
fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// What only PostgreSQL does: the batchers of the hot path, the cache's listener, job locks
/// and registry signals.
#[derive(Debug)]
pub(crate) struct PgEngine {
    pool: PgPool,
    /// The queues of the group-commit batchers, taken in turn.
    batchers: Batchers,
    /// Ends the listener that outdates the cache when the store is dropped.
    _follower: Follower,
}

/// How many batches of spends may be in flight at once: one. While its batch waits for the
/// WAL flush the next one grows, and every spend shares a larger batch's fixed cost (on a
/// disk that flushes slowly, two were better). The measurements: docs/architecture.md,
/// "The hot path" (how many batches at once).
const BATCHERS: usize = 1;
/// How many batches of usage reads (access checks) may be in flight at once: one. A read
/// waits for no flush, so one batcher keeps PostgreSQL busy and its batches grow with the
/// load (docs/architecture.md, "The hot path").
const READ_BATCHERS: usize = 1;
/// The most spends one batch decides.
const MAX_BATCH: usize = 256;

/// A consume waiting for a batch, owning its request.
#[derive(Debug)]
struct PgSpend {
    profile_id: Uuid,
    feature_id: String,
    period_start: DateTime<Utc>,
    amount: i64,
    cap: Option<i64>,
    now: DateTime<Utc>,
    entry: Option<Uuid>,
    ip: Option<String>,
    decided: tokio::sync::oneshot::Sender<Result<Consumed>>,
}

impl PgSpend {
    fn request(&self) -> ConsumeRequest<'_> {
        ConsumeRequest {
            profile_id: self.profile_id,
            feature_id: &self.feature_id,
            period_start: self.period_start,
            amount: self.amount,
            cap: self.cap,
            now: self.now,
            idempotency: None,
            log: self.entry.map(|activity_id| crate::SpendLog {
                activity_id,
                ip: self.ip.as_deref(),
            }),
        }
    }
}

/// A read of one usage bucket waiting for a batch.
#[derive(Debug)]
struct UsageRead {
    profile_id: Uuid,
    feature_id: String,
    period_start: DateTime<Utc>,
    answer: tokio::sync::oneshot::Sender<Result<i64>>,
}

/// The batchers' queues; dropping them (with the last store clone) ends the batchers.
#[derive(Debug)]
struct Batchers {
    queues: Vec<tokio::sync::mpsc::Sender<PgSpend>>,
    reads: Vec<tokio::sync::mpsc::Sender<UsageRead>>,
    next: std::sync::atomic::AtomicUsize,
}

/// The connection a batcher keeps from one batch to the next: sqlx (0.8) tests every pooled
/// connection when it is released, with a statement of its own, which would be a second
/// round trip for each batch (measured: docs/architecture.md, "Each batcher keeps its
/// connection"). A batcher takes a connection when it first needs one and keeps it; after
/// an error it gives it back (the pool tests it, and keeps or closes it) and takes another
/// for the next batch.
struct Held {
    pool: PgPool,
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl Held {
    fn new(pool: PgPool) -> Held {
        Held { pool, conn: None }
    }

    async fn conn(&mut self) -> Result<&mut sqlx::PgConnection> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(&mut **self.conn.insert(conn))
    }

    /// Gives the connection back to the pool after an error: the pool tests it and keeps
    /// or closes it; the next batch takes another.
    fn release(&mut self) {
        self.conn = None;
    }
}

/// Reads of single usage buckets (the access check), batched like spends: every read
/// waiting is answered by one statement, one round trip.
async fn read_batcher(pool: PgPool, mut queue: tokio::sync::mpsc::Receiver<UsageRead>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut held = Held::new(pool);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rows = match held.conn().await {
            Ok(conn) => read_batch(conn, &batch).await,
            Err(e) => Err(e),
        };
        if rows.is_err() {
            held.release();
        }
        match rows {
            Ok(rows) => {
                let mut used = vec![0; batch.len()];
                for (k, n) in rows {
                    if let Some(slot) = usize::try_from(k - 1).ok().and_then(|i| used.get_mut(i)) {
                        *slot = n.unwrap_or(0);
                    }
                }
                for (read, n) in batch.drain(..).zip(used) {
                    let _ = read.answer.send(Ok(n));
                }
            }
            Err(e) => {
                for read in batch.drain(..) {
                    let _ = read.answer.send(Err(e.duplicate()));
                }
            }
        }
    }
}

/// The usage of each bucket of `batch` in one statement: `(k, used)` rows, `k` counting
/// from 1, none for a bucket never spent.
async fn read_batch(
    conn: &mut sqlx::PgConnection,
    batch: &[UsageRead],
) -> Result<Vec<(i64, Option<i64>)>> {
    Ok(sqlx::query_as(
        "SELECT q.k, u.used \
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS q(p, f, s, k) \
         LEFT JOIN user_feature_usage u \
           ON u.profile_id = q.p AND u.feature_id = q.f AND u.period_start = q.s",
    )
    .bind(batch.iter().map(|r| r.profile_id).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|r| r.feature_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|r| r.period_start).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?)
}

/// Group commit on PostgreSQL: takes every spend waiting in its queue (up to
/// [`MAX_BATCH`]) and decides them in one call of `mitai_spend_batch` (migrations 0011,
/// 0012, 0013): one round trip, one transaction, one WAL flush for the lot. A batch holds each
/// bucket once, so that one statement decides it; a second spend of a bucket waits for the
/// next batch (spends of a bucket stay in queue order). When the batch fails, each spend is
/// decided on its own, so a failure is that spend's alone.
async fn batcher(pool: PgPool, mut queue: tokio::sync::mpsc::Receiver<PgSpend>) {
    let mut incoming = Vec::with_capacity(MAX_BATCH);
    let mut carried = std::collections::VecDeque::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut buckets = std::collections::HashSet::new();
    let mut held = Held::new(pool.clone());
    loop {
        if carried.is_empty() {
            if queue.recv_many(&mut incoming, MAX_BATCH).await == 0 {
                return;
            }
        } else {
            while carried.len() + incoming.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(spend) => incoming.push(spend),
                    Err(_) => break,
                }
            }
        }
        let mut later = std::collections::VecDeque::new();
        for spend in carried.drain(..).chain(incoming.drain(..)) {
            let bucket = (
                spend.profile_id,
                spend.feature_id.clone(),
                spend.period_start,
            );
            if batch.len() < MAX_BATCH && !buckets.contains(&bucket) {
                buckets.insert(bucket);
                batch.push(spend);
            } else {
                // A later spend of a carried bucket is carried too: the order holds.
                buckets.insert(bucket);
                later.push_back(spend);
            }
        }
        carried = later;
        buckets.clear();
        let decided = match held.conn().await {
            Ok(conn) => spend_batch(conn, &batch).await,
            Err(e) => Err(e),
        };
        if decided.is_err() {
            held.release();
        }
        match decided {
            Ok(outcomes) => {
                for (spend, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = spend.decided.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, spends = batch.len(), "batch failed; one by one");
                for spend in batch.drain(..) {
                    let outcome = spend_one(&pool, &spend.request()).await;
                    let _ = spend.decided.send(outcome);
                }
            }
        }
    }
}

async fn spend_batch(conn: &mut sqlx::PgConnection, batch: &[PgSpend]) -> Result<Vec<Consumed>> {
    let rows: Vec<(i32, i64, bool)> = sqlx::query_as(
        "SELECT k, new_used, was_spent FROM mitai_spend_batch($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(batch.iter().map(|s| s.profile_id).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|s| s.feature_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|s| s.period_start).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.amount).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.cap).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.now).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.entry).collect::<Vec<_>>())
    .bind(batch.iter().map(|s| s.ip.as_deref()).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    // A spend made has a row of its own; when any was refused, every spend has a refused
    // row too (migration 0013): a spend's answer is its spent row if it has one.
    let mut outcomes = vec![None; batch.len()];
    for (k, used, spent) in rows {
        let slot = usize::try_from(k - 1)
            .ok()
            .and_then(|i| outcomes.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("batch answered for spend {k}")))?;
        if spent {
            *slot = Some(Consumed::Spent { used });
        } else if slot.is_none() {
            *slot = Some(Consumed::LimitReached { used });
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.ok_or_else(|| StoreError::Corrupt("a spend of the batch went unanswered".into()))
        })
        .collect()
}

/// One consume in one statement, one round trip.
async fn spend_one(pool: &PgPool, r: &ConsumeRequest<'_>) -> Result<Consumed> {
    let used: Option<i64> = match r.log {
        Some(log) => sqlx::query_scalar(SPEND_LOGGED_SQL)
            .bind(r.profile_id)
            .bind(r.feature_id)
            .bind(r.period_start)
            .bind(r.amount)
            .bind(r.now)
            .bind(r.cap)
            .bind(log.activity_id)
            .bind(log.ip)
            .fetch_optional(pool)
            .await
            .map_err(|e| on_constraint(e, "profile or feature"))?,
        None => consume_in(pool, r).await?,
    };
    Ok(match used {
        Some(used) => Consumed::Spent { used },
        None => Consumed::LimitReached {
            used: used_in(pool, r).await?,
        },
    })
}

/// The task following [`ACCESS_CHANNEL`]; aborted when dropped.
#[derive(Debug)]
struct Follower(tokio::task::JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Outdates the cache on every change announced by any instance (this one included). A
/// lost connection may have lost announcements: the cache is outdated too, and the
/// listener reconnects.
async fn follow_access_changes(mut listener: PgListener, cache: Arc<Cache>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => cache.changed(),
            Ok(None) => cache.changed(),
            Err(e) => {
                cache.changed();
                tracing::warn!(error = %e, "listening for access changes failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema version this build migrates to (the last migration's version).
pub(crate) fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// How long a request waits for a connection: a burst waits its turn; a database that
/// does not answer is 503 `unavailable` after this.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl PgEngine {
    /// Connects to `url`, migrates the database and starts the batchers and the listener
    /// that outdates `cache`; answers the pool the store runs its statements on.
    pub(crate) async fn open(url: &str, cache: Arc<Cache>) -> Result<(PgPool, PgEngine)> {
        // A hot-path request is one round trip, so a few connections per core keep the
        // database busy; more only queue inside PostgreSQL. The batchers keep one each
        // (`Held`), on top of those.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let held = u32::try_from(BATCHERS + READ_BATCHERS).unwrap_or(4);
        let pool = PgPoolOptions::new()
            .max_connections(u32::try_from(cores * 4).unwrap_or(8).clamp(8, 32) + held)
            // Long enough for a burst to wait its turn, short enough that a request during
            // an outage answers 503 within seconds instead of hanging.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before each use: a broken connection fails its statement, is
            // dropped by the pool and replaced; the request answers 503. Once one
            // connection is found dead, the idle ones from before are dropped unused.
            .test_before_acquire(false)
            .before_acquire(|_, meta| {
                Box::pin(async move { Ok(!crate::lost::opened_before_loss(meta.age)) })
            })
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(ACCESS_CHANNEL).await?;
        let follower = tokio::spawn(follow_access_changes(listener, cache));
        let queues = (0..BATCHERS)
            .map(|_| {
                let (spends, queue) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(batcher(pool.clone(), queue));
                spends
            })
            .collect();
        let reads = (0..READ_BATCHERS)
            .map(|_| {
                let (reads, queue) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(read_batcher(pool.clone(), queue));
                reads
            })
            .collect();
        let engine = PgEngine {
            pool: pool.clone(),
            batchers: Batchers {
                queues,
                reads,
                next: std::sync::atomic::AtomicUsize::new(0),
            },
            _follower: Follower(follower),
        };
        Ok((pool, engine))
    }

    /// A session-level advisory lock, held by one pooled connection until the guard is
    /// released (see [`crate::JobLock`]).
    pub(crate) async fn job_lock(&self, name: &str) -> Result<Option<JobLock>> {
        let mut conn = self.pool.acquire().await?;
        let key = advisory_key(name);
        let locked: bool = match sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
        {
            Ok(locked) => locked,
            Err(e) => {
                // Whether the lock was taken is unknown: end the session with it.
                conn.close_on_drop();
                return Err(e.into());
            }
        };
        Ok(locked.then(|| JobLock::advisory(conn, key)))
    }

    /// A consume without an idempotency key: queued for the next batch of a batcher.
    pub(crate) async fn spend(&self, r: &ConsumeRequest<'_>) -> Result<Consumed> {
        let (decided, answer) = tokio::sync::oneshot::channel();
        let spend = PgSpend {
            profile_id: r.profile_id,
            feature_id: r.feature_id.to_owned(),
            period_start: r.period_start,
            amount: r.amount,
            cap: r.cap,
            now: r.now,
            entry: r.log.map(|l| l.activity_id),
            ip: r.log.and_then(|l| l.ip).map(str::to_owned),
            decided,
        };
        // A profile's spends all go to one batcher: batches in flight at once never wait
        // for each other's row locks, and a bucket's spends are decided in order.
        let n = usize::try_from(r.profile_id.as_u64_pair().1 % BATCHERS as u64).unwrap_or(0);
        crate::lost::may_keep();
        self.batchers.queues[n]
            .send(spend)
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
    }

    /// One bucket (the access check) is read in the next batch of a read batcher; several
    /// buckets with one query of their own (`None`).
    pub(crate) async fn usage(
        &self,
        profile_id: Uuid,
        buckets: &[(&str, DateTime<Utc>)],
    ) -> Result<Option<Vec<i64>>> {
        let [(feature_id, period_start)] = buckets else {
            return Ok(None);
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let read = UsageRead {
            profile_id,
            feature_id: (*feature_id).to_owned(),
            period_start: *period_start,
            answer,
        };
        let n = self
            .batchers
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.batchers.reads[n % self.batchers.reads.len()]
            .send(read)
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let used = answered
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))??;
        Ok(Some(vec![used]))
    }

    /// Tells every instance (this one too) that the registry changed.
    pub(crate) async fn notify(&self) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(REGISTRY_CHANNEL)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Signals of registry changes from any instance.
    pub(crate) async fn changes(&self) -> Result<Option<ChangeStream>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(REGISTRY_CHANNEL).await?;
        // An error item means "something may have changed" and triggers a reload; the
        // stream ends after it (the listener's connection failed, e.g. the database went
        // away), and the follower listens again (`AppState::follow_registry_changes`).
        Ok(Some(Box::pin(listener.into_stream().map(|_| ()))))
    }

    /// Stops following changes (the store closes the pool).
    #[cfg(test)]
    pub(crate) fn close(&self) {
        self._follower.0.abort();
    }
}
