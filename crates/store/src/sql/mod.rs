//! The SQL layer: the one place that knows how each backend binds and decodes a value, so
//! that the store's code reads like ordinary sqlx and runs on either database.
//!
//! - [`Pool`] and [`Tx`]: a pool or a transaction of either backend.
//! - [`query`] makes a statement: SQL text with `$N` parameters (SQLite reads them too) and
//!   values bound in order ([`Bind`]). It runs on anything [`Executor`]: `&Pool`, `&mut Tx`,
//!   or a backend's own pool or connection.
//! - [`Row`] is a row of either backend; [`Row::get`] decodes a column ([`Decode`]).
//!
//! What differs between the backends, and so is decided here only:
//!
//! | value | PostgreSQL | SQLite |
//! |---|---|---|
//! | id (`Uuid`) | `uuid` | hyphenated lower-case text |
//! | instant (`DateTime<Utc>`) | `timestamptz` | fixed-width RFC 3339 UTC text ([`ts`]) |
//! | JSON | `jsonb` | text |
//!
//! Text, integers, reals, booleans and dates bind and decode as sqlx does on each backend,
//! with the same Rust type bound on both (PostgreSQL infers a parameter's type from it).
//!
//! Running a statement answers a [`sqlx::Error`], so that [`on_constraint`] can name a
//! violated key; decoding a column answers a [`StoreError`](crate::StoreError):
//! `Corrupt` for stored text that is no id or instant.

mod query;
mod row;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};

use crate::{Result, StoreError};

pub(crate) use query::{Query, execute_raw, query};
pub(crate) use row::Row;

/// A pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Pool {
    /// Begins a transaction that will write: on SQLite `BEGIN IMMEDIATE`, which takes the
    /// write lock at once (a deferred transaction that reads first could fail to upgrade).
    ///
    /// A `BEGIN` that meets a connection PostgreSQL ended (a restart, a failover) ran
    /// nothing, so it is tried once more on a fresh connection — the pool drops the idle
    /// ones from before the death (see [`crate::lost`]). A write whose transaction never
    /// began is thus not refused for a stale connection.
    pub(crate) async fn begin_write(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Pool::Postgres(p) => match p.begin().await {
                Err(e) if crate::lost::is_dead_connection(&e) => {
                    crate::lost::mark();
                    Tx::Postgres(p.begin().await?)
                }
                began => Tx::Postgres(began?),
            },
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    #[cfg(test)]
    pub(crate) async fn close(&self) {
        match self {
            Pool::Postgres(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }
}

/// A transaction of either backend; dropped without [`Tx::commit`] it rolls back.
#[derive(Debug)]
pub(crate) enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    pub(crate) async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Postgres(tx) => {
                crate::lost::may_keep();
                tx.commit().await
            }
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> sqlx::Result<()> {
        match self {
            Tx::Postgres(tx) => tx.rollback().await,
            Tx::Sqlite(tx) => tx.rollback().await,
        }
    }
}

/// Where a statement runs: a pool or a connection (a transaction is one) of a backend.
pub(crate) enum Target<'e> {
    PgPool(&'e PgPool),
    Pg(&'e mut PgConnection),
    /// A connection in a transaction: what runs on it is kept only by its `COMMIT`.
    PgTx(&'e mut PgConnection),
    SqlitePool(&'e SqlitePool),
    Sqlite(&'e mut SqliteConnection),
}

/// What a statement can run on (sqlx's `Executor`, for either backend).
pub(crate) trait Executor<'e> {
    fn target(self) -> Target<'e>;
}

impl<'e> Executor<'e> for &'e Pool {
    fn target(self) -> Target<'e> {
        match self {
            Pool::Postgres(p) => Target::PgPool(p),
            Pool::Sqlite(p) => Target::SqlitePool(p),
        }
    }
}

impl<'e> Executor<'e> for &'e mut Tx {
    fn target(self) -> Target<'e> {
        match self {
            Tx::Postgres(tx) => Target::PgTx(tx),
            Tx::Sqlite(tx) => Target::Sqlite(tx),
        }
    }
}

impl<'e> Executor<'e> for &'e PgPool {
    fn target(self) -> Target<'e> {
        Target::PgPool(self)
    }
}

impl<'e> Executor<'e> for &'e mut PgConnection {
    fn target(self) -> Target<'e> {
        Target::Pg(self)
    }
}

impl<'e> Executor<'e> for &'e SqlitePool {
    fn target(self) -> Target<'e> {
        Target::SqlitePool(self)
    }
}

impl<'e> Executor<'e> for &'e mut SqliteConnection {
    fn target(self) -> Target<'e> {
        Target::Sqlite(self)
    }
}

/// An instant as SQLite stores it: fixed-width RFC 3339 in UTC with microseconds, so that
/// text order is time order (`%Y-%m-%dT%H:%M:%S%.6fZ`, written without parsing a format
/// string: every spend writes a few).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An instant stored by SQLite (any RFC 3339 text); `Corrupt` when it is none.
pub(crate) fn ts_of(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt("timestamp", s))
}

/// Stored data that is not what its column holds.
pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

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

    #[test]
    fn stored_instants_read_back() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
        assert_eq!(super::ts_of(&super::ts(t)).unwrap(), t);
        assert!(matches!(
            super::ts_of("yesterday"),
            Err(crate::StoreError::Corrupt(_))
        ));
    }
}
