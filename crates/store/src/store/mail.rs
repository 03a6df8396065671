//! The mail outbox. Claims differ only in their row locks (PostgreSQL skips rows another
//! claimer holds; SQLite's one writer runs claims one after the other).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::{PerBackend, SqlStore};
use crate::sql::{Executor, Row, corrupt, on_constraint, query};
use crate::{MailCounts, MailStatus, NewMail, OutboxMail, Result, postgres, sqlite};

const MAIL_COLUMNS: &str = "id, recipient, template, language, data, status, attempts, \
    next_attempt_at, last_error, created_at, sent_at";

const ENQUEUE: &str = "INSERT INTO mail_outbox (id, recipient, template, language, data, \
    status, attempts, next_attempt_at, created_at) \
    VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)";

/// Chooses the due rows and leases them, in one statement: `$1` now, `$2` the lease's end,
/// `$3` how many.
const CLAIM: PerBackend = PerBackend {
    postgres: concatcp!(CLAIM_HEAD, postgres::SKIP_LOCKED, CLAIM_TAIL),
    sqlite: concatcp!(CLAIM_HEAD, sqlite::SKIP_LOCKED, CLAIM_TAIL),
};
const CLAIM_HEAD: &str = "UPDATE mail_outbox SET status = 'sending', attempts = attempts + 1, \
        next_attempt_at = $2 \
     WHERE id IN (SELECT id FROM mail_outbox \
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 \
        ORDER BY next_attempt_at, id LIMIT $3 ";
const CLAIM_TAIL: &str = concatcp!(") RETURNING ", MAIL_COLUMNS);

/// The data (tokens) of a sent message is not needed any more: cleared.
const MARK_SENT: &str = "UPDATE mail_outbox SET status = 'sent', sent_at = $3, \
    last_error = NULL, data = '{}' \
    WHERE id = $1 AND attempts = $2 AND status = 'sending'";

/// A given-up message keeps its data, so that an admin can send it again; the purge
/// removes it with the message.
const MARK_FAILED: &str = "UPDATE mail_outbox SET \
        status = CASE WHEN $4 THEN 'pending' ELSE 'failed' END, \
        next_attempt_at = CASE WHEN $4 THEN $5 ELSE next_attempt_at END, \
        last_error = $3 \
    WHERE id = $1 AND attempts = $2 AND status = 'sending'";

/// A given-up message queued again, due now, with a fresh count of attempts.
const RESEND: &str = "UPDATE mail_outbox SET status = 'pending', attempts = 0, \
        next_attempt_at = $2, last_error = NULL \
    WHERE id = $1 AND status = 'failed'";

const OUTBOX: &str = concatcp!(
    "SELECT ",
    MAIL_COLUMNS,
    " FROM mail_outbox \
     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR id > $2) \
     ORDER BY id LIMIT $3"
);

const PURGE: &str =
    "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND created_at < $1";

fn mail_from(row: &Row) -> Result<OutboxMail> {
    let status: String = row.get("status")?;
    Ok(OutboxMail {
        id: row.get("id")?,
        to: row.get("recipient")?,
        template: row.get("template")?,
        language: row.get("language")?,
        data: row.get("data")?,
        status: MailStatus::parse(&status).ok_or_else(|| corrupt("mail status", &status))?,
        attempts: row.get("attempts")?,
        next_attempt_at: row.get("next_attempt_at")?,
        last_error: row.get("last_error")?,
        created_at: row.get("created_at")?,
        sent_at: row.get("sent_at")?,
    })
}

/// Enqueues one message: on a pool, or in the transaction of the change that causes the
/// message, so that both commit together or not at all.
pub(super) async fn enqueue_mail_in<'e>(on: impl Executor<'e>, m: &NewMail) -> Result<()> {
    query(ENQUEUE)
        .bind(m.id)
        .bind(m.to.trim())
        .bind(&m.template)
        .bind(&m.language)
        .bind(Json(&m.data))
        .bind(m.created_at)
        .execute(on)
        .await
        .map_err(|e| on_constraint(e, "mail"))?;
    Ok(())
}

#[async_trait]
impl crate::MailStore for SqlStore {
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<()> {
        enqueue_mail_in(self.writer(), mail).await
    }

    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxMail>> {
        // A leased row is due again when its lease runs out, so a sender that died loses
        // nothing.
        let mut claimed = query(self.sql(CLAIM))
            .bind(now)
            .bind(now + lease)
            .bind(limit)
            .fetch_all(self.writer())
            .await?
            .iter()
            .map(mail_from)
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|m| (m.created_at, m.id));
        Ok(claimed)
    }

    async fn mark_mail_sent(
        &self,
        mail_id: Uuid,
        attempt: i32,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = query(MARK_SENT)
            .bind(mail_id)
            .bind(attempt)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn mark_mail_failed(
        &self,
        mail_id: Uuid,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let done = query(MARK_FAILED)
            .bind(mail_id)
            .bind(attempt)
            .bind(error)
            .bind(retry_at.is_some())
            .bind(retry_at)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn resend_mail(&self, mail_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let done = query(RESEND)
            .bind(mail_id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done == 1)
    }

    async fn outbox(
        &self,
        status: Option<MailStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxMail>> {
        query(OUTBOX)
            .bind(status.map(MailStatus::as_str))
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(mail_from)
            .collect()
    }

    async fn mail_counts(&self) -> Result<MailCounts> {
        let rows = query("SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status")
            .fetch_all(self.reader())
            .await?;
        let mut counts = MailCounts::default();
        for row in &rows {
            let status: String = row.get("status")?;
            let n: i64 = row.get("n")?;
            match MailStatus::parse(&status) {
                Some(MailStatus::Pending) => counts.pending = n,
                Some(MailStatus::Sending) => counts.sending = n,
                Some(MailStatus::Sent) => counts.sent = n,
                Some(MailStatus::Failed) => counts.failed = n,
                None => return Err(corrupt("mail status", &status)),
            }
        }
        Ok(counts)
    }

    async fn purge_mail(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(query(PURGE).bind(before).execute(self.writer()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::enqueue_mail_in;
    use crate::store::SqlStore;
    use crate::testing::TestDb;
    use crate::{Backend, MailStatus, MailStore as _, NewMail};

    /// The helper other store methods use: the message commits and rolls back with the
    /// caller's transaction.
    async fn commits_and_rolls_back_with_the_caller(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = SqlStore::open(&db.url).await.expect("connect");
        let now = chrono::Utc::now();
        let data = serde_json::json!({"token": "t"});
        let dropped = NewMail::new("a@example.org", "verify_email", "en", data.clone(), now);
        let kept = NewMail::new("b@example.org", "verify_email", "de", data, now);

        let mut tx = store.begin_write().await.unwrap();
        enqueue_mail_in(&mut tx, &dropped).await.unwrap();
        tx.rollback().await.unwrap();
        let mut tx = store.begin_write().await.unwrap();
        enqueue_mail_in(&mut tx, &kept).await.unwrap();
        tx.commit().await.unwrap();

        let outbox = store.outbox(None, None, 10).await.unwrap();
        assert_eq!(outbox.iter().map(|m| m.id).collect::<Vec<_>>(), [kept.id]);
        assert_eq!(outbox[0].status, MailStatus::Pending);
        store.close().await;
    }

    #[tokio::test]
    async fn enqueue_in_a_transaction_on_sqlite() {
        commits_and_rolls_back_with_the_caller(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn enqueue_in_a_transaction_on_postgres() {
        commits_and_rolls_back_with_the_caller(Backend::Postgres).await;
    }
}
