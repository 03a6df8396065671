//! The conformance suite of [`UsageStore`](mitai_store::UsageStore): restrictions, usage
//! buckets and exact consumption with idempotency keys, alone and under concurrency.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use mitai_store::testing::TestDb;
use mitai_store::{
    Backend, ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, Restriction, StoreError,
    StoredResponse,
};
use serde_json::json;
use uuid::Uuid;

use crate::support::{admin, answer, at, consume_request, march, race, store, t0, used, user};

conformance! {
    plain: [
        restrictions_put_replace_list_delete,
        usage_reads_buckets_in_order,
        consume_spends_within_cap_and_refuses_whole,
        consume_without_cap_counts,
        idempotent_consume_replays_the_first_answer,
        idempotency_key_with_other_request_is_refused,
        idempotency_keys_are_per_profile,
    ],
    concurrent: [
        consume_is_exact_under_concurrency,
        unlimited_consume_loses_no_update_under_concurrency,
        idempotent_consume_is_once_under_concurrency,
        distinct_idempotency_keys_are_exact_under_concurrency,
    ],
}

fn april() -> DateTime<Utc> {
    at(2025, 4, 1, 0, 0, 0)
}

async fn restrictions_put_replace_list_delete(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await;
    let p = user(s, "restricted@example.org", "Restricted").await;
    let q = user(s, "free@example.org", "Free").await;
    assert!(s.restrictions(p.id).await.unwrap().is_empty());

    let photos = Restriction {
        profile_id: p.id,
        feature_id: "photos".to_owned(),
        limit: Some(0),
        reason: "abuse".to_owned(),
        valid_until: Some(at(2025, 6, 1, 0, 0, 0)),
        created_by: Some(boss.id),
        created_at: t0(),
    };
    let ai = Restriction {
        profile_id: p.id,
        feature_id: "ai_calls".to_owned(),
        limit: None,
        reason: String::new(),
        valid_until: None,
        created_by: None,
        created_at: t0(),
    };
    s.put_restriction(&photos).await.expect("put");
    s.put_restriction(&ai).await.expect("put");
    // Listed by feature id.
    assert_eq!(
        s.restrictions(p.id).await.unwrap(),
        [ai.clone(), photos.clone()]
    );
    assert!(s.restrictions(q.id).await.unwrap().is_empty());

    // Replace: one row per (profile, feature), every field new.
    let photos2 = Restriction {
        limit: Some(3),
        reason: "probation".to_owned(),
        valid_until: None,
        created_by: None,
        created_at: at(2025, 3, 20, 0, 0, 0),
        ..photos.clone()
    };
    s.put_restriction(&photos2).await.expect("replace");
    assert_eq!(
        s.restrictions(p.id).await.unwrap(),
        [ai.clone(), photos2.clone()]
    );
    let photos3 = Restriction {
        limit: None,
        valid_until: Some(at(2026, 1, 1, 0, 0, 0)),
        created_by: Some(boss.id),
        ..photos2.clone()
    };
    s.put_restriction(&photos3).await.expect("replace again");
    assert_eq!(
        s.restrictions(p.id).await.unwrap(),
        [ai.clone(), photos3.clone()]
    );

    // The same feature for another profile is another restriction.
    let q_photos = Restriction {
        profile_id: q.id,
        ..photos.clone()
    };
    s.put_restriction(&q_photos).await.unwrap();
    assert_eq!(
        s.restrictions(q.id).await.unwrap(),
        std::slice::from_ref(&q_photos)
    );
    assert_eq!(s.restrictions(p.id).await.unwrap().len(), 2);
    // One feature's restrictions of every profile, by profile.
    let mut of_photos = vec![photos3.clone(), q_photos.clone()];
    of_photos.sort_by_key(|r| r.profile_id);
    assert_eq!(
        s.restrictions_of_feature("photos").await.unwrap(),
        of_photos
    );
    assert_eq!(
        s.restrictions_of_feature("ai_calls").await.unwrap(),
        std::slice::from_ref(&ai)
    );
    assert!(
        s.restrictions_of_feature("weight")
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown profile or feature.
    let err = s
        .put_restriction(&Restriction {
            feature_id: "nope".to_owned(),
            ..photos.clone()
        })
        .await
        .expect_err("unknown feature");
    assert!(
        matches!(err, StoreError::MissingReference("profile or feature")),
        "{err:?}"
    );
    let err = s
        .put_restriction(&Restriction {
            profile_id: Uuid::now_v7(),
            ..photos.clone()
        })
        .await
        .expect_err("unknown profile");
    assert!(
        matches!(err, StoreError::MissingReference("profile or feature")),
        "{err:?}"
    );

    // Delete: true once, then false.
    assert!(s.delete_restriction(p.id, "photos").await.unwrap());
    assert!(!s.delete_restriction(p.id, "photos").await.unwrap());
    assert!(!s.delete_restriction(p.id, "weight").await.unwrap());
    assert!(
        !s.delete_restriction(Uuid::now_v7(), "ai_calls")
            .await
            .unwrap()
    );
    assert_eq!(s.restrictions(p.id).await.unwrap(), [ai]);
    assert_eq!(s.restrictions(q.id).await.unwrap().len(), 1);
}

async fn usage_reads_buckets_in_order(db: &TestDb) {
    let s = store(db);
    let p = user(s, "usage@example.org", "Usage").await;
    let q = user(s, "other@example.org", "Other").await;
    let day = at(2025, 3, 14, 0, 0, 0);

    // Never used: zeros, as many as asked.
    assert_eq!(
        s.usage(p.id, &[("weight", march()), ("photos", march())])
            .await
            .unwrap(),
        [0, 0]
    );
    assert!(s.usage(p.id, &[]).await.unwrap().is_empty());

    let spend = async |profile: Uuid, feature: &str, start: DateTime<Utc>, amount: i64| {
        let r = consume_request(profile, feature, start, amount, None);
        let result = s.consume(&r, &answer).await.expect("consume");
        assert!(matches!(
            result,
            ConsumeResult::Fresh(Consumed::Spent { .. })
        ));
    };
    spend(p.id, "weight", march(), 3).await;
    spend(p.id, "weight", april(), 5).await;
    spend(p.id, "photos", march(), 2).await;
    spend(p.id, "nutrition", day, 7).await;
    spend(q.id, "weight", march(), 11).await;

    let buckets = [
        ("photos", march()),
        ("weight", april()),
        ("export_zip", march()),
        ("weight", march()),
        ("nutrition", day),
        ("nutrition", day + chrono::Duration::days(1)),
        ("weight", march()),
        ("nope", march()),
    ];
    assert_eq!(
        s.usage(p.id, &buckets).await.unwrap(),
        [2, 5, 0, 3, 7, 0, 3, 0]
    );
    assert_eq!(
        s.usage(q.id, &buckets).await.unwrap(),
        [0, 0, 0, 11, 0, 0, 11, 0]
    );
    assert_eq!(s.usage(Uuid::now_v7(), &buckets).await.unwrap(), [0; 8]);

    // Buckets are independent: spending in April leaves March alone.
    spend(p.id, "weight", april(), 1).await;
    assert_eq!(used(s, p.id, "weight", march()).await, 3);
    assert_eq!(used(s, p.id, "weight", april()).await, 6);
    // A bucket one second off is another bucket.
    assert_eq!(
        used(s, p.id, "weight", march() + chrono::Duration::seconds(1)).await,
        0
    );
}

async fn consume_spends_within_cap_and_refuses_whole(db: &TestDb) {
    let s = store(db);
    let p = user(s, "consume@example.org", "Consume").await;
    let fresh = |r: ConsumeResult| match r {
        ConsumeResult::Fresh(c) => c,
        other => panic!("not fresh: {other:?}"),
    };
    let go = async |amount: i64, cap: Option<i64>| {
        let r = consume_request(p.id, "photos", march(), amount, cap);
        fresh(s.consume(&r, &answer).await.expect("consume"))
    };

    // Larger than the cap on an empty bucket: refused, no usage appears.
    assert_eq!(go(6, Some(5)).await, Consumed::LimitReached { used: 0 });
    assert_eq!(used(s, p.id, "photos", march()).await, 0);
    // Disabled (cap 0).
    assert_eq!(go(1, Some(0)).await, Consumed::LimitReached { used: 0 });
    assert_eq!(used(s, p.id, "photos", march()).await, 0);

    assert_eq!(go(2, Some(5)).await, Consumed::Spent { used: 2 });
    assert_eq!(go(3, Some(5)).await, Consumed::Spent { used: 5 });
    // Exactly at the cap: one more is refused whole.
    assert_eq!(go(1, Some(5)).await, Consumed::LimitReached { used: 5 });
    assert_eq!(used(s, p.id, "photos", march()).await, 5);

    // A raised cap allows more; an amount that would overshoot is refused whole.
    assert_eq!(go(4, Some(8)).await, Consumed::LimitReached { used: 5 });
    assert_eq!(used(s, p.id, "photos", march()).await, 5);
    assert_eq!(go(3, Some(8)).await, Consumed::Spent { used: 8 });

    // A cap lowered below usage blocks but deletes nothing.
    assert_eq!(go(1, Some(2)).await, Consumed::LimitReached { used: 8 });
    assert_eq!(go(1, Some(0)).await, Consumed::LimitReached { used: 8 });
    assert_eq!(used(s, p.id, "photos", march()).await, 8);

    // Other buckets and features are untouched.
    assert_eq!(
        s.usage(p.id, &[("photos", april()), ("weight", march())])
            .await
            .unwrap(),
        [0, 0]
    );
    // Unknown profile or feature: an error, never a silent success.
    let r = consume_request(p.id, "nope", march(), 1, None);
    s.consume(&r, &answer).await.expect_err("unknown feature");
    let r = consume_request(Uuid::now_v7(), "photos", march(), 1, None);
    s.consume(&r, &answer).await.expect_err("unknown profile");
}

async fn consume_without_cap_counts(db: &TestDb) {
    let s = store(db);
    let p = user(s, "unlimited@example.org", "Unlimited").await;
    for (amount, after) in [(1, 1), (1000, 1001), (1_000_000, 1_001_001)] {
        let r = consume_request(p.id, "weight", march(), amount, None);
        assert_eq!(
            s.consume(&r, &answer).await.unwrap(),
            ConsumeResult::Fresh(Consumed::Spent { used: after })
        );
    }
    assert_eq!(used(s, p.id, "weight", march()).await, 1_001_001);
    // Counted usage then meets a cap.
    let r = consume_request(p.id, "weight", march(), 1, Some(1_001_001));
    assert_eq!(
        s.consume(&r, &answer).await.unwrap(),
        ConsumeResult::Fresh(Consumed::LimitReached { used: 1_001_001 })
    );
}

async fn idempotent_consume_replays_the_first_answer(db: &TestDb) {
    let s = store(db);
    let p = user(s, "idem@example.org", "Idem").await;
    let calls = AtomicUsize::new(0);
    // Each answer says which call built it, so a replay must be the very first one.
    let respond = |decided: Consumed| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut a = answer(decided);
        a.body["call"] = json!(n);
        a
    };
    let request = |key: &'static str, cap| ConsumeRequest {
        idempotency: Some(IdempotencyKey {
            key,
            request_hash: "sha256:aaaa",
        }),
        ..consume_request(p.id, "ai_calls", march(), 2, cap)
    };

    let first = s
        .consume(&request("key-1", Some(3)), &respond)
        .await
        .unwrap();
    assert_eq!(first, ConsumeResult::Fresh(Consumed::Spent { used: 2 }));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stored = StoredResponse {
        status: 201,
        body: json!({ "used": 2, "call": 1 }),
    };
    for _ in 0..3 {
        let again = s
            .consume(&request("key-1", Some(3)), &respond)
            .await
            .unwrap();
        assert_eq!(again, ConsumeResult::Replayed(stored.clone()));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "respond runs once per key");
    assert_eq!(used(s, p.id, "ai_calls", march()).await, 2, "counted once");

    // A refusal is remembered too, even when a replay would now fit.
    let refused = s
        .consume(&request("key-2", Some(3)), &respond)
        .await
        .unwrap();
    assert_eq!(
        refused,
        ConsumeResult::Fresh(Consumed::LimitReached { used: 2 })
    );
    let again = s.consume(&request("key-2", None), &respond).await.unwrap();
    assert_eq!(
        again,
        ConsumeResult::Replayed(StoredResponse {
            status: 429,
            body: json!({ "error": "limit_reached", "used": 2, "call": 2 }),
        })
    );
    assert_eq!(used(s, p.id, "ai_calls", march()).await, 2);

    // A new key is a new request.
    let third = s.consume(&request("key-3", None), &respond).await.unwrap();
    assert_eq!(third, ConsumeResult::Fresh(Consumed::Spent { used: 4 }));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        s.consume(&request("key-1", None), &respond).await.unwrap(),
        ConsumeResult::Replayed(stored)
    );
    assert_eq!(used(s, p.id, "ai_calls", march()).await, 4);
}

