//! Mitai's persistence: the [`Store`] trait and its PostgreSQL and SQLite backends.
//!
//! Both backends share one implementation of the traits (`store`), which runs its
//! statements through a small SQL layer (`sql`) that binds and decodes each value as its
//! backend stores it; the SQL is the same text, except where a backend needs its own (row
//! locks, dates). What only one backend does (PostgreSQL's batchers and listeners, SQLite's
//! group commit) lives in `postgres` and `sqlite`. Migrations live in `migrations/<backend>`
//! and are embedded and run by [`connect`].

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mitai_access::{Feature, Limit, Tier};
use serde_json::Value;
use uuid::Uuid;

pub mod accounts;
pub mod activity;
pub mod billing;
pub mod cache;
pub mod copy;
pub mod coupons;
pub mod data;
pub mod mail;
pub mod media;
mod model;
pub mod notifications;
mod postgres;
mod spend;
mod sql;
mod sqlite;
mod sqlite_hot;
mod store;
pub mod testing;
mod usage_cache;

pub use accounts::{
    AccountToken, Invitation, NewAccountToken, NewInvitation, NewRegistration, RegisterOutcome,
    Session, TokenKind,
};
pub use activity::{
    Activity, ActivityFilter, ActivityStore, CouponRedemptionCount, FeatureDay, GrantedProfile,
    NewActivity, StatsDelta, TierGroup, UserStats, actions, time_ordered_floor,
};
pub use billing::BillingStore;
pub use coupons::CouponStore;
pub use data::{
    CreatedEntry, DataStore, Entry, EntryChange, EntryCursor, EntryOrder, EntryQuery, EntryUpdate,
    NewEntry, WeightOverview,
};
pub use mail::{MailCounts, MailStatus, MailStore, NewMail, OutboxMail};
pub use media::{
    AiKind, AiResult, CreatedPhoto, GatedCreate, MediaStore, Photo, PhotoType, Release,
};
pub use model::*;
pub use notifications::NotificationStore;

/// What can go wrong in the store. Database failures stay database failures: they are
/// never turned into "not found".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was taken; the name says which (`email`, `feature`, `tier`, …).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist (foreign key); the name says which.
    #[error("referenced {0} does not exist")]
    MissingReference(&'static str),
    /// An idempotency key was reused for a different request.
    #[error("idempotency key was used for a different request")]
    IdempotencyMismatch,
    /// The change would leave no active admin; nothing was changed.
    #[error("the last active admin cannot lose the role or be disabled")]
    LastAdmin,
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A failure of the SQLite hot path's own connections (see `sqlite_hot`).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database client's error, for callers that name one (a timeout of their own).
pub use sqlx::Error as SqlxError;

/// A failure of the database's client: remembered when it shows that a connection died
/// (see [`lost`]), so that the pool stops handing out the connections of before.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if lost::is_dead_connection(&e) {
            lost::mark();
        }
        StoreError::Database(e)
    }
}

/// Connections that died together: a restart or failover of PostgreSQL ends every
/// connection the pool holds, and the pool (which does not ping before each use, to keep
/// the hot path one round trip) would hand each of them out once more. When one statement
/// meets a dead connection, the instant is marked here; the pool's `before_acquire` then
/// drops every idle connection opened before it instead of handing it out.
pub mod lost {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    static LOST_AT_MS: AtomicU64 = AtomicU64::new(0);
    static DEATHS: AtomicU64 = AtomicU64::new(0);

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// A connection was found dead now.
    pub fn mark() {
        LOST_AT_MS.fetch_max(now_ms(), Ordering::Relaxed);
        DEATHS.fetch_add(1, Ordering::Relaxed);
    }

    /// How many dead connections were seen so far: a request that sees this change while
    /// it ran met one (or ran beside one that did).
    pub fn deaths() -> u64 {
        DEATHS.load(Ordering::Relaxed)
    }

    /// Whether a connection of this age was opened before the last death was seen (one
    /// atomic read: nothing in normal operation).
    pub fn opened_before_loss(age: Duration) -> bool {
        let lost = LOST_AT_MS.load(Ordering::Relaxed);
        lost != 0 && now_ms().saturating_sub(u64::try_from(age.as_millis()).unwrap_or(0)) <= lost
    }

