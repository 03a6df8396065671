//! The conformance suite of the [`Store`] trait: every case is written once, against
//! `&TestDb`, and runs on both backends (`sqlite::<case>` and `postgres::<case>`).
//!
//! Every test gets a fresh, migrated database. PostgreSQL tests need the server named by
//! `MITAI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! fail when it cannot be reached.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use mitai_access::{Feature, FeatureKind, Limit, ResetPeriod, Tier, TierLimit};
use mitai_store::testing::TestDb;
use mitai_store::{
    ActivityFilter, Backend, ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, MailCounts,
    MailStatus, NewActivity, NewMail, NewProfile, NewSession, OutboxMail, Profile, ProfilePatch,
    RegistrySnapshot, Restriction, Role, Setting, SpendLog, Store, StoreError, StoredResponse,
    actions,
};
use serde_json::{Value, json};
use uuid::Uuid;

// --- the two backends ---------------------------------------------------------------------

conformance! {
    plain: [
        backend_ping_and_registry_change_signals,
        seed_data_after_migration,
        reopening_runs_migrations_once_and_keeps_data,
        create_and_update_feature,
        create_and_update_tier,
        set_and_delete_tier_limit,
        set_setting_is_stored_and_visible,
        create_profile_and_read_it_back,
        email_is_unique_case_insensitively_and_trimmed,
        credentials_by_email_in_any_case,
        list_profiles_search_is_case_insensitive_and_literal,
        list_profiles_pages_by_id,
        update_profile_applies_each_field,
        admin_exists_counts_enabled_admins,
        set_password_replaces_the_hash,
        sessions_live_expire_and_delete,
        purge_expired_removes_only_what_expired,
        restrictions_put_replace_list_delete,
        usage_reads_buckets_in_order,
        consume_spends_within_cap_and_refuses_whole,
        consume_without_cap_counts,
        idempotent_consume_replays_the_first_answer,
        idempotency_key_with_other_request_is_refused,
        idempotency_keys_are_per_profile,
        mail_is_claimed_when_due_and_marked_sent,
        mail_failure_waits_for_retry_then_gives_up,
        mail_lease_runs_out_and_the_mail_is_claimed_again,
        outbox_lists_by_status_pages_counts_and_purges,
        activity_is_listed_newest_first_with_filters_and_pages,
        activity_keeps_user_stats_current,
        activity_of_unknown_profile_is_refused,
        active_profiles_and_feature_days,
        coupon_redemption_counts_per_coupon,
        profiles_with_grants_are_listed_once,
        job_lock_is_exclusive_and_free_again_at_once_after_release,
        the_last_admin_keeps_role_and_access,
        logged_consume_writes_its_entry_with_the_spend,
        cached_reads_follow_every_change_at_once,
        usage_reads_follow_every_usage_write_at_once,
    ],
    concurrent: [
        consume_is_exact_under_concurrency,
        unlimited_consume_loses_no_update_under_concurrency,
        idempotent_consume_is_once_under_concurrency,
        distinct_idempotency_keys_are_exact_under_concurrency,
        mail_is_claimed_once_under_concurrency,
        activity_stats_lose_no_update_under_concurrency,
        job_lock_is_held_by_one_of_many_at_once,
        admins_demoting_each_other_at_once_leave_one,
        logged_consume_is_exact_under_concurrency,
        a_failing_spend_does_not_fail_the_others,
        spends_of_many_profiles_at_once_are_each_exact,
        usage_reads_see_every_acknowledged_spend_under_concurrency,
    ],
}

// --- helpers ------------------------------------------------------------------------------

const TIERS: [&str; 4] = ["free", "basic", "premium", "selfhosted"];

const FEATURES: [&str; 11] = [
    "weight",
    "circumference",
    "caliper",
    "nutrition",
    "activity",
    "photos",
    "ai_calls",
    "ai_pipeline",
    "export_csv",
    "export_json",
    "export_zip",
];

/// A whole-second instant (PostgreSQL keeps microseconds; whole seconds compare exactly).
fn at(year: i32, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, min, sec)
        .single()
        .expect("valid instant")
}

/// The instant most tests call "now".
fn t0() -> DateTime<Utc> {
    at(2025, 3, 14, 9, 30, 0)
}

/// The start of March 2025, a monthly usage bucket.
fn march() -> DateTime<Utc> {
    at(2025, 3, 1, 0, 0, 0)
}

fn april() -> DateTime<Utc> {
    at(2025, 4, 1, 0, 0, 0)
}

fn store(db: &TestDb) -> &dyn Store {
    &*db.store
}

fn new_profile(email: &str, name: &str) -> NewProfile {
    NewProfile {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: format!("$argon2id$hash-of-{email}"),
        name: name.to_owned(),
        role: Role::User,
        tier: "free".to_owned(),
        trial_ends_at: None,
        email_verified: false,
        invited_by: None,
        language: "de".to_owned(),
        created_at: t0(),
    }
}

async fn user(s: &dyn Store, email: &str, name: &str) -> Profile {
    s.create_profile(&new_profile(email, name))
        .await
        .expect("create profile")
}

async fn admin(s: &dyn Store, email: &str) -> Profile {
    let mut p = new_profile(email, "Admin");
    p.role = Role::Admin;
    s.create_profile(&p).await.expect("create admin")
}

