//! End-to-end tests of the built `mitai` binary: start-up on a fresh folder, graceful
//! shutdown, one-line configuration errors, and the user CLI.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mitai-e2e-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `mitai` with no MITAI_* variables from the environment.
fn mitai(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mitai"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("MITAI_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Starts `mitai serve` on a free port and waits for the line that names the address.
fn serve(dir: &Path, extra_env: &[(&str, &str)]) -> (Child, SocketAddr) {
    let mut cmd = mitai(dir);
    cmd.arg("serve")
        .env("MITAI_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn mitai");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .next()
        .expect("mitai printed nothing")
        .expect("read stdout");
    let addr = line
        .strip_prefix("mitai listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// One HTTP/1.1 request; returns status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

#[test]
fn serve_on_a_fresh_folder_creates_the_database_and_answers() {
    let dir = fresh_dir();
    let (mut child, addr) = serve(&dir, &[]);
    assert!(
        dir.join("data/mitai.db").exists(),
        "data/mitai.db was not created"
    );
    let (status, body) = http(addr, "GET", "/healthz", None, None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(addr, "GET", "/readyz", None, None);
    assert_eq!(status, 200);
    let (status, body) = http(addr, "GET", "/api/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(
        body.contains("\"openapi\":\"3.1"),
        "{}",
        &body[..100.min(body.len())]
    );
    let (status, body) = http(addr, "GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        body.contains("mitai_http_responses_total{class=\"2xx\"}"),
        "{body}"
    );
    assert!(body.contains("mitai_registry_features 11"), "{body}");
    let exit = terminate(&mut child);
    assert!(exit.success(), "SIGTERM should stop cleanly: {exit:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_admin_from_the_environment_can_sign_in() {
    let dir = fresh_dir();
    let env = [
        ("MITAI_ADMIN_EMAIL", "root@example.org"),
        ("MITAI_ADMIN_PASSWORD", "rootroot1"),
    ];
    let (mut child, addr) = serve(&dir, &env);
    let (status, body) = http(
        addr,
        "POST",
        "/api/auth/login",
        Some(r#"{"email":"root@example.org","password":"rootroot1"}"#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(login["profile"]["role"], "admin");
    let token = login["token"].as_str().unwrap();
    let (status, _) = http(addr, "GET", "/api/admin/users", None, Some(token));
    assert_eq!(status, 200);
    assert!(terminate(&mut child).success());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_it() {
    let dir = fresh_dir();
    for (var, value) in [
        ("MITAI_LISTEN", "not-an-address"),
        ("MITAI_DATABASE_URL", "mysql://nope"),
        ("MITAI_MAIL", "carrier-pigeon"),
        ("MITAI_LOG_FORMAT", "xml"),
    ] {
        let out = mitai(&dir).arg("serve").env(var, value).output().unwrap();
        assert!(!out.status.success(), "{var} accepted");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{var}: {stderr}");
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn user_create_from_the_cli_then_sign_in() {
    let dir = fresh_dir();
    let mut create = mitai(&dir)
        .args([
            "user",
            "create",
            "--email",
            "Cli@Example.org",
            "--admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"cli-password\n")
        .unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin"));

    let (mut child, addr) = serve(&dir, &[]);
    let (status, body) = http(
        addr,
        "POST",
        "/api/auth/login",
        Some(r#"{"email":"cli@example.org","password":"cli-password"}"#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(terminate(&mut child).success());

    let out = mitai(&dir).args(["jobs", "run"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(dir).ok();
}
