//! Tracked data behind the feature gate. Each entry type has its own table; its statements
//! are made once from the type's columns (`crate::data::columns`).

use std::fmt::Write as _;
use std::sync::LazyLock;

use async_trait::async_trait;
use uuid::Uuid;

use super::SqlStore;
use super::usage::{claim_idempotency_in, remember_response_in};
use crate::data::{
    CreatedEntry, Entry, EntryChange, EntryCursor, EntryKind, EntryOrder, EntryQuery, EntryUpdate,
    NewEntry, Ty, Val, WeightOverview,
};
use crate::media::GatedCreate;
use crate::spend::{consume_in, used_in};
use crate::sql::{Query, Row, Tx, on_constraint_of, query};
use crate::{ConsumeRequest, Result, StoreError, StoredResponse};

/// [`WeightOverview`] in one row (a row of zero count and NULLs without weigh-ins). The
/// first day's mean reads only that day's rows through the (profile, date) index.
const WEIGHT_OVERVIEW: &str = "SELECT COUNT(*) AS count, MIN(entry_date) AS first_date, \
    MIN(weight_kg) AS lowest_kg, MAX(weight_kg) AS highest_kg, \
    (SELECT AVG(f.weight_kg) FROM weight_entries f WHERE f.profile_id = $1 \
        AND f.entry_date = (SELECT MIN(d.entry_date) FROM weight_entries d \
                            WHERE d.profile_id = $1)) AS first_kg \
    FROM weight_entries WHERE profile_id = $1";

/// The columns every entry table has, before the type's own.
const ENTRY_COMMON_COLUMNS: [&str; 7] = [
    "id",
    "profile_id",
    "entry_date",
    "note",
    "revision",
    "created_at",
    "updated_at",
];

/// The statements of one entry type.
struct EntryStatements {
    /// Every column of the table, common ones first.
    columns: String,
    /// `$1` id, `$2` profile, `$3` date, `$4` note, `$5` created, `$6` updated, then the
    /// type's values; the revision is 1.
    insert: String,
    /// `$1` id, `$2` profile.
    by_id: String,
    /// `$1` id, `$2` profile, `$3` date, `$4` note, `$5` now, `$6` the expected revision
    /// (or NULL), then the type's values.
    update: String,
    /// `$1` id, `$2` profile.
    revision: String,
    /// `$1` id, `$2` profile.
    delete: String,
}

impl EntryStatements {
    fn of(kind: EntryKind) -> EntryStatements {
        let table = crate::data::table(kind);
        let own = crate::data::columns(kind);
        let columns = ENTRY_COMMON_COLUMNS
            .iter()
            .copied()
            .chain(own.iter().map(|(name, _)| *name))
            .collect::<Vec<_>>()
            .join(", ");
        let values = (7..7 + own.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sets = own
            .iter()
            .enumerate()
            .map(|(i, (name, _))| format!("{name} = ${}", i + 7))
            .collect::<Vec<_>>()
            .join(", ");
        EntryStatements {
            insert: format!(
                "INSERT INTO {table} ({columns}) VALUES ($1, $2, $3, $4, 1, $5, $6, {values}) \
                 RETURNING {columns}"
            ),
            by_id: format!("SELECT {columns} FROM {table} WHERE id = $1 AND profile_id = $2"),
            update: format!(
                "UPDATE {table} SET entry_date = $3, note = $4, updated_at = $5, \
                    revision = revision + 1, {sets} \
                 WHERE id = $1 AND profile_id = $2 AND ($6 IS NULL OR revision = $6) \
                 RETURNING {columns}"
            ),
            revision: format!("SELECT revision FROM {table} WHERE id = $1 AND profile_id = $2"),
            delete: format!("DELETE FROM {table} WHERE id = $1 AND profile_id = $2"),
            columns,
        }
    }
}

/// The statements of every type, made when first needed.
static STATEMENTS: LazyLock<[EntryStatements; 5]> =
    LazyLock::new(|| EntryKind::ALL.map(EntryStatements::of));

fn statements(kind: EntryKind) -> &'static EntryStatements {
    let i = EntryKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    &STATEMENTS[i]
}