fn feature(id: &str) -> Feature {
    Feature {
        id: id.to_owned(),
        name: format!("Feature {id}"),
        description: "A feature made by a test.".to_owned(),
        category: "data".to_owned(),
        kind: FeatureKind::Count,
        unit: Some("entries".to_owned()),
        reset_period: ResetPeriod::Weekly,
        default_limit: Some(12),
        active: true,
        sort_order: 500,
    }
}

fn tier(id: &str, rank: i32) -> Tier {
    Tier {
        id: id.to_owned(),
        name: format!("Tier {id}"),
        description: "A tier made by a test.".to_owned(),
        rank,
        active: true,
        sort_order: 500,
    }
}

async fn snapshot(s: &dyn Store) -> RegistrySnapshot {
    s.registry_snapshot().await.expect("registry snapshot")
}

fn find_feature<'a>(snap: &'a RegistrySnapshot, id: &str) -> Option<&'a Feature> {
    snap.features.iter().find(|f| f.id == id)
}

fn find_tier<'a>(snap: &'a RegistrySnapshot, id: &str) -> Option<&'a Tier> {
    snap.tiers.iter().find(|t| t.id == id)
}

/// The rows of one matrix cell (the primary key allows at most one).
fn cells<'a>(snap: &'a RegistrySnapshot, tier_id: &str, feature_id: &str) -> Vec<&'a TierLimit> {
    snap.limits
        .iter()
        .filter(|l| l.tier_id == tier_id && l.feature_id == feature_id)
        .collect()
}

fn find_setting<'a>(snap: &'a RegistrySnapshot, key: &str) -> &'a Setting {
    snap.settings
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("setting {key} missing"))
}

fn consume_request(
    profile_id: Uuid,
    feature_id: &str,
    period_start: DateTime<Utc>,
    amount: i64,
    cap: Option<i64>,
) -> ConsumeRequest<'_> {
    ConsumeRequest {
        profile_id,
        feature_id,
        period_start,
        amount,
        cap,
        now: t0(),
        idempotency: None,
        log: None,
    }
}

/// What a handler would answer for a decision.
fn answer(decided: Consumed) -> StoredResponse {
    match decided {
        Consumed::Spent { used } => StoredResponse {
            status: 201,
            body: json!({ "used": used }),
        },
        Consumed::LimitReached { used } => StoredResponse {
            status: 429,
            body: json!({ "error": "limit_reached", "used": used }),
        },
    }
}

async fn used(s: &dyn Store, profile_id: Uuid, feature_id: &str, start: DateTime<Utc>) -> i64 {
    s.usage(profile_id, &[(feature_id, start)])
        .await
        .expect("usage")[0]
}

fn sorted_ids(profiles: &[Profile]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = profiles.iter().map(|p| p.id).collect();
    ids.sort();
    ids
}

fn ids(profiles: &[Profile]) -> Vec<Uuid> {
    profiles.iter().map(|p| p.id).collect()
}

// --- registry -----------------------------------------------------------------------------

async fn backend_ping_and_registry_change_signals(db: &TestDb) {
    let s = store(db);
    let expected = if db.url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(s.backend(), expected);
    s.ping().await.expect("ping");

    // A second instance on the same database listens; the first announces a change.
    let other = mitai_store::connect(&db.url)
        .await
        .expect("second instance");
    let changes = other.registry_changes().await.expect("registry changes");
    match expected {
        Backend::Sqlite => {
            assert!(changes.is_none(), "SQLite has no change signals");
            s.notify_registry_changed()
                .await
                .expect("notify is a no-op");
        }
        Backend::Postgres => {
            let mut changes = changes.expect("PostgreSQL has change signals");
            s.notify_registry_changed().await.expect("notify");
            tokio::time::timeout(Duration::from_secs(5), changes.next())
                .await
                .expect("the signal arrives within 5 s")
                .expect("the stream stays open");
        }
    }
}

async fn seed_data_after_migration(db: &TestDb) {
    let snap = snapshot(store(db)).await;

    // Tiers: exactly the four, rank increasing in this order, all active.
    let mut tiers = snap.tiers.clone();
    tiers.sort_by_key(|t| t.rank);
    let tier_ids: Vec<&str> = tiers.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(tier_ids, TIERS);
    assert!(tiers.windows(2).all(|w| w[0].rank < w[1].rank), "{tiers:?}");
    assert!(tiers.iter().all(|t| t.active));

    // Features: exactly the eleven, all active.
    let feature_ids: BTreeSet<&str> = snap.features.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(snap.features.len(), 11);
    assert_eq!(feature_ids, FEATURES.into_iter().collect::<BTreeSet<_>>());
    assert!(snap.features.iter().all(|f| f.active));

    // The full 4 × 11 matrix, each cell once.
    assert_eq!(snap.limits.len(), 44);
    let cells: BTreeMap<(&str, &str), Limit> = snap
        .limits
        .iter()
        .map(|l| ((l.tier_id.as_str(), l.feature_id.as_str()), l.limit))
        .collect();
    assert_eq!(cells.len(), 44, "a cell appears twice");
    for t in TIERS {
        for f in FEATURES {
            let limit = cells
                .get(&(t, f))
                .unwrap_or_else(|| panic!("no tier limit for ({t}, {f})"));
            if t == "selfhosted" {
                assert_eq!(*limit, None, "selfhosted must be unlimited for {f}");
            }
            if let Some(n) = limit {
                assert!(*n >= 0, "negative limit for ({t}, {f})");
            }
        }
    }
    // A higher tier never gives less (None = unlimited = most).
    for f in FEATURES {
        let order = |l: Limit| l.unwrap_or(i64::MAX);
        let limits: Vec<i64> = TIERS.iter().map(|t| order(cells[&(*t, f)])).collect();
        assert!(
            limits.windows(2).all(|w| w[0] <= w[1]),
            "limits of {f} decrease with rank: {limits:?}"
        );
    }

    // Settings: the twelve keys with their defaults.
    assert_eq!(mitai_access::settings::KEYS.len(), 12);
    assert_eq!(snap.settings.len(), 12);
    for key in mitai_access::settings::KEYS {
        let setting = find_setting(&snap, key);
        let default = mitai_access::settings::default_value(key).expect("a default");
        assert_eq!(setting.value, default, "seeded value of {key}");
        assert_eq!(setting.updated_by, None);
    }
}

