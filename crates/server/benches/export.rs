//! Load figures for exports: a profile with 100,000 weight entries on a fresh SQLite file,
//! downloaded as CSV, JSON and zip through the whole router, the body read frame by frame
//! as a client would.
//!
//! `cargo bench -p mitai-server --bench export` prints, for 10,000 and then 100,000 entries,
//! each download's wall time, size and the process's peak resident memory during it (the
//! peak is reset before each download through `/proc/self/clear_refs` and read from
//! `VmHWM` in `/proc/self/status`; Linux only). Nothing is asserted: the point is that the
//! peak does not grow with the account, because exports are streamed.

use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Days, NaiveDate, Utc};
use http_body_util::BodyExt;
use mitai_access::EntryData;
use mitai_access::entries::Weight;
use mitai_server::AppState;
use mitai_server::config::{Config, ServeArgs};
use mitai_store::testing::TestDb;
use mitai_store::{ConsumeRequest, GatedCreate, NewEntry, Store, StoredResponse};
use tower::ServiceExt;
use uuid::Uuid;

/// A `VmXxx:` figure of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak resident set size (`VmHWM`) to the current one.
fn reset_peak() {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("note: cannot reset the peak RSS; figures are the process's peak so far");
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// Adds `count` weight entries, three a day from 2000-01-01 on (continuing at `from`).
async fn insert(store: &dyn Store, now: DateTime<Utc>, profile: Uuid, from: u64, count: u64) {
    let first = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let started = Instant::now();
    for i in from..from + count {
        let new = NewEntry {
            id: Uuid::now_v7(),
            profile_id: profile,
            date: first.checked_add_days(Days::new(i / 3)).unwrap(),
            note: (i % 10 == 0).then(|| format!("entry {i}, after a \"long\" day")),
            data: EntryData::Weight(Weight {
                weight_kg: 60.0 + (i % 400) as f64 / 10.0,
            }),
            created_at: now,
        };
        let spend = ConsumeRequest {
            profile_id: profile,
            feature_id: "weight",
            period_start: now,
            amount: 1,
            cap: None,
            now,
            idempotency: None,
            log: None,
        };
        let answer = |_: &mitai_store::Entry| StoredResponse {
            status: 201,
            body: serde_json::Value::Null,
        };
        let created = store.create_entry(&new, &spend, &answer).await.unwrap();
        assert!(matches!(created, GatedCreate::Created(_)));
    }
    let elapsed = started.elapsed();
    println!(
        "inserted {count} entries (gated creates, one transaction each) in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

async fn download(router: &axum::Router, token: &str, path: &str, entries: u64) {
    reset_peak();
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let request = Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let mut body = response.into_body();
    let mut bytes = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            bytes += data.len();
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{entries:>7} entries  {path:<28} {:>7.2} s  {:>8.1} MiB  RSS before {:>9}  peak {:>9}",
        elapsed.as_secs_f64(),
        bytes as f64 / 1024.0 / 1024.0,
        mib(before),
        mib(status_kib("VmHWM:")),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = TestDb::sqlite().await;
        let data_dir =
            std::env::temp_dir().join(format!("mitai-bench-{}", Uuid::now_v7().simple()));
        let args = ServeArgs {
            database_url: db.url.clone(),
            data_dir: data_dir.clone(),
            ..ServeArgs::default()
        };
        let state = AppState::new(db.store.clone(), Config::from_args(&args).unwrap())
            .await
            .unwrap();
        let profile = mitai_server::service::accounts::create_user(
            &state,
            "bench@example.org",
            "benchpass1",
            None,
            false,
        )
        .await
        .unwrap();
        // Unlimited entries and exports.
        let patch = mitai_store::ProfilePatch {
            tier: Some("selfhosted".into()),
            ..Default::default()
        };
        db.store
            .update_profile(profile.id, &patch, state.now())
            .await
            .unwrap();
        let login = mitai_server::service::accounts::login(
            &state,
            "bench@example.org",
            "benchpass1",
            None,
            None,
        )
        .await
        .unwrap();
        let router = mitai_server::app(state.clone());
        let paths = [
            "/api/export/csv?type=weight",
            "/api/export/json",
            "/api/export/zip",
        ];

        insert(db.store.as_ref(), state.now(), profile.id, 0, 10_000).await;
        for path in paths {
            download(&router, &login.token, path, 10_000).await;
        }
        insert(db.store.as_ref(), state.now(), profile.id, 10_000, 90_000).await;
        for path in paths {
            download(&router, &login.token, path, 100_000).await;
        }
        std::fs::remove_dir_all(&data_dir).ok();
    });
}
