//! Admin notifications: raised with one upsert on the open notification of an event and
//! subject (a partial unique index), read per admin, preferences per admin.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::{PerBackend, SqlStore};
use crate::notifications::*;
use crate::sql::{Row, corrupt, query};
use crate::{Result, postgres, sqlite};

/// An open notification older than the window is closed: the next raise starts a new one.
const CLOSE_STALE: &str = "UPDATE notifications SET open = FALSE \
    WHERE event = $1 AND subject = $2 AND open AND first_at <= $3";

const RAISE: &str = "INSERT INTO notifications (id, event, subject, data, link, count, \
    first_at, last_at, open) VALUES ($1, $2, $3, $4, $5, 1, $6, $6, TRUE) \
    ON CONFLICT (event, subject) WHERE open DO UPDATE SET \
        count = notifications.count + 1, last_at = excluded.last_at, data = excluded.data, \
        link = excluded.link \
    RETURNING id, count";

const COLUMNS: &str = "n.id, n.event, n.subject, n.data, n.link, n.count, n.first_at, \
    n.last_at, r.read_at";

/// Read since it was last raised.
const READ: &str = "r.read_at IS NOT NULL AND r.read_at >= n.last_at";

const FOR_ADMIN: &str = concatcp!(
    "SELECT ",
    COLUMNS,
    " FROM notifications n \
     LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.admin_id = $1 \
     WHERE (NOT $2 OR NOT (",
    READ,
    ")) ORDER BY CASE WHEN ",
    READ,
    " THEN 1 ELSE 0 END, n.last_at DESC, n.id DESC LIMIT $3"
);

const UNREAD: &str = concatcp!(
    "SELECT count(*) FROM notifications n \
     LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.admin_id = $1 \
     WHERE NOT (",
    READ,
    ")"
);

const MARK_READ: &str = "INSERT INTO notification_reads (notification_id, admin_id, read_at) \
    SELECT id, $2, $3 FROM notifications WHERE id = $1 \
    ON CONFLICT (notification_id, admin_id) DO UPDATE SET read_at = excluded.read_at";

const MARK_ALL_READ: &str = concatcp!(
    "INSERT INTO notification_reads (notification_id, admin_id, read_at) \
     SELECT n.id, $1, $2 FROM notifications n \
     LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.admin_id = $1 \
     WHERE NOT (",
    READ,
    ") ON CONFLICT (notification_id, admin_id) DO UPDATE SET read_at = excluded.read_at"
);

const WEBHOOK_COLUMNS: &str = "id, url, events, format, secret, language, created_by, created_at";
const DELIVERY_COLUMNS: &str = "id, notification_id, webhook_id, status, attempts, \
    next_attempt_at, last_error, created_at, sent_at";

/// Chooses the due deliveries and leases them, in one statement: `$1` now, `$2` the
/// lease's end, `$3` how many.
const CLAIM: PerBackend = PerBackend {
    postgres: concatcp!(CLAIM_HEAD, postgres::SKIP_LOCKED, CLAIM_TAIL),
    sqlite: concatcp!(CLAIM_HEAD, sqlite::SKIP_LOCKED, CLAIM_TAIL),
};
const CLAIM_HEAD: &str = "UPDATE notification_deliveries SET status = 'sending', \
        attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id IN (SELECT id FROM notification_deliveries \
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 \
        ORDER BY next_attempt_at, id LIMIT $3 ";
const CLAIM_TAIL: &str = concatcp!(") RETURNING ", DELIVERY_COLUMNS);

fn webhook_from(row: &Row) -> Result<Webhook> {
    let events: serde_json::Value = row.get("events")?;
    Ok(Webhook {
        id: row.get("id")?,
        url: row.get("url")?,
        events: events
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect(),
        format: row.get("format")?,
        secret: row.get("secret")?,
        language: row.get("language")?,
        created_by: row.get("created_by")?,
        created_at: row.get("created_at")?,
    })
}

fn delivery_from(row: &Row) -> Result<Delivery> {
    let attempts: i32 = row.get("attempts")?;
    Ok(Delivery {
        id: row.get("id")?,
        notification_id: row.get("notification_id")?,
        webhook_id: row.get("webhook_id")?,
        status: row.get("status")?,
        attempts: attempts.into(),
        next_attempt_at: row.get("next_attempt_at")?,
        last_error: row.get("last_error")?,
        created_at: row.get("created_at")?,
        sent_at: row.get("sent_at")?,
    })
}

fn notification_from(row: &Row) -> Result<Notification> {
    let count: i32 = row.get("count")?;
    Ok(Notification {
        id: row.get("id")?,
        event: row.get("event")?,
        subject: row.get("subject")?,
        data: row.get("data")?,
        link: row.get("link")?,
        count: count.into(),
        first_at: row.get("first_at")?,
        last_at: row.get("last_at")?,
        read_at: row.get("read_at")?,
    })
}

