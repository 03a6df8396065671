//! The SQLite hot path, on connections of its own rather than through sqlx: sqlx runs each
//! SQLite statement on a worker thread of the connection and hands every statement and
//! every row across threads, which costs far more than SQLite takes to run the statement.
//!
//! - **Group commit.** One writer task owns a connection. It waits for a spend, takes
//!   every other one waiting (up to [`MAX_BATCH`]), and decides them in queue order in one
//!   `BEGIN IMMEDIATE` transaction, each exactly as alone: the conditional upsert, then its
//!   `feature_used` entry, or the refusal's usage; each profile's `last_active_at` last
//!   (when it moves by a minute at least: `crate::spend::TOUCH_SQL`). One commit makes them all
//!   durable together, and only then is anyone answered. When a spend fails, the batch is
//!   rolled back and decided again with each spend in its own savepoint, so the failure is
//!   that spend's alone. The task runs each batch on a thread of the runtime, as one
//!   poll, and yields between batches: the spends' answers wake their requests on the
//!   same threads, where a writer thread of its own cost a sleep and a wake-up on each side
//!   of every batch (measured: docs/architecture.md, "Group commit on SQLite"). When
//!   another connection holds the write lock, the task waits on the runtime, not in
//!   SQLite's busy handler.
//! - **Checkpoints** run on a thread of their own (`PRAGMA wal_checkpoint(PASSIVE)` a few
//!   times a second), not inside the commit of whichever writer crossed the WAL's size
//!   limit: the writer only appends to the WAL. Under a steady stream of commits a passive
//!   checkpoint never finds the WAL wholly copied, so the WAL would never start over and
//!   would grow without end (gigabytes in a benchmark's minute). When it holds more than
//!   [`RESTART_FRAMES`], the checkpointer copies, in a few more rounds, what was appended
//!   meanwhile, and then the writer, between two batches, checkpoints the little that is
//!   left itself: with no commit in between, that copies the whole WAL, and the next commit
//!   writes the WAL from its start again (if a reader is still in the WAL, a later one
//!   does). The writer never waits for readers (as a `RESTART` checkpoint would) and syncs
//!   only the last few milliseconds of the WAL and of the database file: the checkpointer
//!   syncs the file after each of its rounds. A writer without spends (while only other
//!   writers append) leaves the restart to the checkpointer. `journal_size_limit` truncates
//!   a WAL that grew beyond [`WAL_LIMIT`].
//! - **Usage reads** are answered from memory when they can be ([`UsageCache`]: the writer
//!   leaves there what each spend committed), else on a small pool of read-only
//!   connections, inline: a primary-key lookup takes microseconds, less than a hand-off to
//!   another thread.
//!
//! The SQL is the shared text of `crate::spend` (`$N` parameters are bound by position, in
//! the order they first appear). Other writes stay on sqlx's one
//! writer connection; SQLite serialises the two writers, and the hot path goes first
//! ([`HotFirst`]): while a batch waits for the write lock, sqlx's writer takes no new
//! statement, so a burst of other writes (a job marking thousands of expired grants, one
//! transaction each) hands the lock back after each of them instead of keeping it for
//! seconds while the batch polls.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use uuid::Uuid;

use crate::spend::{ACTIVE_STEP, INSERT_ACTIVITY_SQL, SPEND_SQL, TOUCH_SQL, USED_SQL};
use crate::sql::ts;
use crate::usage_cache::{Bucket, SqlxWrite, UsageCache};
use crate::{ConsumeRequest, Consumed, Result, StoreError};

