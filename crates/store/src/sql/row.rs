//! A row of either backend, and the kinds of value read from it.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Row as _};
use uuid::Uuid;

use super::{corrupt, ts_of};
use crate::Result;

/// A row a statement answered.
pub(crate) enum Row {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

/// A column of a row: its name (`&str`) or its position (`usize`, from 0).
pub(crate) trait Column: ColumnIndex<PgRow> + ColumnIndex<SqliteRow> {}

impl<I: ColumnIndex<PgRow> + ColumnIndex<SqliteRow>> Column for I {}

impl Row {
    /// The value of a column, decoded as `T` (see [`Decode`]).
    pub(crate) fn get<T: Decode>(&self, column: impl Column) -> Result<T> {
        T::decode(self, column)
    }
}

/// A kind of value read from a column: text, integers, reals, booleans and dates as sqlx
/// reads them on each backend; ids, instants and JSON as [`super`] describes; each also as
/// its `Option` (SQL NULL).
pub(crate) trait Decode: Sized {
    fn decode(row: &Row, column: impl Column) -> Result<Self>;
}

/// A kind that sqlx reads the same way on both backends.
pub(crate) trait Plain:
    for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
{
}

impl Plain for String {}
impl Plain for i64 {}
impl Plain for i32 {}
impl Plain for f64 {}
impl Plain for bool {}
impl Plain for NaiveDate {}

impl<T: Plain> Decode for T {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        Ok(match row {
            Row::Postgres(r) => r.try_get(column)?,
            Row::Sqlite(r) => r.try_get(column)?,
        })
    }
}

impl<T: Plain> Decode for Option<T> {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        Ok(match row {
            Row::Postgres(r) => r.try_get(column)?,
            Row::Sqlite(r) => r.try_get(column)?,
        })
    }
}

fn uuid_of(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt("uuid", s))
}

impl Decode for Uuid {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        match row {
            Row::Postgres(r) => Ok(r.try_get(column)?),
            Row::Sqlite(r) => uuid_of(r.try_get(column)?),
        }
    }
}

impl Decode for Option<Uuid> {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        match row {
            Row::Postgres(r) => Ok(r.try_get(column)?),
            Row::Sqlite(r) => r
                .try_get::<Option<&str>, _>(column)?
                .map(uuid_of)
                .transpose(),
        }
    }
}

impl Decode for DateTime<Utc> {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        match row {
            Row::Postgres(r) => Ok(r.try_get(column)?),
            Row::Sqlite(r) => ts_of(r.try_get(column)?),
        }
    }
}

impl Decode for Option<DateTime<Utc>> {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        match row {
            Row::Postgres(r) => Ok(r.try_get(column)?),
            Row::Sqlite(r) => r.try_get::<Option<&str>, _>(column)?.map(ts_of).transpose(),
        }
    }
}

impl Decode for serde_json::Value {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        let Json(value) = match row {
            Row::Postgres(r) => r.try_get(column)?,
            Row::Sqlite(r) => r.try_get(column)?,
        };
        Ok(value)
    }
}

impl Decode for Option<serde_json::Value> {
    fn decode(row: &Row, column: impl Column) -> Result<Self> {
        let value: Option<Json<serde_json::Value>> = match row {
            Row::Postgres(r) => r.try_get(column)?,
            Row::Sqlite(r) => r.try_get(column)?,
        };
        Ok(value.map(|Json(v)| v))
    }
}
