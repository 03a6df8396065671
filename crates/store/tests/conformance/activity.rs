//! The conformance suite of [`ActivityStore`](mitai_store::ActivityStore): the activity
//! log with its filters, per-profile statistics and the admin statistics.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mitai_store::testing::TestDb;
use mitai_store::{ActivityFilter, Backend, NewActivity, ProfilePatch, Store, StoreError, actions};
use serde_json::json;
use uuid::Uuid;

use crate::support::{admin, at, race, store, t0, user};

conformance! {
    plain: [
        activity_is_listed_newest_first_with_filters_and_pages,
        activity_keeps_user_stats_current,
        activity_of_unknown_profile_is_refused,
        active_profiles_and_feature_days,
        profile_counts_follow_every_change,
        coupon_redemption_counts_per_coupon,
        profiles_with_grants_are_listed_once,
        folding_old_uses_keeps_the_statistics,
        the_first_roll_up_counts_folded_days_in_bounded_batches,
        tier_groups_count_the_profiles_without_grants,
        granted_profiles_come_in_pages_with_their_grants,
    ],
    concurrent: [
        activity_stats_lose_no_update_under_concurrency,
        profile_counts_lose_no_change_under_concurrency,
    ],
}

/// The bound of a roll-up of everything logged so far: the entries' ids are of the real
/// clock (their times of the test's); a millisecond passes on either side, so that every
/// entry logged before is under it and every entry logged after above.
async fn through_now() -> DateTime<Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let through = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    through
}

/// Rolls the whole log up from the day `from` on; answers the entries read.
async fn roll_up(s: &dyn Store, from: DateTime<Utc>) -> u64 {
    let through = through_now().await;
    let mut read = 0;
    loop {
        match s.roll_up_usage(from, through, 1000).await.unwrap() {
            0 => return read,
            n => read += n,
        }
    }
}

fn event(action: &str, created_at: DateTime<Utc>) -> NewActivity {
    NewActivity::new(action, created_at)
}

