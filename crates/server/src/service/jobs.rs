//! Housekeeping jobs, run on a schedule by `mitai serve`, once by `mitai jobs run`, and
//! on demand by `POST /api/test/jobs/run` under the test clock.

use serde::Serialize;
use utoipa::ToSchema;

use crate::service::AppState;

/// What one round of jobs did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct JobReport {
    /// Expired sessions removed.
    pub sessions_purged: u64,
    /// Idempotency keys older than a day removed.
    pub idempotency_keys_purged: u64,
    /// Expired e-mailed tokens (verification, password reset) and invitations removed.
    pub tokens_purged: u64,
    /// Mail delivered by the send job.
    pub mail_sent: u64,
    /// Failed mail attempts that will be retried later.
    pub mail_retrying: u64,
    /// Mail given up (too many attempts, or it cannot be built).
    pub mail_failed: u64,
    /// Sent and given-up mail older than 30 days removed from the outbox.
    pub mail_purged: u64,
    /// Trial-ending reminders enqueued (each trial end once).
    pub trial_reminders: u64,
    /// Grant-expiring reminders enqueued (each grant once).
    pub grant_reminders: u64,
    /// Grants whose expiry was logged (each grant once).
    pub grants_expired: u64,
    /// Weigh-in reminders enqueued (each person at most once a day).
    pub weigh_in_reminders: u64,
    /// Stripe events applied by the job (the webhook applies them at once; the job applies
    /// what that missed and retries failed ones).
    pub billing_events_applied: u64,
    /// Stripe events that failed again (retried in a later round, up to 8 times).
    pub billing_events_failed: u64,
    /// Subscriptions re-read from Stripe by the daily reconciliation.
    pub subscriptions_reconciled: u64,
    /// Daily digests of notifications queued (one per admin and day, never empty).
    pub notification_digests: u64,
    /// Notifications delivered to webhooks.
    pub webhooks_delivered: u64,
    /// Webhook calls that failed (retried with backoff for a day).
    pub webhooks_failed: u64,
    /// `feature_used` entries older than `activity_retention_days` folded into daily counts.
    pub activity_folded: u64,
    /// Entries of the log read into the statistics' daily counts.
    pub usage_rolled_up: u64,
    /// A batched job stopped at its time limit with more to do: the next round follows at
    /// once instead of a minute later.
    pub backlog: bool,
    /// `true` when another round held the job lock (on this instance or another one), so
    /// this round did nothing. A failure to take the lock is an error, never `skipped`.
    pub skipped: bool,
    /// The jobs that failed in this round, each as `"<job>: <error>"` (also logged).
    pub errors: Vec<String>,
}

impl JobReport {
    fn failed(&mut self, job: &str, error: &dyn std::fmt::Display) {
        tracing::error!(%error, job, "job failed");
        self.errors.push(format!("{job}: {error}"));
    }
}

/// The batched jobs (the statistics' roll-up, retention's fold): the size of a first batch
/// and of the largest, and the time one batch — one write transaction — should take: on
/// SQLite the hot path waits behind it. The fold writes a page of its own for nearly every
/// entry (the daily counts and the log's index by profile are ordered by profile, the
/// entries by time): at 10 ms a batch and half of the time, consume's p99 on SQLite was
/// 31–45 ms while it ran; at 4 ms, down to 25 entries and a third of the time, 8–17 ms
/// (docs/architecture.md, "Retention's fold on SQLite").
const FOLD_BATCH: (i64, i64) = (1_000, 20_000);
const ROLLUP_BATCH: (i64, i64) = (5_000, 50_000);
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(4);
const SMALLEST_BATCH: i64 = 25;
/// After each batch the job pauses this many times as long as the batch took.
const PAUSE_FACTOR: u32 = 2;
/// How far behind the clock the roll-up reads: an entry's id is taken before its
/// transaction commits, and one that commits late must not be passed by.
const ROLLUP_LAG: chrono::TimeDelta = chrono::TimeDelta::minutes(1);
/// How long a round of jobs spends at most on each batched job; a job with more to do says
/// so ([`JobReport::backlog`]) and the next round follows at once.
const PACED_ROUND: std::time::Duration = std::time::Duration::from_secs(20);

/// Rolls the activity log up into the statistics' daily counts, a minute behind the clock,
/// in paced batches; answers the entries read and whether it is done.
pub async fn roll_up_usage(state: &AppState) -> mitai_store::Result<(u64, bool)> {
    // Entries are named by the real clock (time-ordered ids); the test clock may run ahead
    // of it, and its requests come one at a time (nothing commits late). In service both
    // clocks are the same.
    let (now, real) = (state.now(), chrono::Utc::now());
    let lag = if state.config.test_clock {
        chrono::TimeDelta::zero()
    } else {
        ROLLUP_LAG
    };
    let from = crate::service::activity_log::first_stats_day(now.min(real));
    let through = now.max(real) - lag;
    paced(ROLLUP_BATCH, |batch| {
        state.store.roll_up_usage(from, through, batch)
    })
    .await
}

