//! The hot path in-process, so that a regression shows without a database server: one
//! profile's access check (`GET /api/me/access/{feature}`) and consume
//! (`POST /api/me/access/{feature}/consume`) through the whole router (`oneshot`: auth from
//! the session cache, the gate, the store), on SQLite in memory: a database file on
//! `/dev/shm` (tmpfs; the temp folder where there is none), so that the file-backed hot
//! path runs — group commit, the hot path's own connections — and no disk is involved.
//!
//! `cargo bench -p mitai-server --bench hot_path` (criterion; figures per request).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use mitai_server::AppState;
use mitai_server::config::{Config, ServeArgs};
use tower::ServiceExt;

/// A router on a fresh in-memory database with one signed-in, unlimited profile; returns
/// the router, the profile's bearer token and the database's folder.
async fn app() -> (axum::Router, String, std::path::PathBuf) {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("mitai-bench-{}", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}", dir.join("mitai.db").display());
    let store = mitai_store::connect(&url).await.expect("SQLite in memory");
    let args = ServeArgs {
        database_url: url.clone(),
        ..ServeArgs::default()
    };
    let state = AppState::new(store.clone(), Config::from_args(&args).unwrap())
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
    // Unlimited, so every consume spends (usage is still counted).
    let patch = mitai_store::ProfilePatch {
        tier: Some("selfhosted".into()),
        ..Default::default()
    };
    store
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
    (mitai_server::app(state), login.token, dir)
}

async fn send(router: &axum::Router, request: Request<Body>) {
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (router, token, dir) = rt.block_on(app());
    let bearer = format!("Bearer {token}");
    let mut group = c.benchmark_group("hot_path");
    group.bench_function("check", |b| {
        b.iter(|| {
            rt.block_on(send(
                &router,
                Request::get("/api/me/access/weight")
                    .header("authorization", &bearer)
                    .body(Body::empty())
                    .unwrap(),
            ));
        });
    });
    group.bench_function("consume", |b| {
        b.iter(|| {
            rt.block_on(send(
                &router,
                Request::post("/api/me/access/weight/consume")
                    .header("authorization", &bearer)
                    .body(Body::empty())
                    .unwrap(),
            ));
        });
    });
    group.finish();
    drop(router);
    drop(rt);
    std::fs::remove_dir_all(dir).ok();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
