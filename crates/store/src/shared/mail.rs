//! The mail outbox, for both backends. Claims differ only in `SKIP_LOCKED` (PostgreSQL
//! row locks; nothing on SQLite, whose one writer runs claims one after the other).

macro_rules! impl_mail_store {
    ($store:ty) => {
        const MAIL_COLUMNS: &str = "id, recipient, template, language, data, status, attempts, \
            next_attempt_at, last_error, created_at, sent_at";

        fn mail_from(row: &Row) -> $crate::Result<$crate::OutboxMail> {
            let status: String = row.try_get("status")?;
            let data: sqlx::types::Json<serde_json::Value> = row.try_get("data")?;
            Ok($crate::OutboxMail {
                id: uuid_of(row.try_get("id")?),
                to: row.try_get("recipient")?,
                template: row.try_get("template")?,
                language: row.try_get("language")?,
                data: data.0,
                status: $crate::MailStatus::parse(&status)
                    .ok_or_else(|| corrupt("mail status", &status))?,
                attempts: row.try_get("attempts")?,
                next_attempt_at: ts_of(row.try_get("next_attempt_at")?)?,
                last_error: row.try_get("last_error")?,
                created_at: ts_of(row.try_get("created_at")?)?,
                sent_at: opt_ts(row.try_get("sent_at")?)?,
            })
        }

        /// Enqueues one message with `exec`: a pool, or the transaction of the change that
        /// causes the message, so that both commit together or not at all.
        async fn enqueue_mail_in<'c, E>(exec: E, m: &$crate::NewMail) -> $crate::Result<()>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            sqlx::query(
                "INSERT INTO mail_outbox (id, recipient, template, language, data, status, \
                 attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
            )
            .bind(id(m.id))
            .bind(m.to.trim())
            .bind(&m.template)
            .bind(&m.language)
            .bind(sqlx::types::Json(&m.data))
            .bind(ts(m.created_at))
            .execute(exec)
            .await
            .map_err(|e| on_constraint(e, "mail"))?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::MailStore for $store {
            async fn enqueue_mail(&self, mail: &$crate::NewMail) -> $crate::Result<()> {
                enqueue_mail_in(self.writer(), mail).await
            }

            async fn claim_mail(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
                lease: chrono::TimeDelta,
            ) -> $crate::Result<Vec<$crate::OutboxMail>> {
                // One statement: choose the due rows (skipping rows another claimer holds
                // on PostgreSQL) and lease them. A leased row is due again when its lease
                // runs out, so a sender that died loses nothing.
                let mut claimed = sqlx::query(&format!(
                    "UPDATE mail_outbox SET status = 'sending', attempts = attempts + 1, \
                        next_attempt_at = $2 \
                     WHERE id IN (SELECT id FROM mail_outbox \
                        WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 \
                        ORDER BY next_attempt_at, id LIMIT $3 {SKIP_LOCKED}) \
                     RETURNING {MAIL_COLUMNS}"
                ))
                .bind(ts(now))
                .bind(ts(now + lease))
                .bind(limit)
                .fetch_all(self.writer())
                .await?
                .iter()
                .map(mail_from)
                .collect::<$crate::Result<Vec<_>>>()?;
                claimed.sort_by_key(|m| (m.created_at, m.id));
                Ok(claimed)
            }

            async fn mark_mail_sent(
                &self,
                mail_id: uuid::Uuid,
                attempt: i32,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<bool> {
                // The data (tokens) is not needed any more: cleared.
                let done = sqlx::query(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $3, last_error = NULL, \
                        data = '{}' \
                     WHERE id = $1 AND attempts = $2 AND status = 'sending'",
                )
                .bind(id(mail_id))
                .bind(attempt)
                .bind(ts(now))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_mail_failed(
                &self,
                mail_id: uuid::Uuid,
                attempt: i32,
                error: &str,
                retry_at: Option<chrono::DateTime<chrono::Utc>>,
            ) -> $crate::Result<bool> {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET \
                        status = CASE WHEN $4 THEN 'pending' ELSE 'failed' END, \
                        next_attempt_at = CASE WHEN $4 THEN $5 ELSE next_attempt_at END, \
                        data = CASE WHEN $4 THEN data ELSE '{}' END, \
                        last_error = $3 \
                     WHERE id = $1 AND attempts = $2 AND status = 'sending'",
                )
                .bind(id(mail_id))
                .bind(attempt)
                .bind(error)
                .bind(retry_at.is_some())
                .bind(retry_at.map(ts))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox(
                &self,
                status: Option<$crate::MailStatus>,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> $crate::Result<Vec<$crate::OutboxMail>> {
                sqlx::query(&format!(
                    "SELECT {MAIL_COLUMNS} FROM mail_outbox \
                     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(status.map($crate::MailStatus::as_str))
                .bind(after.map(id))
                .bind(limit)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(mail_from)
                .collect()
            }

            async fn mail_counts(&self) -> $crate::Result<$crate::MailCounts> {
                let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status")
                    .fetch_all(self.reader())
                    .await?;
                let mut counts = $crate::MailCounts::default();
                for row in &rows {
                    let status: String = row.try_get("status")?;
                    let n: i64 = row.try_get("n")?;
                    match $crate::MailStatus::parse(&status) {
                        Some($crate::MailStatus::Pending) => counts.pending = n,
                        Some($crate::MailStatus::Sending) => counts.sending = n,
                        Some($crate::MailStatus::Sent) => counts.sent = n,
                        Some($crate::MailStatus::Failed) => counts.failed = n,
                        None => return Err(corrupt("mail status", &status)),
                    }
                }
                Ok(counts)
            }

            async fn purge_mail(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<u64> {
                let done = sqlx::query(
                    "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND created_at < $1",
                )
                .bind(ts(before))
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected())
            }
        }

        /// The helper other store methods use: the message commits and rolls back with
        /// the caller's transaction.
        #[cfg(test)]
        mod enqueue_in_transaction {
            use super::*;
            use $crate::MailStore as _;

            #[tokio::test]
            async fn commits_and_rolls_back_with_the_caller() {
                let db = $crate::testing::TestDb::new(<$store>::BACKEND).await;
                let store = <$store>::connect(&db.url).await.expect("connect");
                let now = chrono::Utc::now();
                let data = serde_json::json!({"token": "t"});
                let dropped = $crate::NewMail::new("a@example.org", "verify_email", "en", data.clone(), now);
                let kept = $crate::NewMail::new("b@example.org", "verify_email", "de", data, now);

                let mut tx = store.begin_write().await.unwrap();
                enqueue_mail_in(&mut *tx, &dropped).await.unwrap();
                tx.rollback().await.unwrap();
                let mut tx = store.begin_write().await.unwrap();
                enqueue_mail_in(&mut *tx, &kept).await.unwrap();
                tx.commit().await.unwrap();

                let outbox = store.outbox(None, None, 10).await.unwrap();
                assert_eq!(outbox.iter().map(|m| m.id).collect::<Vec<_>>(), [kept.id]);
                assert_eq!(outbox[0].status, $crate::MailStatus::Pending);
                store.close().await;
            }
        }
    };
}
