//! The conformance suite of [`MediaStore`]: photo metadata with its gated create, AI
//! results, idempotent replays and the release of reserved usage. Every case is written
//! once, against `&TestDb`, and runs on both backends (`sqlite::<case>` and
//! `postgres::<case>`).
//!
//! Every test gets a fresh, migrated database. PostgreSQL tests need the server named by
//! `MITAI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! fail when it cannot be reached.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mitai_store::media::{AiKind, AiResult, CreatedPhoto, GatedCreate, Photo, PhotoType, Release};
use mitai_store::testing::TestDb;
use mitai_store::{
    Backend, ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, NewProfile, Profile, Role,
    Store, StoreError, StoredResponse,
};
use serde_json::json;
use uuid::Uuid;

// --- the two backends ---------------------------------------------------------------------

conformance! {
    plain: [
        create_photo_spends_and_stores_together,
        create_photo_over_the_cap_writes_nothing,
        create_photo_without_cap_counts_usage,
        create_photo_with_a_key_is_replayed_once_stored,
        create_photo_key_reused_for_another_request_is_refused,
        create_photo_refused_by_the_cap_keeps_no_key,
        create_photo_for_an_unknown_profile_writes_nothing,
        photo_round_trips_every_field,
        photos_of_another_profile_are_not_found,
        list_photos_pages_newest_first,
        delete_photo_returns_the_row_once,
        ai_result_round_trips_and_lists_by_kind,
        ai_results_of_another_profile_are_not_found,
        list_ai_results_pages_newest_first,
        create_ai_result_with_a_key_is_replayed,
        stored_response_reads_answers_and_mismatches,
        release_gives_back_and_never_goes_below_zero,
        release_of_an_empty_bucket_is_zero,
    ],
    concurrent: [
        photo_creates_are_exact_under_concurrency,
        concurrent_releases_never_go_below_zero,
        reserve_and_release_race_ends_where_it_started,
    ],
}

// --- helpers ------------------------------------------------------------------------------

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0)
        .single()
        .expect("valid instant")
}

fn period() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
        .single()
        .expect("valid instant")
}

fn store(db: &TestDb) -> &dyn Store {
    &*db.store
}

async fn user(s: &dyn Store, email: &str) -> Profile {
    s.create_profile(&NewProfile {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: format!("$argon2id$hash-of-{email}"),
        name: "User".to_owned(),
        role: Role::User,
        tier: "free".to_owned(),
        trial_ends_at: None,
        email_verified: true,
        invited_by: None,
        language: "en".to_owned(),
        created_at: t0(),
    })
    .await
    .expect("create profile")
}

pub(crate) fn photo(profile: Uuid) -> Photo {
    Photo {
        id: Uuid::now_v7(),
        profile_id: profile,
        kind: PhotoType::Jpeg,
        width: 640,
        height: 480,
        bytes: 12_345,
        sha256: "ab".repeat(32),
        taken_on: None,
        note: None,
        created_at: t0(),
    }
}

pub(crate) fn gate<'a>(
    profile: Uuid,
    feature: &'a str,
    cap: Option<i64>,
    key: Option<IdempotencyKey<'a>>,
) -> ConsumeRequest<'a> {
    ConsumeRequest {
        profile_id: profile,
        feature_id: feature,
        period_start: period(),
        amount: 1,
        cap,
        now: t0(),
        idempotency: key,
        log: None,
    }
}

pub(crate) fn answer(p: &Photo) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: json!({ "photo": { "id": p.id.to_string() } }),
    }
}

fn ai_answer(r: &AiResult) -> StoredResponse {
    StoredResponse {
        status: 200,
        body: json!({ "insight": { "id": r.id.to_string() } }),
    }
}

async fn used(s: &dyn Store, profile: Uuid, feature: &str) -> i64 {
    s.usage(profile, &[(feature, period())]).await.unwrap()[0]
}

