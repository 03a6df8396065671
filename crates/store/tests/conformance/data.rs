//! The conformance suite of [`DataStore`]: entries of every type, the gated create (spend
//! and insert in one transaction, idempotency keys), scoping to one profile, date ranges,
//! cursors, optimistic updates and deletes. Every case is written once, against `&TestDb`,
//! and runs on both backends (`sqlite::<case>` and `postgres::<case>`).
//!
//! Every test gets a fresh, migrated database. PostgreSQL tests need the server named by
//! `MITAI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! fail when it cannot be reached.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use mitai_access::caliper::Caliper;
use mitai_access::entries::{Activity, Circumference, Nutrition, Weight};
use mitai_access::{EntryData, EntryKind};
use mitai_store::testing::TestDb;
use mitai_store::{
    Backend, ConsumeRequest, CreatedEntry, Entry, EntryChange, EntryCursor, EntryOrder, EntryQuery,
    EntryUpdate, GatedCreate, IdempotencyKey, NewEntry, NewProfile, Profile, Role, Store,
    StoreError, StoredResponse, WeightOverview,
};
use serde_json::json;
use uuid::Uuid;

// --- the two backends ---------------------------------------------------------------------

conformance! {
    plain: [
        weight_overview_sums_up_every_weigh_in,
        every_type_round_trips,
        create_spends_one_unit_in_the_bucket,
        create_over_the_cap_writes_nothing,
        create_with_a_key_is_replayed_and_writes_once,
        a_key_reused_for_another_request_is_refused,
        a_refused_create_leaves_its_key_free,
        create_for_an_unknown_profile_is_refused,
        entries_of_another_profile_are_not_found,
        entries_of_another_type_are_not_found,
        lists_filter_by_date_and_page_both_ways,
        update_replaces_and_raises_the_revision,
        update_of_a_stale_revision_changes_nothing,
        delete_removes_one_entry_and_keeps_the_usage,
        a_batch_is_written_whole_or_not_at_all,
    ],
    concurrent: [
        racing_creates_never_pass_the_cap,
        racing_batches_never_pass_the_cap,
        racing_creates_with_one_key_make_one_entry,
    ],
}

// --- helpers ------------------------------------------------------------------------------

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0)
        .single()
        .unwrap()
}

/// The usage bucket the tests spend in (a monthly period).
fn march() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).single().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn store(db: &TestDb) -> &dyn Store {
    &*db.store
}

async fn user(s: &dyn Store, email: &str) -> Profile {
    s.create_profile(&NewProfile {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: "x".into(),
        name: "User".into(),
        role: Role::User,
        tier: "free".into(),
        trial_ends_at: None,
        email_verified: true,
        invited_by: None,
        language: "en".into(),
        created_at: t0(),
    })
    .await
    .expect("create profile")
}

fn spend<'a>(profile: Uuid, feature: &'a str, cap: Option<i64>) -> ConsumeRequest<'a> {
    ConsumeRequest {
        profile_id: profile,
        feature_id: feature,
        period_start: march(),
        amount: 1,
        cap,
        now: t0(),
        idempotency: None,
        log: None,
    }
}

fn keyed<'a>(request: ConsumeRequest<'a>, key: &'a str, hash: &'a str) -> ConsumeRequest<'a> {
    ConsumeRequest {
        idempotency: Some(IdempotencyKey {
            key,
            request_hash: hash,
        }),
        ..request
    }
}

pub(crate) fn weight(kg: f64) -> EntryData {
    EntryData::Weight(Weight { weight_kg: kg })
}

pub(crate) fn new_entry(profile: Uuid, date: &str, data: EntryData) -> NewEntry {
    NewEntry {
        id: Uuid::now_v7(),
        profile_id: profile,
        date: day(date),
        note: None,
        data,
        created_at: t0(),
    }
}

/// The answer a handler would store with a key: 201 and the entry's id.
fn answer(entry: &Entry) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: json!({ "entry": { "id": entry.id.to_string() } }),
    }
}

