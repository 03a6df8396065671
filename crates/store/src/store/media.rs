//! Progress photos, AI results, stored answers of idempotency keys and released usage.

use async_trait::async_trait;
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::SqlStore;
use super::usage::{
    STORED_RESPONSE, claim_idempotency_in, remember_response_in, stored_response_from,
};
use crate::media::{AiKind, AiResult, CreatedPhoto, GatedCreate, Photo, PhotoType, Release};
use crate::spend::{consume_in, used_in};
use crate::sql::{Row, Tx, corrupt, on_constraint_of, query};
use crate::{ConsumeRequest, IdempotencyKey, Result, StoredResponse};

pub(super) const PHOTO_COLUMNS: &str =
    "id, profile_id, content_type, width, height, bytes, sha256, taken_on, note, created_at";

const AI_RESULT_COLUMNS: &str = "id, profile_id, kind, question, answer, model, steps, created_at";

const INSERT_PHOTO: &str = concatcp!(
    "INSERT INTO photos (",
    PHOTO_COLUMNS,
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);

const PHOTO: &str = concatcp!(
    "SELECT ",
    PHOTO_COLUMNS,
    " FROM photos WHERE profile_id = $1 AND id = $2"
);

const LIST_PHOTOS: &str = concatcp!(
    "SELECT ",
    PHOTO_COLUMNS,
    " FROM photos WHERE profile_id = $1 AND ($2 IS NULL OR id < $2) \
     ORDER BY id DESC LIMIT $3"
);

const DELETE_PHOTO: &str = concatcp!(
    "DELETE FROM photos WHERE profile_id = $1 AND id = $2 RETURNING ",
    PHOTO_COLUMNS
);

const INSERT_AI_RESULT: &str = concatcp!(
    "INSERT INTO ai_results (",
    AI_RESULT_COLUMNS,
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);

const AI_RESULT: &str = concatcp!(
    "SELECT ",
    AI_RESULT_COLUMNS,
    " FROM ai_results WHERE profile_id = $1 AND id = $2"
);

const LIST_AI_RESULTS: &str = concatcp!(
    "SELECT ",
    AI_RESULT_COLUMNS,
    " FROM ai_results WHERE profile_id = $1 AND ($2 IS NULL OR kind = $2) \
       AND ($3 IS NULL OR id < $3) \
     ORDER BY id DESC LIMIT $4"
);

/// One statement: the row lock (PostgreSQL) or the single writer (SQLite) serialises
/// concurrent releases, and the CASE keeps usage at zero or above.
const RELEASE: &str = "UPDATE user_feature_usage \
        SET used = CASE WHEN used > $4 THEN used - $4 ELSE 0 END, \
            updated_at = $5 \
      WHERE profile_id = $1 AND feature_id = $2 AND period_start = $3 \
     RETURNING used";

pub(super) fn photo_from(row: &Row) -> Result<Photo> {
    let content_type: String = row.get("content_type")?;
    let dimension = |name: &str| -> Result<u32> {
        let v: i32 = row.get(name)?;
        u32::try_from(v).map_err(|_| corrupt(name, &v.to_string()))
    };
    Ok(Photo {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        kind: PhotoType::from_content_type(&content_type)
            .ok_or_else(|| corrupt("photo content type", &content_type))?,
        width: dimension("width")?,
        height: dimension("height")?,
        bytes: row.get("bytes")?,
        sha256: row.get("sha256")?,
        taken_on: row.get("taken_on")?,
        note: row.get("note")?,
        created_at: row.get("created_at")?,
    })
}

fn ai_result_from(row: &Row) -> Result<AiResult> {
    let kind: String = row.get("kind")?;
    Ok(AiResult {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        kind: AiKind::parse(&kind).ok_or_else(|| corrupt("AI result kind", &kind))?,
        question: row.get("question")?,
        answer: row.get("answer")?,
        model: row.get("model")?,
        steps: row.get("steps")?,
        created_at: row.get("created_at")?,
    })
}

async fn insert_photo_in(tx: &mut Tx, p: &Photo) -> Result<()> {
    query(INSERT_PHOTO)
        .bind(p.id)
        .bind(p.profile_id)
        .bind(p.kind.content_type())
        .bind(i32::try_from(p.width).unwrap_or(i32::MAX))
        .bind(i32::try_from(p.height).unwrap_or(i32::MAX))
        .bind(p.bytes)
        .bind(&p.sha256)
        .bind(p.taken_on)
        .bind(&p.note)
        .bind(p.created_at)
        .execute(tx)
        .await
        .map_err(|e| on_constraint_of(e, "photo", "profile"))?;
    Ok(())
}

