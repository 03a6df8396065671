//! What an attacker or an outage does to the real binary: slow clients, connection floods,
//! an image bomb, account takeover through the start-up admin, forged forwarding headers,
//! and the start-up refusals that keep test features out of production.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::process::{Server, create_user, fresh_dir, mitai, raw, wait_for_exit};
use serde_json::Value;

const PASSWORD: &str = "correct-horse-1";

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("mitai.db").display())
}

/// Reads from `stream` until the server closes it; `true` when it did within `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or similar before the close is fine; keep reading.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn slow_headers_are_cut_off_while_others_are_served() {
    let dir = fresh_dir();
    let server = Server::start(&dir, &[("MITAI_HEADER_TIMEOUT", "1")]);
    // Twenty clients that send one header byte every 300 ms and never finish.
    let slow: Vec<_> = (0..20)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                let started = Instant::now();
                for byte in
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                {
                    if stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                }
                let closed = closed_within(&mut stream, Duration::from_secs(20));
                (closed, started.elapsed())
            })
        })
        .collect();
    // Meanwhile the server answers others.
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let (status, _) = server.http("GET", "/healthz", None, None);
        assert_eq!(status, 200);
    }
    for client in slow {
        let (closed, took) = client.join().unwrap();
        assert!(closed, "a slow client was never disconnected");
        assert!(
            took < Duration::from_secs(15),
            "a slow client was served for {took:?}; the header timeout is 1 s"
        );
    }
    let (status, _) = server.http("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    assert!(server.terminate().success());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_body_that_never_ends_gets_408_and_the_cap_queues_connections() {
    let dir = fresh_dir();
    let server = Server::start(
        &dir,
        &[
            ("MITAI_REQUEST_TIMEOUT", "1"),
            ("MITAI_HEADER_TIMEOUT", "1"),
            ("MITAI_MAX_CONNECTIONS", "2"),
        ],
    );
    // A login whose body trickles in (1 byte every 200 ms of 100 announced).
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if stream.write_all(b" ").is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let (status, _, _) = crate::common::process::parse(&answer).expect("an answer");
    assert_eq!(status, 408);
    drop(stream);
    std::thread::sleep(Duration::from_millis(300));

    // Two connections that send nothing hold both slots; a third client waits until the
    // header timeout frees one, and is then served.
    let mut idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let (status, _) = server.http("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let gone = idle
        .iter_mut()
        .filter(|stream| {
            let stream: &TcpStream = stream;
            stream.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 16];
            match { stream }.read(&mut buf) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => false,
            }
        })
        .count();
    assert!(
        gone >= 1,
        "the third client was served while both slots were still held"
    );
    assert!(server.terminate().success());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sigterm_finishes_requests_in_flight_and_exits_by_the_deadline() {
    let dir = fresh_dir();
    let server = Server::start(
        &dir,
        &[
            ("MITAI_SHUTDOWN_TIMEOUT", "1"),
            ("MITAI_HEADER_TIMEOUT", "60"),
        ],
    );
    // In flight: a request the server has begun (it asked for the body with 100 Continue,
    // so the handler is reading it), whose body is not yet sent.
    let body = br#"{"email":"nobody@example.org","password":"wrong-password"}"#;
    let mut in_flight = TcpStream::connect(server.addr).unwrap();
    write!(
        in_flight,
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        in_flight
            .read_exact(&mut byte)
            .expect("the server asks for the body");
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    // A connection that would hold the server for the 60 s header timeout.
    let mut stuck = TcpStream::connect(server.addr).unwrap();
    stuck.write_all(b"GET /healthz HT").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let Server { mut child, .. } = server;
    crate::common::process::signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(100));
    // The request in flight is finished and answered …
    in_flight.write_all(body).unwrap();
    let mut answer = Vec::new();
    in_flight.read_to_end(&mut answer).ok();
    let (status, _, _) =
        crate::common::process::parse(&answer).expect("the request in flight is answered");
    assert_eq!(status, 401);
    // … and the stuck connection does not keep the process past the deadline.
    let exit = wait_for_exit(&mut child, Duration::from_secs(15));
    let exit = exit.unwrap_or_else(|| {
        child.kill().ok();
        panic!("the process did not exit within the shutdown deadline")
    });
    assert!(exit.success(), "{exit:?}");
    drop(stuck);
    std::fs::remove_dir_all(dir).ok();
}

/// A PNG that declares 12000 × 12000 pixels of 16-bit RGBA (1.1 GB decoded), all zeros:
/// about 1.1 MB on the wire.
fn png_bomb() -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    let (width, height) = (12_000u32, 12_000u32);
    let row = vec![0u8; 1 + width as usize * 8];
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    for _ in 0..height {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[16, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (name, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &idat), (b"IEND", &[])] {
        png.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut chunk = name.to_vec();
        chunk.extend_from_slice(data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32fast::hash(&chunk).to_be_bytes());
    }
    png
}

fn upload(server: &Server, token: &str, file: &[u8]) -> (u16, String) {
    let boundary = "mitaiboundary7";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /api/photos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, _, answer) = raw(server.addr, &[head.as_bytes(), &body].concat()).unwrap();
    (status, answer)
}