    /// What one request did on PostgreSQL, so that a request that met a dead connection
    /// can be told apart as safe to send again: it met the death before anything it did
    /// could have been kept (a statement of a transaction whose `COMMIT` was never sent, a
    /// read, a statement PostgreSQL refused with the session's end), and nothing before
    /// could have been kept either (no `COMMIT` sent, no write outside a transaction, no
    /// spend handed to a batcher).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Attempt {
        died_unkept: bool,
        may_have_written: bool,
    }

    impl Attempt {
        /// Whether the request met a dead connection and nothing it did was kept, so that
        /// sending it once more on a fresh connection does it once.
        pub fn may_run_again(&self) -> bool {
            self.died_unkept && !self.may_have_written
        }
    }

    tokio::task_local! {
        static ATTEMPT: std::cell::Cell<Attempt>;
    }

    /// Runs `work` (a request) and answers what it did on the database. Statements run by
    /// other tasks are not seen; those that can keep a write for a request (the spend
    /// batchers) are marked when the spend is handed over.
    pub async fn watch<F: std::future::Future>(work: F) -> (F::Output, Attempt) {
        ATTEMPT
            .scope(std::cell::Cell::new(Attempt::default()), async {
                let out = work.await;
                (out, ATTEMPT.with(std::cell::Cell::get))
            })
            .await
    }

    fn note(change: impl FnOnce(&mut Attempt)) {
        let _ = ATTEMPT.try_with(|cell| {
            let mut attempt = cell.get();
            change(&mut attempt);
            cell.set(attempt);
        });
    }

    /// Something this request did may be kept from now on: a `COMMIT` is being sent, a
    /// spend handed to a batcher.
    pub(crate) fn may_keep() {
        note(|a| a.may_have_written = true);
    }

    /// A statement of this request on PostgreSQL ended, `failed` or not; `in_transaction`:
    /// it ran inside a transaction, whose effects are kept only by its `COMMIT`.
    pub(crate) fn statement(sql: &str, in_transaction: bool, failed: Option<&sqlx::Error>) {
        let reads = sql
            .trim_start()
            .get(..6)
            .is_some_and(|word| word.eq_ignore_ascii_case("select"));
        match failed {
            Some(e) if is_dead_connection(e) => {
                mark();
                note(|a| {
                    // Alone, a write that failed with a broken socket may have run; one that
                    // PostgreSQL refused with the session's end did not.
                    if in_transaction || reads || matches!(e, sqlx::Error::Database(_)) {
                        a.died_unkept = true;
                    } else {
                        a.may_have_written = true;
                    }
                });
            }
            None if !in_transaction && !reads => may_keep(),
            _ => {}
        }
    }

    /// Whether `e` says the connection itself is gone: the socket failed, or PostgreSQL
    /// ended the session (`57P01` admin shutdown, `57P02` crash, `57P03` not yet up, class
    /// `08` connection exceptions).
    pub fn is_dead_connection(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::Io(_) => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
            _ => false,
        }
    }
}

impl StoreError {
    /// The same failure once more, for each of several requests that one failure ended
    /// (a group commit that could not commit).
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Database(e) if self.is_unavailable() => StoreError::Database(match e {
                sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
                sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
                _ => sqlx::Error::PoolTimedOut,
            }),
            other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
        }
    }

    /// Whether the database could not be reached or did not answer in time (as opposed to
    /// refusing or failing a statement).
    ///
    /// PostgreSQL: the pool timed out or closed, the connection died (see [`lost`]), or
    /// there are too many connections (`53300`). SQLite: busy or locked, an I/O failure, a
    /// full disk, a file that cannot be opened or is read-only — the file stays intact and
    /// writes work again once there is room.
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode as Code;
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|c| unavailable_code(&c)),
                _ => false,
            },
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                Code::DatabaseBusy
                    | Code::DatabaseLocked
                    | Code::SystemIoFailure
                    | Code::CannotOpen
                    | Code::DiskFull
                    | Code::ReadOnly
            ),
            _ => false,
        }
    }
}

