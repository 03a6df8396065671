//! A statement and the values bound to it, run on either backend.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use smallvec::SmallVec;
use sqlx::Arguments as _;
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArguments};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Executor, Row, Target};

/// A statement: SQL text with `$1 … $N` and the values bound to them, in order.
#[must_use = "a statement does nothing until it is run"]
pub(crate) struct Query<'q> {
    sql: &'q str,
    /// Inline up to eight: most statements bind no more, and then bind without allocating.
    args: SmallVec<[Arg<'q>; 8]>,
}

/// A statement with the text `sql` (see [`Query::bind`]).
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: SmallVec::new(),
    }
}

/// A value bound to a statement: every kind the store binds, each with its NULL (a NULL
/// keeps its type, which PostgreSQL needs to read the statement).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg<'q> {
    Text(Option<Cow<'q, str>>),
    I64(Option<i64>),
    I32(Option<i32>),
    F64(Option<f64>),
    Bool(Option<bool>),
    /// PostgreSQL `uuid`; SQLite hyphenated text.
    Uuid(Option<Uuid>),
    /// PostgreSQL `timestamptz`; SQLite [`ts`](super::ts) text.
    Ts(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    /// PostgreSQL `jsonb`; SQLite text.
    Json(Option<&'q serde_json::Value>),
}

/// What [`Query::bind`] takes: a value of one of the kinds of [`Arg`], or its `Option`.
pub(crate) trait Bind<'q> {
    fn arg(self) -> Arg<'q>;
}

/// A kind of value: what a value of it binds as, and its typed NULL.
pub(crate) trait Kind<'q>: Sized {
    fn some(self) -> Arg<'q>;
    fn none() -> Arg<'q>;
}

impl<'q, T: Kind<'q>> Bind<'q> for T {
    fn arg(self) -> Arg<'q> {
        self.some()
    }
}

impl<'q, T: Kind<'q>> Bind<'q> for Option<T> {
    fn arg(self) -> Arg<'q> {
        self.map_or_else(T::none, T::some)
    }
}

impl<'q> Bind<'q> for &'q Option<String> {
    fn arg(self) -> Arg<'q> {
        self.as_deref().arg()
    }
}

impl<'q> Kind<'q> for &'q str {
    fn some(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Borrowed(self)))
    }
    fn none() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Kind<'q> for &'q String {
    fn some(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Borrowed(self)))
    }
    fn none() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Kind<'q> for String {
    fn some(self) -> Arg<'q> {
        Arg::Text(Some(Cow::Owned(self)))
    }
    fn none() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> Kind<'q> for i64 {
    fn some(self) -> Arg<'q> {
        Arg::I64(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::I64(None)
    }
}

impl<'q> Kind<'q> for i32 {
    fn some(self) -> Arg<'q> {
        Arg::I32(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::I32(None)
    }
}

impl<'q> Kind<'q> for f64 {
    fn some(self) -> Arg<'q> {
        Arg::F64(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::F64(None)
    }
}

impl<'q> Kind<'q> for bool {
    fn some(self) -> Arg<'q> {
        Arg::Bool(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::Bool(None)
    }
}

impl<'q> Kind<'q> for Uuid {
    fn some(self) -> Arg<'q> {
        Arg::Uuid(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::Uuid(None)
    }
}

impl<'q> Kind<'q> for DateTime<Utc> {
    fn some(self) -> Arg<'q> {
        Arg::Ts(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::Ts(None)
    }
}

impl<'q> Kind<'q> for NaiveDate {
    fn some(self) -> Arg<'q> {
        Arg::Date(Some(self))
    }
    fn none() -> Arg<'q> {
        Arg::Date(None)
    }
}

impl<'q> Kind<'q> for Json<&'q serde_json::Value> {
    fn some(self) -> Arg<'q> {
        Arg::Json(Some(self.0))
    }
    fn none() -> Arg<'q> {
        Arg::Json(None)
    }
}