/// The most spends one group commit decides.
pub(crate) const MAX_BATCH: usize = 512;
/// Idle read connections kept.
const READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The writer's first and longest waits for a write lock held by another connection (it
/// waits on the runtime, never in SQLite's busy handler).
const BUSY_FIRST: Duration = Duration::from_micros(200);
const BUSY_LAST: Duration = Duration::from_millis(20);
/// How often the checkpointer copies the WAL back into the database file: often enough that
/// the WAL overshoots [`RESTART_FRAMES`] by little before it starts over (at 250 ms it grew
/// to several times that; docs/architecture.md, "The WAL starts over").
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// WAL frames (pages, 32 MiB) after which the writer makes the WAL start over.
const RESTART_FRAMES: i64 = 8192;
/// Frames the checkpointer may leave uncopied for the writer's restart.
const RESTART_TAIL: i64 = 256;
/// Passive checkpoints the checkpointer runs at most to bring the rest down to that.
const CATCH_UP_ROUNDS: usize = 4;
/// The size a WAL is truncated to when it starts over, well above what it reaches under a
/// steady stream of commits: the truncation runs in the first commit after the restart and
/// holds the writer, and every consume waiting, meanwhile (docs/architecture.md, "The WAL
/// starts over").
const WAL_LIMIT: i64 = 128 * 1024 * 1024;

/// The steps in which checkpoints grow the database file: its size changes once a step,
/// not with nearly every checkpoint (`mitai_walvfs::set_chunk_size`).
const CHUNK_SIZE: i32 = 16 << 20;

/// A consume waiting for the writer, owning its request.
#[derive(Debug)]
struct Spend {
    profile: Uuid,
    start: DateTime<Utc>,
    profile_id: String,
    feature_id: String,
    period_start: String,
    amount: i64,
    cap: Option<i64>,
    now: String,
    at: DateTime<Utc>,
    /// The `feature_used` entry: its id and the client's IP.
    log: Option<(String, Option<String>)>,
    decided: tokio::sync::oneshot::Sender<Result<Consumed>>,
}

/// The writer's queue and the read connections of one database file.
#[derive(Debug)]
pub(crate) struct Hot {
    spends: tokio::sync::mpsc::Sender<Spend>,
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    usage: Arc<UsageCache>,
    /// Dropped with the store: the checkpointer's signal to stop.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

/// The hot path's turn at the write lock: claimed by a batch that found the lock held by
/// another connection, released when it commits. sqlx's writer connection is handed out
/// only while no batch waits (`SqliteEngine::open`: its pool's `before_acquire`), and its
/// return to the pool wakes a waiting batch at once (`after_release`), instead of at the
/// batch's next poll.
#[derive(Debug, Default)]
pub(crate) struct HotFirst {
    waiting: std::sync::atomic::AtomicBool,
    /// A waiting batch committed (or gave up).
    committed: tokio::sync::Notify,
    /// sqlx's writer connection went back to its pool.
    released: tokio::sync::Notify,
}

/// How long sqlx's writer waits at most for a waiting batch: the lock it waits for may be
/// another process's (`mitai db backup`, a `sqlite3` shell), which the writer would wait
/// for anyway.
const HOT_FIRST_WAIT: Duration = Duration::from_secs(1);

impl HotFirst {
    fn claim(&self) {
        self.waiting.store(true, Ordering::Release);
    }

    fn release(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.committed.notify_waiters();
        }
    }

    /// Returns once no batch waits for the write lock (or after [`HOT_FIRST_WAIT`]).
    pub(crate) async fn after_waiting_batch(&self) {
        let deadline = tokio::time::Instant::now() + HOT_FIRST_WAIT;
        loop {
            // Made before the look: a release in between still wakes it.
            let committed = self.committed.notified();
            if !self.waiting.load(Ordering::Acquire) {
                return;
            }
            if tokio::time::timeout_at(deadline, committed).await.is_err() {
                return;
            }
        }
    }

    /// Told when sqlx's writer connection goes back to its pool (the lock is free).
    pub(crate) fn sqlx_released(&self) {
        self.released.notify_waiters();
    }
}

/// Set by the checkpointer when the WAL should start over; done by the writer.
type RestartDue = Arc<std::sync::atomic::AtomicBool>;

