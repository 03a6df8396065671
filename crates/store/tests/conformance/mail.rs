//! The conformance suite of [`MailStore`](mitai_store::MailStore): the outbox's claims,
//! leases, retries, listing, counts and purge.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mitai_store::testing::TestDb;
use mitai_store::{Backend, MailCounts, MailStatus, NewMail, OutboxMail, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::support::{race, store, t0};

conformance! {
    plain: [
        mail_is_claimed_when_due_and_marked_sent,
        mail_failure_waits_for_retry_then_gives_up,
        mail_lease_runs_out_and_the_mail_is_claimed_again,
        outbox_lists_by_status_pages_counts_and_purges,
    ],
    concurrent: [
        mail_is_claimed_once_under_concurrency,
    ],
}

fn mail(to: &str, created_at: DateTime<Utc>) -> NewMail {
    NewMail {
        id: Uuid::now_v7(),
        to: to.to_owned(),
        template: "verify_email".to_owned(),
        language: "en".to_owned(),
        data: json!({"name": "Anna", "token": format!("token-for-{to}")}),
        created_at,
    }
}

fn lease() -> chrono::TimeDelta {
    chrono::TimeDelta::minutes(5)
}

async fn mail_is_claimed_when_due_and_marked_sent(db: &TestDb) {
    let s = store(db);
    let first = mail("a@example.org", t0());
    let second = mail("b@example.org", t0() + chrono::TimeDelta::seconds(10));
    s.enqueue_mail(&second).await.expect("enqueue");
    s.enqueue_mail(&first).await.expect("enqueue");
    let err = s.enqueue_mail(&first).await.expect_err("same id twice");
    assert!(matches!(err, StoreError::Conflict("mail")), "{err:?}");

    // Nothing is due before its time.
    let early = s
        .claim_mail(t0() - chrono::TimeDelta::seconds(1), 10, lease())
        .await
        .unwrap();
    assert!(early.is_empty(), "{early:?}");

    // Oldest due first, limited, leased until now + lease, one attempt counted.
    let claimed = s.claim_mail(t0(), 1, lease()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let m = &claimed[0];
    assert_eq!(m.id, first.id);
    assert_eq!(m.to, "a@example.org");
    assert_eq!(m.template, "verify_email");
    assert_eq!(m.language, "en");
    assert_eq!(m.data, first.data);
    assert_eq!(m.status, MailStatus::Sending);
    assert_eq!(m.attempts, 1);
    assert_eq!(m.next_attempt_at, t0() + lease());
    assert_eq!(m.created_at, t0());
    assert_eq!(m.sent_at, None);

    // The second is not due at t0; a claim at its time gets it and not the leased first.
    assert!(s.claim_mail(t0(), 10, lease()).await.unwrap().is_empty());
    let later = t0() + chrono::TimeDelta::seconds(10);
    let claimed = s.claim_mail(later, 10, lease()).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
        [second.id]
    );

    let sent_at = t0() + chrono::TimeDelta::seconds(20);
    assert!(s.mark_mail_sent(first.id, 1, sent_at).await.unwrap());
    assert!(
        !s.mark_mail_sent(first.id, 1, sent_at).await.unwrap(),
        "a claim is answered once"
    );
    let sent = s.outbox(Some(MailStatus::Sent), None, 10).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, first.id);
    assert_eq!(sent[0].sent_at, Some(sent_at));
    assert_eq!(sent[0].data, json!({}), "tokens are not kept after sending");
    assert_eq!(sent[0].last_error, None);
    // A sent message is never claimed again.
    let far = t0() + chrono::TimeDelta::days(30);
    let again = s.claim_mail(far, 10, lease()).await.unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), [second.id]);
}

async fn mail_failure_waits_for_retry_then_gives_up(db: &TestDb) {
    let s = store(db);
    let m = mail("retry@example.org", t0());
    s.enqueue_mail(&m).await.unwrap();
    let claimed = s.claim_mail(t0(), 10, lease()).await.unwrap();
    assert_eq!(claimed[0].attempts, 1);

    let retry_at = t0() + chrono::TimeDelta::minutes(1);
    assert!(
        !s.mark_mail_failed(m.id, 2, "not my claim", Some(retry_at))
            .await
            .unwrap(),
        "another claim's attempt number changes nothing"
    );
    assert!(
        s.mark_mail_failed(m.id, 1, "connection refused", Some(retry_at))
            .await
            .unwrap()
    );
    let pending = s.outbox(Some(MailStatus::Pending), None, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].next_attempt_at, retry_at);
    assert_eq!(pending[0].last_error.as_deref(), Some("connection refused"));
    assert_eq!(pending[0].data, m.data, "kept for the retry");
    assert_eq!(pending[0].attempts, 1);

    let just_before = retry_at - chrono::TimeDelta::seconds(1);
    assert!(
        s.claim_mail(just_before, 10, lease())
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = s.claim_mail(retry_at, 10, lease()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 2);
    assert_eq!(claimed[0].last_error.as_deref(), Some("connection refused"));

    assert!(
        s.mark_mail_failed(m.id, 2, "mailbox unavailable", None)
            .await
            .unwrap()
    );
    let failed = s.outbox(Some(MailStatus::Failed), None, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("mailbox unavailable"));
    assert_eq!(failed[0].data, m.data, "kept, to be sent again by an admin");
    assert_eq!(failed[0].sent_at, None);
    // Given up: never claimed again.
    let far = t0() + chrono::TimeDelta::days(365);
    assert!(s.claim_mail(far, 10, lease()).await.unwrap().is_empty());

    // Sent again by an admin: due now, attempts afresh; only a given-up message.
    let later = t0() + chrono::TimeDelta::days(2);
    assert!(s.resend_mail(m.id, later).await.unwrap());
    assert!(!s.resend_mail(m.id, later).await.unwrap(), "pending now");
    assert!(!s.resend_mail(Uuid::now_v7(), later).await.unwrap());
    let again = s.claim_mail(later, 10, lease()).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error, None);
    assert_eq!(again[0].data, m.data);
    assert!(s.mark_mail_sent(m.id, 1, later).await.unwrap());
    assert!(
        !s.resend_mail(m.id, later).await.unwrap(),
        "a sent message stays sent"
    );
}