/// Spends `amount` without cap (for setting up usage).
async fn spend(s: &dyn Store, profile: Uuid, feature: &str, amount: i64) -> i64 {
    let mut r = gate(profile, feature, None, None);
    r.amount = amount;
    match s.consume(&r, &|_| unreachable!()).await.unwrap() {
        ConsumeResult::Fresh(Consumed::Spent { used }) => used,
        other => panic!("{other:?}"),
    }
}

fn release(profile: Uuid, feature: &str, amount: i64) -> Release<'_> {
    Release {
        profile_id: profile,
        feature_id: feature,
        period_start: period(),
        amount,
        now: t0(),
    }
}

fn ai_result(profile: Uuid, kind: AiKind) -> AiResult {
    AiResult {
        id: Uuid::now_v7(),
        profile_id: profile,
        kind,
        question: Some("How am I doing?".into()),
        answer: "Steady progress.".into(),
        model: "test-model".into(),
        steps: match kind {
            AiKind::Insight => json!([]),
            AiKind::Pipeline => json!([{"name": "summary", "answer": "ok"}]),
        },
        created_at: t0(),
    }
}

// --- photos -------------------------------------------------------------------------------

async fn create_photo_spends_and_stores_together(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let new = photo(p.id);
    let out = s
        .create_photo(&gate(p.id, "photos", Some(3), None), &new, &answer)
        .await
        .unwrap();
    assert_eq!(
        out,
        GatedCreate::Created(CreatedPhoto {
            photo: new.clone(),
            used: 1
        })
    );
    assert_eq!(used(s, p.id, "photos").await, 1);
    assert_eq!(s.photo(p.id, new.id).await.unwrap(), Some(new));
}

async fn create_photo_over_the_cap_writes_nothing(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    for _ in 0..2 {
        let out = s
            .create_photo(&gate(p.id, "photos", Some(2), None), &photo(p.id), &answer)
            .await
            .unwrap();
        assert!(matches!(out, GatedCreate::Created(_)));
    }
    let refused = photo(p.id);
    let out = s
        .create_photo(&gate(p.id, "photos", Some(2), None), &refused, &answer)
        .await
        .unwrap();
    assert_eq!(out, GatedCreate::LimitReached { used: 2 });
    assert_eq!(used(s, p.id, "photos").await, 2);
    assert_eq!(s.photo(p.id, refused.id).await.unwrap(), None);
    assert_eq!(s.list_photos(p.id, None, 10).await.unwrap().len(), 2);
}

async fn create_photo_without_cap_counts_usage(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    for n in 1..=3 {
        let out = s
            .create_photo(&gate(p.id, "photos", None, None), &photo(p.id), &answer)
            .await
            .unwrap();
        assert!(matches!(out, GatedCreate::Created(c) if c.used == n));
    }
    assert_eq!(used(s, p.id, "photos").await, 3);
}

async fn create_photo_with_a_key_is_replayed_once_stored(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let key = IdempotencyKey {
        key: "k-1",
        request_hash: "h-1",
    };
    let first = photo(p.id);
    let out = s
        .create_photo(&gate(p.id, "photos", Some(5), Some(key)), &first, &answer)
        .await
        .unwrap();
    assert!(matches!(out, GatedCreate::Created(c) if c.photo == first && c.used == 1));
    let second = photo(p.id);
    let out = s
        .create_photo(&gate(p.id, "photos", Some(5), Some(key)), &second, &answer)
        .await
        .unwrap();
    assert_eq!(out, GatedCreate::Replayed(answer(&first)));
    assert_eq!(used(s, p.id, "photos").await, 1);
    assert_eq!(s.photo(p.id, second.id).await.unwrap(), None);
    assert_eq!(
        s.stored_response(p.id, key).await.unwrap(),
        Some(answer(&first))
    );
}

async fn create_photo_key_reused_for_another_request_is_refused(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let key = |hash| IdempotencyKey {
        key: "k-1",
        request_hash: hash,
    };
    s.create_photo(
        &gate(p.id, "photos", Some(5), Some(key("h-1"))),
        &photo(p.id),
        &answer,
    )
    .await
    .unwrap();
    let other = photo(p.id);
    let err = s
        .create_photo(
            &gate(p.id, "photos", Some(5), Some(key("h-2"))),
            &other,
            &answer,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch), "{err:?}");
    assert_eq!(used(s, p.id, "photos").await, 1);
    assert_eq!(s.photo(p.id, other.id).await.unwrap(), None);
}