impl<'q> Arg<'q> {
    /// Adds the value to PostgreSQL's arguments as the Rust type the store binds.
    fn add_to_pg(self, args: &mut PgArguments) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            Arg::Text(v) => args.add(v),
            Arg::I64(v) => args.add(v),
            Arg::I32(v) => args.add(v),
            Arg::F64(v) => args.add(v),
            Arg::Bool(v) => args.add(v),
            Arg::Uuid(v) => args.add(v),
            Arg::Ts(v) => args.add(v),
            Arg::Date(v) => args.add(v),
            Arg::Json(v) => args.add(v.map(Json)),
        }
    }

    /// Adds the value to SQLite's arguments: ids and instants as text.
    fn add_to_sqlite(self, args: &mut SqliteArguments<'q>) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            Arg::Text(v) => args.add(v),
            Arg::I64(v) => args.add(v),
            Arg::I32(v) => args.add(v),
            Arg::F64(v) => args.add(v),
            Arg::Bool(v) => args.add(v),
            Arg::Uuid(v) => args.add(v.map(|u| u.hyphenated())),
            Arg::Ts(v) => args.add(v.map(super::ts)),
            Arg::Date(v) => args.add(v),
            Arg::Json(v) => args.add(v.map(Json)),
        }
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;
type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

impl<'q> Query<'q> {
    /// Binds the next parameter (`$1`, then `$2`, …).
    pub(crate) fn bind(mut self, value: impl Bind<'q>) -> Self {
        self.args.push(value.arg());
        self
    }

