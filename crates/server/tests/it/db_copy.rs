//! `mitai db copy|backup|check` end to end: a database populated through the API (every
//! table) is copied SQLite → PostgreSQL → SQLite by the binary, and each copy is served by
//! `mitai serve`, where the same users sign in with their passwords and see the same
//! access, grants, data and photos. An interrupted copy leaves its target marked; a
//! non-empty target is refused; backups are consistent files that serve.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::common::TestApp;
use crate::common::process::{self, Server};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mitai_server::config::ServeArgs;
use mitai_store::copy::{self, TABLES};
use mitai_store::testing::TestDb;
use mitai_store::{AiKind, AiResult, Backend, StoredResponse};
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "password123";
const USERS: [&str; 3] = ["anna@example.org", "ben@example.org", "cleo@example.org"];
/// The instant the source's clock stands at when it is copied.
const NOW: &str = "2027-02-14T10:00:00Z";

fn run(dir: &Path, args: &[&str]) -> Output {
    process::mitai(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mitai")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn copy_cli(dir: &Path, from: &str, to: &str, extra: &[&str]) -> Output {
    let mut args = vec!["db", "copy", "--from", from, "--to", to];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn png() -> Vec<u8> {
    crate::common::png(24, 16)
}

async fn ok(app: &TestApp, method: Method, uri: &str, token: &str, body: Value) -> Value {
    let (status, answer) = app.call(method, uri, Some(token), Some(body)).await;
    assert!(status.is_success(), "{uri}: {status} {answer}");
    answer
}

/// What a user sees, to compare between the source and its copies.
#[derive(Debug, PartialEq)]
struct Seen {
    me: Value,
    access: Value,
    grants: Value,
    weight: Value,
    photos: Value,
}

/// A source database filled through the API so that every table holds rows.
struct Source {
    app: TestApp,
    data_dir: PathBuf,
    /// The bearer tokens of the users, as issued by the source.
    tokens: Vec<String>,
    photo_id: String,
}

async fn populate(backend: Backend) -> Source {
    let data_dir = process::fresh_dir();
    // Payments on (against the Stripe stand-in), so that the billing tables fill too.
    let (app, stand_in) = crate::billing::app_with(
        backend,
        ServeArgs {
            data_dir: data_dir.clone(),
            ..ServeArgs::default()
        },
    )
    .await;
    app.clock_to("2027-01-05T08:00:00Z").await;
    let admin = app.admin().await;
    app.set_setting(&admin, "users_can_invite", json!(true))
        .await;
    app.set_setting(&admin, "trial_days", json!(10)).await;
    // A webhook that wants the sign-ups below (their deliveries wait: nobody listens there).
    ok(
        &app,
        Method::POST,
        "/api/admin/notification-webhooks",
        &admin,
        json!({"url": "http://127.0.0.1:9/hook", "events": ["user_registered"], "format": "json"}),
    )
    .await;

    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for email in USERS {
        let (token, id) = app.user(email).await;
        tokens.push(token);
        ids.push(id);
    }
    // Notifications (the registrations raised some), read by the admin, and a preference.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, list) = app.get("/api/admin/notifications", Some(&admin)).await;
        if list["unread"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no notification raised"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    ok(
        &app,
        Method::POST,
        "/api/admin/notifications/read-all",
        &admin,
        json!({}),
    )
    .await;
    ok(
        &app,
        Method::PUT,
        "/api/admin/notification-preferences",
        &admin,
        json!({"job_failed": "digest"}),
    )
    .await;
    // A subscription bought and paid (prices, customer, subscription, payment, events).
    let (month, _, _) = crate::billing::put_on_sale(&app, &admin).await;
    let events = crate::billing::buy(&app, &stand_in, &tokens[0], &month).await;
    crate::billing::deliver(&app, &events).await;
    // The registry as an admin changed it.
    ok(
        &app,
        Method::PUT,
        "/api/admin/tier-limits/free/weight",
        &admin,
        json!({"limit": 40}),
    )
    .await;
    app.restrict(&admin, &ids[1], "nutrition", json!(3)).await;
    // Exports without a limit for the first user: the source and each copy export once.
    app.restrict(&admin, &ids[0], "export_json", Value::Null)
        .await;

    // Coupons with redemptions; grants with pauses (one resumed, one still paused).
    for (code, user) in [("COPY-PREMIUM-A", 0), ("COPY-PREMIUM-B", 1)] {
        ok(&app, Method::POST, "/api/admin/coupons", &admin,
            json!({"code": code, "kind": "single_use", "tier": "premium", "duration_days": 30, "campaign": "copy"})).await;
        ok(
            &app,
            Method::POST,
            "/api/coupons/redeem",
            &tokens[user],
            json!({"code": code}),
        )
        .await;
    }
    let grant = ok(
        &app,
        Method::POST,
        &format!("/api/admin/users/{}/grants", ids[2]),
        &admin,
        json!({"tier": "basic", "days": 20}),
    )
    .await;
    let grant_id = grant["grant"]["id"]
        .as_str()
        .or(grant["id"].as_str())
        .expect("grant id")
        .to_owned();
    ok(
        &app,
        Method::POST,
        &format!("/api/admin/grants/{grant_id}/pause"),
        &admin,
        json!({"reason": "copy test"}),
    )
    .await;
    ok(
        &app,
        Method::POST,
        &format!("/api/admin/grants/{grant_id}/resume"),
        &admin,
        json!({}),
    )
    .await;
    ok(
        &app,
        Method::POST,
        &format!("/api/admin/grants/{grant_id}/pause"),
        &admin,
        json!({"reason": "still"}),
    )
    .await;

    // Entries of every kind, in two months (usage in several periods), one with a key.
    for (day, token) in [("2027-01-05", &tokens[0]), ("2027-01-06", &tokens[1])] {
        ok(
            &app,
            Method::POST,
            "/api/weight",
            token,
            json!({"date": day, "weight_kg": 81.4, "note": "tab\there \\ \"q\"\nline"}),
        )
        .await;
        ok(
            &app,
            Method::POST,
            "/api/circumference",
            token,
            json!({"date": day, "waist": 84.5, "hip": 99.0}),
        )
        .await;
        ok(&app, Method::POST, "/api/caliper", token,
            json!({"date": day, "method": "jp3", "sex": "male", "age": 35, "sites": {"chest": 12.0, "abdomen": 20.5, "thigh": 15.0}})).await;
        ok(&app, Method::POST, "/api/nutrition", token, json!({"date": day, "kcal": 2100.5, "protein_g": 140.0, "carbs_g": 220.0, "fat_g": 70.25})).await;
        ok(
            &app,
            Method::POST,
            "/api/activity",
            token,
            json!({"date": day, "kind": "run", "minutes": 42, "kcal": 480.0}),
        )
        .await;
    }
    // A photo (its file stays in the data folder) and an AI answer.
    let boundary = "copy-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/photos")
        .header(header::AUTHORIZATION, format!("Bearer {}", tokens[0]))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let (status, _, answer) = app.send(request).await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&answer));
    let photo: Value = serde_json::from_slice(&answer).unwrap();
    let photo_id = photo["photo"]["id"].as_str().unwrap().to_owned();
    let result = AiResult {
        id: Uuid::now_v7(),
        profile_id: ids[0].parse().unwrap(),
        kind: AiKind::Pipeline,
        question: None,
        answer: "Steady progress.".into(),
        model: "test-model".into(),
        steps: json!([{"step": "trend", "answer": "down", "tokens": {"in": 10, "out": 2}}]),
        created_at: chrono::Utc::now(),
    };
    app.db
        .store
        .create_ai_result(&result, None, &|_| StoredResponse {
            status: 201,
            body: json!({}),
        })
        .await
        .unwrap();

    // A month later: new usage buckets, trial reminders and grant expiries by the jobs.
    app.clock_to("2027-02-13T09:00:00Z").await;
    // The sessions of a month ago have expired.
    for (token, email) in tokens.iter_mut().zip(USERS) {
        *token = app.login(email, PASSWORD).await;
    }
    for token in &tokens[..2] {
        ok(
            &app,
            Method::POST,
            "/api/weight",
            token,
            json!({"date": "2027-02-13", "weight_kg": 80.2}),
        )
        .await;
    }
    let (status, report) = app.post("/api/test/jobs/run", None, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    app.clock_to(NOW).await;
    // Rows the jobs purge after a day: written last.
    // Mail that is still queued, a token of a flow, an invitation, a failed sign-in.
    app.unverified_user("dora@example.org").await;
    ok(
        &app,
        Method::POST,
        "/api/me/invitations",
        &tokens[0],
        json!({"email": "eve@example.org"}),
    )
    .await;
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": USERS[1], "password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/weight")
        .header(header::AUTHORIZATION, format!("Bearer {}", tokens[0]))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "copy-key-1")
        .body(Body::from(
            json!({"date": "2027-02-14", "weight_kg": 81.0}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(request).await.0, StatusCode::CREATED);

    // Some uses folded into daily counts (retention), the rest kept as entries.
    let folded = app
        .db
        .store
        .fold_activity(app.state.now() + chrono::TimeDelta::seconds(1), 3)
        .await
        .unwrap();
    assert!(folded > 0);
    // The statistics' daily counts, rolled up from the log.
    let rolled = mitai_server::service::jobs::roll_up_usage(&app.state)
        .await
        .unwrap()
        .0;
    assert!(rolled > 0);
    let status = copy::check(&app.db.url).await.unwrap();
    let empty: Vec<&str> = status
        .counts
        .iter()
        .filter(|(_, n)| *n == Some(0))
        .map(|(t, _)| *t)
        .collect();
    assert!(
        empty.is_empty(),
        "the source should fill every table; empty: {empty:?}"
    );
    Source {
        app,
        data_dir,
        tokens,
        photo_id,
    }
}

impl Source {
    async fn seen(&self, token: &str) -> Seen {
        let get = |uri: &'static str| async move {
            let (status, body) = self.app.get(uri, Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            body
        };
        Seen {
            me: get("/api/me").await,
            access: get("/api/me/access").await,
            grants: get("/api/me/grants").await,
            weight: get("/api/weight").await,
            photos: get("/api/photos").await,
        }
    }
}

fn seen_on(server: &Server, token: &str) -> Seen {
    let get = |uri: &str| {
        let (status, body) = server.http("GET", uri, None, Some(token));
        assert_eq!(status, 200, "{uri}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    Seen {
        me: get("/api/me"),
        access: get("/api/me/access"),
        grants: get("/api/me/grants"),
        weight: get("/api/weight"),
        photos: get("/api/photos"),
    }
}

/// `mitai serve` on `url` with the source's data folder, its clock at [`NOW`].
fn serve(dir: &Path, url: &str, data_dir: &Path) -> Server {
    let mail = format!("file:{}", dir.join("mail").display());
    let server = Server::start(
        dir,
        &[
            ("MITAI_DATABASE_URL", url),
            ("MITAI_DATA_DIR", data_dir.to_str().unwrap()),
            ("MITAI_TEST_CLOCK", "1"),
            ("MITAI_MAIL", &mail),
        ],
    );
    let (status, body) = server.http(
        "POST",
        "/api/test/clock",
        Some(&json!({"now": NOW}).to_string()),
        None,
    );
    assert_eq!(status, 200, "{body}");
    server
}

/// The copy answers as the source does: passwords, sessions, access, grants, data, photos
/// (whose files are found in the same data folder), exports. Returns what the users see
/// after the export.
fn assert_serves_like(
    source: &Source,
    expected: &[Seen],
    export: &Value,
    server: &Server,
) -> Vec<Seen> {
    for (i, email) in USERS.iter().enumerate() {
        let token = server.login(email, PASSWORD);
        let seen = seen_on(server, &token);
        let want = &expected[i];
        for (what, got, want) in [
            ("me", &seen.me, &want.me),
            ("access", &seen.access, &want.access),
            ("grants", &seen.grants, &want.grants),
            ("weight", &seen.weight, &want.weight),
            ("photos", &seen.photos, &want.photos),
        ] {
            assert_eq!(got, want, "{email} sees another {what} on the copy");
        }
        // The session the source issued is valid on the copy too.
        let (status, _) = server.http("GET", "/api/me", None, Some(&source.tokens[i]));
        assert_eq!(status, 200);
    }
    let token = server.login(USERS[0], PASSWORD);
    let (status, file) = server.http(
        "GET",
        &format!("/api/photos/{}/file", source.photo_id),
        None,
        Some(&token),
    );
    assert_eq!(
        status, 200,
        "the photo's file is served from the data folder"
    );
    assert!(!file.is_empty());
    let (status, body) = server.http("GET", "/api/export/json", None, Some(&token));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        &without_export_time(serde_json::from_str(&body).unwrap()),
        export
    );
    USERS
        .iter()
        .map(|email| seen_on(server, &server.login(email, PASSWORD)))
        .collect()
}

fn without_export_time(mut export: Value) -> Value {
    if let Some(map) = export.as_object_mut() {
        map.retain(|k, _| !k.starts_with("exported"));
    }
    export
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_serves_like_its_source_sqlite_to_postgres_and_back() {
    let source = populate(Backend::Sqlite).await;
    let (status, export) = source
        .app
        .get("/api/export/json", Some(&source.tokens[0]))
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let export = without_export_time(export);
    let mut expected = Vec::new();
    for token in &source.tokens {
        expected.push(source.seen(token).await);
    }
    let counts = copy::check(&source.app.db.url).await.unwrap().counts;

    let dir = process::fresh_dir();
    // SQLite → PostgreSQL, while the source's app still has it open.
    let postgres = TestDb::new(Backend::Postgres).await;
    let out = copy_cli(&dir, &source.app.db.url, &postgres.url, &[]);
    assert!(out.status.success(), "copy: {}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("every table verified"), "{summary}");
    assert!(
        summary.contains("MITAI_DATA_DIR"),
        "the summary says where photos are: {summary}"
    );
    for table in TABLES {
        assert!(
            summary.contains(table.name),
            "{} missing in the summary: {summary}",
            table.name
        );
    }
    assert_eq!(copy::check(&postgres.url).await.unwrap().counts, counts);
    let server = serve(&dir, &postgres.url, &source.data_dir);
    let expected = assert_serves_like(&source, &expected, &export, &server);
    server.terminate();

    // PostgreSQL → SQLite: the other direction, from the copy just served (its exports and
    // sign-ins added rows, so the counts are the PostgreSQL database's now).
    let counts = copy::check(&postgres.url).await.unwrap().counts;
    let sqlite_url = format!("sqlite://{}", dir.join("back.db").display());
    let out = copy_cli(&dir, &postgres.url, &sqlite_url, &[]);
    assert!(out.status.success(), "copy back: {}", text(&out.stderr));
    assert_eq!(copy::check(&sqlite_url).await.unwrap().counts, counts);
    let server = serve(&dir, &sqlite_url, &source.data_dir);
    assert_serves_like(&source, &expected, &export, &server);
    server.terminate();
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&source.data_dir).ok();
}

/// The foreign keys of a PostgreSQL database, by table and definition.
async fn foreign_keys(url: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

/// Fills the SQLite database at `url` with `rows` usage rows of one profile, straight in
/// SQL (the API would take minutes for this many).
async fn bulk_usage(db: &TestDb, rows: u32) {
    let now = chrono::Utc::now();
    let id = Uuid::now_v7();
    db.store
        .create_profile(&mitai_store::NewProfile {
            id,
            email: "bulk@example.org".into(),
            password_hash: "x".into(),
            name: "Bulk".into(),
            role: mitai_store::Role::User,
            tier: "free".into(),
            trial_ends_at: None,
            email_verified: true,
            invited_by: None,
            language: "en".into(),
            created_at: now,
        })
        .await
        .unwrap();
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x + 1 < $2) \
         INSERT INTO user_feature_usage (profile_id, feature_id, period_start, used, updated_at) \
         SELECT $1, 'weight', printf('%04d-01-01T00:00:00.%06dZ', 1000 + x / 1000000, x % 1000000), \
                1 + x % 7, '2027-01-01T00:00:00.000000Z' FROM n",
    )
    .bind(id.hyphenated().to_string())
    .bind(rows)
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_copy_leaves_the_target_marked_and_unserved() {
    let source = TestDb::new(Backend::Sqlite).await;
    bulk_usage(&source, 200_000).await;
    let target = TestDb::new(Backend::Postgres).await;
    let dir = process::fresh_dir();

    // Killed in the middle of the big table.
    let mut child = process::mitai(&dir)
        .args([
            "db",
            "copy",
            "--from",
            &source.url,
            "--to",
            &target.url,
            "--batch-rows",
            "1000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let mid_usage = line.trim_start().starts_with("user_feature_usage ")
            && !line.contains("done")
            && !line.contains("200,000/");
        seen.push(line);
        if mid_usage {
            process::signal(&child, "KILL");
            break;
        }
    }
    child.wait().unwrap();
    assert!(
        seen.iter()
            .any(|l| l.trim_start().starts_with("user_feature_usage ")),
        "never saw the usage table being copied: {seen:?}"
    );
    let marker = target.store.unfinished_copy().await.unwrap();
    assert!(marker.is_some(), "the target must stay marked incomplete");
    let all_keys = foreign_keys(&TestDb::new(Backend::Postgres).await.url).await;
    assert!(
        foreign_keys(&target.url).await.len() < all_keys.len(),
        "the load runs without the foreign keys"
    );

    // `mitai serve` refuses it with one line.
    let out = process::mitai(&dir)
        .arg("serve")
        .env("MITAI_DATABASE_URL", &target.url)
        .env("MITAI_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("unfinished `mitai db copy`"), "{err}");
    assert!(err.contains("--force-empty-target"), "{err}");
    assert_eq!(text(&out.stdout), "", "it never listened");
    let out = run(&dir, &["db", "check", "--database-url", &target.url]);
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("INCOMPLETE"),
        "{}",
        text(&out.stdout)
    );

    // The next copy says so and offers the flag; with it, the copy completes.
    let out = copy_cli(&dir, &source.url, &target.url, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("unfinished copy") && err.contains("--force-empty-target"),
        "{err}"
    );
    let out = copy_cli(&dir, &source.url, &target.url, &["--force-empty-target"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(target.store.unfinished_copy().await.unwrap(), None);
    assert_eq!(
        foreign_keys(&target.url).await,
        all_keys,
        "the foreign keys the interrupted copy dropped are back"
    );
    let counts = copy::check(&source.url).await.unwrap().counts;
    assert_eq!(copy::check(&target.url).await.unwrap().counts, counts);
    let usage = counts
        .iter()
        .find(|(t, _)| *t == "user_feature_usage")
        .unwrap()
        .1;
    assert_eq!(usage, Some(200_000));

    // A copy into a target that holds data is refused with one line and changes nothing.
    let out = copy_cli(&dir, &source.url, &target.url, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("already holds data") && err.contains("profiles: 1"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("mitai:")).count(),
        1,
        "{err}"
    );
    assert_eq!(copy::check(&target.url).await.unwrap().counts, counts);
    assert_eq!(target.store.unfinished_copy().await.unwrap(), None);

    let server = Server::start(&dir, &[("MITAI_DATABASE_URL", &target.url)]);
    server.terminate();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_of_a_serving_database_is_consistent_and_serves() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.user(USERS[0]).await;
    let dir = process::fresh_dir();
    let file = dir.join("backup.db");
    let file_name = file.to_str().unwrap();

    // The app still has the database open, as a running server would.
    let out = run(
        &dir,
        &["db", "backup", file_name, "--database-url", &app.db.url],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("integrity check ok"), "{report}");
    assert!(report.contains("profiles"), "{report}");

    let backup_url = format!("sqlite://{file_name}");
    let out = run(&dir, &["db", "check", "--database-url", &backup_url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("state      complete"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        copy::check(&backup_url).await.unwrap().counts,
        copy::check(&app.db.url).await.unwrap().counts
    );

    // Never over an existing file; PostgreSQL is pointed at pg_dump.
    let out = run(
        &dir,
        &["db", "backup", file_name, "--database-url", &app.db.url],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &dir,
        &[
            "db",
            "backup",
            "pg.dump",
            "--database-url",
            "postgres://u:secret@127.0.0.1:1/x",
        ],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("pg_dump") && !err.contains("secret"), "{err}");

    // Restoring is serving the file.
    let server = Server::start(&dir, &[("MITAI_DATABASE_URL", &backup_url)]);
    server.login(USERS[0], PASSWORD);
    server.terminate();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_of_a_missing_file_is_one_clear_line() {
    let dir = process::fresh_dir();
    let out = run(
        &dir,
        &["db", "check", "--database-url", "sqlite://nowhere/mitai.db"],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("no SQLite database at"), "{err}");
    assert!(!dir.join("nowhere").exists(), "check creates nothing");
    std::fs::remove_dir_all(&dir).ok();
}