async fn idempotency_key_with_other_request_is_refused(db: &TestDb) {
    let s = store(db);
    let p = user(s, "mismatch@example.org", "Mismatch").await;
    let request = |hash: &'static str| ConsumeRequest {
        idempotency: Some(IdempotencyKey {
            key: "shared-key",
            request_hash: hash,
        }),
        ..consume_request(p.id, "weight", march(), 1, Some(10))
    };
    assert_eq!(
        s.consume(&request("hash-a"), &answer).await.unwrap(),
        ConsumeResult::Fresh(Consumed::Spent { used: 1 })
    );
    let err = s
        .consume(&request("hash-b"), &answer)
        .await
        .expect_err("other request, same key");
    assert!(matches!(err, StoreError::IdempotencyMismatch), "{err:?}");
    assert_eq!(used(s, p.id, "weight", march()).await, 1);
    // The key still answers its own request.
    assert_eq!(
        s.consume(&request("hash-a"), &answer).await.unwrap(),
        ConsumeResult::Replayed(answer(Consumed::Spent { used: 1 }))
    );
    assert_eq!(used(s, p.id, "weight", march()).await, 1);
}

async fn idempotency_keys_are_per_profile(db: &TestDb) {
    let s = store(db);
    let p = user(s, "p@example.org", "P").await;
    let q = user(s, "q@example.org", "Q").await;
    let request = |profile_id: Uuid, hash: &'static str| ConsumeRequest {
        idempotency: Some(IdempotencyKey {
            key: "same-key",
            request_hash: hash,
        }),
        ..consume_request(profile_id, "weight", march(), 1, Some(10))
    };
    assert_eq!(
        s.consume(&request(p.id, "h-p"), &answer).await.unwrap(),
        ConsumeResult::Fresh(Consumed::Spent { used: 1 })
    );
    // Another profile, same key string (even with another fingerprint): its own key.
    assert_eq!(
        s.consume(&request(q.id, "h-q"), &answer).await.unwrap(),
        ConsumeResult::Fresh(Consumed::Spent { used: 1 })
    );
    assert_eq!(
        s.consume(&request(q.id, "h-q"), &answer).await.unwrap(),
        ConsumeResult::Replayed(answer(Consumed::Spent { used: 1 }))
    );
    assert_eq!(used(s, p.id, "weight", march()).await, 1);
    assert_eq!(used(s, q.id, "weight", march()).await, 1);
    let err = s
        .consume(&request(p.id, "h-q"), &answer)
        .await
        .expect_err("p's key belongs to p's request");
    assert!(matches!(err, StoreError::IdempotencyMismatch), "{err:?}");
}