/// Whether a database error code says "not reachable now" rather than "refused": a
/// PostgreSQL SQLSTATE of a dead or refused connection, or an SQLite result code (numeric,
/// extended codes carry the primary one in their low byte) of busy (5), locked (6),
/// read-only (8), I/O error (10), full (13) or cannot open (14).
fn unavailable_code(code: &str) -> bool {
    match code.parse::<i64>() {
        Ok(n) => matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14),
        Err(_) => code.starts_with("57P") || code.starts_with("08") || code == "53300",
    }
}

/// The mark a `mitai db copy` leaves on its target until every table is copied and
/// verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyMarker {
    /// Where the copy came from (the URL without its password).
    pub source: String,
    pub started_at: DateTime<Utc>,
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A stream of "the registry changed somewhere" signals (PostgreSQL `LISTEN`).
pub type ChangeStream = Pin<Box<dyn futures::Stream<Item = ()> + Send>>;

/// All persistence Mitai needs, as a few narrow traits. Every method is atomic on its own.
/// `use mitai_store::prelude::*` brings them all into scope.
#[async_trait]
pub trait Store:
    RegistryStore
    + AccountStore
    + UsageStore
    + CouponStore
    + MailStore
    + ActivityStore
    + BillingStore
    + NotificationStore
    + DataStore
    + MediaStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// A number that changes whenever a cached access fact (a profile, a grant, a pause, a
    /// restriction, a session) changes, here or (PostgreSQL) on another instance: what is
    /// derived from them stays valid while it does not change.
    fn access_generation(&self) -> u64;

    /// Answers when the database answers.
    async fn ping(&self) -> Result<()>;

    /// The mark of a `mitai db copy` into this database that has not finished (see
    /// [`copy`]); such a database is incomplete and must not be served.
    async fn unfinished_copy(&self) -> Result<Option<CopyMarker>>;

    /// Removes sessions, account tokens and invitations expired at `now`, and idempotency
    /// keys and rate-limit windows older than one day.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<Purged>;

    /// Takes the lock of the job round `name` if no other instance holds it (PostgreSQL
    /// advisory lock, held until the returned guard is dropped; SQLite: one instance, always
    /// granted). `None` means another instance is running the jobs now.
    async fn try_job_lock(&self, name: &str) -> Result<Option<JobLock>>;

    /// When something of `kind` was last done for `subject` ([`Store::once`]'s marks).
    async fn last_done(&self, kind: &str, subject: Uuid) -> Result<Option<DateTime<Utc>>>;

    /// Every subject something of `kind` was done for ([`Store::once`]'s marks), in one
    /// read: a job can skip them instead of asking once per subject.
    async fn done_for(&self, kind: &str) -> Result<Vec<Uuid>>;

    /// Does something once per (`kind`, `subject`, `due_key`): records the mark and, in the
    /// same transaction, enqueues `mail` and logs `activity`. Returns `false` (and writes
    /// nothing) when the mark exists, so retries and other instances never repeat it.
    async fn once(
        &self,
        kind: &str,
        subject: Uuid,
        due_key: &str,
        now: DateTime<Utc>,
        mail: Option<&NewMail>,
        activity: Option<&NewActivity>,
    ) -> Result<bool>;
}

/// The lock of a job round. Release it with [`JobLock::release`] when the round ends: on
/// PostgreSQL that unlocks the advisory lock on its own connection before the connection
/// goes back to the pool, so the next round finds it free at once. A guard dropped without
/// `release` (a panic, a cancelled task) closes its connection instead, which ends the
/// lock with the session: it can never leak into a pooled connection.
pub struct JobLock {
    held: Held,
}

enum Held {
    /// SQLite: the process-wide guard (one SQLite file serves one instance).
    Local {
        _guard: tokio::sync::OwnedMutexGuard<()>,
    },
    /// PostgreSQL: the session holding `pg_advisory_lock(key)`.
    Advisory {
        conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
        key: i64,
    },
}