async fn reopening_runs_migrations_once_and_keeps_data(db: &TestDb) {
    let s = store(db);
    let p = user(s, "keep@example.org", "Keep").await;
    s.set_setting("trial_days", &json!(30), Some(p.id), t0())
        .await
        .unwrap();
    s.set_tier_limit("free", "weight", Some(7), t0())
        .await
        .unwrap();

    // Opening the database again runs the migrator again: nothing is re-seeded.
    let again = mitai_store::connect(&db.url).await.expect("reopen");
    let snap = snapshot(&*again).await;
    assert_eq!(snap.tiers.len(), 4);
    assert_eq!(snap.features.len(), 11);
    assert_eq!(snap.limits.len(), 44);
    assert_eq!(snap.settings.len(), 12);
    assert_eq!(find_setting(&snap, "trial_days").value, json!(30));
    assert_eq!(cells(&snap, "free", "weight")[0].limit, Some(7));
    assert_eq!(again.profile(p.id).await.unwrap(), Some(p));
}

async fn create_and_update_feature(db: &TestDb) {
    let s = store(db);
    let mut f = feature("sleep");
    s.create_feature(&f, t0()).await.expect("create feature");
    assert_eq!(find_feature(&snapshot(s).await, "sleep"), Some(&f));

    // A boolean feature without unit, limit or period survives the round trip too.
    let mut b = feature("dark_mode");
    b.kind = FeatureKind::Boolean;
    b.unit = None;
    b.reset_period = ResetPeriod::Never;
    b.default_limit = None;
    b.active = false;
    s.create_feature(&b, t0())
        .await
        .expect("create boolean feature");
    assert_eq!(find_feature(&snapshot(s).await, "dark_mode"), Some(&b));

    // Duplicates, new or seeded.
    let err = s.create_feature(&f, t0()).await.expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict("feature")), "{err:?}");
    let err = s
        .create_feature(&feature("weight"), t0())
        .await
        .expect_err("duplicate of a seeded feature");
    assert!(matches!(err, StoreError::Conflict("feature")), "{err:?}");

    // Every field changes.
    f.name = "Sleep log".to_owned();
    f.description = "Hours slept.".to_owned();
    f.category = "health".to_owned();
    f.kind = FeatureKind::Boolean;
    f.unit = None;
    f.reset_period = ResetPeriod::Yearly;
    f.default_limit = None;
    f.active = false;
    f.sort_order = -3;
    assert!(s.update_feature(&f, t0()).await.expect("update feature"));
    let snap = snapshot(s).await;
    assert_eq!(find_feature(&snap, "sleep"), Some(&f));
    assert_eq!(snap.features.len(), 13);
    // And back to values, so that Some/None both go both ways.
    f.unit = Some("hours".to_owned());
    f.default_limit = Some(0);
    f.kind = FeatureKind::Count;
    f.reset_period = ResetPeriod::Daily;
    f.active = true;
    assert!(s.update_feature(&f, t0()).await.unwrap());
    assert_eq!(find_feature(&snapshot(s).await, "sleep"), Some(&f));

    // A seeded feature can be switched off (the global kill switch).
    let mut weight = find_feature(&snapshot(s).await, "weight").unwrap().clone();
    weight.active = false;
    assert!(s.update_feature(&weight, t0()).await.unwrap());
    assert_eq!(find_feature(&snapshot(s).await, "weight"), Some(&weight));

    // Unknown id: nothing is created.
    assert!(!s.update_feature(&feature("nope"), t0()).await.unwrap());
    assert_eq!(find_feature(&snapshot(s).await, "nope"), None);
}

async fn create_and_update_tier(db: &TestDb) {
    let s = store(db);
    let mut t = tier("gold", 25);
    s.create_tier(&t, t0()).await.expect("create tier");
    assert_eq!(find_tier(&snapshot(s).await, "gold"), Some(&t));

    let err = s.create_tier(&t, t0()).await.expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict("tier")), "{err:?}");
    let err = s
        .create_tier(&tier("free", 99), t0())
        .await
        .expect_err("duplicate of a seeded tier");
    assert!(matches!(err, StoreError::Conflict("tier")), "{err:?}");
    assert_eq!(find_tier(&snapshot(s).await, "free").unwrap().rank, 0);

    t.name = "Gold".to_owned();
    t.description = "Shiny.".to_owned();
    t.rank = 35;
    t.active = false;
    t.sort_order = 7;
    assert!(s.update_tier(&t, t0()).await.expect("update tier"));
    let snap = snapshot(s).await;
    assert_eq!(find_tier(&snap, "gold"), Some(&t));
    assert_eq!(snap.tiers.len(), 5);

    assert!(!s.update_tier(&tier("nope", 1), t0()).await.unwrap());
    assert_eq!(find_tier(&snapshot(s).await, "nope"), None);
}