async fn insert_ai_result_in(tx: &mut Tx, r: &AiResult) -> Result<()> {
    query(INSERT_AI_RESULT)
        .bind(r.id)
        .bind(r.profile_id)
        .bind(r.kind.as_str())
        .bind(&r.question)
        .bind(&r.answer)
        .bind(&r.model)
        .bind(Json(&r.steps))
        .bind(r.created_at)
        .execute(tx)
        .await
        .map_err(|e| on_constraint_of(e, "AI result", "profile"))?;
    Ok(())
}

#[async_trait]
impl crate::MediaStore for SqlStore {
    async fn create_photo(
        &self,
        gate: &ConsumeRequest<'_>,
        photo: &Photo,
        respond: &(dyn for<'p> Fn(&'p Photo) -> StoredResponse + Send + Sync),
    ) -> Result<GatedCreate<CreatedPhoto>> {
        let _usage = self.usage_write(gate.profile_id, gate.feature_id, gate.period_start);
        let mut tx = self.begin_write().await?;
        if let Some(key) = gate.idempotency
            && let Some(stored) =
                claim_idempotency_in(&mut tx, gate.profile_id, key, gate.now).await?
        {
            tx.rollback().await?;
            return Ok(GatedCreate::Replayed(stored));
        }
        let Some(used) = consume_in(&mut tx, gate).await? else {
            let used = used_in(&mut tx, gate).await?;
            // Nothing is written, not even the claim of the key: a retry after the limit
            // resets decides afresh.
            tx.rollback().await?;
            return Ok(GatedCreate::LimitReached { used });
        };
        insert_photo_in(&mut tx, photo).await?;
        if let Some(key) = gate.idempotency {
            remember_response_in(&mut tx, gate.profile_id, key, &respond(photo)).await?;
        }
        tx.commit().await?;
        Ok(GatedCreate::Created(CreatedPhoto {
            photo: photo.clone(),
            used,
        }))
    }

    async fn photo(&self, profile_id: Uuid, photo_id: Uuid) -> Result<Option<Photo>> {
        query(PHOTO)
            .bind(profile_id)
            .bind(photo_id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(photo_from)
            .transpose()
    }

    async fn list_photos(
        &self,
        profile_id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Photo>> {
        query(LIST_PHOTOS)
            .bind(profile_id)
            .bind(before)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(photo_from)
            .collect()
    }

    async fn delete_photo(&self, profile_id: Uuid, photo_id: Uuid) -> Result<Option<Photo>> {
        query(DELETE_PHOTO)
            .bind(profile_id)
            .bind(photo_id)
            .fetch_optional(self.writer())
            .await?
            .as_ref()
            .map(photo_from)
            .transpose()
    }

    async fn create_ai_result(
        &self,
        result: &AiResult,
        idempotency: Option<IdempotencyKey<'_>>,
        respond: &(dyn for<'p> Fn(&'p AiResult) -> StoredResponse + Send + Sync),
    ) -> Result<GatedCreate<AiResult>> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = idempotency
            && let Some(stored) =
                claim_idempotency_in(&mut tx, result.profile_id, key, result.created_at).await?
        {
            tx.rollback().await?;
            return Ok(GatedCreate::Replayed(stored));
        }
        insert_ai_result_in(&mut tx, result).await?;
        if let Some(key) = idempotency {
            remember_response_in(&mut tx, result.profile_id, key, &respond(result)).await?;
        }
        tx.commit().await?;
        Ok(GatedCreate::Created(result.clone()))
    }

    async fn ai_result(&self, profile_id: Uuid, result_id: Uuid) -> Result<Option<AiResult>> {
        query(AI_RESULT)
            .bind(profile_id)
            .bind(result_id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(ai_result_from)
            .transpose()
    }

    async fn list_ai_results(
        &self,
        profile_id: Uuid,
        kind: Option<AiKind>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<AiResult>> {
        query(LIST_AI_RESULTS)
            .bind(profile_id)
            .bind(kind.map(|k| k.as_str()))
            .bind(before)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(ai_result_from)
            .collect()
    }

    async fn stored_response(
        &self,
        profile_id: Uuid,
        key: IdempotencyKey<'_>,
    ) -> Result<Option<StoredResponse>> {
        let Some(row) = query(STORED_RESPONSE)
            .bind(profile_id)
            .bind(key.key)
            .fetch_optional(self.reader())
            .await?
        else {
            return Ok(None);
        };
        // Claimed by a request still in flight (or rolled back): not answered.
        stored_response_from(&row, key)
    }

    async fn release_usage(&self, r: &Release<'_>) -> Result<i64> {
        let _usage = self.usage_write(r.profile_id, r.feature_id, r.period_start);
        let row = query(RELEASE)
            .bind(r.profile_id)
            .bind(r.feature_id)
            .bind(r.period_start)
            .bind(r.amount.max(0))
            .bind(r.now)
            .fetch_optional(self.writer())
            .await?;
        Ok(row.map(|row| row.get(0)).transpose()?.unwrap_or(0))
    }
}