#[async_trait]
impl crate::NotificationStore for SqlStore {
    async fn raise_notification(
        &self,
        n: &NewNotification,
        window: TimeDelta,
        mails: &[crate::NewMail],
        webhooks: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Raised> {
        let mut tx = self.begin_write().await?;
        query(CLOSE_STALE)
            .bind(&n.event)
            .bind(&n.subject)
            .bind(now - window)
            .execute(&mut tx)
            .await?;
        let row = query(RAISE)
            .bind(n.id)
            .bind(&n.event)
            .bind(&n.subject)
            .bind(Json(&n.data))
            .bind(&n.link)
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
        let count: i32 = row.get("count")?;
        let raised = Raised {
            id: row.get("id")?,
            count: count.into(),
        };
        if raised.is_new() {
            for mail in mails {
                super::mail::enqueue_mail_in(&mut tx, mail).await?;
            }
            for hook in webhooks {
                query(
                    "INSERT INTO notification_deliveries (id, notification_id, webhook_id, \
                     status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
                )
                .bind(Uuid::now_v7())
                .bind(raised.id)
                .bind(*hook)
                .bind(now)
                .execute(&mut tx)
                .await
                .map_err(|e| crate::sql::on_constraint(e, "webhook"))?;
            }
        }
        tx.commit().await?;
        Ok(raised)
    }

    async fn notification(&self, id: Uuid) -> Result<Option<Notification>> {
        query(concatcp!(
            "SELECT ",
            COLUMNS,
            " FROM notifications n \
             LEFT JOIN notification_reads r ON r.notification_id = n.id AND FALSE \
             WHERE n.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(notification_from)
        .transpose()
    }

    async fn notifications_for(
        &self,
        admin: Uuid,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        query(FOR_ADMIN)
            .bind(admin)
            .bind(unread_only)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(notification_from)
            .collect()
    }

    async fn unread_notifications(&self, admin: Uuid) -> Result<i64> {
        query(UNREAD)
            .bind(admin)
            .fetch_one(self.reader())
            .await?
            .get(0)
    }

    async fn mark_notification_read(
        &self,
        admin: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(query(MARK_READ)
            .bind(id)
            .bind(admin)
            .bind(now)
            .execute(self.writer())
            .await?
            == 1)
    }

    async fn mark_all_notifications_read(&self, admin: Uuid, now: DateTime<Utc>) -> Result<u64> {
        Ok(query(MARK_ALL_READ)
            .bind(admin)
            .bind(now)
            .execute(self.writer())
            .await?)
    }

    async fn notification_preferences(&self, admin: Uuid) -> Result<Vec<(String, NotifyMode)>> {
        query("SELECT event, mode FROM notification_preferences WHERE admin_id = $1 ORDER BY event")
            .bind(admin)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                let mode: String = row.get("mode")?;
                Ok((
                    row.get("event")?,
                    NotifyMode::parse(&mode).ok_or_else(|| corrupt("notification mode", &mode))?,
                ))
            })
            .collect()
    }

    async fn set_notification_preferences(
        &self,
        admin: Uuid,
        modes: &[(String, NotifyMode)],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (event, mode) in modes {
            query(
                "INSERT INTO notification_preferences (admin_id, event, mode) VALUES ($1, $2, $3) \
                 ON CONFLICT (admin_id, event) DO UPDATE SET mode = excluded.mode",
            )
            .bind(admin)
            .bind(event)
            .bind(mode.as_str())
            .execute(&mut tx)
            .await
            .map_err(|e| crate::sql::on_constraint(e, "admin"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_webhook(&self, h: &Webhook) -> Result<()> {
        query(concatcp!(
            "INSERT INTO notification_webhooks (",
            WEBHOOK_COLUMNS,
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(h.id)
        .bind(&h.url)
        .bind(Json(&serde_json::json!(h.events)))
        .bind(&h.format)
        .bind(&h.secret)
        .bind(&h.language)
        .bind(h.created_by)
        .bind(h.created_at)
        .execute(self.writer())
        .await
        .map_err(|e| crate::sql::on_constraint(e, "admin"))?;
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        query(concatcp!(
            "SELECT ",
            WEBHOOK_COLUMNS,
            " FROM notification_webhooks ORDER BY created_at, id"
        ))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(webhook_from)
        .collect()
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<Webhook>> {
        query(concatcp!(
            "SELECT ",
            WEBHOOK_COLUMNS,
            " FROM notification_webhooks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(webhook_from)
        .transpose()
    }

    async fn delete_webhook(&self, id: Uuid) -> Result<bool> {
        Ok(query("DELETE FROM notification_webhooks WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?
            == 1)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        query(self.sql(CLAIM))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(self.writer())
            .await?
            .iter()
            .map(delivery_from)
            .collect()
    }

    async fn delivery_sent(&self, id: Uuid, attempts: i64, now: DateTime<Utc>) -> Result<()> {
        query(
            "UPDATE notification_deliveries SET status = 'sent', sent_at = $3, last_error = NULL \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn delivery_failed(
        &self,
        id: Uuid,
        attempts: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        query(
            "UPDATE notification_deliveries SET \
                status = CASE WHEN $4 THEN 'pending' ELSE 'failed' END, \
                next_attempt_at = COALESCE($5, next_attempt_at), last_error = $3 \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(error)
        .bind(retry_at.is_some())
        .bind(retry_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn deliveries_of(&self, notification: Uuid) -> Result<Vec<Delivery>> {
        query(concatcp!(
            "SELECT ",
            DELIVERY_COLUMNS,
            " FROM notification_deliveries WHERE notification_id = $1 ORDER BY created_at, id"
        ))
        .bind(notification)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(delivery_from)
        .collect()
    }
}