async fn set_and_delete_tier_limit(db: &TestDb) {
    let s = store(db);
    s.create_tier(&tier("gold", 25), t0()).await.unwrap();
    assert!(cells(&snapshot(s).await, "gold", "weight").is_empty());

    // Insert, then replace with unlimited, then with a number again.
    s.set_tier_limit("gold", "weight", Some(7), t0())
        .await
        .expect("insert cell");
    let snap = snapshot(s).await;
    assert_eq!(
        cells(&snap, "gold", "weight"),
        [&TierLimit {
            tier_id: "gold".to_owned(),
            feature_id: "weight".to_owned(),
            limit: Some(7),
        }]
    );
    assert_eq!(snap.limits.len(), 45);
    s.set_tier_limit("gold", "weight", None, t0())
        .await
        .expect("replace with unlimited");
    let snap = snapshot(s).await;
    let gold_weight = cells(&snap, "gold", "weight");
    assert_eq!(gold_weight.len(), 1);
    assert_eq!(gold_weight[0].limit, None);
    s.set_tier_limit("gold", "weight", Some(0), t0())
        .await
        .expect("replace with disabled");
    assert_eq!(
        cells(&snapshot(s).await, "gold", "weight")[0].limit,
        Some(0)
    );

    // Replacing a seeded cell; its neighbours stay.
    s.set_tier_limit("free", "photos", Some(1), t0())
        .await
        .unwrap();
    s.set_tier_limit("selfhosted", "photos", Some(1000), t0())
        .await
        .unwrap();
    let snap = snapshot(s).await;
    assert_eq!(cells(&snap, "free", "photos")[0].limit, Some(1));
    assert_eq!(cells(&snap, "selfhosted", "photos")[0].limit, Some(1000));
    assert_eq!(cells(&snap, "selfhosted", "weight")[0].limit, None);
    assert_eq!(snap.limits.len(), 45);

    // Delete: true once, then false.
    assert!(s.delete_tier_limit("gold", "weight").await.unwrap());
    assert!(!s.delete_tier_limit("gold", "weight").await.unwrap());
    assert!(s.delete_tier_limit("free", "photos").await.unwrap());
    let snap = snapshot(s).await;
    assert!(cells(&snap, "gold", "weight").is_empty());
    assert!(cells(&snap, "free", "photos").is_empty());
    assert_eq!(snap.limits.len(), 43);
    assert!(!s.delete_tier_limit("nope", "weight").await.unwrap());

    // Unknown tier or feature.
    let err = s
        .set_tier_limit("nope", "weight", Some(1), t0())
        .await
        .expect_err("unknown tier");
    assert!(
        matches!(err, StoreError::MissingReference("tier or feature")),
        "{err:?}"
    );
    let err = s
        .set_tier_limit("free", "nope", None, t0())
        .await
        .expect_err("unknown feature");
    assert!(
        matches!(err, StoreError::MissingReference("tier or feature")),
        "{err:?}"
    );
    // A negative limit is not a limit.
    s.set_tier_limit("free", "weight", Some(-1), t0())
        .await
        .expect_err("negative limit");
    let snap = snapshot(s).await;
    assert_eq!(snap.limits.len(), 43);
    assert_eq!(cells(&snap, "free", "weight")[0].limit, Some(31));
}

async fn set_setting_is_stored_and_visible(db: &TestDb) {
    let s = store(db);
    let by = admin(s, "root@example.org").await.id;
    let t1 = at(2025, 3, 15, 10, 0, 0);

    let stored = s
        .set_setting("trial_days", &json!(30), Some(by), t1)
        .await
        .expect("set setting");
    assert_eq!(
        stored,
        Setting {
            key: "trial_days".to_owned(),
            value: json!(30),
            updated_at: t1,
            updated_by: Some(by),
        }
    );
    let snap = snapshot(s).await;
    assert_eq!(find_setting(&snap, "trial_days"), &stored);
    assert_eq!(snap.settings.len(), 12);
    // The others keep their defaults.
    for key in mitai_access::settings::KEYS
        .iter()
        .filter(|k| **k != "trial_days")
    {
        assert_eq!(
            find_setting(&snap, key).value,
            mitai_access::settings::default_value(key).unwrap()
        );
    }

    // Strings, null and structured values round-trip; `by` may be absent.
    let t2 = at(2025, 3, 16, 10, 0, 0);
    let stored = s
        .set_setting("base_url", &json!("https://mitai.example/"), None, t2)
        .await
        .unwrap();
    assert_eq!(stored.value, json!("https://mitai.example/"));
    assert_eq!(stored.updated_by, None);
    assert_eq!(stored.updated_at, t2);
    let stored = s
        .set_setting("base_url", &Value::Null, Some(by), t2)
        .await
        .unwrap();
    assert_eq!(stored.value, Value::Null);
    assert_eq!(find_setting(&snapshot(s).await, "base_url"), &stored);
    let nested = json!({ "a": [1, 2.5, "x", null, true], "b": { "c": "ä" } });
    let stored = s
        .set_setting("experimental", &nested, Some(by), t2)
        .await
        .unwrap();
    assert_eq!(stored.value, nested);
    let snap = snapshot(s).await;
    assert_eq!(find_setting(&snap, "experimental"), &stored);
    assert_eq!(snap.settings.len(), 13);
}

// --- profiles -----------------------------------------------------------------------------

