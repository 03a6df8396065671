//! A small synchronous WebDriver (W3C) client for Debian's headless Chromium: a
//! `chromedriver` process ([`Driver`]), browser sessions ([`Browser`]) and their elements
//! ([`Element`]), plus an axe-core accessibility check ([`axe_check`]). Plain blocking
//! HTTP/1.1 over `std::net::TcpStream` (one connection per command, `Connection: close`).
//!
//! Start one [`Driver`] per test (it is cheap) rather than a shared static one: a static is
//! never dropped, so its `chromedriver` would outlive the test process.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C web element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `find` waits for an element to appear (the session's implicit timeout).
const IMPLICIT_MS: u64 = 2_000;
/// How long an async script may run before WebDriver gives up.
const SCRIPT_MS: u64 = 30_000;
/// How long a navigation may take.
const PAGE_LOAD_MS: u64 = 30_000;
/// axe-core, vendored for the tests (see `tests/assets/axe.LICENSE`).
const AXE_JS: &str = include_str!("../assets/axe.min.js");

/// A running `/usr/bin/chromedriver` on a free localhost port; killed on drop.
pub struct Driver {
    port: u16,
    child: Child,
    sessions: Arc<Mutex<Vec<String>>>,
    _turn: Turn,
}

/// How many drivers (tests with browsers) run at once in this process. The test binary
/// runs more tests at once than the machine has cores (most tests wait on the database);
/// a browser keeps a core busy, so browser tests take turns beyond this many.
const BROWSERS_AT_ONCE: usize = 3;

/// A place among the [`BROWSERS_AT_ONCE`] drivers that may run; given back on drop.
struct Turn;

static RUNNING: (Mutex<usize>, std::sync::Condvar) = (Mutex::new(0), std::sync::Condvar::new());

