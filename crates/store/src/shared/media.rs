//! Progress photos and AI results, for both backends.

macro_rules! impl_media_store {
    ($store:ty) => {
        const PHOTO_COLUMNS: &str =
            "id, profile_id, content_type, width, height, bytes, sha256, taken_on, note, created_at";
        const AI_RESULT_COLUMNS: &str =
            "id, profile_id, kind, question, answer, model, steps, created_at";

        fn photo_from(row: &Row) -> $crate::Result<$crate::media::Photo> {
            let content_type: String = row.try_get("content_type")?;
            let dimension = |name: &str| -> $crate::Result<u32> {
                let v: i32 = row.try_get(name)?;
                u32::try_from(v).map_err(|_| corrupt(name, &v.to_string()))
            };
            Ok($crate::media::Photo {
                id: uuid_of(row.try_get("id")?),
                profile_id: uuid_of(row.try_get("profile_id")?),
                kind: $crate::media::PhotoType::from_content_type(&content_type)
                    .ok_or_else(|| corrupt("photo content type", &content_type))?,
                width: dimension("width")?,
                height: dimension("height")?,
                bytes: row.try_get("bytes")?,
                sha256: row.try_get("sha256")?,
                taken_on: row.try_get("taken_on")?,
                note: row.try_get("note")?,
                created_at: ts_of(row.try_get("created_at")?)?,
            })
        }

        fn ai_result_from(row: &Row) -> $crate::Result<$crate::media::AiResult> {
            let kind: String = row.try_get("kind")?;
            let steps: sqlx::types::Json<serde_json::Value> = row.try_get("steps")?;
            Ok($crate::media::AiResult {
                id: uuid_of(row.try_get("id")?),
                profile_id: uuid_of(row.try_get("profile_id")?),
                kind: $crate::media::AiKind::parse(&kind)
                    .ok_or_else(|| corrupt("AI result kind", &kind))?,
                question: row.try_get("question")?,
                answer: row.try_get("answer")?,
                model: row.try_get("model")?,
                steps: steps.0,
                created_at: ts_of(row.try_get("created_at")?)?,
            })
        }

        async fn insert_photo_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            p: &$crate::media::Photo,
        ) -> $crate::Result<()> {
            sqlx::query(&format!(
                "INSERT INTO photos ({PHOTO_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(id(p.id))
            .bind(id(p.profile_id))
            .bind(p.kind.content_type())
            .bind(i32::try_from(p.width).unwrap_or(i32::MAX))
            .bind(i32::try_from(p.height).unwrap_or(i32::MAX))
            .bind(p.bytes)
            .bind(&p.sha256)
            .bind(p.taken_on)
            .bind(&p.note)
            .bind(ts(p.created_at))
            .execute(&mut *conn)
            .await
            .map_err(|e| on_constraint_of(e, "photo", "profile"))?;
            Ok(())
        }

        async fn insert_ai_result_in(
            conn: &mut <Db as sqlx::Database>::Connection,
            r: &$crate::media::AiResult,
        ) -> $crate::Result<()> {
            sqlx::query(&format!(
                "INSERT INTO ai_results ({AI_RESULT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(id(r.id))
            .bind(id(r.profile_id))
            .bind(r.kind.as_str())
            .bind(&r.question)
            .bind(&r.answer)
            .bind(&r.model)
            .bind(sqlx::types::Json(&r.steps))
            .bind(ts(r.created_at))
            .execute(&mut *conn)
            .await
            .map_err(|e| on_constraint_of(e, "AI result", "profile"))?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::MediaStore for $store {
            async fn create_photo(
                &self,
                gate: &ConsumeRequest<'_>,
                photo: &$crate::media::Photo,
                respond: &(dyn for<'p> Fn(&'p $crate::media::Photo) -> StoredResponse + Send + Sync),
            ) -> $crate::Result<$crate::media::GatedCreate<$crate::media::CreatedPhoto>> {
                use $crate::media::GatedCreate;
                let _usage = self.usage_write(gate.profile_id, gate.feature_id, gate.period_start);
                let mut tx = self.begin_write().await?;
                if let Some(key) = gate.idempotency {
                    if let Some(stored) =
                        claim_idempotency_in(&mut tx, gate.profile_id, key, gate.now).await?
                    {
                        tx.rollback().await?;
                        return Ok(GatedCreate::Replayed(stored));
                    }
                }
                let Some(used) = consume_in(&mut *tx, gate).await? else {
                    let used = used_in(&mut *tx, gate).await?;
                    // Nothing is written, not even the claim of the key: a retry after the
                    // limit resets decides afresh.
                    tx.rollback().await?;
                    return Ok(GatedCreate::LimitReached { used });
                };
                insert_photo_in(&mut tx, photo).await?;
                if let Some(key) = gate.idempotency {
                    remember_response_in(&mut tx, gate.profile_id, key, &respond(photo)).await?;
                }
                tx.commit().await?;
                Ok(GatedCreate::Created($crate::media::CreatedPhoto {
                    photo: photo.clone(),
                    used,
                }))
            }

            async fn photo(
                &self,
                profile_id: uuid::Uuid,
                photo_id: uuid::Uuid,
            ) -> $crate::Result<Option<$crate::media::Photo>> {
                sqlx::query(&format!(
                    "SELECT {PHOTO_COLUMNS} FROM photos WHERE profile_id = $1 AND id = $2"
                ))
                .bind(id(profile_id))
                .bind(id(photo_id))
                .fetch_optional(self.reader())
                .await?
                .as_ref()
                .map(photo_from)
                .transpose()
            }

            async fn list_photos(
                &self,
                profile_id: uuid::Uuid,
                before: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::media::Photo>> {
                sqlx::query(&format!(
                    "SELECT {PHOTO_COLUMNS} FROM photos \
                     WHERE profile_id = $1 AND ($2 IS NULL OR id < $2) \
                     ORDER BY id DESC LIMIT $3"
                ))
                .bind(id(profile_id))
                .bind(before.map(id))
                .bind(limit)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(photo_from)
                .collect()
            }

            async fn delete_photo(
                &self,
                profile_id: uuid::Uuid,
                photo_id: uuid::Uuid,
            ) -> $crate::Result<Option<$crate::media::Photo>> {
                sqlx::query(&format!(
                    "DELETE FROM photos WHERE profile_id = $1 AND id = $2 \
                     RETURNING {PHOTO_COLUMNS}"
                ))
                .bind(id(profile_id))
                .bind(id(photo_id))
                .fetch_optional(self.writer())
                .await?
                .as_ref()
                .map(photo_from)
                .transpose()
            }

            async fn create_ai_result(
                &self,
                result: &$crate::media::AiResult,
                idempotency: Option<$crate::IdempotencyKey<'_>>,
                respond: &(dyn for<'p> Fn(&'p $crate::media::AiResult) -> StoredResponse + Send + Sync),
            ) -> $crate::Result<$crate::media::GatedCreate<$crate::media::AiResult>> {
                use $crate::media::GatedCreate;
                let mut tx = self.begin_write().await?;
                if let Some(key) = idempotency {
                    if let Some(stored) =
                        claim_idempotency_in(&mut tx, result.profile_id, key, result.created_at)
                            .await?
                    {
                        tx.rollback().await?;
                        return Ok(GatedCreate::Replayed(stored));
                    }
                }
                insert_ai_result_in(&mut tx, result).await?;
                if let Some(key) = idempotency {
                    remember_response_in(&mut tx, result.profile_id, key, &respond(result))
                        .await?;
                }
                tx.commit().await?;
                Ok(GatedCreate::Created(result.clone()))
            }

            async fn ai_result(
                &self,
                profile_id: uuid::Uuid,
                result_id: uuid::Uuid,
            ) -> $crate::Result<Option<$crate::media::AiResult>> {
                sqlx::query(&format!(
                    "SELECT {AI_RESULT_COLUMNS} FROM ai_results WHERE profile_id = $1 AND id = $2"
                ))
                .bind(id(profile_id))
                .bind(id(result_id))
                .fetch_optional(self.reader())
                .await?
                .as_ref()
                .map(ai_result_from)
                .transpose()
            }

            async fn list_ai_results(
                &self,
                profile_id: uuid::Uuid,
                kind: Option<$crate::media::AiKind>,
                before: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::media::AiResult>> {
                sqlx::query(&format!(
                    "SELECT {AI_RESULT_COLUMNS} FROM ai_results \
                     WHERE profile_id = $1 AND ($2 IS NULL OR kind = $2) \
                       AND ($3 IS NULL OR id < $3) \
                     ORDER BY id DESC LIMIT $4"
                ))
                .bind(id(profile_id))
                .bind(kind.map(|k| k.as_str()))
                .bind(before.map(id))
                .bind(limit)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(ai_result_from)
                .collect()
            }

            async fn stored_response(
                &self,
                profile_id: uuid::Uuid,
                key: $crate::IdempotencyKey<'_>,
            ) -> $crate::Result<Option<StoredResponse>> {
                let Some(row) = sqlx::query(
                    "SELECT request_hash, response_status, response_body FROM idempotency_keys \
                     WHERE profile_id = $1 AND key = $2",
                )
                .bind(id(profile_id))
                .bind(key.key)
                .fetch_optional(self.reader())
                .await?
                else {
                    return Ok(None);
                };
                let hash: String = row.try_get("request_hash")?;
                if hash != key.request_hash {
                    return Err(StoreError::IdempotencyMismatch);
                }
                let status: Option<i32> = row.try_get("response_status")?;
                let body: Option<sqlx::types::Json<serde_json::Value>> =
                    row.try_get("response_body")?;
                Ok(match (status, body) {
                    (Some(status), Some(body)) => Some(StoredResponse {
                        status: u16::try_from(status)
                            .map_err(|_| corrupt("response status", &status.to_string()))?,
                        body: body.0,
                    }),
                    // Claimed by a request still in flight (or rolled back): not answered.
                    _ => None,
                })
            }

            async fn release_usage(
                &self,
                r: &$crate::media::Release<'_>,
            ) -> $crate::Result<i64> {
                // One statement: the row lock (PostgreSQL) or the single writer (SQLite)
                // serialises concurrent releases, and the CASE keeps usage at zero or above.
                let _usage = self.usage_write(r.profile_id, r.feature_id, r.period_start);
                let used: Option<i64> = sqlx::query_scalar(
                    "UPDATE user_feature_usage \
                        SET used = CASE WHEN used > $4 THEN used - $4 ELSE 0 END, \
                            updated_at = $5 \
                      WHERE profile_id = $1 AND feature_id = $2 AND period_start = $3 \
                     RETURNING used",
                )
                .bind(id(r.profile_id))
                .bind(r.feature_id)
                .bind(ts(r.period_start))
                .bind(r.amount.max(0))
                .bind(ts(r.now))
                .fetch_optional(self.writer())
                .await?;
                Ok(used.unwrap_or(0))
            }
        }
    };
}