/// Creates an entry without a cap; panics unless it is created.
pub(crate) async fn create(s: &dyn Store, new: &NewEntry) -> Entry {
    let feature = new.data.kind().feature_id();
    match s
        .create_entry(new, &spend(new.profile_id, feature, None), &answer)
        .await
        .expect("create entry")
    {
        GatedCreate::Created(CreatedEntry { entry, .. }) => entry,
        other => panic!("not created: {other:?}"),
    }
}

async fn used(s: &dyn Store, profile: Uuid, feature: &str) -> i64 {
    s.usage(profile, &[(feature, march())]).await.unwrap()[0]
}

pub(crate) fn query(limit: i64) -> EntryQuery {
    EntryQuery {
        from: None,
        to: None,
        after: None,
        limit,
        order: EntryOrder::NewestFirst,
    }
}

async fn all(s: &dyn Store, profile: Uuid, kind: EntryKind) -> Vec<Entry> {
    s.list_entries(profile, kind, &query(500)).await.unwrap()
}

fn samples() -> Vec<EntryData> {
    let caliper = Caliper::measure(
        "jp7",
        "male",
        40,
        &BTreeMap::from(
            [
                ("chest", 8.0),
                ("midaxillary", 10.0),
                ("triceps", 9.0),
                ("subscapular", 12.0),
                ("abdomen", 18.0),
                ("suprailiac", 11.0),
                ("thigh", 14.0),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        ),
    )
    .unwrap();
    vec![
        weight(80.25),
        EntryData::Circumference(Circumference {
            neck_cm: Some(38.0),
            waist_cm: Some(82.5),
            calf_cm: Some(37.0),
            ..Default::default()
        }),
        EntryData::Caliper(caliper),
        EntryData::Nutrition(Nutrition {
            kcal: 2150.0,
            protein_g: 130.5,
            carbs_g: 220.0,
            fat_g: 71.0,
        }),
        EntryData::Activity(Activity {
            kind: "Laufen über Stock & Stein".into(),
            minutes: 45,
            kcal: Some(480.0),
        }),
    ]
}

// --- cases --------------------------------------------------------------------------------

async fn every_type_round_trips(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    for data in samples() {
        let kind = data.kind();
        let mut new = new_entry(p.id, "2025-03-13", data.clone());
        new.note = Some("a note, with \"quotes\"".into());
        let created = create(s, &new).await;
        assert_eq!(created.id, new.id);
        assert_eq!(created.profile_id, p.id);
        assert_eq!(created.date, day("2025-03-13"));
        assert_eq!(created.note, new.note);
        assert_eq!(created.data, data, "{kind:?}");
        assert_eq!(created.revision, 1);
        assert_eq!((created.created_at, created.updated_at), (t0(), t0()));
        assert_eq!(created.kind(), kind);
        let read = s.entry(p.id, kind, new.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(&created), "{kind:?}");
        assert_eq!(all(s, p.id, kind).await, vec![created]);
    }
}

async fn create_spends_one_unit_in_the_bucket(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    for n in 1..=3 {
        let new = new_entry(p.id, "2025-03-13", weight(80.0));
        match s
            .create_entry(&new, &spend(p.id, "weight", Some(10)), &answer)
            .await
            .unwrap()
        {
            GatedCreate::Created(c) => assert_eq!(c.used, n),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(used(s, p.id, "weight").await, 3);
    assert_eq!(used(s, p.id, "nutrition").await, 0);
}

async fn create_over_the_cap_writes_nothing(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    for _ in 0..2 {
        let new = new_entry(p.id, "2025-03-13", weight(80.0));
        let r = s
            .create_entry(&new, &spend(p.id, "weight", Some(2)), &answer)
            .await
            .unwrap();
        assert!(matches!(r, GatedCreate::Created(_)));
    }
    let refused = new_entry(p.id, "2025-03-14", weight(81.0));
    let r = s
        .create_entry(&refused, &spend(p.id, "weight", Some(2)), &answer)
        .await
        .unwrap();
    assert_eq!(r, GatedCreate::LimitReached { used: 2 });
    assert_eq!(all(s, p.id, EntryKind::Weight).await.len(), 2);
    assert_eq!(
        s.entry(p.id, EntryKind::Weight, refused.id).await.unwrap(),
        None
    );
    assert_eq!(used(s, p.id, "weight").await, 2);
    // A cap of 0 refuses the first unit too.
    let r = s
        .create_entry(
            &new_entry(p.id, "2025-03-14", weight(81.0)),
            &spend(p.id, "nutrition", Some(0)),
            &answer,
        )
        .await
        .unwrap();
    assert_eq!(r, GatedCreate::LimitReached { used: 0 });
}

async fn create_with_a_key_is_replayed_and_writes_once(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let first = new_entry(p.id, "2025-03-13", weight(80.0));
    let request = keyed(spend(p.id, "weight", Some(5)), "k1", "h1");
    let entry = match s.create_entry(&first, &request, &answer).await.unwrap() {
        GatedCreate::Created(c) => c.entry,
        other => panic!("{other:?}"),
    };
    // A retry carries a new entry id (the server makes one per request): still one entry.
    let retry = new_entry(p.id, "2025-03-13", weight(80.0));
    let replayed = s.create_entry(&retry, &request, &answer).await.unwrap();
    assert_eq!(replayed, GatedCreate::Replayed(answer(&entry)));
    assert_eq!(all(s, p.id, EntryKind::Weight).await, vec![entry]);
    assert_eq!(used(s, p.id, "weight").await, 1);
    // Keys are per profile: another profile may use the same key.
    let q = user(s, "b@example.org").await;
    let other = new_entry(q.id, "2025-03-13", weight(70.0));
    let r = s
        .create_entry(
            &other,
            &keyed(spend(q.id, "weight", None), "k1", "h1"),
            &answer,
        )
        .await
        .unwrap();
    assert!(matches!(r, GatedCreate::Created(_)));
}

async fn a_key_reused_for_another_request_is_refused(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let request = keyed(spend(p.id, "weight", None), "k1", "h1");
    create_with(s, &new_entry(p.id, "2025-03-13", weight(80.0)), &request).await;
    let other = keyed(spend(p.id, "weight", None), "k1", "another body");
    let r = s
        .create_entry(
            &new_entry(p.id, "2025-03-13", weight(90.0)),
            &other,
            &answer,
        )
        .await;
    assert!(matches!(r, Err(StoreError::IdempotencyMismatch)), "{r:?}");
    assert_eq!(all(s, p.id, EntryKind::Weight).await.len(), 1);
    assert_eq!(used(s, p.id, "weight").await, 1);
}

async fn create_with(s: &dyn Store, new: &NewEntry, request: &ConsumeRequest<'_>) -> Entry {
    match s.create_entry(new, request, &answer).await.unwrap() {
        GatedCreate::Created(c) => c.entry,
        other => panic!("{other:?}"),
    }
}

async fn a_refused_create_leaves_its_key_free(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    create(s, &new_entry(p.id, "2025-03-13", weight(80.0))).await;
    let new = new_entry(p.id, "2025-03-14", weight(81.0));
    let capped = keyed(spend(p.id, "weight", Some(1)), "k1", "h1");
    let r = s.create_entry(&new, &capped, &answer).await.unwrap();
    assert_eq!(r, GatedCreate::LimitReached { used: 1 });
    // The limit was raised: the retry with the key is decided afresh and creates.
    let raised = keyed(spend(p.id, "weight", Some(2)), "k1", "h1");
    let entry = create_with(s, &new, &raised).await;
    assert_eq!(entry.id, new.id);
    assert_eq!(used(s, p.id, "weight").await, 2);
}

async fn create_for_an_unknown_profile_is_refused(db: &TestDb) {
    let s = store(db);
    let ghost = Uuid::now_v7();
    let r = s
        .create_entry(
            &new_entry(ghost, "2025-03-13", weight(80.0)),
            &spend(ghost, "weight", None),
            &answer,
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
}

async fn entries_of_another_profile_are_not_found(db: &TestDb) {
    let s = store(db);
    let owner = user(s, "owner@example.org").await;
    let other = user(s, "other@example.org").await;
    for data in samples() {
        let kind = data.kind();
        let entry = create(s, &new_entry(owner.id, "2025-03-13", data.clone())).await;
        assert_eq!(s.entry(other.id, kind, entry.id).await.unwrap(), None);
        assert!(all(s, other.id, kind).await.is_empty());
        let change = EntryChange {
            profile_id: other.id,
            id: entry.id,
            expected_revision: None,
            date: day("2025-03-01"),
            note: Some("hijacked".into()),
            data,
            now: t0(),
        };
        assert_eq!(
            s.update_entry(&change).await.unwrap(),
            EntryUpdate::NotFound
        );
        assert!(!s.delete_entry(other.id, kind, entry.id).await.unwrap());
        assert_eq!(
            s.entry(owner.id, kind, entry.id).await.unwrap(),
            Some(entry),
            "untouched"
        );
    }
}

async fn entries_of_another_type_are_not_found(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let entry = create(s, &new_entry(p.id, "2025-03-13", weight(80.0))).await;
    for kind in [EntryKind::Circumference, EntryKind::Nutrition] {
        assert_eq!(s.entry(p.id, kind, entry.id).await.unwrap(), None);
        assert!(!s.delete_entry(p.id, kind, entry.id).await.unwrap());
    }
    assert!(
        s.entry(p.id, EntryKind::Weight, entry.id)
            .await
            .unwrap()
            .is_some()
    );
}

async fn lists_filter_by_date_and_page_both_ways(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    // Out of date order, with two entries on one day (ordered by id there).
    let dates = [
        "2025-03-10",
        "2025-01-05",
        "2025-03-10",
        "2024-12-31",
        "2025-02-28",
        "2025-03-14",
    ];
    let mut made = Vec::new();
    for (i, date) in dates.iter().enumerate() {
        made.push(create(s, &new_entry(p.id, date, weight(70.0 + i as f64))).await);
    }
    let mut oldest_first = made.clone();
    oldest_first.sort_by_key(|e| (e.date, e.id));
    let mut newest_first = oldest_first.clone();
    newest_first.reverse();

    for (order, expected) in [
        (EntryOrder::NewestFirst, &newest_first),
        (EntryOrder::OldestFirst, &oldest_first),
    ] {
        let mut seen = Vec::new();
        let mut q = EntryQuery { order, ..query(4) };
        q.limit = 2;
        loop {
            let page = s.list_entries(p.id, EntryKind::Weight, &q).await.unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            q.after = Some(EntryCursor::of(last));
            seen.extend(page);
        }
        assert_eq!(&seen, expected, "{order:?}");
    }

    let ranged = EntryQuery {
        from: Some(day("2025-01-01")),
        to: Some(day("2025-03-10")),
        ..query(10)
    };
    let got: Vec<NaiveDate> = s
        .list_entries(p.id, EntryKind::Weight, &ranged)
        .await
        .unwrap()
        .iter()
        .map(|e| e.date)
        .collect();
    assert_eq!(
        got,
        ["2025-03-10", "2025-03-10", "2025-02-28", "2025-01-05"].map(day)
    );
    // A range with a cursor: the page after the first of the range.
    let first = &newest_first[1];
    assert_eq!(first.date, day("2025-03-10"));
    let after = EntryQuery {
        after: Some(EntryCursor::of(first)),
        limit: 1,
        ..ranged
    };
    let page = s
        .list_entries(p.id, EntryKind::Weight, &after)
        .await
        .unwrap();
    assert_eq!(page, vec![newest_first[2].clone()]);
    assert_eq!(page[0].date, day("2025-03-10"));
}

async fn update_replaces_and_raises_the_revision(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let samples = samples();
    let mut new = new_entry(p.id, "2025-03-13", samples[1].clone());
    new.note = Some("before".into());
    let entry = create(s, &new).await;
    let later = t0() + TimeDelta::hours(2);
    let replaced = EntryData::Circumference(Circumference {
        hip_cm: Some(99.5),
        ..Default::default()
    });
    let change = EntryChange {
        profile_id: p.id,
        id: entry.id,
        expected_revision: Some(1),
        date: day("2025-03-12"),
        note: None,
        data: replaced.clone(),
        now: later,
    };
    let EntryUpdate::Updated(updated) = s.update_entry(&change).await.unwrap() else {
        panic!("not updated");
    };
    assert_eq!(updated.id, entry.id);
    assert_eq!(updated.date, day("2025-03-12"));
    assert_eq!(updated.note, None);
    assert_eq!(updated.data, replaced);
    assert_eq!(updated.revision, 2);
    assert_eq!((updated.created_at, updated.updated_at), (t0(), later));
    assert_eq!(
        s.entry(p.id, EntryKind::Circumference, entry.id)
            .await
            .unwrap(),
        Some(*updated.clone())
    );
    // Without an expected revision the update applies to whatever is stored.
    let again = EntryChange {
        expected_revision: None,
        note: Some("after".into()),
        ..change
    };
    let EntryUpdate::Updated(again) = s.update_entry(&again).await.unwrap() else {
        panic!("not updated");
    };
    assert_eq!((again.revision, again.note.as_deref()), (3, Some("after")));
    // Updates do not spend.
    assert_eq!(used(s, p.id, "circumference").await, 1);
}

async fn update_of_a_stale_revision_changes_nothing(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let entry = create(s, &new_entry(p.id, "2025-03-13", weight(80.0))).await;
    let change = |kg: f64, revision| EntryChange {
        profile_id: p.id,
        id: entry.id,
        expected_revision: Some(revision),
        date: entry.date,
        note: None,
        data: weight(kg),
        now: t0(),
    };
    assert!(matches!(
        s.update_entry(&change(81.0, 1)).await.unwrap(),
        EntryUpdate::Updated(_)
    ));
    assert_eq!(
        s.update_entry(&change(82.0, 1)).await.unwrap(),
        EntryUpdate::Stale
    );
    let stored = s
        .entry(p.id, EntryKind::Weight, entry.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.data, stored.revision), (weight(81.0), 2));
    let missing = EntryChange {
        id: Uuid::now_v7(),
        ..change(82.0, 1)
    };
    assert_eq!(
        s.update_entry(&missing).await.unwrap(),
        EntryUpdate::NotFound
    );
}

async fn delete_removes_one_entry_and_keeps_the_usage(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let a = create(s, &new_entry(p.id, "2025-03-13", weight(80.0))).await;
    let b = create(s, &new_entry(p.id, "2025-03-14", weight(81.0))).await;
    assert!(s.delete_entry(p.id, EntryKind::Weight, a.id).await.unwrap());
    assert!(!s.delete_entry(p.id, EntryKind::Weight, a.id).await.unwrap());
    assert_eq!(all(s, p.id, EntryKind::Weight).await, vec![b]);
    assert_eq!(
        used(s, p.id, "weight").await,
        2,
        "a delete gives nothing back"
    );
}

/// Many creates race for the last units: the cap holds exactly, and only the winners'
/// entries exist. A read-then-write implementation would let several pass.
async fn racing_creates_never_pass_the_cap(db: &TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let p = user(&*store, "racer@example.org").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let new = new_entry(p.id, "2025-03-13", weight(60.0 + f64::from(i)));
            let r = store
                .create_entry(&new, &spend(p.id, "weight", Some(5)), &answer)
                .await
                .unwrap();
            (new.id, r)
        }));
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (id, GatedCreate::Created(c)) => {
                assert_eq!(c.entry.id, id);
                assert!((1..=5).contains(&c.used));
                winners.push(id);
            }
            (_, GatedCreate::LimitReached { used }) => {
                assert_eq!(used, 5);
                refused += 1;
            }
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!((winners.len(), refused), (5, 19));
    let mut stored: Vec<Uuid> = all(&*store, p.id, EntryKind::Weight)
        .await
        .iter()
        .map(|e| e.id)
        .collect();
    stored.sort();
    winners.sort();
    assert_eq!(stored, winners);
    assert_eq!(used(&*store, p.id, "weight").await, 5);
}

