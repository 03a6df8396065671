//! The conformance suite of the hot path: consumes that write their own `feature_used`
//! entry, PostgreSQL's batchers and SQLite's group commit (one failing spend, many profiles
//! at once, lost connections, another writer), the caches that answer sessions, access facts
//! and usage from memory, and SQLite's WAL starting over.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mitai_store::testing::TestDb;
use mitai_store::{
    ActivityFilter, Backend, ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, NewActivity,
    NewSession, Profile, ProfilePatch, Restriction, SpendLog, Store, StoreError, actions,
};
use serde_json::json;
use uuid::Uuid;

use crate::support::{answer, consume_request, march, race, store, t0, used, user};

conformance! {
    plain: [
        logged_consume_writes_its_entry_with_the_spend,
        spends_move_last_active_by_a_minute_at_least,
        cached_reads_follow_every_change_at_once,
        usage_reads_follow_every_usage_write_at_once,
    ],
    concurrent: [
        logged_consume_is_exact_under_concurrency,
        a_failing_spend_does_not_fail_the_others,
        spends_of_many_profiles_at_once_are_each_exact,
        usage_reads_see_every_acknowledged_spend_under_concurrency,
    ],
}

/// A consume that writes its own `feature_used` entry.
fn logged(request: ConsumeRequest<'_>) -> ConsumeRequest<'_> {
    ConsumeRequest {
        log: Some(SpendLog {
            activity_id: Uuid::now_v7(),
            ip: Some("203.0.113.7"),
        }),
        ..request
    }
}

async fn feature_used_entries(s: &dyn Store, profile_id: Uuid) -> Vec<mitai_store::Activity> {
    let filter = ActivityFilter {
        profile_id: Some(profile_id),
        action: Some(actions::FEATURE_USED.to_owned()),
        since: None,
    };
    s.activity(&filter, None, 10_000).await.expect("activity")
}

async fn logged_consume_writes_its_entry_with_the_spend(db: &TestDb) {
    let s = store(db);
    let p = user(s, "logged@example.org", "Logged").await;
    let spend = logged(consume_request(p.id, "ai_calls", march(), 2, Some(3)));
    let decided = s.consume(&spend, &answer).await.expect("consume");
    assert_eq!(decided, ConsumeResult::Fresh(Consumed::Spent { used: 2 }));
    let entries = feature_used_entries(s, p.id).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.id, spend.log.unwrap().activity_id);
    assert_eq!((entry.profile_id, entry.actor_id), (Some(p.id), Some(p.id)));
    assert_eq!(
        entry.details,
        json!({"feature": "ai_calls", "amount": 2, "used": 2})
    );
    assert_eq!(entry.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(entry.created_at, t0());

    // A refusal changes nothing and writes no entry.
    let refused = logged(consume_request(p.id, "ai_calls", march(), 2, Some(3)));
    let decided = s.consume(&refused, &answer).await.expect("consume");
    assert_eq!(
        decided,
        ConsumeResult::Fresh(Consumed::LimitReached { used: 2 })
    );
    assert_eq!(feature_used_entries(s, p.id).await.len(), 1);

    // With an idempotency key the entry is written once, with the first answer.
    let keyed = ConsumeRequest {
        idempotency: Some(IdempotencyKey {
            key: "logged-key",
            request_hash: "h",
        }),
        ..logged(consume_request(p.id, "weight", march(), 1, None))
    };
    for _ in 0..2 {
        s.consume(&keyed, &answer).await.expect("consume");
    }
    assert_eq!(feature_used_entries(s, p.id).await.len(), 2);

    // The statistics: active at the spend; totals derived from the entries.
    let stats = s.user_stats(p.id).await.unwrap().expect("stats");
    assert_eq!(stats.last_active_at, Some(t0()));
    assert_eq!(stats.feature_totals, json!({"ai_calls": 2, "weight": 1}));
}

/// A spend within a minute of the `last_active_at` it finds leaves it (and its row) as it
/// is; one a minute or more later moves it; a late one never moves it back.
async fn spends_move_last_active_by_a_minute_at_least(db: &TestDb) {
    let s = store(db);
    let p = user(s, "active@example.org", "Active").await;
    let at = |seconds: i64| t0() + chrono::TimeDelta::seconds(seconds);
    for (spent_at, active) in [
        (0, 0),
        (30, 0),
        (59, 0),
        (60, 60),
        (61, 60),
        (200, 200),
        (100, 200),
    ] {
        let spend = ConsumeRequest {
            now: at(spent_at),
            ..logged(consume_request(p.id, "weight", march(), 1, None))
        };
        s.consume(&spend, &answer).await.expect("consume");
        let stats = s.user_stats(p.id).await.unwrap().expect("stats");
        assert_eq!(
            stats.last_active_at,
            Some(at(active)),
            "after a spend at {spent_at} s"
        );
    }
    // Every spend has its entry all the same.
    assert_eq!(feature_used_entries(s, p.id).await.len(), 7);
}

async fn logged_consume_is_exact_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "logged-race@example.org", "Race").await.id;
    let results = race(200, |_| {
        let s = Arc::clone(&db.store);
        async move {
            let r = logged(consume_request(pid, "ai_calls", march(), 1, Some(50)));
            s.consume(&r, &answer).await
        }
    })
    .await;
    let spent = results
        .into_iter()
        .filter(|r| matches!(r, Ok(ConsumeResult::Fresh(Consumed::Spent { .. }))))
        .count();
    assert_eq!(spent, 50);
    assert_eq!(used(store(db), pid, "ai_calls", march()).await, 50);
    // One entry per unit handed out, each naming the usage it left: 1, 2, …, 50.
    let mut seen: Vec<i64> = feature_used_entries(store(db), pid)
        .await
        .iter()
        .map(|a| a.details["used"].as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=50).collect::<Vec<i64>>());
}

