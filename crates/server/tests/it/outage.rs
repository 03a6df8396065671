//! When the database goes away (issue 29): PostgreSQL ending every connection while requests
//! run (as a restart or a failover does) and refusing new ones for a while, and SQLite on a
//! file system that fills up. Nothing acknowledged is lost, nothing is doubled on a retry
//! with the same `Idempotency-Key`, every failure during the outage is 503 `unavailable` with
//! `Retry-After`, no request answers any other 5xx, and the first requests afterwards work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mitai_server::config::{Config, ServeArgs};
use mitai_store::Backend;
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;

/// One consume of `weight` with an idempotency key: the status and the error code.
async fn consume(router: &axum::Router, token: &str, key: &str) -> (StatusCode, Value, bool) {
    let request = Request::post("/api/me/access/weight/consume")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Body::from(r#"{"amount": 1}"#))
        .unwrap();
    answer(router, request).await
}

async fn get(router: &axum::Router, token: &str, uri: &str) -> (StatusCode, Value, bool) {
    let request = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    answer(router, request).await
}

/// Signs in; the session's token.
async fn sign_in(router: &axum::Router, email: &str, password: &str) -> String {
    let body = json!({ "email": email, "password": password }).to_string();
    let login = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, body, _) = answer(router, login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Status, JSON body and whether a `Retry-After` came with it.
async fn answer(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value, bool) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().contains_key(header::RETRY_AFTER);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, retry_after)
}

/// Every answer of a run: (status, code) → how many.
type Tally = BTreeMap<(u16, String), usize>;

fn count(tally: &std::sync::Mutex<Tally>, status: StatusCode, body: &Value, retry_after: bool) {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(retry_after, "503 without Retry-After: {body}");
    }
    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();

    *tally
        .lock()
        .unwrap()
        .entry((status.as_u16(), code))
        .or_default() += 1;
}

/// A TCP proxy in front of PostgreSQL that can go down like a restarting server: every
/// connection through it is cut, and new ones are refused until it comes back.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let links = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (is_down, all) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    drop(client); // refused: the server is not there
                    continue;
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                all.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy { port, down, links }
    }

    /// Cuts every connection and refuses new ones.
    fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// PostgreSQL goes away as in a restart: it ends every session of the database
