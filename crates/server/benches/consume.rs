//! Load figures for the hot path: `POST /api/me/access/{feature}/consume` through the whole
//! router (auth, gate, one conditional upsert), on SQLite and on PostgreSQL.
//!
//! `cargo bench -p mitai-server --bench consume` prints requests per second and latency
//! percentiles; nothing is asserted. PostgreSQL is measured when `MITAI_TEST_POSTGRES_URL`
//! (or the default local server) is reachable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mitai_server::AppState;
use mitai_server::config::{Config, ServeArgs};
use mitai_store::Backend;
use mitai_store::testing::TestDb;
use tower::ServiceExt;

const REQUESTS: usize = 5_000;
const CONCURRENCY: usize = 16;

async fn measure(backend: Backend) {
    let db = TestDb::new(backend).await;
    let args = ServeArgs {
        database_url: db.url.clone(),
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
    // Unlimited, so every request spends (usage is still counted).
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
    let router = mitai_server::app(state);
    let token = Arc::new(login.token);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let (router, token) = (router.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in (worker..REQUESTS).step_by(CONCURRENCY) {
                let request = Request::post("/api/me/access/weight/consume")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                let t = Instant::now();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{backend:?}: {REQUESTS} consumes, {CONCURRENCY} concurrent: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        REQUESTS as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing special. Run
    // the load only when benchmarking, so test runs stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        measure(Backend::Sqlite).await;
        measure(Backend::Postgres).await;
    });
}
