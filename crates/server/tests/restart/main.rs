//! PostgreSQL really restarted (`pg_ctlcluster … restart -m fast`) under `mitai serve`
//! (issue 29). A binary of its own: the restart ends every session of the server, so it runs
//! while no other test binary does (`cargo test` runs them one after another), and it is the
//! only test here.
//!
//! It needs to restart the cluster the suite uses: root (or the cluster's owner) on the
//! machine PostgreSQL runs on. `MITAI_TEST_PG_RESTART` names another command that restarts
//! it; `MITAI_TEST_NO_RESTART=1` skips the test where neither is possible (README).

#[allow(unused_macros)]
#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Server, create_user, fresh_dir, raw};
use mitai_store::Backend;
use mitai_store::testing::TestDb;

/// The command that restarts the suite's PostgreSQL: `MITAI_TEST_PG_RESTART`, else
/// `pg_ctlcluster` for the local cluster on `port`.
fn restart_command(port: &str) -> Option<String> {
    if let Ok(command) = std::env::var("MITAI_TEST_PG_RESTART") {
        return Some(command);
    }
    let clusters = std::process::Command::new("pg_lsclusters")
        .arg("-h")
        .output()
        .ok()?;
    String::from_utf8_lossy(&clusters.stdout)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(2) == Some(&port))
        .map(|fields| {
            format!(
                "pg_ctlcluster --skip-systemctl-redirect {} {} restart -m fast",
                fields[0], fields[1]
            )
        })
}

/// How often each answer came: status, error code, whether with `Retry-After`.
type Tally = BTreeMap<(u16, String, bool), usize>;

/// A consume of `weight` with an idempotency key, or a read of it: status and error code.
fn call(server: std::net::SocketAddr, token: &str, key: Option<&str>) -> (u16, String, bool) {
    let request = match key {
        Some(key) => format!(
            "POST /api/me/access/weight/consume HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: 13\r\n\
             Connection: close\r\n\r\n{{\"amount\": 1}}"
        ),
        None => format!(
            "GET /api/me/access/weight HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n\r\n"
        ),
    };
    match raw(server, request.as_bytes()) {
        Ok((status, head, body)) => {
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let retry_after = head.to_ascii_lowercase().contains("retry-after:");
            (status, code, retry_after)
        }
        Err(e) => panic!("the server did not answer: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    let pg = TestDb::new(Backend::Postgres).await;
    let port = pg
        .url
        .rsplit_once('@')
        .and_then(|(_, rest)| rest.split(['/', ':']).nth(1))
        .unwrap_or("5432")
        .to_owned();
    let Some(restart) = restart_command(&port) else {
        assert!(
            std::env::var_os("MITAI_TEST_NO_RESTART").is_some(),
            "this test restarts the suite's PostgreSQL (pg_ctlcluster, as root); name the \
             command in MITAI_TEST_PG_RESTART, or skip it with MITAI_TEST_NO_RESTART=1 (README)"
        );
        eprintln!("skipped: PostgreSQL cannot be restarted here (MITAI_TEST_NO_RESTART)");
        return;
    };
    let dir = fresh_dir();
    create_user(
        &dir,
        Some(&pg.url),
        "restart@example.org",
        "restartpass-1",
        true,
    );
    let data = dir.join("data").display().to_string();
    let server = Server::start(
        &dir,
        &[("MITAI_DATABASE_URL", &pg.url), ("MITAI_DATA_DIR", &data)],
    );
    let token = server.login("restart@example.org", "restartpass-1");
    let addr = server.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let keys: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (stop, tally, keys, token) =
                (stop.clone(), tally.clone(), keys.clone(), token.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let key = format!("restart-{c}-{n}");
                    let answer = call(addr, &token, Some(&key));
                    keys.lock().unwrap().push((key, answer.0 == 200));
                    let refused = answer.0 == 503;
                    *tally.lock().unwrap().entry(answer).or_default() += 1;
                    let answer = call(addr, &token, None);
                    *tally.lock().unwrap().entry(answer).or_default() += 1;
                    if refused {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    let began = Instant::now();
    let restarted = std::process::Command::new("sh")
        .args(["-c", &restart])
        .status()
        .expect("run the restart");
    assert!(restarted.success(), "{restart}: {restarted}");
    let took = began.elapsed();
    // The first requests once PostgreSQL is back: every route works at once.
    let ready = Instant::now();
    loop {
        let (status, _) = server.http("GET", "/readyz", None, None);
        if status == 200 {
            break;
        }
        assert!(
            ready.elapsed() < Duration::from_secs(15),
            "never ready again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for path in [
        "/api/me",
        "/api/me/access",
        "/api/me/access/weight",
        "/api/weight",
    ] {
        let (status, body) = server.http("GET", path, None, Some(&token));
        assert_eq!(status, 200, "{path} right after the restart: {body}");
    }
    let (status, body) = server.http(
        "PATCH",
        "/api/me",
        Some(r#"{"name": "Restarted"}"#),
        Some(&token),
    );
    assert_eq!(status, 200, "a write right after the restart: {body}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }

    let tally = tally.lock().unwrap().clone();
    eprintln!("restart took {took:?}; answers (status, code, retry-after): {tally:?}");
    for ((status, code, retry_after), n) in &tally {
        assert!(
            *status == 200 || (*status == 503 && code == "unavailable" && *retry_after),
            "{n} × {status} {code}: only 200, or 503 unavailable with Retry-After"
        );
    }
    assert!(tally.keys().any(|(s, _, _)| *s == 200));

    // Every key not acknowledged again until it is; each counts once.
    let keys = keys.lock().unwrap().clone();
    for (key, acknowledged) in &keys {
        if *acknowledged {
            continue;
        }
        let mut tries = 0;
        loop {
            let (status, code, _) = call(addr, &token, Some(key));
            if status == 200 {
                break;
            }
            tries += 1;
            assert!(tries < 20, "{key}: {status} {code}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let (status, access) = server.http("GET", "/api/me/access/weight", None, Some(&token));
    assert_eq!(status, 200);
    let access: serde_json::Value = serde_json::from_str(&access).unwrap();
    assert_eq!(
        access["used"],
        serde_json::json!(keys.len()),
        "each acknowledged or retried key counted exactly once"
    );
    // The restart was met: connections were found dead (and none of it answered 500).
    let (_, metrics) = server.http("GET", "/metrics", None, None);
    let lost: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mitai_database_connections_lost_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the metric");
    assert!(lost > 0, "{metrics}");
    let log = server.stderr();
    assert!(server.terminate().success());
    assert!(!log.contains("panicked"), "{log}");
    std::fs::remove_dir_all(dir).ok();
}