/// A batch of three against a cap of four: written with its three units; a second batch of
/// three would pass the cap and writes none of its entries and spends nothing.
async fn a_batch_is_written_whole_or_not_at_all(db: &TestDb) {
    let s = store(db);
    let p = user(s, "batch@example.org").await;
    let batch = |kg: f64| -> Vec<NewEntry> {
        (0..3)
            .map(|i| new_entry(p.id, "2025-03-10", weight(kg + f64::from(i))))
            .collect()
    };
    let first = batch(60.0);
    let request = ConsumeRequest {
        amount: 3,
        ..spend(p.id, "weight", Some(4))
    };
    match s.create_entries(&first, &request).await.unwrap() {
        GatedCreate::Created((entries, used)) => {
            assert_eq!(used, 3);
            let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
            assert_eq!(ids, first.iter().map(|e| e.id).collect::<Vec<_>>());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(used(s, p.id, "weight").await, 3);
    match s.create_entries(&batch(70.0), &request).await.unwrap() {
        GatedCreate::LimitReached { used } => assert_eq!(used, 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(all(s, p.id, EntryKind::Weight).await.len(), 3);
    assert_eq!(used(s, p.id, "weight").await, 3);
    // Unlimited: counted all the same.
    let unlimited = ConsumeRequest {
        amount: 3,
        ..spend(p.id, "weight", None)
    };
    assert!(matches!(
        s.create_entries(&batch(80.0), &unlimited).await.unwrap(),
        GatedCreate::Created(_)
    ));
    assert_eq!(used(s, p.id, "weight").await, 6);
    assert_eq!(all(s, p.id, EntryKind::Weight).await.len(), 6);
}

/// Batches of two racing for a cap of five: at most two batches (four entries) get in,
/// and no batch is ever split.
async fn racing_batches_never_pass_the_cap(db: &TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let p = user(&*store, "batches@example.org").await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let entries: Vec<NewEntry> = (0..2)
                    .map(|j| new_entry(p.id, "2025-03-12", weight(50.0 + f64::from(i * 2 + j))))
                    .collect();
                let request = ConsumeRequest {
                    amount: 2,
                    ..spend(p.id, "weight", Some(5))
                };
                store.create_entries(&entries, &request).await.unwrap()
            })
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        if let GatedCreate::Created((entries, _)) = task.await.unwrap() {
            assert_eq!(entries.len(), 2);
            written += 1;
        }
    }
    assert_eq!(written, 2);
    assert_eq!(all(&*store, p.id, EntryKind::Weight).await.len(), 4);
    assert_eq!(used(&*store, p.id, "weight").await, 4);
}

/// The same key sent by many tasks at once: one entry, one unit, one answer for all.
async fn racing_creates_with_one_key_make_one_entry(db: &TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let p = user(&*store, "retry@example.org").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let new = new_entry(p.id, "2025-03-13", weight(80.0));
            let request = keyed(spend(p.id, "weight", Some(50)), "same-key", "h");
            store.create_entry(&new, &request, &answer).await.unwrap()
        }));
    }
    let mut created = Vec::new();
    let mut replayed = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            GatedCreate::Created(c) => created.push(c.entry),
            GatedCreate::Replayed(stored) => replayed.push(stored),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(replayed.len(), 9);
    let first = answer(&created[0]);
    assert!(replayed.iter().all(|r| *r == first));
    assert_eq!(all(&*store, p.id, EntryKind::Weight).await, created);
    assert_eq!(used(&*store, p.id, "weight").await, 1);
}

/// All weigh-ins in one row: the first day (the mean of its weigh-ins), lowest, highest,
/// how many; another profile's and other types' entries are not counted; none without any.
async fn weight_overview_sums_up_every_weigh_in(db: &TestDb) {
    let s = store(db);
    let p = user(s, "a@example.org").await;
    let other = user(s, "b@example.org").await;
    assert_eq!(s.weight_overview(p.id).await.unwrap(), None);
    for (date, kg) in [
        ("2025-03-10", 81.0),
        ("2025-03-02", 80.0),
        ("2025-03-02", 81.0),
        ("2025-03-05", 78.5),
        ("2025-03-12", 82.25),
    ] {
        create(s, &new_entry(p.id, date, weight(kg))).await;
    }
    create(s, &new_entry(other.id, "2025-01-01", weight(50.0))).await;
    assert_eq!(
        s.weight_overview(p.id).await.unwrap(),
        Some(WeightOverview {
            first_date: day("2025-03-02"),
            first_kg: 80.5,
            lowest_kg: 78.5,
            highest_kg: 82.25,
            count: 5,
        })
    );
}