async fn mail_lease_runs_out_and_the_mail_is_claimed_again(db: &TestDb) {
    let s = store(db);
    let m = mail("crash@example.org", t0());
    s.enqueue_mail(&m).await.unwrap();
    assert_eq!(s.claim_mail(t0(), 10, lease()).await.unwrap().len(), 1);
    // The sender dies. While its lease runs, nobody else takes the message …
    let during = t0() + lease() - chrono::TimeDelta::seconds(1);
    assert!(s.claim_mail(during, 10, lease()).await.unwrap().is_empty());
    // … afterwards the next claim does, as a new attempt.
    let after = t0() + lease();
    let claimed = s.claim_mail(after, 10, lease()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, m.id);
    assert_eq!(claimed[0].attempts, 2);
    assert_eq!(claimed[0].next_attempt_at, after + lease());
    // The first sender wakes up: its claim is gone, so it cannot mark the message.
    assert!(!s.mark_mail_sent(m.id, 1, after).await.unwrap());
    assert!(!s.mark_mail_failed(m.id, 1, "late", None).await.unwrap());
    assert!(s.mark_mail_sent(m.id, 2, after).await.unwrap());
    assert_eq!(
        s.mail_counts().await.unwrap(),
        MailCounts {
            sent: 1,
            ..MailCounts::default()
        }
    );
}

async fn outbox_lists_by_status_pages_counts_and_purges(db: &TestDb) {
    let s = store(db);
    assert_eq!(s.mail_counts().await.unwrap(), MailCounts::default());
    let mut ids = Vec::new();
    for i in 0..5 {
        let m = mail(&format!("m{i}@example.org"), t0());
        s.enqueue_mail(&m).await.unwrap();
        ids.push(m.id);
    }
    // Paged by id, oldest first.
    let first = s.outbox(None, None, 2).await.unwrap();
    let rest = s.outbox(None, Some(first[1].id), 10).await.unwrap();
    let all: Vec<Uuid> = first.iter().chain(&rest).map(|m| m.id).collect();
    assert_eq!(all, ids);

    // Two sent, one failed, one sending, one pending.
    let claimed: Vec<OutboxMail> = s.claim_mail(t0(), 4, lease()).await.unwrap();
    assert_eq!(claimed.len(), 4);
    let now = t0() + chrono::TimeDelta::seconds(1);
    assert!(s.mark_mail_sent(claimed[0].id, 1, now).await.unwrap());
    assert!(s.mark_mail_sent(claimed[1].id, 1, now).await.unwrap());
    assert!(
        s.mark_mail_failed(claimed[2].id, 1, "bad", None)
            .await
            .unwrap()
    );
    assert_eq!(
        s.mail_counts().await.unwrap(),
        MailCounts {
            pending: 1,
            sending: 1,
            sent: 2,
            failed: 1,
        }
    );
    let sending = s.outbox(Some(MailStatus::Sending), None, 10).await.unwrap();
    assert_eq!(
        sending.iter().map(|m| m.id).collect::<Vec<_>>(),
        [claimed[3].id]
    );

    // Purging keeps what is not done, and what is newer than the horizon.
    assert_eq!(s.purge_mail(t0()).await.unwrap(), 0);
    assert_eq!(
        s.purge_mail(t0() + chrono::TimeDelta::seconds(1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        s.mail_counts().await.unwrap(),
        MailCounts {
            pending: 1,
            sending: 1,
            ..MailCounts::default()
        }
    );
}

async fn mail_is_claimed_once_under_concurrency(db: &TestDb) {
    let s = store(db);
    let mut enqueued = BTreeSet::new();
    for i in 0..120 {
        let m = mail(&format!("w{i}@example.org"), t0());
        s.enqueue_mail(&m).await.unwrap();
        enqueued.insert(m.id);
    }
    // Eight workers claim small batches at once until nothing is left.
    let results = race(8, |_| {
        let s = Arc::clone(&db.store);
        async move {
            let mut mine = Vec::new();
            loop {
                let batch = s.claim_mail(t0(), 5, lease()).await.expect("claim");
                if batch.is_empty() {
                    break mine;
                }
                for m in batch {
                    assert_eq!(m.attempts, 1, "claimed twice: {m:?}");
                    assert!(s.mark_mail_sent(m.id, 1, t0()).await.expect("mark"));
                    mine.push(m.id);
                }
            }
        }
    })
    .await;
    let mut seen = BTreeSet::new();
    for id in results.iter().flatten() {
        assert!(seen.insert(*id), "{id} was claimed by two workers");
    }
    assert_eq!(seen, enqueued);
    assert_eq!(
        s.mail_counts().await.unwrap(),
        MailCounts {
            sent: 120,
            ..MailCounts::default()
        }
    );
}