#[test]
fn an_image_bomb_is_refused_before_it_takes_memory() {
    let bomb = png_bomb();
    assert!(bomb.len() < 2 * 1024 * 1024, "{} bytes", bomb.len());
    let dir = fresh_dir();
    let db = sqlite_url(&dir);
    create_user(&dir, Some(&db), "bomber@example.org", PASSWORD, false);
    let server = Server::start(
        &dir,
        &[
            ("MITAI_DATABASE_URL", &db),
            ("MITAI_DATA_DIR", &dir.join("data").display().to_string()),
        ],
    );
    let token = server.login("bomber@example.org", PASSWORD);
    // Eight at once, as an attacker would.
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let tasks: Vec<_> = (0..8)
            .map(|_| s.spawn(|| upload(&server, &token, &bomb)))
            .collect();
        tasks.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (status, body) in &answers {
        assert!(matches!(status, 413 | 422), "{status} {body}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("too large")),
            "{body}"
        );
    }
    let peak_mib = server.peak_rss_kib() / 1024;
    assert!(
        peak_mib < 256,
        "the server's resident memory peaked at {peak_mib} MiB"
    );
    // Nothing was stored or spent.
    let (_, access) = server.http("GET", "/api/me/access/photos", None, Some(&token));
    let access: Value = serde_json::from_str(&access).unwrap();
    assert_eq!(access["used"], 0, "{access}");
    assert!(server.terminate().success());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_admin_from_the_environment_never_takes_over_an_existing_profile() {
    let dir = fresh_dir();
    let db = sqlite_url(&dir);
    // Someone registered the address the operator will name, before the operator did.
    let server = Server::start(&dir, &[("MITAI_DATABASE_URL", &db)]);
    let (status, body) = server.http(
        "POST",
        "/api/auth/register",
        Some(r#"{"email":"boss@example.org","password":"attacker-pass-1"}"#),
        None,
    );
    assert_eq!(status, 201, "{body}");
    assert!(server.terminate().success());

    let out = mitai(&dir)
        .arg("serve")
        .env("MITAI_DATABASE_URL", &db)
        .env("MITAI_LISTEN", "127.0.0.1:0")
        .env("MITAI_ADMIN_EMAIL", "boss@example.org")
        .env("MITAI_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("mitai:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("boss@example.org") && line.contains("mitai user set-role"),
        "{line}"
    );
    // The profile is still an unprivileged one; no admin exists.
    let server = Server::start(&dir, &[("MITAI_DATABASE_URL", &db)]);
    let token = server.login("boss@example.org", "attacker-pass-1");
    let (status, _) = server.http("GET", "/api/admin/users", None, Some(&token));
    assert_eq!(status, 403);
    assert!(server.terminate().success());

    // The operator decides on purpose.
    let out = mitai(&dir)
        .args([
            "user",
            "set-role",
            "--email",
            "boss@example.org",
            "--role",
            "admin",
        ])
        .env("MITAI_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(
        &dir,
        &[
            ("MITAI_DATABASE_URL", &db),
            ("MITAI_ADMIN_EMAIL", "boss@example.org"),
            ("MITAI_ADMIN_PASSWORD", PASSWORD),
        ],
    );
    let token = server.login("boss@example.org", "attacker-pass-1");
    let (status, _) = server.http("GET", "/api/admin/users", None, Some(&token));
    assert_eq!(
        status, 200,
        "the variable never changed the password either"
    );
    assert!(server.terminate().success());
    // The last admin cannot be demoted from the CLI either.
    let out = mitai(&dir)
        .args([
            "user",
            "set-role",
            "--email",
            "boss@example.org",
            "--role",
            "user",
        ])
        .env("MITAI_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only enabled admin"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn forwarding_headers_count_only_from_trusted_proxies() {
    let dir = fresh_dir();
    let db = sqlite_url(&dir);
    create_user(&dir, Some(&db), "admin@example.org", PASSWORD, true);
    let failed_login_ips = |env: &[(&str, &str)]| -> Vec<String> {
        let mut env = env.to_vec();
        env.push(("MITAI_DATABASE_URL", &db));
        let server = Server::start(&dir, &env);
        let body = r#"{"email":"admin@example.org","password":"wrong-pass-1"}"#;
        let head = format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Forwarded-For: 6.6.6.6, 198.51.100.7\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (status, _, _) = raw(server.addr, format!("{head}{body}").as_bytes()).unwrap();
        assert_eq!(status, 401);
        let token = server.login("admin@example.org", PASSWORD);
        let (_, log) = server.http(
            "GET",
            "/api/admin/activity?action=login_failed",
            None,
            Some(&token),
        );
        assert!(server.terminate().success());
        let log: Value = serde_json::from_str(&log).unwrap();
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ip"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // Not trusted (the default): the header is ignored, the peer is the client.
    assert_eq!(failed_login_ips(&[]), ["127.0.0.1"]);
    // Trusted: read right to left, the first untrusted hop is the client.
    let ips = failed_login_ips(&[("MITAI_TRUSTED_PROXIES", "127.0.0.1/32")]);
    assert_eq!(ips[0], "198.51.100.7", "{ips:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn start_up_refuses_the_test_clock_beyond_loopback_and_warns_about_logged_mail() {
    let dir = fresh_dir();
    let out = mitai(&dir)
        .arg("serve")
        .env("MITAI_LISTEN", "0.0.0.0:0")
        .env("MITAI_TEST_CLOCK", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("MITAI_TEST_CLOCK"), "{stderr}");

    let server = Server::start(&dir, &[("MITAI_LISTEN", "0.0.0.0:0")]);
    let stderr = server.stderr();
    let exit = server.terminate();
    assert!(exit.success(), "{exit:?}: {stderr}");
    assert!(
        stderr.contains("MITAI_MAIL=log"),
        "no warning about mail in the log: {stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}