async fn create_photo_refused_by_the_cap_keeps_no_key(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let key = IdempotencyKey {
        key: "k-1",
        request_hash: "h-1",
    };
    let out = s
        .create_photo(
            &gate(p.id, "photos", Some(0), Some(key)),
            &photo(p.id),
            &answer,
        )
        .await
        .unwrap();
    assert_eq!(out, GatedCreate::LimitReached { used: 0 });
    assert_eq!(s.stored_response(p.id, key).await.unwrap(), None);
    // With room again, the same key decides afresh.
    let new = photo(p.id);
    let out = s
        .create_photo(&gate(p.id, "photos", Some(1), Some(key)), &new, &answer)
        .await
        .unwrap();
    assert_eq!(
        out,
        GatedCreate::Created(CreatedPhoto {
            photo: new,
            used: 1
        })
    );
}

async fn create_photo_for_an_unknown_profile_writes_nothing(db: &TestDb) {
    let s = store(db);
    let ghost = Uuid::now_v7();
    let new = photo(ghost);
    assert!(
        s.create_photo(&gate(ghost, "photos", Some(3), None), &new, &answer)
            .await
            .is_err()
    );
    assert_eq!(s.photo(ghost, new.id).await.unwrap(), None);
    assert_eq!(used(s, ghost, "photos").await, 0);
}

async fn photo_round_trips_every_field(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    for (kind, taken_on, note) in [
        (PhotoType::Jpeg, None, None),
        (
            PhotoType::Png,
            NaiveDate::from_ymd_opt(2024, 2, 29),
            Some("Frühjahr — front".to_owned()),
        ),
        (
            PhotoType::Webp,
            NaiveDate::from_ymd_opt(1999, 12, 31),
            Some(String::new()),
        ),
    ] {
        let new = Photo {
            kind,
            width: 1,
            height: 65_535,
            bytes: 10 * 1024 * 1024 * 1024,
            taken_on,
            note,
            created_at: t0() + chrono::TimeDelta::microseconds(123_456),
            ..photo(p.id)
        };
        s.create_photo(&gate(p.id, "photos", None, None), &new, &answer)
            .await
            .unwrap();
        assert_eq!(s.photo(p.id, new.id).await.unwrap(), Some(new));
    }
}

async fn photos_of_another_profile_are_not_found(db: &TestDb) {
    let s = store(db);
    let owner = user(s, "owner@example.org").await;
    let other = user(s, "other@example.org").await;
    let new = photo(owner.id);
    s.create_photo(&gate(owner.id, "photos", None, None), &new, &answer)
        .await
        .unwrap();
    assert_eq!(s.photo(other.id, new.id).await.unwrap(), None);
    assert!(s.list_photos(other.id, None, 10).await.unwrap().is_empty());
    assert_eq!(s.delete_photo(other.id, new.id).await.unwrap(), None);
    assert_eq!(s.photo(owner.id, new.id).await.unwrap(), Some(new));
}

async fn list_photos_pages_newest_first(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let new = photo(p.id);
        ids.push(new.id);
        s.create_photo(&gate(p.id, "photos", None, None), &new, &answer)
            .await
            .unwrap();
    }
    ids.reverse();
    let first: Vec<Uuid> = s
        .list_photos(p.id, None, 2)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(first, ids[..2]);
    let second: Vec<Uuid> = s
        .list_photos(p.id, Some(first[1]), 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(second, ids[2..]);
}

async fn delete_photo_returns_the_row_once(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let new = photo(p.id);
    s.create_photo(&gate(p.id, "photos", None, None), &new, &answer)
        .await
        .unwrap();
    assert_eq!(
        s.delete_photo(p.id, new.id).await.unwrap(),
        Some(new.clone())
    );
    assert_eq!(s.delete_photo(p.id, new.id).await.unwrap(), None);
    assert_eq!(s.photo(p.id, new.id).await.unwrap(), None);
    // Deleting gives nothing back: the spend stays spent.
    assert_eq!(used(s, p.id, "photos").await, 1);
}

