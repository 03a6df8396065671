//! Restrictions, usage and exact consumption. The spend's own statements are in
//! [`crate::spend`], which the hot paths of both backends share.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::SqlStore;
use crate::spend::spend_in;
use crate::sql::{Row, Tx, corrupt, on_constraint, query};
use crate::{
    ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, Restriction, Result, StoreError,
    StoredResponse,
};

const RESTRICTION_COLUMNS: &str =
    "profile_id, feature_id, usage_limit, reason, valid_until, created_by, created_at";

const PUT_RESTRICTION: &str = "INSERT INTO user_feature_restrictions (profile_id, feature_id, \
    usage_limit, reason, valid_until, created_by, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (profile_id, feature_id) DO UPDATE SET \
        usage_limit = excluded.usage_limit, reason = excluded.reason, \
        valid_until = excluded.valid_until, created_by = excluded.created_by, \
        created_at = excluded.created_at";

const RESTRICTIONS_OF_PROFILE: &str = concatcp!(
    "SELECT ",
    RESTRICTION_COLUMNS,
    " FROM user_feature_restrictions WHERE profile_id = $1 ORDER BY feature_id"
);

const RESTRICTIONS_OF_FEATURE: &str = concatcp!(
    "SELECT ",
    RESTRICTION_COLUMNS,
    " FROM user_feature_restrictions WHERE feature_id = $1 ORDER BY profile_id"
);

const CLAIM_KEY: &str = "INSERT INTO idempotency_keys (profile_id, key, request_hash, \
    created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, key) DO NOTHING";

/// The answer stored with an idempotency key: `$1` profile, `$2` key.
pub(super) const STORED_RESPONSE: &str = "SELECT request_hash, response_status, \
    response_body FROM idempotency_keys WHERE profile_id = $1 AND key = $2";

const REMEMBER_RESPONSE: &str = "UPDATE idempotency_keys SET response_status = $3, \
    response_body = $4 WHERE profile_id = $1 AND key = $2";

fn restriction_from(row: &Row) -> Result<Restriction> {
    Ok(Restriction {
        profile_id: row.get("profile_id")?,
        feature_id: row.get("feature_id")?,
        limit: row.get("usage_limit")?,
        reason: row.get("reason")?,
        valid_until: row.get("valid_until")?,
        created_by: row.get("created_by")?,
        created_at: row.get("created_at")?,
    })
}

/// The answer a row of [`STORED_RESPONSE`] holds for `key`: `None` while the key is
/// claimed but not answered; `IdempotencyMismatch` for a key used with another request.
pub(super) fn stored_response_from(
    row: &Row,
    key: IdempotencyKey<'_>,
) -> Result<Option<StoredResponse>> {
    let hash: String = row.get("request_hash")?;
    if hash != key.request_hash {
        return Err(StoreError::IdempotencyMismatch);
    }
    let status: Option<i32> = row.get("response_status")?;
    let body: Option<serde_json::Value> = row.get("response_body")?;
    Ok(match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status)
                .map_err(|_| corrupt("response status", &status.to_string()))?,
            body,
        }),
        _ => None,
    })
}