fn take(due: &RestartDue) -> bool {
    due.swap(false, Ordering::AcqRel)
}

fn open(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    configure(Connection::open_with_flags(
        path,
        flags | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

fn configure(conn: Connection) -> rusqlite::Result<Connection> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl Hot {
    /// Starts the writer task (on the current runtime) and the checkpointer thread on the
    /// (migrated, WAL) database at `path`.
    pub(crate) fn start(path: &Path, turn: Arc<HotFirst>) -> Result<Hot> {
        // Its commits reach the WAL in one write each (`mitai_walvfs`).
        let writer = configure(mitai_walvfs::open(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?)?;
        // Checkpoints are the checkpointer's (below); a larger page cache keeps the
        // activity log's index pages that spends touch.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.pragma_update(None, "journal_size_limit", WAL_LIMIT)?;
        writer.pragma_update(None, "cache_size", -8192)?;
        // The writer runs on the runtime's threads: SQLite's busy handler would hold one
        // while another connection (sqlx's writer) keeps the write lock — on a
        // single-threaded runtime, the very thread that task needs to let it go. It is
        // told at once instead, and waits on the runtime (`group_commit`).
        writer.busy_timeout(Duration::ZERO)?;
        let checkpointer = open(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        // Its passive rounds never wait anyway; its restarts must not (`restart`).
        checkpointer.busy_timeout(Duration::ZERO)?;
        // The two connections that checkpoint (and so extend and truncate the file).
        for conn in [&writer, &checkpointer] {
            mitai_walvfs::set_chunk_size(conn, CHUNK_SIZE)?;
        }
        let (spends, queue) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
        let (checkpoints, stop) = std::sync::mpsc::channel();
        let usage = Arc::new(UsageCache::default());
        let thread = |name: &str| std::thread::Builder::new().name(name.into());
        let cache = Arc::clone(&usage);
        let due = RestartDue::default();
        let restart = Arc::clone(&due);
        tokio::spawn(async move { group_commit(writer, queue, &cache, &restart, &turn).await });
        thread("mitai-sqlite-checkpoint")
            .spawn(move || checkpoint(&checkpointer, &stop, &due))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Hot {
            spends,
            path: path.to_owned(),
            readers: Mutex::new(Vec::new()),
            usage,
            _checkpoints: checkpoints,
        })
    }

    /// Queues a consume for the writer's next group commit and waits for its decision.
    pub(crate) async fn spend(&self, r: &ConsumeRequest<'_>) -> Result<Consumed> {
        let (decided, answer) = tokio::sync::oneshot::channel();
        let spend = Spend {
            profile: r.profile_id,
            start: r.period_start,
            profile_id: r.profile_id.hyphenated().to_string(),
            feature_id: r.feature_id.to_owned(),
            period_start: ts(r.period_start),
            amount: r.amount,
            cap: r.cap,
            now: ts(r.now),
            at: r.now,
            log: r.log.map(|l| {
                (
                    l.activity_id.hyphenated().to_string(),
                    l.ip.map(str::to_owned),
                )
            }),
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

    /// The usage of each bucket, in order (0 where nothing was spent): from memory where it
    /// is known, the rest in one read.
    pub(crate) fn usage(
        &self,
        profile_id: Uuid,
        buckets: &[(&str, DateTime<Utc>)],
    ) -> Result<Vec<i64>> {
        fn bucket<'b>(
            profile_id: Uuid,
            &(feature_id, start): &(&'b str, DateTime<Utc>),
        ) -> Bucket<'b> {
            Bucket {
                profile_id,
                feature_id,
                start,
            }
        }
        let mut used: Vec<Option<i64>> = buckets
            .iter()
            .map(|b| self.usage.get(&bucket(profile_id, b)))
            .collect();
        if used.iter().all(Option::is_some) {
            return Ok(used.into_iter().flatten().collect());
        }
        let epoch = self.usage.epoch();
        let pid = profile_id.hyphenated().to_string();
        self.read(|conn| {
            let mut statement = conn.prepare_cached(USED_SQL)?;
            for (b, n) in buckets.iter().zip(&mut used) {
                if n.is_none() {
                    let found: Option<i64> = statement
                        .query_row(params![pid, b.0, ts(b.1)], |row| row.get(0))
                        .optional()?;
                    *n = Some(found.unwrap_or(0));
                    self.usage
                        .fill(&bucket(profile_id, b), found.unwrap_or(0), epoch);
                }
            }
            Ok(())
        })?;
        Ok(used.into_iter().flatten().collect())
    }

    /// Announces a write of a bucket on sqlx's connection, until the guard is dropped.
    pub(crate) fn sqlx_write(&self, bucket: Bucket<'_>) -> SqlxWrite<'_> {
        self.usage.sqlx_write(bucket)
    }

    /// Runs `f` on an idle read connection (opening one when none is idle).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        };
        let out = f(&conn);
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() < READERS {
            readers.push(conn);
        }
        Ok(out?)
    }
}

/// The checkpointer thread: a passive checkpoint every [`CHECKPOINT_EVERY`] (it never
/// waits for writers or readers; what it cannot copy now it copies next time), and a last
/// one when the store is dropped. A WAL longer than [`RESTART_FRAMES`] is the writer's to
/// restart (`due`).
fn checkpoint(conn: &Connection, stop: &std::sync::mpsc::Receiver<()>, due: &RestartDue) {
    // Frames copied as of the last sync of the database file.
    let mut synced = 0;
    // (frames in the WAL, frames copied); the pages copied are on disk when it returns.
    let mut passive = || {
        let began = std::time::Instant::now();
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        // A round that leaves frames uncopied does not sync the file, and the writer's
        // restart (which copies the rest) would sync everything copied since the last
        // restart, holding every spend meanwhile: with the writes scattered over a large
        // file (retention's fold over a year) up to 135 ms. Synced here, after each round
        // that copied something, it finds a round's worth at most.
        let frames = frames.and_then(|(frames, copied)| {
            if copied != synced {
                mitai_walvfs::sync_database(conn)?;
                synced = copied;
            }
            Ok((frames, copied))
        });
        tracing::debug!(took = ?began.elapsed(), ?frames, "SQLite checkpoint");
        frames
    };
    // A failing checkpoint (a full disk, a read-only file) is said once, not every round.
    let mut failing = false;
    loop {
        let stopping = !matches!(
            stop.recv_timeout(CHECKPOINT_EVERY),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        match passive() {
            Ok((frames, _)) if frames >= RESTART_FRAMES && due.load(Ordering::Acquire) => {
                // Handed over a round ago and not taken: the writer restarts between its
                // batches and has had none (no consumes), while the other writer (the
                // jobs: retention's fold) kept appending — the WAL grew to 650 MiB in a
                // minute of checks only, and the first commit after the restart truncated
                // it for 200 ms.
                restart(conn, due);
                failing = false;
            }
            Ok((frames, copied)) if frames >= RESTART_FRAMES => {
                // The restart holds the writer while it copies what is left and syncs: first
                // copy here, round after round, what the writer appended meanwhile (each
                // round shorter than the one before), and hand it over only when little is
                // left. A reader still in an old snapshot (a long statement) keeps frames
                // from being copied: then the restart waits for a later round — the WAL
                // grows meanwhile, but the writer never copies a long tail itself.
                let mut left = frames - copied;
                for _ in 0..CATCH_UP_ROUNDS {
                    if left <= RESTART_TAIL {
                        break;
                    }
                    match passive() {
                        Ok((frames, copied)) => left = frames - copied,
                        Err(_) => break,
                    }
                }
                if left <= RESTART_TAIL {
                    due.store(true, Ordering::Release);
                }
                failing = false;
            }
            Ok(_) if failing => {
                tracing::info!("SQLite checkpoints work again");
                failing = false;
            }
            Ok(_) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "SQLite checkpoint failed; trying again until it works");
                failing = true;
            }
            Err(_) => {}
        }
        if stopping {
            return;
        }
    }
}

/// The restart by the checkpointer, waiting for nobody (its busy timeout is zero): a
/// `RESTART` checkpoint takes the write lock if it is free, copies what is left and starts
/// the WAL over if no reader is in it; otherwise it copies what it can, as a passive one
/// does, and the restart stays due (the writer's, or this thread's next round). Only for a
/// writer without spends: under a stream of them, the writer's restart (between two of its
/// batches) holds the spends for less.
fn restart(conn: &Connection, due: &RestartDue) {
    let began = std::time::Instant::now();
    match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
        row.get::<_, i64>(0)
    }) {
        Ok(0) => {
            take(due);
            tracing::debug!(took = ?began.elapsed(), "SQLite WAL restarted by the checkpointer");
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "SQLite WAL restart by the checkpointer failed"),
    }
}

/// The writer task: ends when the store (the queue's sender) is dropped.
async fn group_commit(
    mut conn: Connection,
    mut queue: tokio::sync::mpsc::Receiver<Spend>,
    usage: &UsageCache,
    restart: &RestartDue,
    turn: &HotFirst,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Since when the write lock has been someone else's, and how long to wait next.
    let mut busy: Option<(std::time::Instant, Duration)> = None;
    loop {
        // Between two batches the runtime thread serves requests.
        // First to the back of the thread's queue, where the other threads may take the
        // writer (`tokio::task::yield_now` alone keeps it on this thread, after everything
        // queued there), then after the runtime's next look at its sockets.
        Requeue(false).await;
        tokio::task::yield_now().await;
        if batch.is_empty() && queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        match commit_batch(&mut conn, &mut batch, usage, restart) {
            Ok(()) => {
                busy = None;
                turn.release();
            }
            Err(locked) => {
                let (since, wait) = *busy.get_or_insert((std::time::Instant::now(), BUSY_FIRST));
                if since.elapsed() >= BUSY_TIMEOUT {
                    for spend in batch.drain(..) {
                        let _ = spend.decided.send(Err(locked.duplicate()));
                    }
                    busy = None;
                    turn.release();
                } else {
                    // Made before the claim: a release after it wakes this batch.
                    let released = turn.released.notified();
                    turn.claim();
                    let _ = tokio::time::timeout(wait, released).await;
                    busy = Some((since, (wait * 2).min(BUSY_LAST)));
                }
            }
        }
    }
}

/// Pending once, woken at once: a task that wakes itself while it runs is put at the back
/// of its runtime thread's queue, from where any thread of the runtime may take it.
struct Requeue(bool);

impl std::future::Future for Requeue {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Whether SQLite refused because another connection holds the write lock.
fn is_busy(e: &StoreError) -> bool {
    matches!(e, StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
        if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// Decides `batch` (see [`decide`]), answers every spend and empties it; or, when another
/// connection holds the write lock, leaves it as it is, nothing written, and says so.
fn commit_batch(
    conn: &mut Connection,
    batch: &mut Vec<Spend>,
    usage: &UsageCache,
    restart: &RestartDue,
) -> Result<()> {
    {
        // Each bucket once, busy from before the transaction until the cache knows its
        // value (the last decision of the batch for it).
        let mut buckets: Vec<(Bucket<'_>, Option<i64>)> = Vec::new();
        for s in batch.iter() {
            let b = Bucket {
                profile_id: s.profile,
                feature_id: &s.feature_id,
                start: s.start,
            };
            if !buckets.iter().any(|(seen, _)| *seen == b) {
                usage.begin(&b);
                buckets.push((b, None));
            }
        }
        let decided = match decide(conn, batch, false) {
            Err(e) if !is_busy(&e) => decide(conn, batch, true),
            decided => decided,
        };
        let outcomes = match decided {
            Ok(outcomes) => outcomes,
            Err(e) if is_busy(&e) => {
                // Nothing was written: the batch waits for the lock.
                usage.end(buckets, None);
                return Err(e);
            }
            Err(e) => batch.iter().map(|_| Err(e.duplicate())).collect(),
        };
        if outcomes.iter().all(Result::is_ok) {
            for (s, outcome) in batch.iter().zip(&outcomes) {
                if let Ok(Consumed::Spent { used } | Consumed::LimitReached { used }) = outcome
                    && let Some((_, value)) = buckets.iter_mut().find(|(b, _)| {
                        b.profile_id == s.profile
                            && b.feature_id == s.feature_id
                            && b.start == s.start
                    })
                {
                    *value = Some(*used);
                }
            }
        }
        // A failure leaves every bucket of the batch unknown.
        usage.end(buckets, None);
        tracing::trace!(spends = batch.len(), "group commit");
        for (spend, outcome) in batch.drain(..).zip(outcomes) {
            // The requester may have gone away; what was decided stays decided.
            let _ = spend.decided.send(outcome);
        }
        if take(restart) {
            let began = std::time::Instant::now();
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                Ok(()) => tracing::debug!(took = ?began.elapsed(), "SQLite WAL restarted"),
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::DatabaseBusy =>
                {
                    // The checkpointer is at it: after the next batch.
                    restart.store(true, Ordering::Release);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SQLite WAL restart failed; trying again later")
                }
            }
        }
    }
    Ok(())
}

/// One transaction deciding `batch` in order. Not `isolated`: the first failure fails the
/// whole batch (nothing is committed); the statements are prepared once for the batch, and
/// each profile's `last_active_at` is written once, last. `isolated`: each spend in its own
/// savepoint, with its own statistics.
fn decide(conn: &mut Connection, batch: &[Spend], isolated: bool) -> Result<Vec<Result<Consumed>>> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    if isolated {
        for spend in batch {
            let savepoint = tx.savepoint()?;
            let outcome = decide_one(spend, &mut Statements::prepare(&savepoint)?);
            let outcome = outcome.and_then(|decided| {
                if let (Consumed::Spent { .. }, Some(_)) = (decided, &spend.log) {
                    let mut upsert = savepoint.prepare_cached(TOUCH_SQL)?;
                    touch(&mut upsert, &spend.profile_id, (&spend.now, spend.at))?;
                }
                Ok(decided)
            });
            if outcome.is_ok() {
                savepoint.commit()?;
            }
            // Dropped without commit: rolled back to before this spend.
            outcomes.push(outcome);
        }
    } else {
        let mut statements = Statements::prepare(&tx)?;
        let mut active: std::collections::BTreeMap<&str, (&str, DateTime<Utc>)> =
            Default::default();
        for spend in batch {
            let decided = decide_one(spend, &mut statements)?;
            if let (Consumed::Spent { .. }, Some(_)) = (decided, &spend.log) {
                let at = active
                    .entry(&spend.profile_id)
                    .or_insert((&spend.now, spend.at));
                if spend.at > at.1 {
                    *at = (&spend.now, spend.at);
                }
            }
            outcomes.push(Ok(decided));
        }
        for (profile_id, now) in active {
            touch(&mut statements.touch, profile_id, now)?;
        }
        drop(statements);
    }
    tx.commit()?;
    Ok(outcomes)
}

/// The statements of a spend, prepared once per batch.
struct Statements<'c> {
    spend: rusqlite::CachedStatement<'c>,
    used: rusqlite::CachedStatement<'c>,
    log: rusqlite::CachedStatement<'c>,
    touch: rusqlite::CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Statements<'c>> {
        Ok(Statements {
            spend: conn.prepare_cached(SPEND_SQL)?,
            used: conn.prepare_cached(USED_SQL)?,
            log: conn.prepare_cached(INSERT_ACTIVITY_SQL)?,
            touch: conn.prepare_cached(TOUCH_SQL)?,
        })
    }
}

/// A spend by the profile itself: it was active at `now` (as text and as an instant), a
/// step ([`ACTIVE_STEP`]) after the `last_active_at` it finds or not at all (`upsert` is
/// `TOUCH_SQL`).
fn touch(
    upsert: &mut rusqlite::Statement<'_>,
    profile_id: &str,
    (now, at): (&str, DateTime<Utc>),
) -> Result<()> {
    upsert
        .execute(params![profile_id, now, ts(at - ACTIVE_STEP)])
        .map_err(|e| on_constraint(e, "profile"))?;
    Ok(())
}

/// Decides one spend: the conditional upsert, then its `feature_used` entry, or the
/// refusal's unchanged usage. The profile's statistics are the caller's (see [`touch`]).
fn decide_one(s: &Spend, st: &mut Statements<'_>) -> Result<Consumed> {
    let spent = st
        .spend
        .execute(params![
            s.profile_id,
            s.feature_id,
            s.period_start,
            s.amount,
            s.now,
            s.cap
        ])
        .map_err(|e| on_constraint(e, "profile or feature"))?
        == 1;
    // The bucket as this spend left it: the transaction holds SQLite's write lock.
    let used: i64 = st
        .used
        .query_row(params![s.profile_id, s.feature_id, s.period_start], |row| {
            row.get(0)
        })
        .optional()?
        .unwrap_or(0);
    if !spent {
        return Ok(Consumed::LimitReached { used });
    }
    if let Some((activity_id, ip)) = &s.log {
        let details = spend_details(&s.feature_id, s.amount, used);
        st.log
            .execute(params![
                activity_id,
                s.profile_id,
                s.profile_id,
                crate::actions::FEATURE_USED,
                details,
                ip,
                s.now
            ])
            .map_err(|e| on_constraint(e, "profile"))?;
    }
    Ok(Consumed::Spent { used })
}

/// The details of a `feature_used` entry, `{"amount":…,"feature":…,"used":…}`: the text
/// `serde_json::json!` writes (keys in order), without building a map on the writer's
/// thread.
fn spend_details(feature_id: &str, amount: i64, used: i64) -> String {
    let mut details = String::with_capacity(48 + feature_id.len());
    let _ = write!(
        details,
        "{{\"amount\":{amount},\"feature\":{},\"used\":{used}}}",
        serde_json::Value::from(feature_id),
    );
    details
}

/// A foreign-key violation names what is missing; other failures stay what they are.
fn on_constraint(e: rusqlite::Error, missing: &'static str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::MissingReference(missing)
        }
        _ => StoreError::Sqlite(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::HotFirst;

    /// sqlx's writer waits while a batch claims the lock, and goes on when it commits; with
    /// no claim, at once.
    #[tokio::test]
    async fn sqlx_writes_wait_for_a_waiting_batch() {
        let turn = Arc::new(HotFirst::default());
        tokio::time::timeout(Duration::from_secs(5), turn.after_waiting_batch())
            .await
            .expect("no batch waits");
        turn.claim();
        let waiting = tokio::spawn({
            let turn = Arc::clone(&turn);
            async move { turn.after_waiting_batch().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a batch waits for the lock");
        turn.release();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the batch committed")
            .unwrap();
    }

    /// The entry's details are the text `json!` wrote, escapes included.
    #[test]
    fn spend_details_as_json_writes_them() {
        for (feature, amount, used) in [
            ("weight", 1, 1),
            ("ai_calls", 5, i64::MAX),
            ("odd \"name\"\\\n\u{1}é", -3, 0),
        ] {
            assert_eq!(
                super::spend_details(feature, amount, used),
                serde_json::json!({ "feature": feature, "amount": amount, "used": used })
                    .to_string()
            );
        }
    }
}