// --- AI results ---------------------------------------------------------------------------

async fn ai_result_round_trips_and_lists_by_kind(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let insight = ai_result(p.id, AiKind::Insight);
    let mut pipeline = ai_result(p.id, AiKind::Pipeline);
    pipeline.question = None;
    for r in [&insight, &pipeline] {
        let out = s.create_ai_result(r, None, &ai_answer).await.unwrap();
        assert_eq!(out, GatedCreate::Created(r.clone()));
        assert_eq!(s.ai_result(p.id, r.id).await.unwrap().as_ref(), Some(r));
    }
    let all = s.list_ai_results(p.id, None, None, 10).await.unwrap();
    assert_eq!(all, vec![pipeline.clone(), insight.clone()]);
    let only = s
        .list_ai_results(p.id, Some(AiKind::Insight), None, 10)
        .await
        .unwrap();
    assert_eq!(only, vec![insight]);
    let only = s
        .list_ai_results(p.id, Some(AiKind::Pipeline), None, 10)
        .await
        .unwrap();
    assert_eq!(only, vec![pipeline]);
}

async fn ai_results_of_another_profile_are_not_found(db: &TestDb) {
    let s = store(db);
    let owner = user(s, "owner@example.org").await;
    let other = user(s, "other@example.org").await;
    let r = ai_result(owner.id, AiKind::Insight);
    s.create_ai_result(&r, None, &ai_answer).await.unwrap();
    assert_eq!(s.ai_result(other.id, r.id).await.unwrap(), None);
    assert!(
        s.list_ai_results(other.id, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_ai_results_pages_newest_first(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let r = ai_result(p.id, AiKind::Insight);
        ids.push(r.id);
        s.create_ai_result(&r, None, &ai_answer).await.unwrap();
    }
    ids.reverse();
    let page = s.list_ai_results(p.id, None, None, 3).await.unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), ids[..3]);
    let rest = s
        .list_ai_results(p.id, None, Some(page[2].id), 3)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), ids[3..]);
}

async fn create_ai_result_with_a_key_is_replayed(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let key = IdempotencyKey {
        key: "ai-1",
        request_hash: "h",
    };
    let first = ai_result(p.id, AiKind::Insight);
    assert_eq!(
        s.create_ai_result(&first, Some(key), &ai_answer)
            .await
            .unwrap(),
        GatedCreate::Created(first.clone())
    );
    let second = ai_result(p.id, AiKind::Insight);
    assert_eq!(
        s.create_ai_result(&second, Some(key), &ai_answer)
            .await
            .unwrap(),
        GatedCreate::Replayed(ai_answer(&first))
    );
    assert_eq!(s.ai_result(p.id, second.id).await.unwrap(), None);
    assert_eq!(
        s.list_ai_results(p.id, None, None, 10).await.unwrap().len(),
        1
    );
}

async fn stored_response_reads_answers_and_mismatches(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let other = user(s, "b@example.org").await;
    let key = IdempotencyKey {
        key: "k",
        request_hash: "h",
    };
    assert_eq!(s.stored_response(p.id, key).await.unwrap(), None);
    let r = ai_result(p.id, AiKind::Insight);
    s.create_ai_result(&r, Some(key), &ai_answer).await.unwrap();
    assert_eq!(
        s.stored_response(p.id, key).await.unwrap(),
        Some(ai_answer(&r))
    );
    // Keys are per profile.
    assert_eq!(s.stored_response(other.id, key).await.unwrap(), None);
    let err = s
        .stored_response(
            p.id,
            IdempotencyKey {
                key: "k",
                request_hash: "other",
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch), "{err:?}");
}

// --- releasing reserved usage -------------------------------------------------------------