    /// The statement for PostgreSQL (an encoding failure is the statement's error).
    fn pg(self) -> sqlx::Result<PgQuery<'q>> {
        let mut args = PgArguments::default();
        args.reserve(self.args.len(), 0);
        for arg in self.args {
            arg.add_to_pg(&mut args).map_err(sqlx::Error::Encode)?;
        }
        Ok(sqlx::query_with(self.sql, args))
    }

    /// The statement for SQLite (an encoding failure is the statement's error).
    fn sqlite(self) -> sqlx::Result<SqliteQuery<'q>> {
        let mut args = SqliteArguments::default();
        args.reserve(self.args.len(), 0);
        for arg in self.args {
            arg.add_to_sqlite(&mut args).map_err(sqlx::Error::Encode)?;
        }
        Ok(sqlx::query_with(self.sql, args))
    }

    /// Runs the statement; answers how many rows it changed.
    pub(crate) async fn execute<'e>(self, on: impl Executor<'e>) -> sqlx::Result<u64> {
        let sql = self.sql;
        Ok(match on.target() {
            Target::PgPool(p) => noted(sql, false, self.pg()?.execute(p).await)?.rows_affected(),
            Target::Pg(c) => noted(sql, false, self.pg()?.execute(c).await)?.rows_affected(),
            Target::PgTx(c) => noted(sql, true, self.pg()?.execute(c).await)?.rows_affected(),
            Target::SqlitePool(p) => self.sqlite()?.execute(p).await?.rows_affected(),
            Target::Sqlite(c) => self.sqlite()?.execute(c).await?.rows_affected(),
        })
    }

    /// The one row the statement answers (`RowNotFound` when none).
    pub(crate) async fn fetch_one<'e>(self, on: impl Executor<'e>) -> sqlx::Result<Row> {
        let sql = self.sql;
        Ok(match on.target() {
            Target::PgPool(p) => Row::Postgres(noted(sql, false, self.pg()?.fetch_one(p).await)?),
            Target::Pg(c) => Row::Postgres(noted(sql, false, self.pg()?.fetch_one(c).await)?),
            Target::PgTx(c) => Row::Postgres(noted(sql, true, self.pg()?.fetch_one(c).await)?),
            Target::SqlitePool(p) => Row::Sqlite(self.sqlite()?.fetch_one(p).await?),
            Target::Sqlite(c) => Row::Sqlite(self.sqlite()?.fetch_one(c).await?),
        })
    }

    /// The first row the statement answers, if any.
    pub(crate) async fn fetch_optional<'e>(
        self,
        on: impl Executor<'e>,
    ) -> sqlx::Result<Option<Row>> {
        let sql = self.sql;
        Ok(match on.target() {
            Target::PgPool(p) => {
                noted(sql, false, self.pg()?.fetch_optional(p).await)?.map(Row::Postgres)
            }
            Target::Pg(c) => {
                noted(sql, false, self.pg()?.fetch_optional(c).await)?.map(Row::Postgres)
            }
            Target::PgTx(c) => {
                noted(sql, true, self.pg()?.fetch_optional(c).await)?.map(Row::Postgres)
            }
            Target::SqlitePool(p) => self.sqlite()?.fetch_optional(p).await?.map(Row::Sqlite),
            Target::Sqlite(c) => self.sqlite()?.fetch_optional(c).await?.map(Row::Sqlite),
        })
    }

    /// Every row the statement answers.
    pub(crate) async fn fetch_all<'e>(self, on: impl Executor<'e>) -> sqlx::Result<Vec<Row>> {
        async fn pg<'e, 'q: 'e>(
            q: PgQuery<'q>,
            on: impl sqlx::PgExecutor<'e>,
        ) -> sqlx::Result<Vec<Row>> {
            q.fetch(on).map_ok(Row::Postgres).try_collect().await
        }
        let sql = self.sql;
        Ok(match on.target() {
            Target::PgPool(p) => noted(sql, false, pg(self.pg()?, p).await)?,
            Target::Pg(c) => noted(sql, false, pg(self.pg()?, c).await)?,
            Target::PgTx(c) => noted(sql, true, pg(self.pg()?, c).await)?,
            Target::SqlitePool(p) => {
                let rows = self.sqlite()?.fetch(p);
                rows.map_ok(Row::Sqlite).try_collect().await?
            }
            Target::Sqlite(c) => {
                self.sqlite()?
                    .fetch(c)
                    .map_ok(Row::Sqlite)
                    .try_collect()
                    .await?
            }
        })
    }

    /// The rows the statement answers, as they come. (Outside a transaction on
    /// PostgreSQL, a statement that may write counts as kept once it is started.)
    pub(crate) fn fetch<'e>(self, on: impl Executor<'e>) -> BoxStream<'e, sqlx::Result<Row>>
    where
        'q: 'e,
    {
        fn failed<'e>(e: sqlx::Error) -> BoxStream<'e, sqlx::Result<Row>> {
            futures::stream::once(async { Err(e) }).boxed()
        }
        fn pg<'e>(
            s: BoxStream<'e, sqlx::Result<sqlx::postgres::PgRow>>,
        ) -> BoxStream<'e, sqlx::Result<Row>> {
            s.map(|row| row.map(Row::Postgres)).boxed()
        }
        fn sqlite<'e>(
            s: BoxStream<'e, sqlx::Result<sqlx::sqlite::SqliteRow>>,
        ) -> BoxStream<'e, sqlx::Result<Row>> {
            s.map(|row| row.map(Row::Sqlite)).boxed()
        }
        let sql = self.sql;
        match on.target() {
            Target::PgPool(p) => {
                crate::lost::statement(sql, false, None);
                self.pg().map_or_else(failed, |q| pg(q.fetch(p)))
            }
            Target::Pg(c) => {
                crate::lost::statement(sql, false, None);
                self.pg().map_or_else(failed, |q| pg(q.fetch(c)))
            }
            Target::PgTx(c) => self.pg().map_or_else(failed, |q| pg(q.fetch(c))),
            Target::SqlitePool(p) => self.sqlite().map_or_else(failed, |q| sqlite(q.fetch(p))),
            Target::Sqlite(c) => self.sqlite().map_or_else(failed, |q| sqlite(q.fetch(c))),
        }
    }
}

/// What a statement on PostgreSQL answered, noted for the request that ran it (see
/// [`crate::lost::Attempt`]).
fn noted<T>(sql: &str, in_transaction: bool, answer: sqlx::Result<T>) -> sqlx::Result<T> {
    crate::lost::statement(sql, in_transaction, answer.as_ref().err());
    answer
}

/// Runs `sql` as it is: no parameters, no prepared statement (several statements at once,
/// transaction control, DDL).
pub(crate) async fn execute_raw<'e>(sql: &str, on: impl Executor<'e>) -> sqlx::Result<()> {
    match on.target() {
        Target::PgPool(p) => {
            noted(sql, false, sqlx::raw_sql(sql).execute(p).await)?;
        }
        Target::Pg(c) => {
            noted(sql, false, sqlx::raw_sql(sql).execute(c).await)?;
        }
        Target::PgTx(c) => {
            noted(sql, true, sqlx::raw_sql(sql).execute(c).await)?;
        }
        Target::SqlitePool(p) => {
            sqlx::raw_sql(sql).execute(p).await?;
        }
        Target::Sqlite(c) => {
            sqlx::raw_sql(sql).execute(c).await?;
        }
    }
    Ok(())
}