async fn create_profile_and_read_it_back(db: &TestDb) {
    let s = store(db);
    let inviter = user(s, "inviter@example.org", "Inviter").await;
    assert_eq!(inviter.tier, "free");
    assert_eq!(inviter.role, Role::User);
    assert!(!inviter.disabled);

    let new = NewProfile {
        id: Uuid::now_v7(),
        email: "  Anna.Schmidt@Example.org ".to_owned(),
        password_hash: "$argon2id$v=19$anna".to_owned(),
        name: "Anna Schmidt".to_owned(),
        role: Role::Admin,
        tier: "basic".to_owned(),
        trial_ends_at: Some(at(2025, 3, 28, 9, 30, 0)),
        email_verified: true,
        invited_by: Some(inviter.id),
        language: "en".to_owned(),
        created_at: t0(),
    };
    let created = s.create_profile(&new).await.expect("create profile");
    let expected = Profile {
        id: new.id,
        email: "Anna.Schmidt@Example.org".to_owned(),
        name: "Anna Schmidt".to_owned(),
        role: Role::Admin,
        tier: "basic".to_owned(),
        trial_ends_at: new.trial_ends_at,
        email_verified: true,
        invited_by: Some(inviter.id),
        language: "en".to_owned(),
        disabled: false,
        created_at: t0(),
        updated_at: t0(),
    };
    assert_eq!(created, expected);
    assert_eq!(s.profile(new.id).await.unwrap(), Some(expected));
    assert_eq!(s.profile(inviter.id).await.unwrap(), Some(inviter));
    assert_eq!(s.profile(Uuid::now_v7()).await.unwrap(), None);

    // References must exist.
    let mut bad = new_profile("bad-tier@example.org", "Bad");
    bad.tier = "platinum".to_owned();
    let err = s.create_profile(&bad).await.expect_err("unknown tier");
    assert!(
        matches!(err, StoreError::MissingReference("tier or inviter")),
        "{err:?}"
    );
    let mut bad = new_profile("bad-inviter@example.org", "Bad");
    bad.invited_by = Some(Uuid::now_v7());
    let err = s.create_profile(&bad).await.expect_err("unknown inviter");
    assert!(
        matches!(err, StoreError::MissingReference("tier or inviter")),
        "{err:?}"
    );
    assert_eq!(s.list_profiles(None, None, 100).await.unwrap().len(), 2);
}

async fn email_is_unique_case_insensitively_and_trimmed(db: &TestDb) {
    let s = store(db);
    let first = user(s, "A@x.org", "First").await;
    for taken in [" a@X.org", "a@x.org", "A@X.ORG  ", "\ta@x.org"] {
        let err = s
            .create_profile(&new_profile(taken, "Second"))
            .await
            .expect_err("e-mail taken");
        assert!(
            matches!(err, StoreError::Conflict("email")),
            "{taken:?}: {err:?}"
        );
    }
    // Other addresses are fine, and the first profile is untouched.
    user(s, "b@x.org", "Other").await;
    user(s, "a@x.org.de", "Longer").await;
    assert_eq!(s.profile(first.id).await.unwrap(), Some(first));
    assert_eq!(s.list_profiles(None, None, 100).await.unwrap().len(), 3);
}

async fn credentials_by_email_in_any_case(db: &TestDb) {
    let s = store(db);
    let mut new = new_profile("Bea@Example.org", "Bea");
    new.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bea".to_owned();
    let bea = s.create_profile(&new).await.unwrap();
    user(s, "other@example.org", "Other").await;

    for email in [
        "Bea@Example.org",
        "bea@example.org",
        "BEA@EXAMPLE.ORG",
        "  bEa@exAmple.org ",
    ] {
        let (profile, hash) = s
            .credentials(email)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("credentials for {email:?}"));
        assert_eq!(profile, bea);
        assert_eq!(hash, new.password_hash);
    }
    assert!(s.credentials("nobody@example.org").await.unwrap().is_none());
    assert!(s.credentials("bea@example").await.unwrap().is_none());
    assert!(s.credentials("").await.unwrap().is_none());
}

