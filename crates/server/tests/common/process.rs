//! The built `mitai` binary as a process: start it on a free port, talk HTTP/1.1 to it
//! over plain sockets, stop it. For the end-to-end tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A new empty folder under the system's temporary folder.
pub fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mitai-e2e-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `mitai` run in `dir`, with no MITAI_* variables from the environment.
pub fn mitai(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mitai"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("MITAI_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `mitai user create` (a verified user; an admin with `admin`) with the password given
/// on standard input, on the database `db` (`None`: the default in `dir`).
pub fn create_user(dir: &Path, db: Option<&str>, email: &str, password: &str, admin: bool) {
    let mut cmd = mitai(dir);
    cmd.args(["user", "create", "--email", email, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(db) = db {
        cmd.env("MITAI_DATABASE_URL", db);
    }
    if admin {
        cmd.arg("--admin");
    }
    let mut child = cmd.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `mitai serve`; its standard error goes to `<dir>/serve.err`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl Server {
    /// Starts `mitai serve` in `dir` on a free loopback port (unless `env` names
    /// `MITAI_LISTEN`) and waits for the line that names the address.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with(dir, env, |_| {})
    }

    /// [`Server::start`], with the command changed by `adjust` first (another user).
    pub fn start_with(
        dir: &Path,
        env: &[(&str, &str)],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        let err = std::fs::File::create(dir.join("serve.err")).unwrap();
        let mut cmd = mitai(dir);
        cmd.arg("serve")
            .env("MITAI_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("spawn mitai");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!(
                "mitai printed nothing; stderr: {}",
                std::fs::read_to_string(dir.join("serve.err")).unwrap_or_default()
            ),
        };
        let addr = line
            .strip_prefix("mitai listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            dir: dir.to_owned(),
        }
    }

    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> (u16, String) {
        http(self.addr, method, path, body, token)
    }

    /// Uploads a small PNG photo (`POST /api/photos`); returns status and JSON answer.
    pub fn upload_png(&self, token: &str) -> (u16, serde_json::Value) {
        let boundary = "mitai-process-upload";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"me.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&super::png(6, 8));
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let head = format!(
            "POST /api/photos HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        let (status, _, answer) =
            raw(self.addr, &[head.as_bytes(), &body].concat()).expect("upload");
        (status, serde_json::from_str(&answer).unwrap_or_default())
    }

    /// Signs in and returns the bearer token.
    pub fn login(&self, email: &str, password: &str) -> String {
        let body = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
        let (status, answer) = self.http("POST", "/api/auth/login", Some(&body), None);
        assert_eq!(status, 200, "{answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    /// SIGTERM, and the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        self.child.wait().unwrap()
    }

    /// SIGKILL: the process dies at once, mid-request.
    pub fn kill(mut self) {
        signal(&self.child, "KILL");
        self.child.wait().unwrap();
    }

    /// The peak resident memory of the process so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    /// What the server wrote to standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.err")).unwrap_or_default()
    }
}

pub fn signal(child: &Child, name: &str) {
    Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
}

/// Waits up to `limit` for the process to exit.
pub fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.1 request with a JSON body (or none); returns status and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    let body = body.unwrap_or("");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, _, body) = raw(addr, &[head.as_bytes(), body.as_bytes()].concat())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (status, body)
}

/// Sends `request` as it is and reads the whole answer: status, head and body.
pub fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    parse(&response)
}

/// Splits a raw HTTP/1.1 answer into status, head and (de-chunked) body.
pub fn parse(response: &[u8]) -> std::io::Result<(u16, String, String)> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no complete answer: {text:?}")))?;
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {head:?}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, head.to_owned(), body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