/// Claims an idempotency key inside the caller's write transaction. `None`: claimed, go on
/// (and store the answer with [`remember_response_in`] before committing). `Some`: an
/// earlier call with the key answered this; the caller rolls back and replays it. A
/// concurrent holder of the key makes the claim wait until it commits (PostgreSQL: unique
/// index; SQLite: one writer). A key used for another request is `IdempotencyMismatch`.
pub(super) async fn claim_idempotency_in(
    tx: &mut Tx,
    profile_id: Uuid,
    key: IdempotencyKey<'_>,
    now: DateTime<Utc>,
) -> Result<Option<StoredResponse>> {
    let claimed = query(CLAIM_KEY)
        .bind(profile_id)
        .bind(key.key)
        .bind(key.request_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        == 1;
    if claimed {
        return Ok(None);
    }
    let row = query(STORED_RESPONSE)
        .bind(profile_id)
        .bind(key.key)
        .fetch_one(&mut *tx)
        .await?;
    match stored_response_from(&row, key)? {
        Some(stored) => Ok(Some(stored)),
        None => Err(corrupt("idempotency key without response", key.key)),
    }
}

/// Stores the answer of a claimed key, in the same transaction as the change.
pub(super) async fn remember_response_in(
    tx: &mut Tx,
    profile_id: Uuid,
    key: IdempotencyKey<'_>,
    answer: &StoredResponse,
) -> Result<()> {
    query(REMEMBER_RESPONSE)
        .bind(profile_id)
        .bind(key.key)
        .bind(i32::from(answer.status))
        .bind(Json(&answer.body))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The buckets asked for, exactly, in one statement: `$1` the profile, then a feature and
/// a period start per bucket.
fn usage_sql(buckets: usize) -> String {
    let mut sql = String::from(
        "SELECT feature_id, period_start, used FROM user_feature_usage \
         WHERE profile_id = $1 AND (",
    );
    for i in 0..buckets {
        if i > 0 {
            sql.push_str(" OR ");
        }
        let _ = write!(
            sql,
            "(feature_id = ${} AND period_start = ${})",
            2 * i + 2,
            2 * i + 3
        );
    }
    sql.push(')');
    sql
}

#[async_trait]
impl crate::UsageStore for SqlStore {
    async fn put_restriction(&self, r: &Restriction) -> Result<()> {
        let _changed = self.cache.on_change();
        query(PUT_RESTRICTION)
            .bind(r.profile_id)
            .bind(&r.feature_id)
            .bind(r.limit)
            .bind(&r.reason)
            .bind(r.valid_until)
            .bind(r.created_by)
            .bind(r.created_at)
            .execute(self.writer())
            .await
            .map_err(|e| on_constraint(e, "profile or feature"))?;
        Ok(())
    }

    async fn delete_restriction(&self, profile_id: Uuid, feature_id: &str) -> Result<bool> {
        let _changed = self.cache.on_change();
        let done = query(
            "DELETE FROM user_feature_restrictions WHERE profile_id = $1 AND feature_id = $2",
        )
        .bind(profile_id)
        .bind(feature_id)
        .execute(self.writer())
        .await?;
        Ok(done == 1)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn restrictions(&self, profile_id: Uuid) -> Result<Vec<Restriction>> {
        if let Some(cached) = self.cache.restrictions(profile_id) {
            return Ok(cached);
        }
        let generation = self.cache.generation();
        let found = query(RESTRICTIONS_OF_PROFILE)
            .bind(profile_id)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(restriction_from)
            .collect::<Result<Vec<_>>>()?;
        self.cache.put_restrictions(profile_id, &found, generation);
        Ok(found)
    }

    async fn restrictions_of_feature(&self, feature_id: &str) -> Result<Vec<Restriction>> {
        query(RESTRICTIONS_OF_FEATURE)
            .bind(feature_id)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(restriction_from)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn usage(&self, profile_id: Uuid, buckets: &[(&str, DateTime<Utc>)]) -> Result<Vec<i64>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(used) = self.usage_fast(profile_id, buckets).await? {
            return Ok(used);
        }
        let sql = usage_sql(buckets.len());
        let mut statement = query(&sql).bind(profile_id);
        for (feature, start) in buckets {
            statement = statement.bind(*feature).bind(*start);
        }
        let rows = statement.fetch_all(self.reader()).await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in &rows {
            let feature: String = row.get("feature_id")?;
            let start: DateTime<Utc> = row.get("period_start")?;
            found.insert((feature, start), row.get::<i64>("used")?);
        }
        Ok(buckets
            .iter()
            .map(|(f, start)| found.get(&(f.to_string(), *start)).copied().unwrap_or(0))
            .collect())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn consume(
        &self,
        r: &ConsumeRequest<'_>,
        respond: &(dyn Fn(Consumed) -> StoredResponse + Send + Sync),
    ) -> Result<ConsumeResult> {
        let Some(key) = r.idempotency else {
            // The backend decides and records it in one round trip (PostgreSQL) or in the
            // writer's next group commit (SQLite).
            return Ok(ConsumeResult::Fresh(self.spend(r).await?));
        };
        let _usage = self.usage_write(r.profile_id, r.feature_id, r.period_start);
        let mut tx = self.begin_write().await?;
        if let Some(stored) = claim_idempotency_in(&mut tx, r.profile_id, key, r.now).await? {
            tx.rollback().await?;
            return Ok(ConsumeResult::Replayed(stored));
        }
        let decided = spend_in(&mut tx, r).await?;
        let answer = respond(decided);
        remember_response_in(&mut tx, r.profile_id, key, &answer).await?;
        tx.commit().await?;
        Ok(ConsumeResult::Fresh(decided))
    }
}