impl JobLock {
    pub(crate) fn local(guard: tokio::sync::OwnedMutexGuard<()>) -> JobLock {
        JobLock {
            held: Held::Local { _guard: guard },
        }
    }

    pub(crate) fn advisory(conn: sqlx::pool::PoolConnection<sqlx::Postgres>, key: i64) -> JobLock {
        JobLock {
            held: Held::Advisory {
                conn: Some(conn),
                key,
            },
        }
    }

    /// Releases the lock now. An error means the unlock could not be confirmed; the
    /// connection is then closed, which releases the lock with its session.
    pub async fn release(mut self) -> Result<()> {
        match &mut self.held {
            Held::Local { .. } => Ok(()),
            Held::Advisory { conn, key } => {
                let Some(mut c) = conn.take() else {
                    return Ok(());
                };
                let unlocked: std::result::Result<bool, sqlx::Error> =
                    sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
                        .bind(*key)
                        .fetch_one(&mut *c)
                        .await;
                match unlocked {
                    // Unlocked on this session: the connection may serve others again.
                    Ok(true) => Ok(()),
                    Ok(false) => {
                        c.close_on_drop();
                        Err(StoreError::Corrupt(
                            "the job lock was not held by its own session".into(),
                        ))
                    }
                    Err(e) => {
                        c.close_on_drop();
                        Err(e.into())
                    }
                }
            }
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Held::Advisory {
            conn: Some(conn), ..
        } = &mut self.held
        {
            // Not released: never hand a locked session back to the pool.
            conn.close_on_drop();
        }
    }
}

/// The registry: features, tiers, the tier × feature matrix and settings.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Features, tiers, the tier × feature matrix and the settings.
    async fn registry_snapshot(&self) -> Result<RegistrySnapshot>;
    /// Tells other instances that registry data changed (no-op on SQLite).
    async fn notify_registry_changed(&self) -> Result<()>;
    /// Signals from other instances that registry data changed (`None` on SQLite).
    async fn registry_changes(&self) -> Result<Option<ChangeStream>>;

