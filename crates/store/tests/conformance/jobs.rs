//! The conformance suite of what [`Store`](mitai_store::Store) does for the jobs: the job
//! lock, and purging what expired.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mitai_store::testing::TestDb;
use mitai_store::{Backend, ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, NewSession};

use crate::support::{answer, at, consume_request, march, store, used, user};

conformance! {
    plain: [
        purge_expired_removes_only_what_expired,
        job_lock_is_exclusive_and_free_again_at_once_after_release,
        done_for_lists_each_subject_of_a_kind_once,
    ],
    concurrent: [
        job_lock_is_held_by_one_of_many_at_once,
    ],
}

async fn purge_expired_removes_only_what_expired(db: &TestDb) {
    let s = store(db);
    let p = user(s, "purge@example.org", "Purge").await;
    let now = at(2025, 3, 20, 12, 0, 0);
    for (token, expires_at) in [
        ("expired-long-ago", at(2025, 3, 1, 0, 0, 0)),
        ("expires-now", now),
        ("live", now + chrono::Duration::seconds(1)),
    ] {
        s.create_session(&NewSession {
            token_hash: token.to_owned(),
            profile_id: p.id,
            created_at: at(2025, 2, 1, 0, 0, 0),
            expires_at,
            user_agent: None,
        })
        .await
        .unwrap();
    }
    let keyed = |key: &'static str, made: DateTime<Utc>| ConsumeRequest {
        now: made,
        idempotency: Some(IdempotencyKey {
            key,
            request_hash: "h",
        }),
        ..consume_request(p.id, "weight", march(), 1, None)
    };
    let day = chrono::Duration::days(1);
    for (key, made) in [
        ("old", now - day - chrono::Duration::seconds(1)),
        ("day-old", now - day),
        ("new", now),
    ] {
        assert!(matches!(
            s.consume(&keyed(key, made), &answer).await.unwrap(),
            ConsumeResult::Fresh(_)
        ));
    }

    let purged = s.purge_expired(now).await.expect("purge");
    assert_eq!(purged.sessions, 2);
    assert_eq!(purged.idempotency_keys, 1);
    assert_eq!(
        s.session_profile("live", now).await.unwrap(),
        Some(p.clone())
    );
    assert!(!s.delete_session("expired-long-ago").await.unwrap());
    assert!(!s.delete_session("expires-now").await.unwrap());
    // Usage stays; kept keys still replay, a purged key is new again.
    assert_eq!(used(s, p.id, "weight", march()).await, 3);
    for key in ["day-old", "new"] {
        assert!(matches!(
            s.consume(&keyed(key, now), &answer).await.unwrap(),
            ConsumeResult::Replayed(_)
        ));
    }
    assert!(matches!(
        s.consume(&keyed("old", now), &answer).await.unwrap(),
        ConsumeResult::Fresh(Consumed::Spent { used: 4 })
    ));

    // Nothing more to purge.
    let purged = s.purge_expired(now).await.unwrap();
    assert_eq!((purged.sessions, purged.idempotency_keys), (0, 0));
}

async fn job_lock_is_exclusive_and_free_again_at_once_after_release(db: &TestDb) {
    let s = &db.store;
    for round in 0..50 {
        let lock = s
            .try_job_lock("rounds")
            .await
            .expect("take the lock")
            .unwrap_or_else(|| panic!("round {round}: the lock of the last round is still held"));
        assert!(
            s.try_job_lock("rounds").await.expect("try again").is_none(),
            "round {round}: a second holder while the first holds the lock"
        );
        lock.release().await.expect("release");
    }
    // A guard dropped without release (a cancelled round) does not hand a locked session
    // back to the pool: after it is gone, the lock can be taken again.
    drop(s.try_job_lock("rounds").await.unwrap().expect("free"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(lock) = s.try_job_lock("rounds").await.unwrap() {
            lock.release().await.unwrap();
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a dropped guard kept the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn job_lock_is_held_by_one_of_many_at_once(db: &TestDb) {
    let holders = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = db.store.clone();
            let holders = Arc::clone(&holders);
            let max_seen = Arc::clone(&max_seen);
            tokio::spawn(async move {
                let mut took = 0;
                for _ in 0..10 {
                    if let Some(lock) = store.try_job_lock("many").await.unwrap() {
                        took += 1;
                        let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        holders.fetch_sub(1, Ordering::SeqCst);
                        lock.release().await.unwrap();
                    }
                }
                took
            })
        })
        .collect();
    let mut took = 0;
    for task in tasks {
        took += task.await.unwrap();
    }
    assert_eq!(max_seen.load(Ordering::SeqCst), 1, "two holders at once");
    assert!(took > 0, "nobody ever took the lock");
}

/// `done_for` answers every subject `once` marked for a kind (each once, whatever its due
/// keys), and nothing of another kind.
async fn done_for_lists_each_subject_of_a_kind_once(db: &TestDb) {
    let s = store(db);
    let now = at(2025, 3, 20, 12, 0, 0);
    assert!(s.done_for("grant_expired").await.unwrap().is_empty());
    let (a, b, c) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
    for (kind, subject, key) in [
        ("grant_expired", a, ""),
        ("grant_expired", b, ""),
        ("trial_ending", b, "2025-03-21"),
        ("trial_ending", b, "2025-04-21"),
        ("grant_expiring", c, ""),
    ] {
        assert!(s.once(kind, subject, key, now, None, None).await.unwrap());
    }
    assert!(
        !s.once("grant_expired", a, "", now, None, None)
            .await
            .unwrap()
    );
    let mut expired = s.done_for("grant_expired").await.unwrap();
    expired.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(expired, want);
    assert_eq!(s.done_for("trial_ending").await.unwrap(), vec![b]);
    assert_eq!(s.done_for("grant_expiring").await.unwrap(), vec![c]);
}