async fn activity_is_listed_newest_first_with_filters_and_pages(db: &TestDb) {
    let s = store(db);
    let anna = user(s, "anna@example.org", "Anna").await;
    let boss = admin(s, "boss@example.org").await;
    let minute = chrono::TimeDelta::minutes(1);
    let logged = [
        event(actions::REGISTER, t0())
            .by_self(anna.id)
            .ip(Some("192.0.2.1".into())),
        event(actions::LOGIN, t0() + minute).by_self(anna.id),
        event(actions::LOGIN_FAILED, t0() + minute * 2)
            .profile(Some(anna.id))
            .details(json!({"reason": "invalid_credentials"})),
        event(actions::TIER_CHANGED, t0() + minute * 3)
            .profile(Some(anna.id))
            .actor(Some(boss.id))
            .details(json!({"from": "free", "to": "premium"})),
        event(actions::SETTING_CHANGED, t0() + minute * 4)
            .actor(Some(boss.id))
            .details(json!({"key": "trial_days", "value": 7})),
        event(actions::LOGIN, t0() + minute * 5).by_self(boss.id),
    ];
    for a in &logged {
        s.log_activity(a).await.expect("log");
    }

    let all = s
        .activity(&ActivityFilter::default(), None, 100)
        .await
        .unwrap();
    let newest_first: Vec<Uuid> = logged.iter().rev().map(|a| a.id).collect();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), newest_first);
    let register = all.last().unwrap();
    assert_eq!(register.action, "register");
    assert_eq!(register.profile_id, Some(anna.id));
    assert_eq!(register.actor_id, Some(anna.id));
    assert_eq!(register.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(register.created_at, t0());
    assert_eq!(register.details, json!({}));
    let tier = &all[2];
    assert_eq!(tier.action, "tier_changed");
    assert_eq!(tier.actor_id, Some(boss.id));
    assert_eq!(tier.details, json!({"from": "free", "to": "premium"}));
    assert_eq!(all[1].profile_id, None);

    // Pages: strictly older than the cursor, no gaps, no repeats.
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .activity(&ActivityFilter::default(), cursor, 4)
            .await
            .unwrap();
        paged.extend(page.iter().map(|a| a.id));
        if page.len() < 4 {
            break;
        }
        cursor = page.last().map(|a| a.id);
    }
    assert_eq!(paged, newest_first);

    let of = |profile_id: Option<Uuid>, action: Option<&str>, since: Option<DateTime<Utc>>| {
        ActivityFilter {
            profile_id,
            action: action.map(str::to_owned),
            since,
        }
    };
    let actions_of =
        |list: Vec<mitai_store::Activity>| list.into_iter().map(|a| a.action).collect::<Vec<_>>();
    assert_eq!(
        actions_of(
            s.activity(&of(Some(anna.id), None, None), None, 100)
                .await
                .unwrap()
        ),
        ["tier_changed", "login_failed", "login", "register"]
    );
    assert_eq!(
        s.activity(&of(None, Some("login"), None), None, 100)
            .await
            .unwrap()
            .iter()
            .map(|a| a.profile_id)
            .collect::<Vec<_>>(),
        [Some(boss.id), Some(anna.id)]
    );
    assert_eq!(
        actions_of(
            s.activity(&of(Some(anna.id), Some("login"), None), None, 100)
                .await
                .unwrap()
        ),
        ["login"]
    );
    assert_eq!(
        actions_of(
            s.activity(&of(None, None, Some(t0() + minute * 3)), None, 100)
                .await
                .unwrap()
        ),
        ["login", "setting_changed", "tier_changed"]
    );
    assert!(
        s.activity(&of(Some(Uuid::now_v7()), None, None), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.activity(&of(None, Some("nothing"), None), None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Every combination of filters, with `feature_used` entries among the others (SQLite's
    // index on the action leaves them out), and cursors: what a scan of the whole log keeps.
    for (i, who) in [anna.id, boss.id, anna.id].into_iter().enumerate() {
        s.log_activity(
            &event(actions::FEATURE_USED, t0() + minute * (6 + i as i32))
                .by_self(who)
                .details(json!({"feature": "weight", "amount": 1, "used": i + 1})),
        )
        .await
        .unwrap();
    }
    let all = s
        .activity(&ActivityFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 9);
    for profile_id in [None, Some(anna.id), Some(boss.id)] {
        for action in [
            None,
            Some("feature_used"),
            Some("login"),
            Some("tier_changed"),
        ] {
            for since in [None, Some(t0() + minute * 5)] {
                for before in [None, Some(all[1].id), Some(all[4].id)] {
                    let filter = of(profile_id, action, since);
                    let expected: Vec<Uuid> = all
                        .iter()
                        .filter(|a| profile_id.is_none_or(|p| a.profile_id == Some(p)))
                        .filter(|a| action.is_none_or(|x| a.action == x))
                        .filter(|a| since.is_none_or(|t| a.created_at >= t))
                        .filter(|a| before.is_none_or(|b| a.id < b))
                        .map(|a| a.id)
                        .collect();
                    let listed: Vec<Uuid> = s
                        .activity(&filter, before, 100)
                        .await
                        .unwrap()
                        .iter()
                        .map(|a| a.id)
                        .collect();
                    assert_eq!(listed, expected, "{filter:?} before {before:?}");
                    let first_two = s.activity(&filter, before, 2).await.unwrap();
                    assert_eq!(first_two.len(), expected.len().min(2));
                }
            }
        }
    }
}

async fn activity_keeps_user_stats_current(db: &TestDb) {
    let s = store(db);
    let anna = user(s, "stats@example.org", "Anna").await;
    let boss = admin(s, "boss@example.org").await;
    assert_eq!(s.user_stats(anna.id).await.unwrap(), None);
    let minute = chrono::TimeDelta::minutes(1);
    let used =
        |feature: &str, amount: i64| json!({"feature": feature, "amount": amount, "used": 1});

    // Events that change nothing: about nobody, or failed logins (actor unknown).
    s.log_activity(&event(actions::SETTING_CHANGED, t0()).actor(Some(boss.id)))
        .await
        .unwrap();
    s.log_activity(&event(actions::LOGIN_FAILED, t0()).profile(Some(anna.id)))
        .await
        .unwrap();
    assert_eq!(s.user_stats(anna.id).await.unwrap(), None);

    s.log_activity(&event(actions::REGISTER, t0()).by_self(anna.id))
        .await
        .unwrap();
    let stats = s.user_stats(anna.id).await.unwrap().expect("stats");
    assert_eq!(stats.logins, 0);
    assert_eq!(stats.last_login_at, None);
    assert_eq!(stats.last_active_at, Some(t0()));
    assert_eq!(stats.feature_totals, json!({}));
    assert_eq!(stats.redemptions, 0);

    for (i, a) in [
        event(actions::LOGIN, t0() + minute).by_self(anna.id),
        event(actions::FEATURE_USED, t0() + minute * 2)
            .by_self(anna.id)
            .details(used("weight", 1)),
        event(actions::FEATURE_USED, t0() + minute * 3)
            .by_self(anna.id)
            .details(used("weight", 2)),
        event(actions::FEATURE_USED, t0() + minute * 4)
            .by_self(anna.id)
            .details(used("ai_calls", 5)),
        event(actions::LIMIT_REACHED, t0() + minute * 5)
            .by_self(anna.id)
            .details(json!({"feature": "weight", "amount": 1})),
        event(actions::LOGIN, t0() + minute * 6).by_self(anna.id),
        event(actions::COUPON_REDEEMED, t0() + minute * 7).by_self(anna.id),
        // An admin acting on Anna does not make her active.
        event(actions::TIER_CHANGED, t0() + minute * 8)
            .profile(Some(anna.id))
            .actor(Some(boss.id)),
        // A late event (logged after later ones) moves no instant back.
        event(actions::LOGIN, t0() + minute / 2).by_self(anna.id),
    ]
    .iter()
    .enumerate()
    {
        s.log_activity(a)
            .await
            .unwrap_or_else(|e| panic!("{i}: {e}"));
    }
    let stats = s.user_stats(anna.id).await.unwrap().expect("stats");
    assert_eq!(stats.profile_id, anna.id);
    assert_eq!(stats.logins, 3);
    assert_eq!(stats.last_login_at, Some(t0() + minute * 6));
    assert_eq!(stats.last_active_at, Some(t0() + minute * 7));
    assert_eq!(stats.feature_totals, json!({"weight": 3, "ai_calls": 5}));
    assert_eq!(stats.redemptions, 1);
    assert_eq!(stats.updated_at, t0() + minute / 2);
    // The admin's own stats only know the admin's own events.
    assert_eq!(s.user_stats(boss.id).await.unwrap(), None);
}

async fn activity_of_unknown_profile_is_refused(db: &TestDb) {
    let s = store(db);
    let ghost = Uuid::now_v7();
    let err = s
        .log_activity(&event(actions::LOGIN, t0()).by_self(ghost))
        .await
        .expect_err("no such profile");
    assert!(
        matches!(err, StoreError::MissingReference("profile")),
        "{err:?}"
    );
    let err = s
        .log_activity(&event(actions::SETTING_CHANGED, t0()).actor(Some(ghost)))
        .await
        .expect_err("no such actor");
    assert!(
        matches!(err, StoreError::MissingReference("profile")),
        "{err:?}"
    );
    // Nothing of either was kept.
    assert!(
        s.activity(&ActivityFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn active_profiles_and_feature_days(db: &TestDb) {
    let s = store(db);
    let now = at(2025, 3, 31, 12, 0, 0);
    let day = chrono::TimeDelta::days(1);
    let a = user(s, "a@example.org", "A").await;
    let b = user(s, "b@example.org", "B").await;
    let c = user(s, "c@example.org", "C").await;
    let _idle = user(s, "idle@example.org", "Idle").await;
    let used =
        |feature: &str, amount: i64| json!({"feature": feature, "amount": amount, "used": 9});
    let limit = |feature: &str| json!({"feature": feature, "limit": 3, "used": 3});
    for ev in [
        // a: active today; b: five days ago; c: twenty days ago.
        event(actions::FEATURE_USED, now - chrono::TimeDelta::hours(2))
            .by_self(a.id)
            .details(used("weight", 1)),
        event(actions::FEATURE_USED, now - chrono::TimeDelta::hours(1))
            .by_self(a.id)
            .details(used("weight", 2)),
        event(actions::LIMIT_REACHED, now - chrono::TimeDelta::hours(1))
            .by_self(a.id)
            .details(limit("weight")),
        event(actions::FEATURE_USED, now)
            .by_self(a.id)
            .details(used("ai_calls", 4)),
        event(actions::FEATURE_USED, now - day * 5)
            .by_self(b.id)
            .details(used("weight", 1)),
        event(actions::LIMIT_REACHED, now - day * 5)
            .by_self(b.id)
            .details(limit("photos")),
        event(actions::LOGIN, now - day * 20).by_self(c.id),
        // Too old for the window below.
        event(actions::FEATURE_USED, now - day * 40)
            .by_self(c.id)
            .details(used("weight", 7)),
    ] {
        s.log_activity(&ev).await.unwrap();
    }

    let counts = s
        .active_profiles(&[now - day, now - day * 7, now - day * 30])
        .await
        .unwrap();
    assert_eq!(counts, [1, 2, 3]);
    assert!(s.active_profiles(&[]).await.unwrap().is_empty());

    // The jobs keep a count for the figures; the last one kept is what is read.
    assert_eq!(s.kept_active_profiles().await.unwrap(), None);
    s.keep_active_profiles(now - day, [4, 5, 6]).await.unwrap();
    s.keep_active_profiles(now, [1, 2, 3]).await.unwrap();
    assert_eq!(
        s.kept_active_profiles().await.unwrap(),
        Some((now, [1, 2, 3]))
    );

    // The daily counts hold nothing until the log is rolled up, then all of it.
    assert!(s.feature_days(now - day * 30).await.unwrap().is_empty());
    assert_eq!(s.usage_rolled_through().await.unwrap(), None);
    assert_eq!(roll_up(s, now - day * 60).await, 8);
    assert!(s.usage_rolled_through().await.unwrap().is_some());
    assert_eq!(roll_up(s, now - day * 60).await, 0, "each entry once");
    let days = s.feature_days(now - day * 30).await.unwrap();
    let got: Vec<(String, &str, i64, i64, i64)> = days
        .iter()
        .map(|d| {
            (
                d.day.to_string(),
                d.feature.as_str(),
                d.uses,
                d.amount,
                d.limit_reached,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("2025-03-26".to_owned(), "photos", 0, 0, 1),
            ("2025-03-26".to_owned(), "weight", 1, 1, 0),
            ("2025-03-31".to_owned(), "ai_calls", 1, 4, 0),
            ("2025-03-31".to_owned(), "weight", 2, 3, 1),
        ]
    );
    assert!(
        s.feature_days(now + chrono::TimeDelta::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Inserts a coupon and its redemptions with plain SQL (coupon methods of the store are
/// not needed for counting).
async fn insert_redeemed_coupon(
    db: &TestDb,
    code: &str,
    campaign: Option<&str>,
    redeemers: &[(Uuid, DateTime<Utc>)],
) -> Uuid {
    let coupon = Uuid::now_v7();
    let coupon_sql = "INSERT INTO coupons (id, code, kind, tier_id, duration_days, campaign, \
        created_at) VALUES ($1, $2, 'period', 'premium', NULL, $3, $4)";
    let redemption_sql = "INSERT INTO coupon_redemptions (id, coupon_id, profile_id, \
        redeemed_at) VALUES ($1, $2, $3, $4)";
    match db.store.backend() {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query(coupon_sql)
                .bind(coupon)
                .bind(code)
                .bind(campaign)
                .bind(t0())
                .execute(&pool)
                .await
                .unwrap();
            for (profile, at) in redeemers {
                sqlx::query(redemption_sql)
                    .bind(Uuid::now_v7())
                    .bind(coupon)
                    .bind(profile)
                    .bind(at)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
        Backend::Sqlite => {
            let text = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query(coupon_sql)
                .bind(coupon.to_string())
                .bind(code)
                .bind(campaign)
                .bind(text(&t0()))
                .execute(&pool)
                .await
                .unwrap();
            for (profile, at) in redeemers {
                sqlx::query(redemption_sql)
                    .bind(Uuid::now_v7().to_string())
                    .bind(coupon.to_string())
                    .bind(profile.to_string())
                    .bind(text(at))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
    }
    coupon
}

async fn coupon_redemption_counts_per_coupon(db: &TestDb) {
    let s = store(db);
    assert!(s.coupon_redemption_counts(10).await.unwrap().is_empty());
    let a = user(s, "a@example.org", "A").await.id;
    let b = user(s, "b@example.org", "B").await.id;
    let c = user(s, "c@example.org", "C").await.id;
    let hour = chrono::TimeDelta::hours(1);
    let spring = insert_redeemed_coupon(
        db,
        "SPRING",
        Some("spring-2025"),
        &[(a, t0()), (b, t0() + hour * 2), (c, t0() + hour)],
    )
    .await;
    let solo = insert_redeemed_coupon(db, "SOLO", None, &[(a, t0() + hour)]).await;
    insert_redeemed_coupon(db, "UNUSED", None, &[]).await;

    let counts = s.coupon_redemption_counts(10).await.unwrap();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(counts[0].coupon_id, spring);
    assert_eq!(counts[0].code, "SPRING");
    assert_eq!(counts[0].campaign.as_deref(), Some("spring-2025"));
    assert_eq!(counts[0].tier_id, "premium");
    assert_eq!(counts[0].redemptions, 3);
    assert_eq!(counts[0].last_redeemed_at, t0() + hour * 2);
    assert_eq!(counts[1].coupon_id, solo);
    assert_eq!(counts[1].redemptions, 1);
    assert_eq!(s.coupon_redemption_counts(1).await.unwrap().len(), 1);
}

/// Profiles created and disabled at once are each counted: the counts are added to in the
/// database, not read and written back.
async fn profile_counts_lose_no_change_under_concurrency(db: &TestDb) {
    let results = race(40, |i| {
        let s = Arc::clone(&db.store);
        async move {
            let p = s
                .create_profile(&crate::support::new_profile(
                    &format!("p{i}@example.org"),
                    "P",
                ))
                .await?;
            if i % 4 == 0 {
                let disable = ProfilePatch {
                    disabled: Some(true),
                    ..ProfilePatch::default()
                };
                s.update_profile(p.id, &disable, t0()).await?;
            }
            Ok::<_, mitai_store::StoreError>(())
        }
    })
    .await;
    for r in results {
        r.expect("create");
    }
    assert_eq!(store(db).profile_counts().await.unwrap(), (40, 10));
}

async fn activity_stats_lose_no_update_under_concurrency(db: &TestDb) {
    let pid = user(store(db), "busy@example.org", "Busy").await.id;
    let results = race(60, |i| {
        let s = Arc::clone(&db.store);
        async move {
            let action = if i % 3 == 0 {
                actions::LOGIN
            } else {
                actions::FEATURE_USED
            };
            let feature = if i % 2 == 0 { "weight" } else { "nutrition" };
            let ev = NewActivity::new(action, t0() + chrono::TimeDelta::seconds(i as i64))
                .by_self(pid)
                .details(json!({"feature": feature, "amount": 1}));
            s.log_activity(&ev).await
        }
    })
    .await;
    for r in results {
        r.expect("log");
    }
    let stats = store(db).user_stats(pid).await.unwrap().expect("stats");
    // i in 0..60: logins where i % 3 == 0 (20); feature uses otherwise, split by parity.
    let weight = (0..60).filter(|i| i % 3 != 0 && i % 2 == 0).count() as i64;
    let nutrition = (0..60).filter(|i| i % 3 != 0 && i % 2 != 0).count() as i64;
    assert_eq!(stats.logins, 20);
    assert_eq!(
        stats.feature_totals,
        json!({"weight": weight, "nutrition": nutrition})
    );
    assert_eq!(
        stats.last_active_at,
        Some(t0() + chrono::TimeDelta::seconds(59))
    );
    assert_eq!(
        stats.last_login_at,
        Some(t0() + chrono::TimeDelta::seconds(57))
    );
    let logged = store(db)
        .activity(&ActivityFilter::default(), None, 500)
        .await
        .unwrap();
    assert_eq!(logged.len(), 60);
}

async fn profiles_with_grants_are_listed_once(db: &TestDb) {
    let s = store(db);
    assert!(s.profiles_with_grants().await.unwrap().is_empty());
    let a = user(s, "a@example.org", "A").await.id;
    let b = user(s, "b@example.org", "B").await.id;
    user(s, "c@example.org", "C").await;
    let sql = "INSERT INTO access_grants (id, profile_id, tier_id, source, kind, \
        duration_seconds, created_at) VALUES ($1, $2, 'premium', 'admin', 'duration', 86400, $3)";
    for profile in [b, a, b] {
        match db.store.backend() {
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                sqlx::query(sql)
                    .bind(Uuid::now_v7())
                    .bind(profile)
                    .bind(t0())
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
                sqlx::query(sql)
                    .bind(Uuid::now_v7().to_string())
                    .bind(profile.to_string())
                    .bind(t0().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
        }
    }
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(s.profiles_with_grants().await.unwrap(), expected);
}

/// Retention: uses older than the cut-off are folded into daily counts in bounded batches;
/// the statistics (per-day uses and units, a profile's totals) are the same before and after,
/// other entries stay.
async fn folding_old_uses_keeps_the_statistics(db: &TestDb) {
    let s = store(db);
    let anna = user(s, "anna@example.org", "Anna").await;
    let ben = user(s, "ben@example.org", "Ben").await;
    let used = |p: Uuid, feature: &str, amount: i64, when: DateTime<Utc>| {
        NewActivity::new(actions::FEATURE_USED, when)
            .by_self(p)
            .details(json!({"feature": feature, "amount": amount}))
    };
    // After the real clock: the log's ids are of the real clock, and an entry is folded when
    // both its id and its time are older than the cut-off.
    let day = |d: u32, h: u32| at(2031, 1, d, h, 0, 0);
    for (p, f, n, when) in [
        (anna.id, "weight", 1, day(1, 8)),
        (anna.id, "weight", 2, day(1, 9)),
        (anna.id, "photos", 1, day(1, 10)),
        (ben.id, "weight", 1, day(1, 11)),
        (anna.id, "weight", 1, day(2, 8)),
        (ben.id, "photos", 3, day(3, 8)),
        (anna.id, "weight", 5, day(20, 8)),
    ] {
        s.log_activity(&used(p, f, n, when)).await.unwrap();
    }
    s.log_activity(&NewActivity::new(actions::LOGIN, day(1, 7)).by_self(anna.id))
        .await
        .unwrap();
    roll_up(s, at(2020, 1, 1, 0, 0, 0)).await;
    let days_before = s.feature_days(day(1, 0)).await.unwrap();
    let anna_before = s.user_stats(anna.id).await.unwrap().unwrap().feature_totals;
    let ben_before = s.user_stats(ben.id).await.unwrap().unwrap().feature_totals;
    // Fold everything before the 10th, two entries at a time.
    let mut folded = Vec::new();
    loop {
        let n = s.fold_activity(day(10, 0), 2).await.unwrap();
        if n == 0 {
            break;
        }
        folded.push(n);
    }
    assert_eq!(folded, vec![2, 2, 2], "six entries in bounded batches");
    assert_eq!(s.feature_days(day(1, 0)).await.unwrap(), days_before);
    assert_eq!(
        s.user_stats(anna.id).await.unwrap().unwrap().feature_totals,
        anna_before
    );
    assert_eq!(
        s.user_stats(ben.id).await.unwrap().unwrap().feature_totals,
        ben_before
    );
    assert_eq!(anna_before["weight"], 9);
    // The raw uses before the cut-off are gone; the newer one and the login stay.
    let uses = s
        .activity(
            &ActivityFilter {
                action: Some(actions::FEATURE_USED.into()),
                ..ActivityFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(uses.len(), 1);
    let logins = s
        .activity(
            &ActivityFilter {
                action: Some(actions::LOGIN.into()),
                ..ActivityFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(logins.len(), 1);
    // A later window reads only its days.
    let later = s.feature_days(day(2, 0)).await.unwrap();
    assert_eq!(later.iter().map(|d| d.uses).sum::<i64>(), 3);
}

/// A database that folded entries before its first roll-up (one upgraded with a short
/// retention): the first roll-up counts the folded days, then the entries left, in batches
/// of the size asked, and the figures are those of the log.
async fn the_first_roll_up_counts_folded_days_in_bounded_batches(db: &TestDb) {
    let s = store(db);
    let anna = user(s, "anna@example.org", "Anna").await;
    let day = |d: u32, h: u32| at(2031, 1, d, h, 0, 0);
    for (f, n, when) in [
        ("weight", 1, day(1, 8)),
        ("weight", 2, day(1, 9)),
        ("photos", 1, day(2, 10)),
        ("weight", 3, day(20, 8)),
        ("weight", 4, day(20, 9)),
    ] {
        s.log_activity(
            &event(actions::FEATURE_USED, when)
                .by_self(anna.id)
                .details(json!({"feature": f, "amount": n})),
        )
        .await
        .unwrap();
    }
    s.log_activity(
        &event(actions::LIMIT_REACHED, day(20, 10))
            .by_self(anna.id)
            .details(json!({"feature": "weight"})),
    )
    .await
    .unwrap();
    s.log_activity(&event(actions::LOGIN, day(20, 11)).by_self(anna.id))
        .await
        .unwrap();
    while s.fold_activity(day(10, 0), 100).await.unwrap() > 0 {}
    let through = through_now().await;
    let mut batches = Vec::new();
    loop {
        match s
            .roll_up_usage(at(2020, 1, 1, 0, 0, 0), through, 2)
            .await
            .unwrap()
        {
            0 => break,
            n => batches.push(n),
        }
    }
    assert_eq!(batches, vec![2, 2], "the four entries left, two at a time");
    let got: Vec<(String, String, i64, i64, i64)> = s
        .feature_days(day(1, 0))
        .await
        .unwrap()
        .into_iter()
        .map(|d| {
            (
                d.day.to_string(),
                d.feature,
                d.uses,
                d.amount,
                d.limit_reached,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("2031-01-01".to_owned(), "weight".to_owned(), 2, 3, 0),
            ("2031-01-02".to_owned(), "photos".to_owned(), 1, 1, 0),
            ("2031-01-20".to_owned(), "weight".to_owned(), 2, 7, 1),
        ]
    );
    // Later entries are added to their day.
    s.log_activity(
        &event(actions::FEATURE_USED, day(20, 12))
            .by_self(anna.id)
            .details(json!({"feature": "weight", "amount": 5})),
    )
    .await
    .unwrap();
    let through = through_now().await;
    assert_eq!(
        s.roll_up_usage(at(2020, 1, 1, 0, 0, 0), through, 2)
            .await
            .unwrap(),
        1
    );
    let weight = s.feature_days(day(20, 0)).await.unwrap();
    assert_eq!((weight[0].uses, weight[0].amount), (3, 12));
}

/// The facts of the count by effective tier: profiles without grants grouped by base tier
/// and running trial (with the earliest end), the enabled ones with grants whole, with all
/// their grants; disabled profiles only in the count of disabled ones.
async fn tier_groups_count_the_profiles_without_grants(db: &TestDb) {
    let s = store(db);
    let now = t0();
    let plain = user(s, "plain@example.org", "Plain").await;
    let mut trial = mitai_store::NewProfile {
        trial_ends_at: Some(now + chrono::TimeDelta::days(3)),
        ..crate::support::new_profile("trial@example.org", "Trial")
    };
    s.create_profile(&trial).await.unwrap();
    trial.id = Uuid::now_v7();
    trial.email = "trial2@example.org".into();
    trial.trial_ends_at = Some(now + chrono::TimeDelta::days(1));
    s.create_profile(&trial).await.unwrap();
    let ended = mitai_store::NewProfile {
        trial_ends_at: Some(now - chrono::TimeDelta::days(1)),
        ..crate::support::new_profile("ended@example.org", "Ended")
    };
    s.create_profile(&ended).await.unwrap();
    let granted = user(s, "granted@example.org", "Granted").await;
    let off = user(s, "off@example.org", "Off").await;
    for profile in [granted.id, off.id] {
        day_grant(s, profile, now).await;
    }
    let disable = ProfilePatch {
        disabled: Some(true),
        ..ProfilePatch::default()
    };
    s.update_profile(off.id, &disable, now).await.unwrap();
    assert_eq!(s.profile_counts().await.unwrap(), (6, 1));
    let groups: Vec<(String, bool, i64, Option<DateTime<Utc>>)> = s
        .tier_groups(now)
        .await
        .unwrap()
        .iter()
        .map(|g| (g.tier.clone(), g.trial, g.profiles, g.next_trial_end))
        .collect();
    assert_eq!(
        groups,
        [
            ("free".to_owned(), false, 2, None),
            (
                "free".to_owned(),
                true,
                2,
                Some(now + chrono::TimeDelta::days(1))
            ),
        ],
        "{plain:?}"
    );
    let granted_profiles = s.granted_profiles(None, 10).await.unwrap();
    assert_eq!(
        granted_profiles.iter().map(|p| p.id).collect::<Vec<_>>(),
        [granted.id]
    );
    assert_eq!(granted_profiles[0].grants.len(), 1);
    assert_eq!(granted_profiles[0].grants[0].profile_id, granted.id);
}

/// Gives `profile` a day of premium made by an admin at `at`; its id.
async fn day_grant(s: &dyn mitai_store::Store, profile: Uuid, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    s.create_grant(&mitai_store::coupons::NewGrant {
        id,
        profile_id: profile,
        tier_id: "premium".into(),
        source: "admin".into(),
        coupon_id: None,
        span: mitai_store::coupons::GrantSpan::Duration { seconds: 86_400 },
        created_by: None,
        created_at: at,
    })
    .await
    .unwrap();
    id
}

/// The enabled profiles with grants come a page at a time, by id, each with all its grants
/// (oldest first, pauses attached) and none of another's; a disabled one not at all.
async fn granted_profiles_come_in_pages_with_their_grants(db: &TestDb) {
    let s = store(db);
    let now = t0();
    let mut expected = Vec::new();
    for i in 0..5 {
        let p = user(s, &format!("g{i}@example.org"), "G").await;
        let mut grants = Vec::new();
        for k in 0..=i % 3 {
            grants.push(day_grant(s, p.id, now + chrono::TimeDelta::minutes(k)).await);
        }
        expected.push((p.id, grants));
    }
    let paused = expected[4].1[1];
    s.pause_grant(paused, None, "check", now + chrono::TimeDelta::hours(1))
        .await
        .unwrap();
    let off = user(s, "off@example.org", "Off").await;
    day_grant(s, off.id, now).await;
    let disable = ProfilePatch {
        disabled: Some(true),
        ..ProfilePatch::default()
    };
    s.update_profile(off.id, &disable, now).await.unwrap();
    expected.sort();

    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = s.granted_profiles(after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        pages += 1;
        for p in page {
            assert!(p.grants.iter().all(|g| g.profile_id == p.id));
            if let Some(g) = p.grants.iter().find(|g| g.id == paused) {
                assert_eq!(g.pauses.len(), 1, "{g:?}");
            }
            seen.push((p.id, p.grants.iter().map(|g| g.id).collect::<Vec<_>>()));
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
}

/// The profile counts are kept by the database in each change's transaction: a change that
/// leaves `disabled` as it was counts nothing, a deletion counts out what it removes.
async fn profile_counts_follow_every_change(db: &TestDb) {
    let s = store(db);
    let now = at(2025, 3, 31, 12, 0, 0);
    assert_eq!(s.profile_counts().await.unwrap(), (0, 0));
    let a = user(s, "a@example.org", "A").await;
    let b = user(s, "b@example.org", "B").await;
    assert_eq!(s.profile_counts().await.unwrap(), (2, 0));
    let set = |disabled: bool| ProfilePatch {
        disabled: Some(disabled),
        ..ProfilePatch::default()
    };
    s.update_profile(a.id, &set(true), now).await.unwrap();
    s.update_profile(a.id, &set(true), now).await.unwrap();
    let renamed = ProfilePatch {
        name: Some("Anna".into()),
        ..ProfilePatch::default()
    };
    s.update_profile(a.id, &renamed, now).await.unwrap();
    assert_eq!(s.profile_counts().await.unwrap(), (2, 1));
    s.update_profile(b.id, &set(true), now).await.unwrap();
    s.update_profile(a.id, &set(false), now).await.unwrap();
    assert_eq!(s.profile_counts().await.unwrap(), (2, 1));
    s.delete_profile(b.id).await.unwrap();
    assert_eq!(s.profile_counts().await.unwrap(), (1, 0));
    s.delete_profile(a.id).await.unwrap();
    assert_eq!(s.profile_counts().await.unwrap(), (0, 0));
}