async fn list_profiles_search_is_case_insensitive_and_literal(db: &TestDb) {
    let s = store(db);
    let anna = user(s, "anna@example.org", "Anna Schmidt").await;
    let bob = user(s, "bob@example.org", "Bob 100% Fit").await;
    let frank = user(s, "frank@example.org", "Frank 1000 Points").await;
    let carl = user(s, "carl@example.org", "Carl_Heinz").await;
    let carla = user(s, "carla@sample.net", "Carlx Heinz").await;
    let win = user(s, "win@sample.net", r"C:\Users\Win").await;
    let jurgen = user(s, "JUERGEN@Sample.NET", "Jürgen Müller").await;
    let omer = user(s, "oe@beispiel.de", "ÖMER ÖZDEMİR").await;
    let ute = user(s, "ÜTE@beispiel.de", "Ute").await;

    let search = |q: &'static str| async move {
        sorted_ids(&s.list_profiles(Some(q), None, 100).await.unwrap())
    };
    let expect = |ps: &[&Profile]| {
        let mut v: Vec<Uuid> = ps.iter().map(|p| p.id).collect();
        v.sort();
        v
    };

    // Name, any case.
    assert_eq!(search("SCHMIDT").await, expect(&[&anna]));
    assert_eq!(search("anna s").await, expect(&[&anna]));
    // E-mail, any case.
    assert_eq!(search("SAMPLE.NET").await, expect(&[&carla, &win, &jurgen]));
    assert_eq!(search("juergen@").await, expect(&[&jurgen]));
    assert_eq!(
        search("example").await,
        expect(&[&anna, &bob, &frank, &carl])
    );
    // `%`, `_` and `\` are literal characters, not wildcards.
    assert_eq!(search("100%").await, expect(&[&bob]));
    assert_eq!(search("%").await, expect(&[&bob]));
    assert_eq!(search("carl_").await, expect(&[&carl]));
    assert_eq!(search("_").await, expect(&[&carl]));
    assert_eq!(search(r"\").await, expect(&[&win]));
    assert_eq!(search(r"c:\users").await, expect(&[&win]));
    // Letters beyond ASCII, any case.
    assert_eq!(search("MÜLLER").await, expect(&[&jurgen]));
    assert_eq!(search("jürgen").await, expect(&[&jurgen]));
    assert_eq!(search("ömer ö").await, expect(&[&omer]));
    assert_eq!(search("Öme").await, expect(&[&omer]));
    assert_eq!(search("üte@").await, expect(&[&ute]));
    // Nothing.
    assert_eq!(search("zzz").await, Vec::<Uuid>::new());
    // No query: everyone.
    assert_eq!(
        sorted_ids(&s.list_profiles(None, None, 100).await.unwrap()),
        expect(&[
            &anna, &bob, &frank, &carl, &carla, &win, &jurgen, &omer, &ute
        ])
    );
    // The empty query matches everyone too.
    assert_eq!(search("").await.len(), 9);
}

async fn list_profiles_pages_by_id(db: &TestDb) {
    let s = store(db);
    let mut made = Vec::new();
    for i in 0..7 {
        let domain = if i % 2 == 0 { "even.org" } else { "odd.org" };
        made.push(user(s, &format!("p{i}@{domain}"), &format!("Person {i}")).await);
    }
    let all = s.list_profiles(None, None, 100).await.unwrap();
    assert_eq!(ids(&all), sorted_ids(&made), "ordered by id");

    // Pages of two, following the cursor.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_profiles(None, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().id);
        pages.push(ids(&page));
    }
    assert_eq!(pages.len(), 4);
    assert_eq!(pages.concat(), ids(&all));
    assert_eq!(
        ids(&s.list_profiles(None, Some(all[2].id), 3).await.unwrap()),
        ids(&all[3..6])
    );
    assert!(
        s.list_profiles(None, Some(all[6].id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.list_profiles(None, None, 0).await.unwrap().is_empty());
    // A cursor that is not a profile still works as a position.
    assert_eq!(
        ids(&s.list_profiles(None, Some(Uuid::nil()), 100).await.unwrap()),
        ids(&all)
    );
    assert!(
        s.list_profiles(None, Some(Uuid::max()), 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Query and cursor together.
    let odd: Vec<Uuid> = all
        .iter()
        .filter(|p| p.email.ends_with("odd.org"))
        .map(|p| p.id)
        .collect();
    assert_eq!(odd.len(), 3);
    assert_eq!(
        ids(&s.list_profiles(Some("ODD.ORG"), None, 2).await.unwrap()),
        odd[..2]
    );
    assert_eq!(
        ids(&s
            .list_profiles(Some("odd.org"), Some(odd[0]), 10)
            .await
            .unwrap()),
        odd[1..]
    );
}

async fn update_profile_applies_each_field(db: &TestDb) {
    let s = store(db);
    let mut new = new_profile("upd@example.org", "Before");
    new.trial_ends_at = Some(at(2025, 3, 28, 0, 0, 0));
    let mut expected = s.create_profile(&new).await.unwrap();
    let other = user(s, "other@example.org", "Other").await;
    // Another admin, so that the profile may become an admin and then be disabled.
    admin(s, "boss@example.org").await;

    let mut now = t0();
    let mut step = async |patch: ProfilePatch, expected: &Profile| {
        now += chrono::Duration::hours(1);
        let updated = s
            .update_profile(expected.id, &patch, now)
            .await
            .expect("update profile")
            .expect("profile exists");
        let mut want = expected.clone();
        want.updated_at = now;
        (updated, want)
    };

    let (got, mut want) = step(
        ProfilePatch {
            name: Some("After".to_owned()),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.name = "After".to_owned();
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            tier: Some("premium".to_owned()),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.tier = "premium".to_owned();
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            role: Some(Role::Admin),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.role = Role::Admin;
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            disabled: Some(true),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.disabled = true;
    assert_eq!(got, want);
    expected = got;

    let later = at(2025, 5, 1, 0, 0, 0);
    let (got, mut want) = step(
        ProfilePatch {
            trial_ends_at: Some(Some(later)),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.trial_ends_at = Some(later);
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            trial_ends_at: Some(None),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.trial_ends_at = None;
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            language: Some("en".to_owned()),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.language = "en".to_owned();
    assert_eq!(got, want);
    expected = got;

    // Several fields at once, and back.
    let (got, mut want) = step(
        ProfilePatch {
            name: Some("Ärger Both".to_owned()),
            tier: Some("free".to_owned()),
            role: Some(Role::User),
            disabled: Some(false),
            trial_ends_at: Some(Some(later)),
            language: Some("de".to_owned()),
            email_verified: None,
        },
        &expected,
    )
    .await;
    want.name = "Ärger Both".to_owned();
    want.tier = "free".to_owned();
    want.role = Role::User;
    want.disabled = false;
    want.trial_ends_at = Some(later);
    want.language = "de".to_owned();
    assert_eq!(got, want);
    expected = got;

    // An empty patch changes nothing but the time stamp.
    let (got, want) = step(ProfilePatch::default(), &expected).await;
    assert_eq!(got, want);
    expected = got;
    assert_eq!(
        s.profile(expected.id).await.unwrap().as_ref(),
        Some(&expected)
    );
    // The search sees the new name, and no longer the old one.
    for query in ["ÄRGER BOTH", "ärger"] {
        assert_eq!(
            ids(&s.list_profiles(Some(query), None, 10).await.unwrap()),
            [expected.id]
        );
    }
    assert!(
        s.list_profiles(Some("after"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown profile.
    let patch = ProfilePatch {
        name: Some("Ghost".to_owned()),
        ..ProfilePatch::default()
    };
    assert_eq!(
        s.update_profile(Uuid::now_v7(), &patch, t0())
            .await
            .unwrap(),
        None
    );

    // Unknown tier: refused, nothing changes.
    let patch = ProfilePatch {
        name: Some("Platinum".to_owned()),
        tier: Some("platinum".to_owned()),
        ..ProfilePatch::default()
    };
    let err = s
        .update_profile(expected.id, &patch, t0())
        .await
        .expect_err("unknown tier");
    assert!(
        matches!(err, StoreError::MissingReference("tier")),
        "{err:?}"
    );
    assert_eq!(s.profile(expected.id).await.unwrap(), Some(expected));
    assert_eq!(s.profile(other.id).await.unwrap(), Some(other));
}

async fn admin_exists_counts_enabled_admins(db: &TestDb) {
    let s = store(db);
    assert!(!s.admin_exists().await.unwrap(), "no profiles yet");
    let u = user(s, "user@example.org", "User").await;
    assert!(!s.admin_exists().await.unwrap(), "only a user");

    let a = admin(s, "admin@example.org").await;
    assert!(s.admin_exists().await.unwrap());

    let disable = ProfilePatch {
        disabled: Some(true),
        ..ProfilePatch::default()
    };
    let promote = ProfilePatch {
        role: Some(Role::Admin),
        ..ProfilePatch::default()
    };
    s.update_profile(u.id, &promote, t0()).await.unwrap();
    assert!(s.admin_exists().await.unwrap(), "a promoted user counts");
    s.update_profile(a.id, &disable, t0()).await.unwrap();
    assert!(
        s.admin_exists().await.unwrap(),
        "the promoted user still counts"
    );
    // The disabled admin does not count: the other one is now the last.
    assert!(matches!(
        s.update_profile(u.id, &disable, t0()).await,
        Err(StoreError::LastAdmin)
    ));
}

async fn set_password_replaces_the_hash(db: &TestDb) {
    let s = store(db);
    let p = user(s, "pw@example.org", "Pw").await;
    let other = user(s, "other@example.org", "Other").await;
    let (_, old) = s.credentials("pw@example.org").await.unwrap().unwrap();

    let t1 = at(2025, 3, 20, 8, 0, 0);
    assert!(s.set_password(p.id, "$argon2id$new", t1).await.unwrap());
    let (profile, hash) = s.credentials("PW@example.org").await.unwrap().unwrap();
    assert_eq!(hash, "$argon2id$new");
    assert_ne!(hash, old);
    assert_eq!(profile.updated_at, t1);
    assert_eq!(
        Profile {
            updated_at: p.updated_at,
            ..profile
        },
        p
    );
    // Others keep theirs.
    let (_, other_hash) = s.credentials("other@example.org").await.unwrap().unwrap();
    assert_eq!(other_hash, "$argon2id$hash-of-other@example.org");
    assert_eq!(s.profile(other.id).await.unwrap(), Some(other));

    assert!(
        !s.set_password(Uuid::now_v7(), "$argon2id$x", t1)
            .await
            .unwrap()
    );
}

async fn sessions_live_expire_and_delete(db: &TestDb) {
    let s = store(db);
    let p = user(s, "sess@example.org", "Sess").await;
    let q = user(s, "other@example.org", "Other").await;
    let expires = t0() + chrono::Duration::hours(1);
    let session = |token: &str, profile_id: Uuid| NewSession {
        token_hash: token.to_owned(),
        profile_id,
        created_at: t0(),
        expires_at: expires,
        user_agent: Some("test/1.0".to_owned()),
    };
    s.create_session(&session("hash-p-1", p.id)).await.unwrap();
    s.create_session(&NewSession {
        user_agent: None,
        ..session("hash-p-2", p.id)
    })
    .await
    .unwrap();
    s.create_session(&session("hash-q", q.id)).await.unwrap();

    // Live until (not including) expires_at.
    assert_eq!(
        s.session_profile("hash-p-1", t0()).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        s.session_profile("hash-p-2", expires - chrono::Duration::seconds(1))
            .await
            .unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        s.session_profile("hash-q", t0()).await.unwrap(),
        Some(q.clone())
    );
    assert_eq!(s.session_profile("hash-p-1", expires).await.unwrap(), None);
    assert_eq!(
        s.session_profile("hash-p-1", expires + chrono::Duration::days(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.session_profile("unknown", t0()).await.unwrap(), None);
    assert_eq!(s.session_profile("", t0()).await.unwrap(), None);

    // The session shows the profile as it is now.
    let patch = ProfilePatch {
        name: Some("Renamed".to_owned()),
        ..ProfilePatch::default()
    };
    let renamed = s.update_profile(p.id, &patch, t0()).await.unwrap().unwrap();
    assert_eq!(
        s.session_profile("hash-p-1", t0()).await.unwrap(),
        Some(renamed)
    );

    // A token is unique; a session needs its profile.
    let err = s
        .create_session(&session("hash-q", p.id))
        .await
        .expect_err("token taken");
    assert!(matches!(err, StoreError::Conflict("session")), "{err:?}");
    assert_eq!(s.session_profile("hash-q", t0()).await.unwrap(), Some(q));
    let err = s
        .create_session(&session("hash-ghost", Uuid::now_v7()))
        .await
        .expect_err("unknown profile");
    assert!(
        matches!(err, StoreError::MissingReference("profile")),
        "{err:?}"
    );

    // Delete: true once, then false; other sessions stay.
    assert!(s.delete_session("hash-p-1").await.unwrap());
    assert!(!s.delete_session("hash-p-1").await.unwrap());
    assert!(!s.delete_session("unknown").await.unwrap());
    assert_eq!(s.session_profile("hash-p-1", t0()).await.unwrap(), None);
    assert!(s.session_profile("hash-p-2", t0()).await.unwrap().is_some());
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

// --- restrictions and usage ---------------------------------------------------------------

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

// --- concurrency --------------------------------------------------------------------------

/// Runs `n` calls of `call(i)` at once on the runtime's worker threads.
async fn race<F, Fut, T>(n: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let work = call(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("task panicked"));
    }
    out
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

// --- mail outbox --------------------------------------------------------------------------

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
    assert_eq!(failed[0].data, json!({}));
    assert_eq!(failed[0].sent_at, None);
    // Given up: never claimed again.
    let far = t0() + chrono::TimeDelta::days(365);
    assert!(s.claim_mail(far, 10, lease()).await.unwrap().is_empty());
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

// --- activity and statistics --------------------------------------------------------------

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
        s.feature_days(now + chrono::TimeDelta::seconds(1))
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

// --- job lock -----------------------------------------------------------------------------

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

// --- the last admin -----------------------------------------------------------------------

async fn the_last_admin_keeps_role_and_access(db: &TestDb) {
    let s = store(db);
    let a = admin(s, "a@example.org").await;
    let demote = ProfilePatch {
        role: Some(Role::User),
        ..Default::default()
    };
    let disable = ProfilePatch {
        disabled: Some(true),
        ..Default::default()
    };
    for patch in [&demote, &disable] {
        assert!(matches!(
            s.update_profile(a.id, patch, t0()).await,
            Err(StoreError::LastAdmin)
        ));
        let after = s.profile(a.id).await.unwrap().unwrap();
        assert_eq!((after.role, after.disabled), (Role::Admin, false));
    }
    // Other changes of the last admin are fine; so is demoting once another admin exists.
    let renamed = ProfilePatch {
        name: Some("Boss".into()),
        ..Default::default()
    };
    s.update_profile(a.id, &renamed, t0())
        .await
        .unwrap()
        .unwrap();
    let b = admin(s, "b@example.org").await;
    s.update_profile(a.id, &demote, t0())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        s.update_profile(b.id, &disable, t0()).await,
        Err(StoreError::LastAdmin)
    ));
    // A plain user is demoted or disabled whatever the admins.
    let u = user(s, "u@example.org", "U").await;
    s.update_profile(u.id, &disable, t0())
        .await
        .unwrap()
        .unwrap();
}

/// Two admins, each demoting (or disabling) the other at the same moment, many times over:
/// one of each pair always remains. A check-then-update would leave none.
async fn admins_demoting_each_other_at_once_leave_one(db: &TestDb) {
    for round in 0..10 {
        let a = admin(store(db), &format!("a{round}@example.org")).await;
        let b = admin(store(db), &format!("b{round}@example.org")).await;
        // Only these two are admins in this round.
        for earlier in 0..round {
            for who in ["a", "b"] {
                let email = format!("{who}{earlier}@example.org");
                if let Some((p, _)) = store(db).credentials(&email).await.unwrap()
                    && p.role == Role::Admin
                {
                    let patch = ProfilePatch {
                        role: Some(Role::User),
                        ..Default::default()
                    };
                    store(db).update_profile(p.id, &patch, t0()).await.unwrap();
                }
            }
        }
        let patch = if round % 2 == 0 {
            ProfilePatch {
                role: Some(Role::User),
                ..Default::default()
            }
        } else {
            ProfilePatch {
                disabled: Some(true),
                ..Default::default()
            }
        };
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = [a.id, b.id]
            .into_iter()
            .map(|id| {
                let store = db.store.clone();
                let patch = patch.clone();
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.update_profile(id, &patch, t0()).await
                })
            })
            .collect();
        let mut done = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(Some(_)) => done += 1,
                Err(StoreError::LastAdmin) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(done, 1, "round {round}: exactly one change goes through");
        assert!(store(db).admin_exists().await.unwrap(), "round {round}");
    }
}

// --- the hot path -------------------------------------------------------------------------

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
    let wal = std::path::PathBuf::from(format!("{}-wal", db.url.trim_start_matches("sqlite://")));
    // Bytes 12..24 of the WAL header: checkpoint sequence number, salt-1, salt-2.
    let header = || {
        std::fs::read(&wal)
            .ok()
            .filter(|h| h.len() >= 32)
            .map(|h| h[12..24].to_vec())
    };
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
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = header().expect("a WAL with a header");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while header().as_ref() == Some(&started) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let restarted = header().as_ref() != Some(&started);
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
