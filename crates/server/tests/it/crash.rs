//! Kill -9 loses nothing: the binary is killed with SIGKILL in the middle of concurrent
//! spends and entry creates, restarted on the same database, and every request whose
//! answer never arrived is sent again with its `Idempotency-Key`. Afterwards every spend
//! and entry is there exactly once, and usage equals what was created.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::process::{Server, create_user, fresh_dir, parse};
use mitai_store::Backend;
use mitai_store::testing::TestDb;
use serde_json::Value;

const PASSWORD: &str = "crash-test-pass";
/// Requests in all: even ones create a weight entry, odd ones consume `activity`.
const REQUESTS: usize = 400;
/// SIGKILL after this many answers.
const KILL_AFTER: usize = 120;

/// One request of the load, by its number: its head and body.
fn request(i: usize, token: &str) -> (String, String) {
    let (line, body) = if i.is_multiple_of(2) {
        let body = format!(
            r#"{{"date": "2026-01-{:02}", "weight_kg": {}.5, "note": "key-{i}"}}"#,
            1 + i % 28,
            60 + i % 40
        );
        ("POST /api/weight HTTP/1.1", body)
    } else {
        (
            "POST /api/me/access/activity/consume HTTP/1.1",
            r#"{"amount": 1}"#.to_owned(),
        )
    };
    let head = format!(
        "{line}\r\nIdempotency-Key: key-{i}\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// Sends a request; `None` when no complete answer came back (refused, reset, killed).
fn send(addr: std::net::SocketAddr, head: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut answer).ok()?;
    let (status, _, body) = parse(&answer).ok()?;
    Some((status, body))
}

fn start(dir: &std::path::Path, db: &str) -> Server {
    Server::start(
        dir,
        &[
            ("MITAI_DATABASE_URL", db),
            ("MITAI_DATA_DIR", &dir.join("data").display().to_string()),
        ],
    )
}

async fn kill_9_loses_nothing(backend: Backend) {
    let dir = fresh_dir();
    // On PostgreSQL a database of its own; on SQLite a file that outlives the process.
    let pg = match backend {
        Backend::Postgres => Some(TestDb::new(Backend::Postgres).await),
        Backend::Sqlite => None,
    };
    let db = pg.as_ref().map_or_else(
        || format!("sqlite://{}", dir.join("mitai.db").display()),
        |pg| pg.url.clone(),
    );
    // An admin: the top tier, so no limit stops the load (exactness is tested elsewhere).
    create_user(&dir, Some(&db), "crash@example.org", PASSWORD, true);

    let server = start(&dir, &db);
    let token = server.login("crash@example.org", PASSWORD);
    let addr = server.addr;

    // Four clients send the load; the main thread kills the server mid-way.
    let answers: Arc<Mutex<BTreeMap<usize, (u16, String)>>> = Arc::default();
    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (answers, answered, next, token) = (
                Arc::clone(&answers),
                Arc::clone(&answered),
                Arc::clone(&next),
                token.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= REQUESTS {
                        return;
                    }
                    let (head, body) = request(i, &token);
                    if let Some(answer) = send(addr, &head, &body) {
                        answers.lock().unwrap().insert(i, answer);
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    while answered.load(Ordering::SeqCst) < KILL_AFTER {
        std::thread::sleep(Duration::from_millis(1));
    }
    server.kill();
    for client in clients {
        client.join().unwrap();
    }
    let before_restart = answers.lock().unwrap().len();
    assert!(
        (KILL_AFTER..REQUESTS).contains(&before_restart),
        "the kill came mid-load: {before_restart} of {REQUESTS} answered"
    );

    // Restarted on the same database: every request without an answer is sent again.
    let server = start(&dir, &db);
    let missing: Vec<usize> = (0..REQUESTS)
        .filter(|i| !answers.lock().unwrap().contains_key(i))
        .collect();
    for i in missing {
        let (head, body) = request(i, &token);
        let answer = send(server.addr, &head, &body).expect("the restarted server answers");
        answers.lock().unwrap().insert(i, answer);
    }
    let answers = answers.lock().unwrap().clone();
    for (i, (status, body)) in &answers {
        let want = if i.is_multiple_of(2) { 201 } else { 200 };
        assert_eq!(*status, want, "request {i}: {body}");
    }

    // Every acknowledged entry is there, exactly once, and nothing else is.
    let mut notes = Vec::new();
    let mut ids = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/weight?limit=500{cursor}");
        let (status, page) = server.http("GET", &path, None, Some(&token));
        assert_eq!(status, 200, "{page}");
        let page: Value = serde_json::from_str(&page).unwrap();
        for entry in page["items"].as_array().unwrap() {
            notes.push(entry["note"].as_str().unwrap().to_owned());
            ids.insert(entry["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let weights = REQUESTS / 2;
    notes.sort();
    let mut want: Vec<String> = (0..REQUESTS)
        .filter(|i| i.is_multiple_of(2))
        .map(|i| format!("key-{i}"))
        .collect();
    want.sort();
    assert_eq!(notes, want, "each entry exactly once");
    for (i, (_, body)) in answers.iter().filter(|(i, _)| i.is_multiple_of(2)) {
        let answer: Value = serde_json::from_str(body).unwrap();
        let id = answer["entry"]["id"].as_str().unwrap();
        assert!(ids.contains(id), "request {i} was told {id} was created");
    }
    let used = |feature: &str| {
        let (_, access) = server.http(
            "GET",
            &format!("/api/me/access/{feature}"),
            None,
            Some(&token),
        );
        let access: Value = serde_json::from_str(&access).unwrap();
        access["used"].as_u64().unwrap()
    };
    assert_eq!(used("weight"), weights as u64, "usage equals the entries");
    assert_eq!(
        used("activity"),
        (REQUESTS - weights) as u64,
        "each consume spent once"
    );
    assert!(server.terminate().success());
    std::fs::remove_dir_all(dir).ok();
}

on_both_backends!(kill_9_loses_nothing);
