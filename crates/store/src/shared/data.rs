//! Tracked data behind the feature gate, for both backends. Each entry type has its own
//! table; the SQL is built from the type's columns (`crate::data::columns`).

macro_rules! impl_data_store {
    ($store:ty) => {
        use $crate::data::{Entry, EntryCursor, EntryKind, EntryQuery, EntryUpdate, Ty, Val};

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

        /// Every column of a type's table, common ones first.
        fn entry_columns(kind: EntryKind) -> String {
            ENTRY_COMMON_COLUMNS
                .iter()
                .copied()
                .chain($crate::data::columns(kind).iter().map(|(name, _)| *name))
                .collect::<Vec<_>>()
                .join(", ")
        }

        fn entry_from(kind: EntryKind, row: &Row) -> $crate::Result<Entry> {
            let columns = $crate::data::columns(kind);
            let mut values = Vec::with_capacity(columns.len());
            for (name, ty) in columns {
                values.push(match ty {
                    Ty::Real => Val::Real(row.try_get(*name)?),
                    Ty::Int => Val::Int(row.try_get(*name)?),
                    Ty::Text => Val::Text(row.try_get(*name)?),
                });
            }
            let data = $crate::data::data_from(kind, values)
                .map_err(|why| StoreError::Corrupt(format!("entry: {why}")))?;
            Ok(Entry {
                id: uuid_of(row.try_get("id")?),
                profile_id: uuid_of(row.try_get("profile_id")?),
                date: row.try_get("entry_date")?,
                note: row.try_get("note")?,
                data,
                revision: row.try_get("revision")?,
                created_at: ts_of(row.try_get("created_at")?)?,
                updated_at: ts_of(row.try_get("updated_at")?)?,
            })
        }

        type EntryQueryOf<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

        fn bind_entry_values<'q>(
            mut query: EntryQueryOf<'q>,
            values: Vec<Val>,
        ) -> EntryQueryOf<'q> {
            for value in values {
                query = match value {
                    Val::Real(v) => query.bind(v),
                    Val::Int(v) => query.bind(v),
                    Val::Text(v) => query.bind(v),
                };
            }
            query
        }

        /// Inserts an entry on `conn` (the caller's transaction) and returns it as stored.
        async fn insert_entry_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            new: &$crate::data::NewEntry,
        ) -> $crate::Result<Entry> {
            let kind = new.data.kind();
            let values = $crate::data::values(&new.data);
            let params: Vec<String> = (1..=6 + values.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} ({columns}) VALUES ({first}, 1, {rest}) RETURNING {columns}",
                table = $crate::data::table(kind),
                columns = entry_columns(kind),
                first = params[..4].join(", "),
                rest = params[4..].join(", "),
            );
            let query = sqlx::query(&sql)
                .bind(id(new.id))
                .bind(id(new.profile_id))
                .bind(new.date)
                .bind(&new.note)
                .bind(ts(new.created_at))
                .bind(ts(new.created_at));
            let row = bind_entry_values(query, values)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| on_constraint_of(e, "entry", "profile"))?;
            entry_from(kind, &row)
        }

        #[async_trait::async_trait]
        impl $crate::DataStore for $store {
            async fn create_entry(
                &self,
                new: &$crate::data::NewEntry,
                spend: &ConsumeRequest<'_>,
                respond: &(dyn for<'e> Fn(&'e Entry) -> StoredResponse + Send + Sync),
            ) -> $crate::Result<$crate::media::GatedCreate<$crate::data::CreatedEntry>> {
                use $crate::media::GatedCreate;
                let _usage =
                    self.usage_write(spend.profile_id, spend.feature_id, spend.period_start);
                let mut tx = self.begin_write().await?;
                if let Some(key) = spend.idempotency {
                    if let Some(stored) =
                        claim_idempotency_in(&mut tx, spend.profile_id, key, spend.now).await?
                    {
                        tx.rollback().await?;
                        return Ok(GatedCreate::Replayed(stored));
                    }
                }
                // The one conditional upsert decides; a refusal writes nothing, not even
                // the claim of the key, so a retry after the limit resets decides afresh.
                let spent = consume_in(&mut *tx, spend).await.map_err(|e| match e {
                    StoreError::Database(e) => on_constraint_of(e, "usage", "profile or feature"),
                    other => other,
                })?;
                let Some(used) = spent else {
                    let used = used_in(&mut *tx, spend).await?;
                    tx.rollback().await?;
                    return Ok(GatedCreate::LimitReached { used });
                };
                let entry = insert_entry_in(&mut tx, new).await?;
                if let Some(key) = spend.idempotency {
                    remember_response_in(&mut tx, spend.profile_id, key, &respond(&entry)).await?;
                }
                tx.commit().await?;
                Ok(GatedCreate::Created($crate::data::CreatedEntry {
                    entry,
                    used,
                }))
            }

            async fn create_entries(
                &self,
                entries: &[$crate::data::NewEntry],
                spend: &ConsumeRequest<'_>,
            ) -> $crate::Result<$crate::media::GatedCreate<(Vec<Entry>, i64)>> {
                use $crate::media::GatedCreate;
                let _usage =
                    self.usage_write(spend.profile_id, spend.feature_id, spend.period_start);
                let mut tx = self.begin_write().await?;
                let spent = consume_in(&mut *tx, spend).await.map_err(|e| match e {
                    StoreError::Database(e) => on_constraint_of(e, "usage", "profile or feature"),
                    other => other,
                })?;
                let Some(used) = spent else {
                    let used = used_in(&mut *tx, spend).await?;
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
                profile_id: uuid::Uuid,
                kind: EntryKind,
                entry_id: uuid::Uuid,
            ) -> $crate::Result<Option<Entry>> {
                sqlx::query(&format!(
                    "SELECT {} FROM {} WHERE id = $1 AND profile_id = $2",
                    entry_columns(kind),
                    $crate::data::table(kind)
                ))
                .bind(id(entry_id))
                .bind(id(profile_id))
                .fetch_optional(self.reader())
                .await?
                .map(|row| entry_from(kind, &row))
                .transpose()
            }

            async fn list_entries(
                &self,
                profile_id: uuid::Uuid,
                kind: EntryKind,
                q: &EntryQuery,
            ) -> $crate::Result<Vec<Entry>> {
                // Only the conditions in use are in the SQL, so that both databases walk
                // the (profile_id, entry_date, id) index from the cursor on.
                let (cmp, dir) = match q.order {
                    $crate::data::EntryOrder::NewestFirst => ("<", "DESC"),
                    $crate::data::EntryOrder::OldestFirst => (">", "ASC"),
                };
                let mut sql = format!(
                    "SELECT {} FROM {} WHERE profile_id = $1",
                    entry_columns(kind),
                    $crate::data::table(kind)
                );
                let mut n = 1;
                let mut param = || {
                    n += 1;
                    format!("${n}")
                };
                if q.from.is_some() {
                    sql.push_str(&format!(" AND entry_date >= {}", param()));
                }
                if q.to.is_some() {
                    sql.push_str(&format!(" AND entry_date <= {}", param()));
                }
                if q.after.is_some() {
                    let (d, i) = (param(), param());
                    sql.push_str(&format!(" AND (entry_date, id) {cmp} ({d}, {i})"));
                }
                sql.push_str(&format!(
                    " ORDER BY entry_date {dir}, id {dir} LIMIT {}",
                    param()
                ));
                let mut query = sqlx::query(&sql).bind(id(profile_id));
                if let Some(from) = q.from {
                    query = query.bind(from);
                }
                if let Some(to) = q.to {
                    query = query.bind(to);
                }
                if let Some(EntryCursor { date, id: after }) = q.after {
                    query = query.bind(date).bind(id(after));
                }
                query
                    .bind(q.limit)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| entry_from(kind, row))
                    .collect()
            }

            async fn update_entry(
                &self,
                change: &$crate::data::EntryChange,
            ) -> $crate::Result<EntryUpdate> {
                let kind = change.data.kind();
                let table = $crate::data::table(kind);
                let values = $crate::data::values(&change.data);
                let sets: Vec<String> = $crate::data::columns(kind)
                    .iter()
                    .enumerate()
                    .map(|(i, (name, _))| format!("{name} = ${}", i + 7))
                    .collect();
                let sql = format!(
                    "UPDATE {table} SET entry_date = $3, note = $4, updated_at = $5, \
                        revision = revision + 1, {sets} \
                     WHERE id = $1 AND profile_id = $2 AND ($6 IS NULL OR revision = $6) \
                     RETURNING {columns}",
                    sets = sets.join(", "),
                    columns = entry_columns(kind),
                );
                let query = sqlx::query(&sql)
                    .bind(id(change.id))
                    .bind(id(change.profile_id))
                    .bind(change.date)
                    .bind(&change.note)
                    .bind(ts(change.now))
                    .bind(change.expected_revision);
                let updated = bind_entry_values(query, values)
                    .fetch_optional(self.writer())
                    .await?;
                if let Some(row) = updated {
                    return Ok(EntryUpdate::Updated(Box::new(entry_from(kind, &row)?)));
                }
                let exists: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT revision FROM {table} WHERE id = $1 AND profile_id = $2"
                ))
                .bind(id(change.id))
                .bind(id(change.profile_id))
                .fetch_optional(self.writer())
                .await?;
                Ok(match exists {
                    Some(_) => EntryUpdate::Stale,
                    None => EntryUpdate::NotFound,
                })
            }

            async fn delete_entry(
                &self,
                profile_id: uuid::Uuid,
                kind: EntryKind,
                entry_id: uuid::Uuid,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(&format!(
                    "DELETE FROM {} WHERE id = $1 AND profile_id = $2",
                    $crate::data::table(kind)
                ))
                .bind(id(entry_id))
                .bind(id(profile_id))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