async fn release_gives_back_and_never_goes_below_zero(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    assert_eq!(spend(s, p.id, "ai_calls", 3).await, 3);
    assert_eq!(
        s.release_usage(&release(p.id, "ai_calls", 1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(used(s, p.id, "ai_calls").await, 2);
    assert_eq!(
        s.release_usage(&release(p.id, "ai_calls", 5))
            .await
            .unwrap(),
        0
    );
    assert_eq!(used(s, p.id, "ai_calls").await, 0);
    assert_eq!(
        s.release_usage(&release(p.id, "ai_calls", 1))
            .await
            .unwrap(),
        0
    );
    // Only the named bucket and feature change.
    spend(s, p.id, "photos", 2).await;
    spend(s, p.id, "ai_calls", 1).await;
    s.release_usage(&release(p.id, "ai_calls", 1))
        .await
        .unwrap();
    assert_eq!(used(s, p.id, "photos").await, 2);
    let other_bucket = Release {
        period_start: period() - chrono::TimeDelta::days(28),
        ..release(p.id, "photos", 2)
    };
    assert_eq!(s.release_usage(&other_bucket).await.unwrap(), 0);
    assert_eq!(used(s, p.id, "photos").await, 2);
}

async fn release_of_an_empty_bucket_is_zero(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    assert_eq!(
        s.release_usage(&release(p.id, "ai_calls", 1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(used(s, p.id, "ai_calls").await, 0);
    // A negative amount gives back nothing (and takes nothing).
    spend(s, p.id, "ai_calls", 1).await;
    assert_eq!(
        s.release_usage(&release(p.id, "ai_calls", -4))
            .await
            .unwrap(),
        1
    );
}

// --- concurrency --------------------------------------------------------------------------

async fn photo_creates_are_exact_under_concurrency(db: &TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let p = user(&*store, "a@example.org").await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_photo(&gate(p.id, "photos", Some(3), None), &photo(p.id), &answer)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            GatedCreate::Created(c) => created.push(c.used),
            GatedCreate::LimitReached { used } => {
                assert_eq!(used, 3);
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    created.sort_unstable();
    assert_eq!((created, refused), (vec![1, 2, 3], 13));
    assert_eq!(used(&*store, p.id, "photos").await, 3);
    assert_eq!(store.list_photos(p.id, None, 100).await.unwrap().len(), 3);
}

async fn concurrent_releases_never_go_below_zero(db: &TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let p = user(&*store, "a@example.org").await;
    spend(&*store, p.id, "ai_calls", 5).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .release_usage(&release(p.id, "ai_calls", 1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut after = Vec::new();
    for task in tasks {
        after.push(task.await.unwrap());
    }
    assert!(after.iter().all(|&u| u >= 0), "{after:?}");
    // Each of the first five releases saw a distinct value 4, 3, 2, 1, 0.
    let mut positive: Vec<i64> = after.iter().copied().filter(|&u| u > 0).collect();
    positive.sort_unstable();
    assert_eq!(positive, vec![1, 2, 3, 4]);
    assert_eq!(used(&*store, p.id, "ai_calls").await, 0);
}

async fn reserve_and_release_race_ends_where_it_started(db: &TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let p = user(&*store, "a@example.org").await;
    spend(&*store, p.id, "ai_calls", 2).await;
    // 12 workers each reserve one unit under a cap of 6 and give it back; at no time can
    // usage pass the cap, and when all are done it is where it started.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut reserved = 0;
                for _ in 0..5 {
                    let r = gate(p.id, "ai_calls", Some(6), None);
                    match store.consume(&r, &|_| unreachable!()).await.unwrap() {
                        ConsumeResult::Fresh(Consumed::Spent { used }) => {
                            assert!(used <= 6);
                            reserved += 1;
                            let left = store
                                .release_usage(&release(p.id, "ai_calls", 1))
                                .await
                                .unwrap();
                            assert!(left >= 2, "released below the base usage: {left}");
                        }
                        ConsumeResult::Fresh(Consumed::LimitReached { used }) => {
                            assert!(used <= 6, "{used}")
                        }
                        other => panic!("{other:?}"),
                    }
                }
                reserved
            })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        reserved += task.await.unwrap();
    }
    assert!(reserved > 0);
    assert_eq!(used(&*store, p.id, "ai_calls").await, 2);
}
