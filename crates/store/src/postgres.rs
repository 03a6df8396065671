//! The PostgreSQL backend: many `mitai serve` instances may share one database.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use uuid::Uuid;

use crate::{Backend, ChangeStream, Result};

type Db = sqlx::Postgres;
type IdRepr = Uuid;
type TsRepr = DateTime<Utc>;

/// Row locks taken by a claim: rows another claimer holds are skipped, not waited for.
const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";
/// Row locks for a read that decides a write (others wait until this transaction ends).
const FOR_UPDATE: &str = "FOR UPDATE";
/// The UTC calendar day (`YYYY-MM-DD`) of a row's `created_at`.
const CREATED_DAY: &str = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

fn id(u: Uuid) -> IdRepr {
    u
}

fn uuid_of(r: IdRepr) -> Uuid {
    r
}

fn ts(t: DateTime<Utc>) -> TsRepr {
    t
}

fn ts_of(t: TsRepr) -> Result<DateTime<Utc>> {
    Ok(t)
}

/// The channel on which instances announce registry changes.
const REGISTRY_CHANNEL: &str = "mitai_registry";

/// A stable 64-bit key for an advisory lock name (FNV-1a).
fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema version this build migrates to (the last migration's version).
pub(crate) fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl PgStore {
    const BACKEND: Backend = Backend::Postgres;

    /// Connects to `url` and migrates the database.
    pub async fn connect(url: &str) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Generous: under a burst every request waits its turn for a connection rather
            // than failing; the request timeout (60 s by default) bounds the wait.
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>> {
        Ok(self.pool.begin().await?)
    }

    /// A session-level advisory lock, held by one pooled connection until the guard is
    /// released (see [`crate::JobLock`]).
    async fn job_lock_impl(&self, name: &str) -> Result<Option<crate::JobLock>> {
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
        Ok(locked.then(|| crate::JobLock::advisory(conn, key)))
    }

    async fn notify_impl(&self) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(REGISTRY_CHANNEL)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn changes_impl(&self) -> Result<Option<ChangeStream>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(REGISTRY_CHANNEL).await?;
        // A broken connection is re-established by the listener; an error item still means
        // "something may have changed", so it triggers a reload too.
        Ok(Some(Box::pin(listener.into_stream().map(|_| ()))))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl_store!(PgStore);