    /// `Conflict("feature")` if the id is taken.
    async fn create_feature(&self, feature: &Feature, now: DateTime<Utc>) -> Result<()>;
    /// `false` if no such feature.
    async fn update_feature(&self, feature: &Feature, now: DateTime<Utc>) -> Result<bool>;
    /// `Conflict("tier")` if the id is taken.
    async fn create_tier(&self, tier: &Tier, now: DateTime<Utc>) -> Result<()>;
    /// `false` if no such tier.
    async fn update_tier(&self, tier: &Tier, now: DateTime<Utc>) -> Result<bool>;
    /// Creates or replaces one matrix cell. `MissingReference` for an unknown tier/feature.
    async fn set_tier_limit(
        &self,
        tier_id: &str,
        feature_id: &str,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// `false` if the cell had no row.
    async fn delete_tier_limit(&self, tier_id: &str, feature_id: &str) -> Result<bool>;
    async fn set_setting(
        &self,
        key: &str,
        value: &Value,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Setting>;
}

/// Profiles and sessions.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Conflict("email")` if the normalised e-mail is taken.
    async fn create_profile(&self, new: &NewProfile) -> Result<Profile>;
    async fn profile(&self, id: Uuid) -> Result<Option<Profile>>;
    /// The profile and its password hash, by e-mail (case-insensitive).
    async fn credentials(&self, email: &str) -> Result<Option<(Profile, String)>>;
    /// Profiles whose e-mail or name contains `query` (case-insensitive), ordered by id,
    /// after the id `after`, at most `limit`.
    async fn list_profiles(
        &self,
        query: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Profile>>;
    /// Profiles matching every filter that is set, in `order`, after the cursor `after`
    /// (the last id, or the last normalised e-mail when sorted by e-mail), at most `limit`.
    async fn find_profiles(
        &self,
        filter: &ProfileFilter,
        order: ProfileOrder,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Profile>>;
    /// `None` if no such profile. Disabling a profile (`disabled: Some(true)`) ends all its
    /// sessions in the same transaction. `LastAdmin` (and nothing changed) when the change
    /// would leave no enabled admin — decided atomically, so two admins demoting or
    /// disabling each other at once cannot both succeed.
    async fn update_profile(
        &self,
        id: Uuid,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Option<Profile>>;
    async fn admin_exists(&self) -> Result<bool>;
    /// Enabled profiles with a weigh-in reminder on (some weekday and a time), by id.
    async fn profiles_with_weigh_in_reminders(&self) -> Result<Vec<Profile>>;
    /// Enabled profiles whose trial ends in `(after, until]`, ordered by id.
    async fn profiles_with_trial_ending(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Profile>>;
    async fn set_password(&self, id: Uuid, password_hash: &str, now: DateTime<Utc>)
    -> Result<bool>;

    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The profile of a live session (not expired at `now`).
    async fn session_profile(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Profile>>;
    async fn delete_session(&self, token_hash: &str) -> Result<bool>;

    /// A live session (not expired at `now`) with its profile.
    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>>;
    /// Moves the expiry of a session that is live at `now` forward to `expires_at` (and
    /// `last_seen_at` to `now`). `false` if the session is not live or already expires
    /// at or after `expires_at`: a renewal never shortens a session.
    async fn renew_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Ends every session of a profile except `except` (a token hash); returns how many.
    async fn delete_sessions(&self, profile_id: Uuid, except: Option<&str>) -> Result<u64>;

    /// Deletes a profile and its data in one transaction: sessions, tokens, entries, photos
    /// (their rows: the files are the caller's, hence the photos come back), AI results,
    /// usage, grants, personal limits, statistics, mail still addressed to it and unused
    /// invitations to its address. Its activity entries stay, counted, without the
    /// person: no profile, no actor, no e-mail in the details, no IP. `None` when there is
    /// no such profile; `LastAdmin` (and nothing changed) for the last enabled admin.
    async fn delete_profile(&self, id: Uuid) -> Result<Option<Vec<crate::Photo>>>;

    /// Self-registration in one transaction: uses the invitation (if any), inserts the
    /// profile, stores its verification token, enqueues the mail and logs the event. Any
    /// refusal changes nothing.
    async fn register(&self, registration: &NewRegistration) -> Result<RegisterOutcome>;

    /// Stores a token of a profile and, in the same transaction, enqueues the mail that
    /// carries it and logs `activity`. `MissingReference("profile")` for an unknown
    /// profile.
    async fn create_account_token(
        &self,
        token: &NewAccountToken,
        mail: &NewMail,
        activity: Option<&NewActivity>,
    ) -> Result<()>;
    /// The token of `kind` with this hash if it can be used at `now` (unused, unexpired).
    async fn account_token(
        &self,
        token_hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountToken>>;
    /// Uses a verification token: marks its profile's e-mail verified, uses the profile's
    /// other verification tokens and logs `activity` about the profile, by the profile
    /// (its `profile_id` and `actor_id` are set). `None`, changing nothing, when the token
    /// is unknown, used or expired at `now` — also for all but one of many concurrent
    /// uses.
    async fn verify_email(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        activity: &NewActivity,
    ) -> Result<Option<Profile>>;
    /// Uses a password-reset token: sets the password hash, uses the profile's other reset
    /// tokens, ends all the profile's sessions and logs `activity` (as `verify_email`
    /// does). `None`, changing nothing, when the token cannot be used at `now`.
    async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
        activity: &NewActivity,
    ) -> Result<Option<Profile>>;
    /// Replaces the password hash if it still is `expected_hash` (compare-and-set, so of
    /// two concurrent changes from the same old password only one wins), uses the
    /// profile's unused reset tokens, ends its sessions except `keep_session` and logs
    /// `activity`. `false`, changing nothing, when the hash differs or no such profile.
    async fn change_password(
        &self,
        profile_id: Uuid,
        expected_hash: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        now: DateTime<Utc>,
        activity: &NewActivity,
    ) -> Result<bool>;

    /// Stores an invitation and, in the same transaction, enqueues its mail and logs
    /// `activity`. `MissingReference("inviter")` for an unknown inviter.
    async fn create_invitation(
        &self,
        invitation: &NewInvitation,
        mail: &NewMail,
        activity: Option<&NewActivity>,
    ) -> Result<Invitation>;
    /// The invitation with this token hash if it can be used at `now`.
    async fn invitation(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Invitation>>;
}

/// Per-user restrictions, usage buckets and exact consumption.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Creates or replaces the restriction of (profile, feature).
    async fn put_restriction(&self, restriction: &Restriction) -> Result<()>;
    /// `false` if there was none.
    async fn delete_restriction(&self, profile_id: Uuid, feature_id: &str) -> Result<bool>;
    async fn restrictions(&self, profile_id: Uuid) -> Result<Vec<Restriction>>;
    /// Every profile's restriction of one feature (expired ones included), by profile.
    async fn restrictions_of_feature(&self, feature_id: &str) -> Result<Vec<Restriction>>;

    /// Usage of each (feature, period_start) bucket, in the order asked (0 when none).
    async fn usage(&self, profile_id: Uuid, buckets: &[(&str, DateTime<Utc>)]) -> Result<Vec<i64>>;

    /// Spends `amount` atomically: the bucket's usage rises only if it stays within
    /// `cap`. With an idempotency key, the first call decides and `respond` builds the
    /// answer that is stored with the key, in the same transaction; later calls with
    /// the key get [`ConsumeResult::Replayed`] with that answer and change nothing.
    async fn consume(
        &self,
        request: &ConsumeRequest<'_>,
        respond: &(dyn Fn(Consumed) -> StoredResponse + Send + Sync),
    ) -> Result<ConsumeResult>;
}

/// Every store trait, for `use mitai_store::prelude::*`.
pub mod prelude {
    pub use crate::{
        AccountStore, ActivityStore, BillingStore, CouponStore, DataStore, MailStore, MediaStore,
        NotificationStore, RegistryStore, Store, UsageStore,
    };
}

/// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`), creating a
/// SQLite file and its folder if missing, and runs the migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(store::SqlStore::open(url).await?))
}

/// The URL with any password replaced by `***`, for logs and errors: the password of the
/// user info (which may itself contain `@`, `/` or `:`) and `password` / `sslpassword`
/// query parameters.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let query_at = rest.find(['?', '#']).unwrap_or(rest.len());
    let (before_query, query) = rest.split_at(query_at);
    let authority = match before_query.rfind('@') {
        // The user info runs to the last `@` before the query: a password may hold `@`.
        Some(at) => {
            let (userinfo, host) = (&before_query[..at], &before_query[at + 1..]);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => before_query.to_owned(),
            }
        }
        None => before_query.to_owned(),
    };
    let query = match query.strip_prefix('?') {
        Some(q) => {
            let pairs: Vec<String> = q
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _))
                        if key.eq_ignore_ascii_case("password")
                            || key.eq_ignore_ascii_case("sslpassword") =>
                    {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("?{}", pairs.join("&"))
        }
        None => query.to_owned(),
    };
    format!("{scheme}://{authority}{query}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://mitai:secret@db.internal:5432/mitai",
                "postgres://mitai:***@db.internal:5432/mitai",
            ),
            (
                "postgres://mitai:p@ss@w0rd@db/mitai",
                "postgres://mitai:***@db/mitai",
            ),
            ("postgres://u:a/b:c@db/x", "postgres://u:***@db/x"),
            (
                "postgres://db/mitai?user=u&password=hunter2&sslmode=require",
                "postgres://db/mitai?user=u&password=***&sslmode=require",
            ),
            (
                "postgres://u:x@db/m?sslpassword=k",
                "postgres://u:***@db/m?sslpassword=***",
            ),
            ("postgres://u@db/m", "postgres://u@db/m"),
            ("sqlite://data/mitai.db", "sqlite://data/mitai.db"),
            ("sqlite://data/a@b.db", "sqlite://data/a@b.db"),
            ("smtp://user:pa@ss@mail:587", "smtp://user:***@mail:587"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
