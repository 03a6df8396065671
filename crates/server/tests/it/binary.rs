//! End-to-end tests of the built `mitai` binary: start-up on a fresh folder, graceful
//! shutdown, one-line configuration errors, and the user CLI.

use std::io::Write;
use std::process::Stdio;

use crate::common::process::{Server, fresh_dir, mitai};

#[test]
fn serve_on_a_fresh_folder_creates_the_database_and_answers() {
    let dir = fresh_dir();
    let server = Server::start(&dir, &[]);
    assert!(
        dir.join("data/mitai.db").exists(),
        "data/mitai.db was not created"
    );
    let (status, body) = server.http("GET", "/healthz", None, None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.http("GET", "/readyz", None, None);
    assert_eq!(status, 200);
    let (status, body) = server.http("GET", "/api/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(
        body.contains("\"openapi\":\"3.1"),
        "{}",
        &body[..100.min(body.len())]
    );
    let (status, body) = server.http("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        body.contains("mitai_http_responses_total{class=\"2xx\"}"),
        "{body}"
    );
    assert!(body.contains("mitai_registry_features 11"), "{body}");
    let exit = server.terminate();
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
    let server = Server::start(&dir, &env);
    let (status, body) = server.http(
        "POST",
        "/api/auth/login",
        Some(r#"{"email":"root@example.org","password":"rootroot1"}"#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(login["profile"]["role"], "admin");
    let token = login["token"].as_str().unwrap();
    let (status, _) = server.http("GET", "/api/admin/users", None, Some(token));
    assert_eq!(status, 200);
    assert!(server.terminate().success());
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

    let server = Server::start(&dir, &[]);
    let (status, body) = server.http(
        "POST",
        "/api/auth/login",
        Some(r#"{"email":"cli@example.org","password":"cli-password"}"#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success());

    let out = mitai(&dir).args(["jobs", "run"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(dir).ok();
}