fn entry_from(kind: EntryKind, row: &Row) -> Result<Entry> {
    let columns = crate::data::columns(kind);
    let mut values = Vec::with_capacity(columns.len());
    for (name, ty) in columns {
        values.push(match ty {
            Ty::Real => Val::Real(row.get(*name)?),
            Ty::Int => Val::Int(row.get(*name)?),
            Ty::Text => Val::Text(row.get(*name)?),
        });
    }
    let data = crate::data::data_from(kind, values)
        .map_err(|why| StoreError::Corrupt(format!("entry: {why}")))?;
    Ok(Entry {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        date: row.get("entry_date")?,
        note: row.get("note")?,
        data,
        revision: row.get("revision")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Binds the type's own values, in the order of its columns.
fn bind_values(mut statement: Query<'_>, values: Vec<Val>) -> Query<'_> {
    for value in values {
        statement = match value {
            Val::Real(v) => statement.bind(v),
            Val::Int(v) => statement.bind(v),
            Val::Text(v) => statement.bind(v),
        };
    }
    statement
}

/// Inserts an entry in the caller's transaction and returns it as stored.
async fn insert_entry_in(tx: &mut Tx, new: &NewEntry) -> Result<Entry> {
    let kind = new.data.kind();
    let statement = query(&statements(kind).insert)
        .bind(new.id)
        .bind(new.profile_id)
        .bind(new.date)
        .bind(&new.note)
        .bind(new.created_at)
        .bind(new.created_at);
    let row = bind_values(statement, crate::data::values(&new.data))
        .fetch_one(tx)
        .await
        .map_err(|e| on_constraint_of(e, "entry", "profile"))?;
    entry_from(kind, &row)
}

/// The spend of a gated creation in the caller's transaction: the bucket's usage after it,
/// or `None` when it was refused.
async fn spend_for_entry(tx: &mut Tx, spend: &ConsumeRequest<'_>) -> Result<Option<i64>> {
    consume_in(tx, spend).await.map_err(|e| match e {
        StoreError::Database(e) => on_constraint_of(e, "usage", "profile or feature"),
        other => other,
    })
}

/// A page of one type's entries: only the conditions in use are in the SQL, so that both
/// databases walk the `(profile_id, entry_date, id)` index from the cursor on.
fn list_sql(kind: EntryKind, q: &EntryQuery) -> String {
    let (cmp, dir) = match q.order {
        EntryOrder::NewestFirst => ("<", "DESC"),
        EntryOrder::OldestFirst => (">", "ASC"),
    };
    let mut sql = format!(
        "SELECT {} FROM {} WHERE profile_id = $1",
        statements(kind).columns,
        crate::data::table(kind)
    );
    let mut n = 1;
    let mut param = || {
        n += 1;
        n
    };
    if q.from.is_some() {
        let _ = write!(sql, " AND entry_date >= ${}", param());
    }
    if q.to.is_some() {
        let _ = write!(sql, " AND entry_date <= ${}", param());
    }
    if q.after.is_some() {
        let (d, i) = (param(), param());
        let _ = write!(sql, " AND (entry_date, id) {cmp} (${d}, ${i})");
    }
    let _ = write!(
        sql,
        " ORDER BY entry_date {dir}, id {dir} LIMIT ${}",
        param()
    );
    sql
}

#[async_trait]
impl crate::DataStore for SqlStore {
    async fn create_entry(
        &self,
        new: &NewEntry,
        spend: &ConsumeRequest<'_>,
        respond: &(dyn for<'e> Fn(&'e Entry) -> StoredResponse + Send + Sync),
    ) -> Result<GatedCreate<CreatedEntry>> {
        let _usage = self.usage_write(spend.profile_id, spend.feature_id, spend.period_start);
        let mut tx = self.begin_write().await?;
        if let Some(key) = spend.idempotency
            && let Some(stored) =
                claim_idempotency_in(&mut tx, spend.profile_id, key, spend.now).await?
        {
            tx.rollback().await?;
            return Ok(GatedCreate::Replayed(stored));
        }
        // The one conditional upsert decides; a refusal writes nothing, not even the claim
        // of the key, so a retry after the limit resets decides afresh.
        let Some(used) = spend_for_entry(&mut tx, spend).await? else {
            let used = used_in(&mut tx, spend).await?;
            tx.rollback().await?;
            return Ok(GatedCreate::LimitReached { used });
        };
        let entry = insert_entry_in(&mut tx, new).await?;
        if let Some(key) = spend.idempotency {
            remember_response_in(&mut tx, spend.profile_id, key, &respond(&entry)).await?;
        }
        tx.commit().await?;
        Ok(GatedCreate::Created(CreatedEntry { entry, used }))
    }

    async fn create_entries(
        &self,
        entries: &[NewEntry],
        spend: &ConsumeRequest<'_>,
    ) -> Result<GatedCreate<(Vec<Entry>, i64)>> {
        let _usage = self.usage_write(spend.profile_id, spend.feature_id, spend.period_start);
        let mut tx = self.begin_write().await?;
        let Some(used) = spend_for_entry(&mut tx, spend).await? else {
            let used = used_in(&mut tx, spend).await?;
            tx.rollback().await?;
            return Ok(GatedCreate::LimitReached { used });
        };
        let mut created = Vec::with_capacity(entries.len());
        for new in entries {
            created.push(insert_entry_in(&mut tx, new).await?);
        }
        tx.commit().await?;
        Ok(GatedCreate::Created((created, used)))
    }

    async fn entry(
        &self,
        profile_id: Uuid,
        kind: EntryKind,
        entry_id: Uuid,
    ) -> Result<Option<Entry>> {
        query(&statements(kind).by_id)
            .bind(entry_id)
            .bind(profile_id)
            .fetch_optional(self.reader())
            .await?
            .map(|row| entry_from(kind, &row))
            .transpose()
    }

    async fn weight_overview(&self, profile_id: Uuid) -> Result<Option<WeightOverview>> {
        let row = query(WEIGHT_OVERVIEW)
            .bind(profile_id)
            .fetch_one(self.reader())
            .await?;
        let count: i64 = row.get("count")?;
        if count == 0 {
            return Ok(None);
        }
        Ok(Some(WeightOverview {
            first_date: row.get("first_date")?,
            first_kg: row.get("first_kg")?,
            lowest_kg: row.get("lowest_kg")?,
            highest_kg: row.get("highest_kg")?,
            count,
        }))
    }

    async fn list_entries(
        &self,
        profile_id: Uuid,
        kind: EntryKind,
        q: &EntryQuery,
    ) -> Result<Vec<Entry>> {
        let sql = list_sql(kind, q);
        let mut statement = query(&sql).bind(profile_id);
        if let Some(from) = q.from {
            statement = statement.bind(from);
        }
        if let Some(to) = q.to {
            statement = statement.bind(to);
        }
        if let Some(EntryCursor { date, id }) = q.after {
            statement = statement.bind(date).bind(id);
        }
        statement
            .bind(q.limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| entry_from(kind, row))
            .collect()
    }

    async fn update_entry(&self, change: &EntryChange) -> Result<EntryUpdate> {
        let kind = change.data.kind();
        let statement = query(&statements(kind).update)
            .bind(change.id)
            .bind(change.profile_id)
            .bind(change.date)
            .bind(&change.note)
            .bind(change.now)
            .bind(change.expected_revision);
        let updated = bind_values(statement, crate::data::values(&change.data))
            .fetch_optional(self.writer())
            .await?;
        if let Some(row) = updated {
            return Ok(EntryUpdate::Updated(Box::new(entry_from(kind, &row)?)));
        }
        let exists = query(&statements(kind).revision)
            .bind(change.id)
            .bind(change.profile_id)
            .fetch_optional(self.writer())
            .await?;
        Ok(match exists {
            Some(_) => EntryUpdate::Stale,
            None => EntryUpdate::NotFound,
        })
    }

    async fn delete_entry(
        &self,
        profile_id: Uuid,
        kind: EntryKind,
        entry_id: Uuid,
    ) -> Result<bool> {
        let done = query(&statements(kind).delete)
            .bind(entry_id)
            .bind(profile_id)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }
}