/// (`pg_terminate_backend`: "terminating connection due to administrator command"), the
/// connections are cut and new ones refused for 1.5 s — while eight clients consume with
/// idempotency keys and read. Afterwards every 503'd key is sent again until it is
/// acknowledged: the usage counts each key exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_goes_away_under_load_and_comes_back() {
    let db = mitai_store::testing::TestDb::new(Backend::Postgres).await;
    let (head, name) = db.url.rsplit_once('/').unwrap();
    let target = head.rsplit('@').next().unwrap().to_owned();
    let proxy = Proxy::start(target.clone()).await;
    let url = format!(
        "{}/{name}",
        head.replace(&target, &format!("127.0.0.1:{}", proxy.port))
    );
    let store = mitai_store::connect(&url).await.expect("through the proxy");
    let direct = db.store.clone();
    let args = ServeArgs {
        database_url: url.clone(),
        ..ServeArgs::default()
    };
    let config = || Config::from_args(&args).unwrap();
    // The person is made directly (with unlimited weight entries: every refusal in this test
    // is the outage's); the app under test reads it through the proxy.
    let setup = mitai_server::AppState::new(direct.clone(), config())
        .await
        .unwrap();
    let profile = mitai_server::service::accounts::create_user(
        &setup,
        "load@example.org",
        "loadpass-1",
        None,
        false,
    )
    .await
    .unwrap();
    let premium = mitai_store::ProfilePatch {
        tier: Some("premium".into()),
        ..Default::default()
    };
    direct
        .update_profile(profile.id, &premium, chrono::Utc::now())
        .await
        .unwrap();
    let state = mitai_server::AppState::new(store, config()).await.unwrap();
    let instance = state.clone();
    // As `mitai serve` does: follow the registry changes of other instances.
    tokio::spawn(state.clone().follow_registry_changes());
    let router = mitai_server::app(state);
    let token = sign_in(&router, "load@example.org", "loadpass-1").await;
    let mut server = sqlx::PgConnection::connect(&mitai_store::testing::postgres_admin_url())
        .await
        .expect("PostgreSQL");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(std::sync::Mutex::new(Tally::new()));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (router, token) = (router.clone(), token.clone());
        let (stop, tally) = (stop.clone(), tally.clone());
        let (acknowledged, refused) = (acknowledged.clone(), refused.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let key = uuid::Uuid::now_v7().to_string();
                let (status, body, retry) = consume(&router, &token, &key).await;
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    // A client that backs off a little (not the whole Retry-After: the test
                    // wants answers during the outage).
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                count(&tally, status, &body, retry);
                match status {
                    StatusCode::OK => acknowledged.lock().unwrap().push(key),
                    _ => refused.lock().unwrap().push(key),
                }
                let (status, body, retry) = get(&router, &token, "/api/me/access/weight").await;
                count(&tally, status, &body, retry);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .execute(&mut server)
        .await
        .unwrap();
    proxy.go_down();
    let outage = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Not ready (within a second), but alive.
    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    let (status, body, retry) = answer(&router, ready).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(retry);
    let alive = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(answer(&router, alive).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    proxy.come_back();
    // The first requests after it work at once: no stale connection answers 500.
    for uri in ["/api/me/access/weight", "/api/me", "/api/me/access"] {
        let (status, body, _) = get(&router, &token, uri).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri} right after the outage: {body}"
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(
        outage.elapsed() < Duration::from_secs(12),
        "requests during the outage answered within seconds"
    );

    let tally = tally.lock().unwrap().clone();
    eprintln!("answers: {tally:?}");
    for ((status, code), n) in &tally {
        assert!(
            *status < 500 || (*status == 503 && code == "unavailable"),
            "{n} × {status} {code}"
        );
    }
    assert!(tally.keys().any(|(s, _)| *s == 200));
    // Nothing but 200 and 503: no read or write is refused for anything but the outage
    // (a read sent again after a dead connection keeps its route's parameters).
    assert!(
        tally.keys().all(|(s, _)| *s == 200 || *s == 503),
        "{tally:?}"
    );
    assert!(tally.keys().any(|(s, _)| *s == 503), "the outage was seen");

    // Every refused key again, until acknowledged; each key counts once.
    let refused = refused.lock().unwrap().clone();
    let mut all: Vec<String> = acknowledged.lock().unwrap().clone();
    for key in refused {
        let mut tries = 0;
        loop {
            let (status, body, _) = consume(&router, &token, &key).await;
            if status == StatusCode::OK {
                break;
            }
            tries += 1;
            assert!(tries < 20, "{key}: {status} {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        all.push(key);
    }
    let (status, access, _) = get(&router, &token, "/api/me/access/weight").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        access["used"],
        json!(all.len()),
        "each acknowledged or retried key counted exactly once"
    );
    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(
        answer(&router, ready).await.0,
        StatusCode::OK,
        "ready again"
    );

    // PostgreSQL ends every session once more, and nothing notices until a write: its
    // `BEGIN` meets a dead connection, which ran nothing, so it is begun again on a fresh one
    // and the write succeeds.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .execute(&mut server)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rename = Request::patch("/api/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name": "After the restart"}"#))
        .unwrap();
    let (status, body, _) = answer(&router, rename).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the first write after the restart: {body}"
    );
    let (_, me, _) = get(&router, &token, "/api/me").await;
    assert_eq!(me["profile"]["name"], "After the restart");

    // The job runner works again by itself (a job that failed during the outage is retried
    // in the next round; this one has nothing failing).
    let report = mitai_server::service::jobs::run_due(&instance).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // The LISTEN task is back too: a change made by another instance reaches this one.
    direct
        .set_tier_limit("premium", "weight", Some(100_000), chrono::Utc::now())
        .await
        .unwrap();
    direct.notify_registry_changed().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, access, _) = get(&router, &token, "/api/me/access/weight").await;
        if access["limit"] == 100_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change never arrived: {access}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A write whose connection PostgreSQL ends after its `BEGIN` and before its `COMMIT` (the
/// statement waits for a lock the test holds when the session is ended): nothing of it was
/// kept, so it is sent once more on a fresh connection and answered 200 — counted once, its
/// key stored once. Before, such a write answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_whose_session_ends_before_its_commit_is_done_once() {
    let db = mitai_store::testing::TestDb::new(Backend::Postgres).await;
    let name = db.url.rsplit_once('/').unwrap().1.to_owned();
    let args = ServeArgs {
        database_url: db.url.clone(),
        ..ServeArgs::default()
    };
    let state = mitai_server::AppState::new(db.store.clone(), Config::from_args(&args).unwrap())
        .await
        .unwrap();
    mitai_server::service::accounts::create_user(
        &state,
        "late@example.org",
        "latepass-1",
        None,
        false,
    )
    .await
    .unwrap();
    let router = mitai_server::app(state);
    let token = sign_in(&router, "late@example.org", "latepass-1").await;
    let mut locker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut server = sqlx::PgConnection::connect(&mitai_store::testing::postgres_admin_url())
        .await
        .unwrap();

    // Usage rows cannot be written while the test holds this lock; the key can.
    sqlx::raw_sql("BEGIN; LOCK TABLE user_feature_usage IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let write = {
        let (router, token) = (router.clone(), token.clone());
        tokio::spawn(async move { consume(&router, &token, "once-only").await })
    };
    // The write waits inside its transaction: end its session.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ended: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&name)
        .fetch_all(&mut server)
        .await
        .unwrap();
        if !ended.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the write never waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Sent once more, it waits again until the lock is let go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    let (status, body, _) = write.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["used"], 1, "{body}");

    let (status, again, _) = consume(&router, &token, "once-only").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["used"], 1, "the key's stored answer: {again}");
    let (_, access, _) = get(&router, &token, "/api/me/access/weight").await;
    assert_eq!(access["used"], 1, "counted once: {access}");
    let (keys,): (i64,) = sqlx::query_as("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&mut locker)
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

/// A tmpfs mounted for one test and removed after it.
struct Mount(std::path::PathBuf);

impl Mount {
    /// `None` where this machine cannot mount (not root, or no tmpfs): the test then says so
    /// and passes only with `MITAI_TEST_NO_MOUNT=1` (README).
    fn tmpfs(size: &str) -> Option<Mount> {
        let dir =
            std::env::temp_dir().join(format!("mitai-full-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazily: the store's threads may still hold its files for a moment.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SQLite on a small file system that fills up: writes answer 503 `unavailable`, reads keep
/// working, the file stays intact, and writes work again once there is room.
#[tokio::test]
async fn sqlite_on_a_full_disk_refuses_writes_and_recovers() {
    let Some(mount) = Mount::tmpfs("24m") else {
        assert!(
            std::env::var_os("MITAI_TEST_NO_MOUNT").is_some(),
            "this test mounts a small tmpfs (needs root); where that is impossible, run the \
             suite with MITAI_TEST_NO_MOUNT=1 (README)"
        );
        eprintln!("skipped: no tmpfs here (MITAI_TEST_NO_MOUNT)");
        return;
    };
    let file = mount.0.join("mitai.db");
    let url = format!("sqlite://{}", file.display());
    let store = mitai_store::connect(&url).await.expect("open");
    let args = ServeArgs {
        database_url: url.clone(),
        data_dir: mount.0.join("data"),
        ..ServeArgs::default()
    };
    let state = mitai_server::AppState::new(store, Config::from_args(&args).unwrap())
        .await
        .unwrap();
    mitai_server::service::accounts::create_user(
        &state,
        "full@example.org",
        "fullpass-1",
        None,
        false,
    )
    .await
    .unwrap();
    let router = mitai_server::app(state);
    let token = sign_in(&router, "full@example.org", "fullpass-1").await;
    let weigh = |date: &str| {
        Request::post("/api/weight")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(
                r#"{{"date": "{date}", "weight_kg": 80.5}}"#
            )))
            .unwrap()
    };
    let (status, body, _) = answer(&router, weigh("2026-01-01")).await;
    assert!(status.is_success(), "{body}");

    // Fill the file system.
    let filler = mount.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    // Writes until the file cannot grow: SQLite first fills the room its files already
    // have, then is refused. (A change of the name: a write no limit counts.)
    let rename = |n: u64| {
        Request::patch("/api/me")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(r#"{{"name": "Name number {n}"}}"#)))
            .unwrap()
    };
    let mut written = 0;
    let refusal = loop {
        let (status, body, retry) = answer(&router, rename(written)).await;
        if !status.is_success() {
            break (status, body, retry);
        }
        written += 1;
        assert!(written < 200_000, "the full disk never refused a write");
    };
    assert_eq!(refusal.0, StatusCode::SERVICE_UNAVAILABLE, "{}", refusal.1);
    assert_eq!(refusal.1["error"]["code"], "unavailable");
    assert!(refusal.2, "with Retry-After");
    let (status, body, retry) = consume(&router, &token, "full-1").await;
    assert!(
        status.is_success() || (status == StatusCode::SERVICE_UNAVAILABLE && retry),
        "{status} {body}"
    );
    // Reads keep working.
    let (status, body, _) = get(&router, &token, "/api/weight").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
    );

    // Room again: writes work, and the file is intact.
    std::fs::remove_file(&filler).unwrap();
    let (status, body, _) = answer(&router, weigh("2026-01-05")).await;
    eprintln!("{written} writes fitted before the disk was full");
    assert!(status.is_success(), "{body}");
    let (status, body, _) = consume(&router, &token, "full-2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut check = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut check)
        .await
        .unwrap();
    assert_eq!(verdict, "ok");
}

/// SQLite on a file `mitai serve` may read but not write (its permissions; as root the
/// server runs as `nobody`): it starts, reads work, writes answer 503 `unavailable` with
/// `Retry-After`, the failing checkpoint is logged once; once the file is writable again
/// (the server started again) writes work and the file is intact.
#[test]
fn sqlite_on_a_read_only_file_serves_reads_and_refuses_writes() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    use crate::common::process::{Server, create_user, fresh_dir};
    let dir = fresh_dir();
    let (db_dir, data) = (dir.join("db"), dir.join("data"));
    for d in [&db_dir, &data] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let file = db_dir.join("mitai.db");
    let url = format!("sqlite://{}", file.display());
    let data_dir = data.display().to_string();
    let env = [
        ("MITAI_DATABASE_URL", url.as_str()),
        ("MITAI_DATA_DIR", data_dir.as_str()),
    ];
    create_user(&dir, Some(&url), "ro@example.org", "ropass-12", false);
    let server = Server::start(&dir, &env);
    let token = server.login("ro@example.org", "ropass-12");
    let weigh = |server: &Server, date: &str| {
        let body = format!(r#"{{"date": "{date}", "weight_kg": 70.5}}"#);
        server.http("POST", "/api/weight", Some(&body), Some(&token))
    };
    let (status, body) = weigh(&server, "2026-02-01");
    assert_eq!(status, 201, "{body}");
    assert!(server.terminate().success());

    // The file may be read, not written, by the server.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let as_nobody = |cmd: &mut std::process::Command| {
        if root {
            cmd.uid(65534).gid(65534);
        }
    };
    let server = Server::start_with(&dir, &env, as_nobody);
    let (status, body) = server.http("GET", "/api/weight", None, Some(&token));
    assert_eq!(status, 200, "reads work: {body}");
    assert!(body.contains("70.5"), "{body}");
    let (status, body) = server.http("GET", "/api/me/access/weight", None, Some(&token));
    assert_eq!(status, 200, "{body}");
    let (status, body) = weigh(&server, "2026-02-02");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""code":"unavailable""#), "{body}");
    let (status, body) = server.http(
        "PATCH",
        "/api/me",
        Some(r#"{"name": "Read only"}"#),
        Some(&token),
    );
    assert_eq!(status, 503, "{body}");
    let (status, _) = server.http("GET", "/readyz", None, None);
    assert_eq!(status, 200, "the database answers reads");
    std::thread::sleep(Duration::from_millis(300));
    let log = server.stderr();
    assert!(
        log.matches("checkpoint failed").count() <= 1,
        "said once: {log}"
    );
    assert!(server.terminate().success());

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start(&dir, &env);
    let (status, body) = weigh(&server, "2026-02-03");
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.http("GET", "/api/weight", None, Some(&token));
    assert_eq!(status, 200);
    assert_eq!(body.matches("70.5").count(), 2, "{body}");
    assert!(server.terminate().success());
    let verdict: (String,) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut check = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut check)
            .await
            .unwrap()
    });
    assert_eq!(verdict.0, "ok");
    std::fs::remove_dir_all(dir).ok();
}