impl Turn {
    fn wait() -> Turn {
        let (running, freed) = &RUNNING;
        let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= BROWSERS_AT_ONCE {
            running = freed.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let (running, freed) = &RUNNING;
        *running.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// How to start a browser session.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Whether pages may run JavaScript. `execute` works either way, but with it off page
    /// timers and `execute_async` callbacks scheduled by timers never run.
    pub javascript: bool,
    /// Window width in CSS pixels.
    pub width: u32,
    /// Window height in CSS pixels.
    pub height: u32,
    /// UI language and `Accept-Language`, e.g. `Some("de".into())`; `None`: Chromium's default.
    pub language: Option<String>,
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions {
            javascript: true,
            width: 1280,
            height: 900,
            language: None,
        }
    }
}

/// One WebDriver session (one headless Chromium); the session is deleted on drop.
pub struct Browser {
    conn: Arc<Conn>,
    sessions: Arc<Mutex<Vec<String>>>,
    javascript: bool,
}

/// An element of the page of a [`Browser`].
#[derive(Clone)]
pub struct Element {
    conn: Arc<Conn>,
    id: String,
}

/// Where one session's commands go.
struct Conn {
    port: u16,
    session: String,
}

/// A WebDriver error answer: the `error` code and its `message`.
struct WdError {
    error: String,
    message: String,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits (up to ~10 s) until it is ready.
    pub fn start() -> Driver {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need Debian's Chromium and chromedriver \
                 (apt-get install chromium chromium-driver)"
            );
        }
        let turn = Turn::wait();
        let mut last = String::new();
        // The port is free when picked but may be taken before chromedriver binds it: retry.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("chromedriver on port {port} exited with {status}");
                    break;
                }
                if let Ok(status) = request(port, "GET", "/status", None, Duration::from_secs(2))
                    && status["ready"] == json!(true)
                {
                    return Driver {
                        port,
                        child,
                        sessions: Arc::new(Mutex::new(Vec::new())),
                        _turn: turn,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!("chromedriver on port {port} was not ready within 10 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("{last}");
    }

    /// Opens a new headless Chromium session with these options.
    pub fn session(&self, opts: SessionOptions) -> Browser {
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={},{}", opts.width, opts.height),
        ];
        let mut prefs = serde_json::Map::new();
        if let Some(lang) = &opts.language {
            args.push(format!("--lang={lang}"));
            prefs.insert("intl.accept_languages".into(), json!(lang));
        }
        if !opts.javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": {
                        "implicit": IMPLICIT_MS,
                        "script": SCRIPT_MS,
                        "pageLoad": PAGE_LOAD_MS,
                    },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                        "prefs": prefs,
                    },
                }
            }
        });
        let value = request(
            self.port,
            "POST",
            "/session",
            Some(&caps),
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("new session: {}: {}", e.error, e.message));
        let session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session: no sessionId in {value}"))
            .to_owned();
        self.sessions.lock().unwrap().push(session.clone());
        let browser = Browser {
            conn: Arc::new(Conn {
                port: self.port,
                session,
            }),
            sessions: self.sessions.clone(),
            javascript: opts.javascript,
        };
        browser.emulate_viewport(opts.width, opts.height);
        browser
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Sessions still open would leave their Chromium running once chromedriver is gone.
        let open = std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|e| e.into_inner()));
        for session in open {
            let _ = request(
                self.port,
                "DELETE",
                &format!("/session/{session}"),
                None,
                Duration::from_secs(10),
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Conn {
    /// Sends a session command (`path` relative to `/session/{id}`); panics on an error.
    fn cmd(&self, name: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {name}: {}: {}", e.error, e.message))
    }

    /// Sends a session command; the WebDriver error, if any.
    fn try_cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        // POST commands need a body, even an empty object.
        let body = match (method, body) {
            ("POST", None) => Some(json!({})),
            (_, body) => body,
        };
        request(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
            Duration::from_secs(90),
        )
    }

    /// Finds elements from `/element(s)` under `prefix` (empty: the document).
    fn find(&self, prefix: &str, using: &str, value: &str) -> Result<Value, WdError> {
        self.try_cmd(
            "POST",
            &format!("{prefix}/element"),
            Some(json!({"using": using, "value": value})),
        )
    }

    fn element(self: &Arc<Self>, value: &Value) -> Element {
        let id = value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {value}"))
            .to_owned();
        Element {
            conn: self.clone(),
            id,
        }
    }

    fn source_excerpt(&self) -> String {
        match self.try_cmd("GET", "/source", None) {
            Ok(Value::String(source)) => excerpt(&source, 2_000),
            Ok(other) => other.to_string(),
            Err(e) => format!("(no page source: {})", e.message),
        }
    }
}

impl Browser {
    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.conn
            .cmd("goto", "POST", "/url", Some(json!({ "url": url })));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        as_string(self.conn.cmd("url", "GET", "/url", None))
    }

    /// The current page's title.
    pub fn title(&self) -> String {
        as_string(self.conn.cmd("title", "GET", "/title", None))
    }

    /// The current DOM serialized as HTML.
    pub fn source(&self) -> String {
        as_string(self.conn.cmd("source", "GET", "/source", None))
    }

    /// Clicks the first element matching `css`, found again when a swap (htmx) replaced it
    /// between finding and clicking: a busy machine can make that window long.
    pub fn click_on(&self, css: &str) {
        for _ in 0..20 {
            let element = self.find(css);
            match self.conn.try_cmd("POST", &element.path("/click"), None) {
                Ok(_) => return,
                Err(e) if e.error.contains("stale element") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("WebDriver click {css:?}: {}: {}", e.error, e.message),
            }
        }
        panic!("click {css:?}: the element was replaced twenty times");
    }

    /// The first element matching `css` (waiting up to ~2 s); panics with a page excerpt if none.
    pub fn find(&self, css: &str) -> Element {
        match self.conn.find("", "css selector", css) {
            Ok(value) => self.conn.element(&value),
            Err(e) => panic!(
                "find {css:?}: {}: {}\n--- page {} ---\n{}",
                e.error,
                e.message,
                self.url(),
                self.conn.source_excerpt()
            ),
        }
    }

    /// The rendered text of the first element matching `css`. A page that htmx or a
    /// navigation replaces between finding the element and reading it leaves a stale
    /// reference: then it is found again (for up to ~2 s).
    pub fn text_of(&self, css: &str) -> String {
        let mut tries = 0;
        loop {
            let element = self.find(css);
            match self.conn.try_cmd("GET", &element.path("/text"), None) {
                Ok(value) => return as_string(value),
                Err(e) if e.error == "stale element reference" && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("WebDriver text of {css:?}: {}: {}", e.error, e.message),
            }
        }
    }

    /// All elements matching `css` (waits up to ~2 s while there are none).
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let value = self.conn.cmd(
            &format!("find_all {css:?}"),
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        elements(&self.conn, &value)
    }

    /// Whether an element matches `css` (waits up to ~2 s); false rather than a panic when
    /// none does, but an invalid selector still panics.
    pub fn exists(&self, css: &str) -> bool {
        match self.conn.find("", "css selector", css) {
            Ok(_) => true,
            Err(e) if e.error == "invalid selector" => {
                panic!("exists {css:?}: {}: {}", e.error, e.message)
            }
            Err(_) => false,
        }
    }

    /// Whether an element matches `css` right now, without the implicit wait.
    pub fn exists_now(&self, css: &str) -> bool {
        let found = self.execute(
            "return document.querySelector(arguments[0]) !== null",
            vec![json!(css)],
        );
        found == json!(true)
    }

    /// Polls `check` every 50 ms until it is true; panics naming `what` after `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, check: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + timeout;
        while !check(self) {
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- page {} ---\n{}",
                    self.url(),
                    self.conn.source_excerpt()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `script` as a function body with `arguments` = `args`; its return value.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.conn.cmd(
            "execute",
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script` with a callback as its last argument; the value passed to it (30 s limit).
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.conn.cmd(
            "execute_async",
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let data = as_string(self.conn.cmd("screenshot", "GET", "/screenshot", None));
        base64_decode(&data).unwrap_or_else(|e| panic!("screenshot: {e}"))
    }

    /// Resizes the window and makes the viewport exactly `width`×`height` CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.conn.cmd(
            "set_window_size",
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
        self.emulate_viewport(width, height);
    }

    /// Makes pages see `prefers-color-scheme: <scheme>` (`light` or `dark`) through the
    /// DevTools protocol.
    pub fn set_color_scheme(&self, scheme: &str) {
        self.conn.cmd(
            "color_scheme",
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            })),
        );
    }

    /// Pins the viewport to `width`×`height` (scale 1, desktop, not mobile) through the
    /// DevTools protocol: a headless window is never narrower than 500 px by itself.
    fn emulate_viewport(&self, width: u32, height: u32) {
        self.conn.cmd(
            "viewport",
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": {
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "mobile": false,
                },
            })),
        );
    }

    /// The cookies visible to the current page, as WebDriver cookie objects.
    pub fn cookies(&self) -> Vec<Value> {
        match self.conn.cmd("cookies", "GET", "/cookie", None) {
            Value::Array(cookies) => cookies,
            other => panic!("cookies: not a list: {other}"),
        }
    }

    /// Deletes all cookies visible to the current page.
    pub fn delete_cookies(&self) {
        self.conn.cmd("delete_cookies", "DELETE", "/cookie", None);
    }

    /// Goes one page back in the history.
    pub fn back(&self) {
        self.conn.cmd("back", "POST", "/back", None);
    }

    /// Reloads the current page.
    pub fn refresh(&self) {
        self.conn.cmd("refresh", "POST", "/refresh", None);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            self.conn.port,
            "DELETE",
            &format!("/session/{}", self.conn.session),
            None,
            Duration::from_secs(10),
        );
        let mut open = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|s| *s != self.conn.session);
    }
}

impl Element {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// Clicks the element (scrolling it into view).
    pub fn click(&self) {
        self.conn.cmd("click", "POST", &self.path("/click"), None);
    }

    /// Types `text` into the element.
    pub fn send_keys(&self, text: &str) {
        self.conn.cmd(
            "send_keys",
            "POST",
            &self.path("/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Empties an input or textarea.
    pub fn clear(&self) {
        self.conn.cmd("clear", "POST", &self.path("/clear"), None);
    }

    /// The element's rendered (visible) text.
    pub fn text(&self) -> String {
        as_string(self.conn.cmd("text", "GET", &self.path("/text"), None))
    }

    /// The attribute `name` as written in the markup; `None` if absent.
    pub fn attr(&self, name: &str) -> Option<String> {
        match self.conn.cmd(
            "attr",
            "GET",
            &self.path(&format!("/attribute/{name}")),
            None,
        ) {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// The DOM property `name` (e.g. `value`, `checked`).
    pub fn property(&self, name: &str) -> Value {
        self.conn.cmd(
            "property",
            "GET",
            &self.path(&format!("/property/{name}")),
            None,
        )
    }

    /// The first descendant matching `css` (waiting up to ~2 s); panics if none.
    pub fn find(&self, css: &str) -> Element {
        match self.conn.find(&self.path(""), "css selector", css) {
            Ok(value) => self.conn.element(&value),
            Err(e) => panic!(
                "find {css:?} within an element: {}: {}\n--- page ---\n{}",
                e.error,
                e.message,
                self.conn.source_excerpt()
            ),
        }
    }

    /// Whether the element is enabled (not `disabled`).
    pub fn is_enabled(&self) -> bool {
        self.conn
            .cmd("is_enabled", "GET", &self.path("/enabled"), None)
            == json!(true)
    }

    /// Submits the form this element is (in): clicks that form's first submit button, as a
    /// person would, so it works with JavaScript off too; panics if the form has none.
    pub fn submit_form(&self) {
        let form = match self
            .conn
            .find(&self.path(""), "xpath", "ancestor-or-self::form[1]")
        {
            Ok(value) => self.conn.element(&value),
            Err(e) => panic!("submit_form: the element is in no form: {}", e.message),
        };
        let button = match self.conn.find(
            &form.path(""),
            "css selector",
            "button[type=submit i], button:not([type]), input[type=submit i], input[type=image i]",
        ) {
            Ok(value) => self.conn.element(&value),
            Err(e) => panic!(
                "submit_form: the form has no submit button: {}\n--- page ---\n{}",
                e.message,
                self.conn.source_excerpt()
            ),
        };
        button.click();
    }
}

/// Runs axe-core on the current page (JavaScript must be on); its serious and critical
/// violations, each `{id, impact, help, helpUrl, nodes: [{target, html, failureSummary}]}`.
pub fn axe_check(browser: &Browser) -> Vec<Value> {
    // With page scripts off, axe's timers never fire and the run would only time out.
    assert!(
        browser.javascript,
        "axe_check needs a session with JavaScript on (SessionOptions::javascript)"
    );
    browser.execute(AXE_JS, vec![]);
    let result = browser.execute_async(
        r#"const done = arguments[arguments.length - 1];
        if (typeof window.axe === 'undefined') { done({error: 'axe did not load'}); return; }
        window.axe.run(document, {resultTypes: ['violations']})
          .then(r => done({violations: r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
              nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                        failureSummary: n.failureSummary}))}))}))
          .catch(e => done({error: String(e)}));"#,
        vec![],
    );
    if let Some(error) = result.get("error") {
        panic!("axe_check on {}: {error}", browser.url());
    }
    match &result["violations"] {
        Value::Array(all) => all
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .cloned()
            .collect(),
        other => panic!("axe_check: unexpected result {other}"),
    }
}

/// A readable summary of axe violations (id, impact, help, first targets) for assertions.
pub fn serious_violations_report(v: &[Value]) -> String {
    let mut out = format!("{} serious/critical accessibility violation(s):\n", v.len());
    for violation in v {
        out.push_str(&format!(
            "- {} ({}): {}\n",
            violation["id"].as_str().unwrap_or("?"),
            violation["impact"].as_str().unwrap_or("?"),
            violation["help"].as_str().unwrap_or("?"),
        ));
        let nodes = violation["nodes"].as_array().cloned().unwrap_or_default();
        for node in nodes.iter().take(3) {
            let target = match &node["target"] {
                Value::Array(parts) => parts
                    .iter()
                    .map(|p| {
                        p.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| p.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" >> "),
                other => other.to_string(),
            };
            out.push_str(&format!(
                "    at {target}: {}\n",
                excerpt(
                    &node["html"]
                        .as_str()
                        .unwrap_or("")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    120
                )
            ));
        }
        if nodes.len() > 3 {
            out.push_str(&format!("    … and {} more\n", nodes.len() - 3));
        }
    }
    out
}

/// A localhost port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One WebDriver HTTP exchange; the answer's `value`, or its error.
fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Value, WdError> {
    let io = |e: std::io::Error| WdError {
        error: "io".into(),
        message: format!("{method} {path} on chromedriver port {port}: {e}"),
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    // chromedriver keeps the connection open despite `Connection: close`: read by length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut framing: Option<(usize, Option<usize>, bool)> = None; // (body start, length, chunked)
    loop {
        if framing.is_none()
            && let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                (name.trim() == "content-length").then(|| value.trim().parse::<usize>().ok())?
            });
            let chunked = head
                .lines()
                .any(|line| line.starts_with("transfer-encoding:") && line.contains("chunked"));
            framing = Some((split + 4, length, chunked));
        }
        if let Some((start, length, chunked)) = framing {
            let body = &raw[start..];
            let complete = match (length, chunked) {
                (_, true) => dechunk(body).is_some(),
                (Some(length), false) => body.len() >= length,
                (None, false) => false,
            };
            if complete {
                break;
            }
        }
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }

    let bad = |why: &str| WdError {
        error: "bad answer".into(),
        message: format!(
            "{method} {path}: {why}: {}",
            excerpt(&String::from_utf8_lossy(&raw), 500)
        ),
    };
    let (start, length, chunked) = framing.ok_or_else(|| bad("no end of headers"))?;
    let status: u16 = String::from_utf8_lossy(&raw[..start])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let body = &raw[start..];
    let payload = match (length, chunked) {
        (_, true) => dechunk(body).ok_or_else(|| bad("bad chunked body"))?,
        (Some(length), false) => body
            .get(..length)
            .ok_or_else(|| bad("short body"))?
            .to_vec(),
        (None, false) => body.to_vec(),
    };
    let json: Value = serde_json::from_slice(&payload).map_err(|_| bad("not JSON"))?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) && value.get("error").is_none() {
        return Ok(value);
    }
    Err(WdError {
        error: value["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {status}")),
        message: value["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| json.to_string()),
    })
}

/// The body of a `Transfer-Encoding: chunked` message.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Decodes standard base64 (padding optional, whitespace ignored).
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (i, c) in text.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return Err(format!("invalid base64 byte {c:#04x} at {i}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

fn as_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn elements(conn: &Arc<Conn>, value: &Value) -> Vec<Element> {
    match value {
        Value::Array(items) => items.iter().map(|v| conn.element(v)).collect(),
        other => panic!("not a list of elements: {other}"),
    }
}

/// At most `max` characters of `text`, marked when cut.
fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}… (cut)")
    }
}