async fn consume_is_exact_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "race@example.org", "Race").await.id;
    let results = race(200, |_| {
        let s = Arc::clone(&db.store);
        async move {
            let r = consume_request(pid, "ai_calls", march(), 1, Some(50));
            s.consume(&r, &answer).await
        }
    })
    .await;

    let mut spent = Vec::new();
    let mut refused = 0;
    for result in results {
        match result.expect("consume") {
            ConsumeResult::Fresh(Consumed::Spent { used }) => spent.push(used),
            ConsumeResult::Fresh(Consumed::LimitReached { used }) => {
                assert_eq!(used, 50, "refused before the cap was reached");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(spent.len(), 50);
    assert_eq!(refused, 150);
    // Every unit was handed out once: the winners saw 1, 2, …, 50.
    spent.sort_unstable();
    assert_eq!(spent, (1..=50).collect::<Vec<i64>>());
    assert_eq!(used(store(db), pid, "ai_calls", march()).await, 50);
}

async fn unlimited_consume_loses_no_update_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "many@example.org", "Many").await.id;
    let results = race(200, |_| {
        let s = Arc::clone(&db.store);
        async move {
            let r = consume_request(pid, "weight", march(), 1, None);
            s.consume(&r, &answer).await
        }
    })
    .await;
    let mut spent: Vec<i64> = results
        .into_iter()
        .map(|r| match r.expect("consume") {
            ConsumeResult::Fresh(Consumed::Spent { used }) => used,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    spent.sort_unstable();
    assert_eq!(spent, (1..=200).collect::<Vec<i64>>());
    assert_eq!(used(store(db), pid, "weight", march()).await, 200);
}

async fn idempotent_consume_is_once_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "retry@example.org", "Retry").await.id;
    let results = race(20, |task| {
        let s = Arc::clone(&db.store);
        async move {
            // Each caller's answer names the caller, so replays show whose answer they got.
            let respond = move |decided: Consumed| {
                let mut a = answer(decided);
                a.body["task"] = json!(task);
                a
            };
            let r = ConsumeRequest {
                idempotency: Some(IdempotencyKey {
                    key: "retry-key",
                    request_hash: "sha256:retry",
                }),
                ..consume_request(pid, "ai_calls", march(), 1, Some(50))
            };
            (task, s.consume(&r, &respond).await)
        }
    })
    .await;

    let mut winners = Vec::new();
    let mut replays = Vec::new();
    for (task, result) in results {
        match result.expect("consume") {
            ConsumeResult::Fresh(decided) => {
                assert_eq!(decided, Consumed::Spent { used: 1 });
                winners.push(task);
            }
            ConsumeResult::Replayed(response) => replays.push(response),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one call decides");
    assert_eq!(replays.len(), 19);
    let expected = StoredResponse {
        status: 201,
        body: json!({ "used": 1, "task": winners[0] }),
    };
    assert!(replays.iter().all(|r| *r == expected), "{replays:?}");
    assert_eq!(used(store(db), pid, "ai_calls", march()).await, 1);
}

async fn distinct_idempotency_keys_are_exact_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "keys@example.org", "Keys").await.id;
    let call = |task: usize| {
        let s = Arc::clone(&db.store);
        async move {
            let key = format!("key-{task}");
            let r = ConsumeRequest {
                idempotency: Some(IdempotencyKey {
                    key: &key,
                    request_hash: "sha256:same-body",
                }),
                ..consume_request(pid, "photos", march(), 1, Some(10))
            };
            (task, s.consume(&r, &answer).await)
        }
    };
    let results = race(50, call).await;
    let mut decided = BTreeMap::new();
    for (task, result) in results {
        match result.expect("consume") {
            ConsumeResult::Fresh(c) => decided.insert(task, c),
            other => panic!("a new key was replayed: {other:?}"),
        };
    }
    let spent = decided
        .values()
        .filter(|c| matches!(c, Consumed::Spent { .. }))
        .count();
    assert_eq!(spent, 10);
    assert_eq!(decided.len(), 50);
    assert_eq!(used(store(db), pid, "photos", march()).await, 10);

    // Each key, asked again, answers as it did the first time.
    for (task, result) in race(50, call).await {
        assert_eq!(
            result.expect("replay"),
            ConsumeResult::Replayed(answer(decided[&task]))
        );
    }
    assert_eq!(used(store(db), pid, "photos", march()).await, 10);
}