/// Spends that arrive together (one group commit on SQLite) are decided each on its own:
/// one for an unknown feature fails alone.
async fn a_failing_spend_does_not_fail_the_others(db: &TestDb) {
    let pid = user(store(db), "mixed@example.org", "Mixed").await.id;
    let results = race(60, |task| {
        let s = Arc::clone(&db.store);
        async move {
            let feature = if task % 10 == 3 {
                "no_such_feature"
            } else {
                "weight"
            };
            let r = logged(consume_request(pid, feature, march(), 1, None));
            (feature, s.consume(&r, &answer).await)
        }
    })
    .await;
    let mut spent = 0;
    for (feature, result) in results {
        match (feature, result) {
            ("weight", Ok(ConsumeResult::Fresh(Consumed::Spent { .. }))) => spent += 1,
            ("no_such_feature", Err(StoreError::MissingReference(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(spent, 54);
    assert_eq!(used(store(db), pid, "weight", march()).await, 54);
    assert_eq!(feature_used_entries(store(db), pid).await.len(), 54);
}

/// Many profiles spending at once (on PostgreSQL: batches of distinct buckets, each decided
/// by one statement; a profile's repeats wait for the next batch): every profile gets
/// exactly its cap, each refusal names the usage it was refused at, and every spend has its
/// entry and leaves the profile active.
async fn spends_of_many_profiles_at_once_are_each_exact(db: &TestDb) {
    let mut profiles = Vec::new();
    for i in 0..12 {
        let email = format!("many-{i}@example.org");
        profiles.push(user(store(db), &email, "Many").await.id);
    }
    let ids = profiles.clone();
    let results = race(180, |task| {
        let s = Arc::clone(&db.store);
        let pid = ids[task % ids.len()];
        async move {
            let r = logged(consume_request(pid, "ai_calls", march(), 1, Some(10)));
            (pid, s.consume(&r, &answer).await)
        }
    })
    .await;
    for pid in &profiles {
        let mine: Vec<_> = results.iter().filter(|(p, _)| p == pid).collect();
        let spent = mine
            .iter()
            .filter(|(_, r)| matches!(r, Ok(ConsumeResult::Fresh(Consumed::Spent { .. }))))
            .count();
        assert_eq!(spent, 10, "profile {pid}");
        for (_, r) in &mine {
            match r {
                Ok(ConsumeResult::Fresh(Consumed::Spent { used })) => {
                    assert!((1..=10).contains(used));
                }
                Ok(ConsumeResult::Fresh(Consumed::LimitReached { used })) => {
                    assert_eq!(*used, 10);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(used(store(db), *pid, "ai_calls", march()).await, 10);
        let mut seen: Vec<i64> = feature_used_entries(store(db), *pid)
            .await
            .iter()
            .map(|a| a.details["used"].as_i64().unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=10).collect::<Vec<i64>>());
        let stats = store(db).user_stats(*pid).await.unwrap().expect("stats");
        assert_eq!(stats.last_active_at, Some(t0()));
    }
}

/// `mitai_spend_batch` called as any client may call it: distinct buckets are decided by
/// one statement (a refusal answers the usage it met), and a call holding a bucket twice
/// decides its spends in the order given.
#[tokio::test]
async fn postgres_spend_batch_function_decides_in_order() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = user(store(&db), "batch-a@example.org", "A").await.id;
    let b = user(store(&db), "batch-b@example.org", "B").await.id;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let call = async |profiles: &[Uuid], amounts: &[i64], caps: &[Option<i64>]| {
        let n = profiles.len();
        let rows: Vec<(i32, i64, bool)> = sqlx::query_as(
            "SELECT k, new_used, was_spent FROM mitai_spend_batch($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(profiles)
        .bind(vec!["ai_calls"; n])
        .bind(vec![march(); n])
        .bind(amounts)
        .bind(caps)
        .bind(vec![t0(); n])
        .bind((0..n).map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(vec![None::<String>; n])
        .fetch_all(&pool)
        .await
        .unwrap();
        // A spend's answer is its spent row if it has one, else its refused row.
        let mut answers = vec![None; n];
        for (k, used, spent) in rows {
            let slot = &mut answers[usize::try_from(k - 1).unwrap()];
            if spent || slot.is_none() {
                *slot = Some((used, spent));
            }
        }
        answers.into_iter().map(Option::unwrap).collect::<Vec<_>>()
    };
    // Distinct buckets: A spends 3 of 5; B asks 4 over a cap of 3 and is refused at 0.
    assert_eq!(
        call(&[a, b], &[3, 4], &[Some(5), Some(3)]).await,
        vec![(3, true), (0, false)]
    );
    // A twice in one call, in order: 2 more reach the cap of 5, the next 1 is refused at 5;
    // B spends 2 alongside.
    assert_eq!(
        call(&[a, b, a], &[2, 2, 1], &[Some(5), Some(3), Some(5)]).await,
        vec![(5, true), (2, true), (5, false)]
    );
    // A refusal of the set path names the usage it met.
    assert_eq!(
        call(&[b, a], &[2, 1], &[Some(3), None]).await,
        vec![(2, false), (6, true)]
    );
    assert_eq!(used(store(&db), a, "ai_calls", march()).await, 6);
    assert_eq!(used(store(&db), b, "ai_calls", march()).await, 2);
    assert_eq!(feature_used_entries(store(&db), a).await.len(), 3);
    assert_eq!(feature_used_entries(store(&db), b).await.len(), 1);
}

/// The batchers keep their connections from one batch to the next. When PostgreSQL cuts
/// them (a restart, an administrator), a spend or read answers an error at worst, and the
/// next ones are served on new connections; no spend answered as failed was counted.
#[tokio::test]
async fn postgres_batchers_recover_when_their_connections_are_cut() {
    let db = TestDb::new(Backend::Postgres).await;
    let s = store(&db);
    let p = user(s, "cut@example.org", "Cut").await.id;
    let spend = async || {
        s.consume(
            &logged(consume_request(p, "ai_calls", march(), 1, None)),
            &answer,
        )
        .await
    };
    assert!(matches!(
        spend().await,
        Ok(ConsumeResult::Fresh(Consumed::Spent { used: 1 }))
    ));
    assert_eq!(used(s, p, "ai_calls", march()).await, 1);
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut spent = 1;
    for round in 0..3 {
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&admin)
        .await
        .unwrap();
        assert!(
            cut.len() >= 2,
            "round {round}: the batchers' connections were cut"
        );
        // A few calls may meet a cut connection; then every one is served.
        let mut failed = 0;
        for _ in 0..20 {
            match spend().await {
                Ok(ConsumeResult::Fresh(Consumed::Spent { used })) => {
                    spent += 1;
                    assert_eq!(used, spent, "round {round}");
                }
                Ok(other) => panic!("round {round}: {other:?}"),
                Err(_) => failed += 1,
            }
        }
        assert!(failed <= 10, "round {round}: {failed} of 20 spends failed");
        for _ in 0..20 {
            if s.usage(p, &[("ai_calls", march())]).await.is_ok() {
                break;
            }
        }
        assert_eq!(
            used(s, p, "ai_calls", march()).await,
            spent,
            "round {round}"
        );
        assert_eq!(
            spend().await.unwrap(),
            ConsumeResult::Fresh(Consumed::Spent { used: spent + 1 }),
            "round {round}"
        );
        spent += 1;
    }
    assert_eq!(
        feature_used_entries(s, p).await.len(),
        usize::try_from(spent).unwrap()
    );
}

/// On SQLite the group commit runs on the runtime's threads. While another connection
/// holds the write lock, waiting spends wait on the runtime, not in SQLite's busy handler:
/// on a single-threaded runtime (this test's) the lock's holder still gets to commit, and
/// the spends are decided right after.
#[tokio::test]
async fn sqlite_spends_wait_for_another_writer_without_holding_the_runtime() {
    use sqlx::Connection as _;
    let db = TestDb::new(Backend::Sqlite).await;
    let s = store(&db);
    let p = user(s, "locked@example.org", "Locked").await.id;
    let mut other = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let began = std::time::Instant::now();
    let requests: Vec<ConsumeRequest<'_>> = (0..3)
        .map(|_| logged(consume_request(p, "ai_calls", march(), 1, None)))
        .collect();
    let spends = futures::future::join_all(requests.iter().map(|r| s.consume(r, &answer)));
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    };
    let (spent, ()) = tokio::join!(spends, release);
    let mut used: Vec<i64> = spent
        .into_iter()
        .map(|r| match r.unwrap() {
            ConsumeResult::Fresh(Consumed::Spent { used }) => used,
            other => panic!("{other:?}"),
        })
        .collect();
    used.sort_unstable();
    assert_eq!(used, vec![1, 2, 3]);
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(feature_used_entries(s, p).await.len(), 3);
}

/// Sessions and access facts are answered from memory; every change is seen by the next
/// read at once, never a cached answer from before it.
async fn cached_reads_follow_every_change_at_once(db: &TestDb) {
    let s = store(db);
    let p = user(s, "cached@example.org", "Cached").await;
    let admin = user(s, "cache-admin@example.org", "Admin").await;
    let new_session = |hash: &str| NewSession {
        token_hash: hash.to_owned(),
        profile_id: p.id,
        created_at: t0(),
        expires_at: t0() + chrono::Duration::days(30),
        user_agent: None,
    };
    let live = async |hash: &str| s.session(hash, t0()).await.unwrap();
    for hash in ["c-1", "c-2", "c-3"] {
        s.create_session(&new_session(hash)).await.unwrap();
        assert!(live(hash).await.is_some());
    }

    // The profile inside a cached session follows its changes.
    let patch = ProfilePatch {
        tier: Some("premium".into()),
        ..ProfilePatch::default()
    };
    s.update_profile(p.id, &patch, t0()).await.unwrap();
    assert_eq!(live("c-1").await.unwrap().profile.tier, "premium");

    // Renewal.
    let later = t0() + chrono::Duration::days(60);
    assert!(s.renew_session("c-1", t0(), later).await.unwrap());
    assert_eq!(live("c-1").await.unwrap().expires_at, later);

    // Logout of one, then of the others.
    assert!(s.delete_session("c-1").await.unwrap());
    assert!(live("c-1").await.is_none());
    assert!(live("c-2").await.is_some());
    assert_eq!(s.delete_sessions(p.id, Some("c-2")).await.unwrap(), 1);
    assert!(live("c-3").await.is_none());
    assert!(live("c-2").await.is_some());

    // A new password ends the other sessions; disabling ends all.
    s.create_session(&new_session("c-4")).await.unwrap();
    assert!(live("c-4").await.is_some());
    let activity = NewActivity::new(actions::PASSWORD_CHANGED, t0()).by_self(p.id);
    let changed = s
        .change_password(
            p.id,
            &p_hash(&p),
            "$argon2id$new",
            Some("c-2"),
            t0(),
            &activity,
        )
        .await
        .unwrap();
    assert!(changed);
    assert!(live("c-4").await.is_none());
    assert!(live("c-2").await.is_some());
    let disable = ProfilePatch {
        disabled: Some(true),
        ..ProfilePatch::default()
    };
    s.update_profile(p.id, &disable, t0()).await.unwrap();
    assert!(live("c-2").await.is_none());

    // Restrictions.
    assert!(s.restrictions(p.id).await.unwrap().is_empty());
    let restriction = Restriction {
        profile_id: p.id,
        feature_id: "weight".into(),
        limit: Some(2),
        reason: "cache".into(),
        valid_until: None,
        created_by: Some(admin.id),
        created_at: t0(),
    };
    s.put_restriction(&restriction).await.unwrap();
    assert_eq!(
        s.restrictions(p.id).await.unwrap(),
        vec![restriction.clone()]
    );
    let wider = Restriction {
        limit: Some(5),
        ..restriction
    };
    s.put_restriction(&wider).await.unwrap();
    assert_eq!(s.restrictions(p.id).await.unwrap()[0].limit, Some(5));
    assert!(s.delete_restriction(p.id, "weight").await.unwrap());
    assert!(s.restrictions(p.id).await.unwrap().is_empty());

    // Grants and their pauses.
    assert!(s.grants(p.id).await.unwrap().is_empty());
    let grant = s
        .create_grant(&mitai_store::coupons::NewGrant {
            id: Uuid::now_v7(),
            profile_id: p.id,
            tier_id: "premium".into(),
            source: "admin".into(),
            coupon_id: None,
            span: mitai_store::coupons::GrantSpan::Duration { seconds: 86_400 },
            created_by: Some(admin.id),
            created_at: t0(),
        })
        .await
        .unwrap();
    assert_eq!(s.grants(p.id).await.unwrap().len(), 1);
    s.pause_grant(grant.id, Some(admin.id), "holiday", t0())
        .await
        .unwrap();
    assert_eq!(s.grants(p.id).await.unwrap()[0].pauses.len(), 1);
    s.resume_grant(grant.id, Some(admin.id), t0() + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert!(
        s.grants(p.id).await.unwrap()[0].pauses[0]
            .resumed_at
            .is_some()
    );
    s.revoke_grant(grant.id, Some(admin.id), t0() + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert!(s.grants(p.id).await.unwrap()[0].revoked_at.is_some());
}

/// The stored password hash of a profile made by [`new_profile`].
fn p_hash(p: &Profile) -> String {
    format!("$argon2id$hash-of-{}", p.email)
}

/// The usage of a bucket, answered from memory where the backend can (a SQLite file), is
/// what the database holds after every kind of usage write: group-committed spends,
/// refusals, idempotent spends (and their replays) and releases.
async fn usage_reads_follow_every_usage_write_at_once(db: &TestDb) {
    let s = store(db);
    let p = user(s, "usage-cache@example.org", "Usage").await;
    let read = async || used(s, p.id, "weight", march()).await;
    assert_eq!(read().await, 0);
    let spend = |amount| consume_request(p.id, "weight", march(), amount, Some(5));
    s.consume(&spend(2), &answer).await.unwrap();
    assert_eq!(read().await, 2);
    assert_eq!(read().await, 2, "and again, from wherever it is answered");
    // A refusal leaves it as it is.
    s.consume(&spend(4), &answer).await.unwrap();
    assert_eq!(read().await, 2);
    let keyed = ConsumeRequest {
        idempotency: Some(IdempotencyKey {
            key: "usage-cache-key",
            request_hash: "h",
        }),
        ..spend(1)
    };
    s.consume(&keyed, &answer).await.unwrap();
    assert_eq!(read().await, 3);
    s.consume(&keyed, &answer).await.unwrap();
    assert_eq!(read().await, 3, "a replay spends nothing");
    let release = mitai_store::media::Release {
        profile_id: p.id,
        feature_id: "weight",
        period_start: march(),
        amount: 2,
        now: t0(),
    };
    assert_eq!(s.release_usage(&release).await.unwrap(), 1);
    assert_eq!(read().await, 1);
    s.consume(&logged(spend(1)), &answer).await.unwrap();
    assert_eq!(read().await, 2);
    // Several buckets at once: known and unknown ones together.
    let both = s
        .usage(p.id, &[("weight", march()), ("nutrition", march())])
        .await
        .unwrap();
    assert_eq!(both, vec![2, 0]);
}

/// Racing spends with reads in between: a read that begins after a spend was answered sees
/// at least what that spend left, and the last read sees every spend. A cache that kept a
/// value read before a write, or missed one, would answer less. Group-committed spends
/// race first, then idempotent ones join them.
async fn usage_reads_see_every_acknowledged_spend_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "usage-race@example.org", "Race").await.id;
    for keyed in [false, true] {
        let results = race(120, |task| {
            let s = Arc::clone(&db.store);
            async move {
                let key = format!("race-{task}");
                let mut r = consume_request(pid, "weight", march(), 1, None);
                if keyed && task % 4 == 0 {
                    r.idempotency = Some(IdempotencyKey {
                        key: &key,
                        request_hash: "h",
                    });
                }
                let mut seen = Vec::new();
                for _ in 0..3 {
                    let left = match s.consume(&r, &answer).await.unwrap() {
                        ConsumeResult::Fresh(Consumed::Spent { used }) => used,
                        ConsumeResult::Replayed(stored) => stored.body["used"].as_i64().unwrap(),
                        other => panic!("unexpected {other:?}"),
                    };
                    seen.push((left, used(&*s, pid, "weight", march()).await));
                }
                seen
            }
        })
        .await;
        for (left, seen) in results.iter().flatten() {
            assert!(
                seen >= left,
                "a read after a spend that left {left} answered {seen}"
            );
        }
    }
    // 360 spends, then 90 tasks spending three times and 30 once (their key replays).
    assert_eq!(
        used(store(db), pid, "weight", march()).await,
        360 + 90 * 3 + 30
    );
}

/// Under a steady stream of spends a passive checkpoint never finds the whole WAL copied;
/// the writer makes it start over (the WAL header's checkpoint sequence and salts change)
/// instead of letting it grow without end, and every spend stays counted across it.
#[tokio::test]
async fn sqlite_wal_starts_over_under_steady_spends() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut profiles = Vec::new();
    for i in 0..16 {
        let email = format!("wal-{i}@example.org");
        profiles.push(user(store(&db), &email, "Wal").await.id);
    }
    // Spenders that never pause: an idle writer would let a passive checkpoint copy all.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spenders: Vec<_> = (0..32)
        .map(|task| {
            let (s, stop, pid) = (
                Arc::clone(&db.store),
                Arc::clone(&stop),
                profiles[task % 16],
            );
            tokio::spawn(async move {
                let mut spent = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    let r = logged(consume_request(pid, "ai_calls", march(), 1, None));
                    let outcome = s.consume(&r, &answer).await;
                    assert!(matches!(
                        outcome,
                        Ok(ConsumeResult::Fresh(Consumed::Spent { .. }))
                    ));
                    spent += 1;
                }
                spent
            })
        })
        .collect();
    let restarted = wal_starts_over(&db).await;
    stop.store(true, Ordering::Relaxed);
    let mut spent = 0;
    for spender in spenders {
        spent += spender.await.unwrap();
    }
    assert!(restarted, "the WAL never started over");
    let mut total = 0;
    for pid in &profiles {
        total += used(store(&db), *pid, "ai_calls", march()).await;
    }
    assert_eq!(total, spent);
}

/// With no spends the writer never restarts the WAL (it does so between its batches); while
/// other writes (the jobs') keep appending and reads keep coming, the checkpointer does,
/// instead of letting the WAL grow without end.
#[tokio::test]
async fn sqlite_wal_starts_over_without_spends() {
    let db = TestDb::new(Backend::Sqlite).await;
    let anna = user(store(&db), "anna@example.org", "Anna").await.id;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // About a page an entry: the WAL passes the restart's threshold (8,192 frames) within
    // a few thousand of them.
    let filler = "x".repeat(3000);
    let writer = tokio::spawn({
        let (s, stop) = (Arc::clone(&db.store), Arc::clone(&stop));
        async move {
            let mut logged = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let entry = NewActivity::new(actions::SETTING_CHANGED, t0())
                    .by_self(anna)
                    .details(json!({"filler": filler}));
                s.log_activity(&entry).await.expect("logged");
                logged += 1;
            }
            logged
        }
    });
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (s, stop) = (Arc::clone(&db.store), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    assert!(s.profile(anna).await.expect("read").is_some());
                }
            })
        })
        .collect();
    let restarted = wal_starts_over(&db).await;
    stop.store(true, Ordering::Relaxed);
    let logged = writer.await.unwrap();
    for reader in readers {
        reader.await.unwrap();
    }
    assert!(
        restarted,
        "the WAL never started over ({logged} entries logged)"
    );
    let kept = store(&db)
        .activity(&ActivityFilter::default(), None, 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.action == actions::SETTING_CHANGED)
        .count();
    assert_eq!(kept as u64, logged, "every entry is in the log");
}

/// Whether the WAL of `db` starts over (bytes 12..24 of its header — the checkpoint
/// sequence number and the salts — change) within two minutes from now.
async fn wal_starts_over(db: &TestDb) -> bool {
    let wal = std::path::PathBuf::from(format!("{}-wal", db.url.trim_start_matches("sqlite://")));
    let header = || {
        std::fs::read(&wal)
            .ok()
            .filter(|h| h.len() >= 32)
            .map(|h| h[12..24].to_vec())
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = header().expect("a WAL with a header");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while header().as_ref() == Some(&started) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    header().as_ref() != Some(&started)
}
