//! The conformance suite of [`RegistryStore`](mitai_store::RegistryStore): features, tiers,
//! the tier × feature matrix, settings and change signals, and what the migrations seed.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use mitai_access::{Feature, FeatureKind, Limit, ResetPeriod, Tier, TierLimit};
use mitai_store::testing::TestDb;
use mitai_store::{Backend, RegistrySnapshot, Setting, Store, StoreError};
use serde_json::{Value, json};

use crate::support::{admin, at, store, t0, user};

conformance! {
    plain: [
        backend_ping_and_registry_change_signals,
        seed_data_after_migration,
        reopening_runs_migrations_once_and_keeps_data,
        create_and_update_feature,
        create_and_update_tier,
        set_and_delete_tier_limit,
        set_setting_is_stored_and_visible,
    ],
    concurrent: [],
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
    assert_eq!(mitai_access::settings::KEYS.len(), 15);
    assert_eq!(snap.settings.len(), 15);
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
    assert_eq!(snap.settings.len(), 15);
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
    assert_eq!(snap.settings.len(), 15);
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
    assert_eq!(snap.settings.len(), 16);
}