/// Runs `batch` until it answers 0 (done) or for at most [`PACED_ROUND`], pausing after
/// each batch [`PAUSE_FACTOR`] times as long as it took (the hot path has the writer at
/// least two thirds of the time) and
/// sizing the batches so that each takes about [`BATCH_TIME`]. Answers the sum of the
/// batches' answers and whether it is done.
async fn paced<F, Fut>(
    (first, largest): (i64, i64),
    mut batch: F,
) -> mitai_store::Result<(u64, bool)>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = mitai_store::Result<u64>>,
{
    let started = std::time::Instant::now();
    let (mut size, mut total) = (first, 0);
    while started.elapsed() < PACED_ROUND {
        let one = std::time::Instant::now();
        match batch(size).await? {
            0 => return Ok((total, true)),
            n => total += n,
        }
        let took = one.elapsed();
        if took > BATCH_TIME {
            size = (size / 2).max(SMALLEST_BATCH);
        } else if took < BATCH_TIME / 2 {
            size = (size + size / 2).min(largest);
        }
        tokio::time::sleep(took * PAUSE_FACTOR).await;
    }
    Ok((total, false))
}

/// How long sent and given-up mail stays in the outbox.
const MAIL_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Runs every due job once. A failing job is logged and does not stop the others.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn run_due(state: &AppState) -> JobReport {
    let now = state.now();
    let mut report = JobReport::default();
    // One round at a time (PostgreSQL: an advisory lock shared by every instance).
    let lock = match state.store.try_job_lock("mitai_jobs").await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            report.skipped = true;
            return report;
        }
        Err(e) => {
            report.failed("job_lock", &e);
            return report;
        }
    };
    // The active profiles the global figures show (a pass over every profile's statistics
    // here, once a round, instead of in every computation of the figures).
    if let Err(e) = crate::service::activity_log::keep_active_profiles(state).await {
        report.failed("active_profiles", &e);
    }
    // Reminders first, so that the send job below delivers them in the same round.
    match crate::service::reminders::run(state, now).await {
        Ok(done) => {
            report.trial_reminders = done.trial_reminders;
            report.grant_reminders = done.grant_reminders;
            report.grants_expired = done.grants_expired;
            report.weigh_in_reminders = done.weigh_in_reminders;
        }
        Err(e) => report.failed("reminders", &e),
    }
    match crate::service::billing::process_due(state).await {
        Ok((applied, failed)) => {
            report.billing_events_applied = applied;
            report.billing_events_failed = failed;
        }
        Err(e) => report.failed("billing_events", &e),
    }
    // Once a day (on whichever instance comes first): Stripe's own state repairs what
    // missed events left wrong.
    if crate::service::billing::enabled(state) {
        let day = now.date_naive().to_string();
        match state
            .store
            .once(
                "billing_reconcile",
                uuid::Uuid::nil(),
                &day,
                now,
                None,
                None,
            )
            .await
        {
            Ok(true) => match crate::service::billing::reconcile_all(state).await {
                Ok(n) => report.subscriptions_reconciled = n,
                Err(e) => report.failed("billing_reconcile", &e),
            },
            Ok(false) => {}
            Err(e) => report.failed("billing_reconcile", &e),
        }
    }
    match crate::service::notifications::deliver_due(state).await {
        Ok((sent, failed)) => {
            report.webhooks_delivered = sent;
            report.webhooks_failed = failed;
        }
        Err(e) => report.failed("webhooks", &e),
    }
    match crate::service::notifications::send_digests(state, now).await {
        Ok(n) => report.notification_digests = n,
        Err(e) => report.failed("notification_digest", &e),
    }
    match state.store.purge_expired(now).await {
        Ok(purged) => {
            report.sessions_purged = purged.sessions;
            report.idempotency_keys_purged = purged.idempotency_keys;
            report.tokens_purged = purged.tokens;
        }
        Err(e) => report.failed("purge", &e),
    }
    match crate::service::mail::send_due(state).await {
        Ok(mail) => {
            report.mail_sent = mail.sent;
            report.mail_retrying = mail.retrying;
            report.mail_failed = mail.failed;
        }
        Err(e) => report.failed("send_mail", &e),
    }
    match state.store.purge_mail(now - MAIL_KEPT).await {
        Ok(n) => report.mail_purged = n,
        Err(e) => report.failed("purge_mail", &e),
    }
    // The statistics' daily counts, then retention: last, so that a backlog (a year's log
    // under a new setting) delays nothing else; paced (see `paced`).
    match roll_up_usage(state).await {
        Ok((n, done)) => {
            report.usage_rolled_up = n;
            report.backlog |= !done;
        }
        Err(e) => report.failed("usage_rollup", &e),
    }
    let retention = chrono::TimeDelta::days(state.registry().settings.activity_retention_days);
    match paced(FOLD_BATCH, |batch| {
        state.store.fold_activity(now - retention, batch)
    })
    .await
    {
        Ok((n, done)) => {
            report.activity_folded = n;
            report.backlog |= !done;
        }
        Err(e) => report.failed("activity_retention", &e),
    }
    // Each failing job: the admins hear of it (one notification per job an hour).
    for error in &report.errors {
        let job = error.split(':').next().unwrap_or("job").to_owned();
        crate::service::notifications::raise_now(
            state,
            "job_failed",
            job.clone(),
            serde_json::json!({"job": job, "error": error}),
            "/admin".into(),
        )
        .await;
    }
    // Released before the report is returned, so a round started right after this one
    // finds the lock free.
    if let Err(e) = lock.release().await {
        report.failed("job_lock_release", &e);
    }
    report
}
