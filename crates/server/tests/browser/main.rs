//! The web UI in a real browser: Debian's Chromium, headless, driven through chromedriver
//! against the real `mitai` binary, on SQLite and on PostgreSQL. Sign-up with the mailed
//! link, entries with JavaScript on and off, a gated form at its limit, a coupon, the
//! German UI, a cross-origin form, narrow screens and axe-core on every page.
//!
//! `MITAI_UPDATE_SCREENSHOTS=1` also writes the README's screenshots to `docs/screenshots`.

#[path = "../common/mod.rs"]
mod common;
mod harness;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::{Browser, Driver, SessionOptions, axe_check, serious_violations_report};
use common::process::{Server, create_user, fresh_dir};
use mitai_store::Backend;
use mitai_store::testing::TestDb;
use serde_json::{Value, json};

const PASSWORD: &str = "browser-pass-1";

/// A running server with an admin, on its own database, and its mail folder.
struct App {
    server: Server,
    base: String,
    admin: String,
    mail: PathBuf,
    dir: PathBuf,
    db_url: String,
    // The PostgreSQL database and the runtime that keeps its pool (dropped last).
    _db: Option<(TestDb, tokio::runtime::Runtime)>,
}

impl App {
    fn start(backend: Backend) -> App {
        App::start_with(backend, &[])
    }

    /// [`App::start`] with more configuration.
    fn start_with(backend: Backend, extra: &[(&str, &str)]) -> App {
        let dir = fresh_dir();
        let db = match backend {
            Backend::Postgres => {
                let rt = tokio::runtime::Runtime::new().unwrap();
                let db = rt.block_on(TestDb::new(Backend::Postgres));
                Some((db, rt))
            }
            Backend::Sqlite => None,
        };
        let url = db.as_ref().map_or_else(
            || format!("sqlite://{}", dir.join("mitai.db").display()),
            |(db, _)| db.url.clone(),
        );
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        create_user(&dir, Some(&url), "admin@example.org", PASSWORD, true);
        let data = dir.join("data").display().to_string();
        let mail_to = format!("file:{}", mail.display());
        let mut env = vec![
            ("MITAI_DATABASE_URL", url.as_str()),
            ("MITAI_DATA_DIR", data.as_str()),
            ("MITAI_MAIL", mail_to.as_str()),
        ];
        env.extend_from_slice(extra);
        let server = Server::start(&dir, &env);
        let base = format!("http://{}", server.addr);
        let admin = server.login("admin@example.org", PASSWORD);
        App {
            base,
            admin,
            mail,
            dir: dir.clone(),
            db_url: url,
            server,
            _db: db,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An API call as the admin.
    fn api(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = body.to_string();
        let (status, answer) = self
            .server
            .http(method, path, Some(&body), Some(&self.admin));
        (status, serde_json::from_str(&answer).unwrap_or(Value::Null))
    }

    /// A verified user (made by the CLI); returns its id.
    fn user(&self, email: &str) -> String {
        create_user(&self.dir, Some(&self.db_url), email, PASSWORD, false);
        let (status, body) = self.api(
            "GET",
            &format!("/api/admin/users?query={email}"),
            json!(null),
        );
        assert_eq!(status, 200, "{body}");
        body["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// The link (path and query) of the newest mail that has one of this kind: the send job
    /// is run once (`mitai jobs run`), which writes the outbox into the mail folder.
    fn mailed_link(&self, template: &str) -> String {
        let out = common::process::mitai(&self.dir)
            .args(["jobs", "run"])
            .env("MITAI_DATABASE_URL", &self.db_url)
            .env("MITAI_MAIL", format!("file:{}", self.mail.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let marker = match template {
            "verify_email" => "/verify-email?token=",
            _ => "/reset-password?token=",
        };
        let mut files: Vec<_> = std::fs::read_dir(&self.mail)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files.iter().rev() {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let text = text.replace("=\r\n", "").replace("=3D", "=");
            if let Some(at) = text.find(marker) {
                return text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "/?=-_".contains(*c))
                    .collect();
            }
        }
        panic!("no {template} mail in {}", self.mail.display());
    }
}

impl Drop for App {
    fn drop(&mut self) {
        super_terminate(&mut self.server);
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn super_terminate(server: &mut Server) {
    common::process::signal(&server.child, "TERM");
    let _ = server.child.wait();
}

fn session(driver: &Driver, javascript: bool) -> Browser {
    driver.session(SessionOptions {
        javascript,
        ..SessionOptions::default()
    })
}

fn sign_in(b: &Browser, app: &App, email: &str) {
    b.goto(&app.url("/login"));
    b.find("input[name=email]").send_keys(email);
    b.find("input[name=password]").send_keys(PASSWORD);
    b.find("form[action='/login'] button[type=submit]").click();
    b.wait_until("the dashboard", Duration::from_secs(10), |b| {
        b.url().ends_with('/') && b.exists_now("main h1")
    });
}

/// Waits for a page whose `main` says `text` somewhere.
fn wait_for_text(b: &Browser, text: &str) {
    b.wait_until(text, Duration::from_secs(10), |b| {
        b.execute(
            "const m = document.querySelector('main'); return m ? m.innerText : ''",
            vec![],
        )
        .as_str()
        .is_some_and(|t| t.contains(text))
    });
}

fn rows(b: &Browser) -> usize {
    b.find_all("main table.entries tbody tr").len()
}

// --- the scenarios -------------------------------------------------------------------------

fn sign_up_verify_and_sign_in(backend: Backend) {
    let app = App::start(backend);
    let driver = Driver::start();
    let b = session(&driver, true);
    b.goto(&app.url("/register"));
    b.find("input[name=email]").send_keys("new@example.org");
    b.find("input[name=password]").send_keys(PASSWORD);
    b.find("input[name=name]").send_keys("Nora");
    b.find("form[action='/register'] button[type=submit]")
        .click();
    b.wait_until("the registration", Duration::from_secs(10), |b| {
        b.exists_now("[role=status]")
    });
    assert!(b.text_of("[role=status]").contains("new@example.org"));
    // The link of the mail confirms the address.
    let link = app.mailed_link("verify_email");
    b.goto(&app.url(&link));
    b.find("form[action='/verify-email'] button[type=submit]")
        .click();
    b.wait_until("the confirmation", Duration::from_secs(10), |b| {
        b.exists_now("[role=status]")
    });
    assert!(b.text_of("[role=status]").contains("confirmed"));
    sign_in(&b, &app, "new@example.org");
    assert!(b.text_of("main h1").contains("Nora"));
    // Verified: the gated quick form works.
    b.find("input[name=weight_kg]").send_keys("64.2");
    b.find("form[action='/weight'] button[type=submit]").click();
    wait_for_text(&b, "Entry added");
}

fn add_list_and_delete_a_weight(backend: Backend, javascript: bool) {
    let app = App::start(backend);
    app.user("anna@example.org");
    let driver = Driver::start();
    let b = session(&driver, javascript);
    sign_in(&b, &app, "anna@example.org");
    b.goto(&app.url("/weight"));
    assert_eq!(rows(&b), 0);
    // A decimal comma is fine.
    b.find("input[name=weight_kg]").send_keys("72,5");
    b.find("input[name=note]").send_keys("after the run");
    b.find("form[action='/weight'] button[type=submit]").click();
    wait_for_text(&b, "Entry added");
    assert_eq!(rows(&b), 1);
    let row = b.text_of("main table.entries tbody tr");
    assert!(
        row.contains("72.5") && row.contains("after the run"),
        "{row}"
    );
    // The chart has its point.
    assert!(b.exists("svg.line-chart .dot"));
    // A bad value: the message at the field, the form refilled, nothing written.
    b.find("input[name=weight_kg]").send_keys("7000");
    b.find("form[action='/weight'] button[type=submit]").click();
    b.wait_until("the field error", Duration::from_secs(10), |b| {
        b.exists_now("#e-weight_kg")
    });
    assert_eq!(
        b.find("#f-weight_kg").attr("aria-invalid").as_deref(),
        Some("true")
    );
    assert_eq!(b.find("#f-weight_kg").property("value"), json!("7000"));
    b.goto(&app.url("/weight"));
    assert_eq!(rows(&b), 1);
    // Change it: the edit link opens the form filled in with the entry.
    b.find("main table.entries tbody tr a[rel=edit]").click();
    b.wait_until("the edit form", Duration::from_secs(10), |b| {
        b.exists_now("form.entry-form[action$='/edit']")
    });
    assert_eq!(b.find("#f-weight_kg").property("value"), json!("72.5"));
    b.find("#f-weight_kg").clear();
    b.find("#f-weight_kg").send_keys("71,8");
    b.find("form.entry-form button[type=submit]").click();
    wait_for_text(&b, "Entry saved");
    assert!(b.text_of("main table.entries tbody tr").contains("71.8"));
    // Delete it: the button asks first.
    b.find("main table.entries tbody tr details.confirm summary")
        .click();
    b.find("main table.entries tbody tr details.confirm form button")
        .click();
    wait_for_text(&b, "Entry deleted");
    assert_eq!(rows(&b), 0);
}

fn a_gated_form_at_its_limit_writes_nothing(backend: Backend) {
    let app = App::start(backend);
    let id = app.user("limited@example.org");
    let (status, body) = app.api(
        "PUT",
        &format!("/api/admin/users/{id}/restrictions/weight"),
        json!({"limit": 1, "reason": "browser test"}),
    );
    assert_eq!(status, 200, "{body}");
    let driver = Driver::start();
    let b = session(&driver, true);
    sign_in(&b, &app, "limited@example.org");
    b.goto(&app.url("/weight"));
    for kg in ["70", "71"] {
        b.find("input[name=weight_kg]").send_keys(kg);
        b.find("form[action='/weight'] button[type=submit]").click();
        std::thread::sleep(Duration::from_millis(300));
        b.wait_until("the answer", Duration::from_secs(10), |b| {
            b.exists_now("[role=status]") || b.exists_now("[role=alert]")
        });
    }
    let alert = b.text_of("main [role=alert]");
    assert!(
        alert.contains("Weight entries") && alert.contains("1"),
        "{alert}"
    );
    assert!(b.exists("main [role=alert] a[href='/plan']"));
    b.goto(&app.url("/weight"));
    assert_eq!(rows(&b), 1, "the refused entry was not written");
}

/// What a new user hit before, on a phone, each as they would see it: saving the account
/// page keeps the name; usage over a lowered limit looks and reads over it, on the meter and
/// in the refusal; the AI page without an AI says so as a warning and offers no calls; an
/// export that is off is a disabled button with the reason beside it.
fn a_new_users_first_visit_on_a_phone(backend: Backend) {
    let app = App::start(backend);
    let id = app.user("nora@example.org");
    let token = app.server.login("nora@example.org", PASSWORD);
    let (status, answer) = app.server.http(
        "PATCH",
        "/api/me",
        Some(&json!({"name": "Nora Neu"}).to_string()),
        Some(&token),
    );
    assert_eq!(status, 200, "{answer}");
    for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        let body = json!({"date": day, "weight_kg": 70}).to_string();
        let (status, answer) = app
            .server
            .http("POST", "/api/weight", Some(&body), Some(&token));
        assert_eq!(status, 201, "{answer}");
    }
    for (feature, limit) in [("weight", 1), ("export_csv", 0)] {
        let (status, body) = app.api(
            "PUT",
            &format!("/api/admin/users/{id}/restrictions/{feature}"),
            json!({"limit": limit, "reason": "browser test"}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let driver = Driver::start();
    let b = driver.session(SessionOptions {
        width: 375,
        height: 800,
        ..SessionOptions::default()
    });
    sign_in(&b, &app, "nora@example.org");
    // The name stays the name when the account form is saved (here: to switch language).
    b.goto(&app.url("/account"));
    assert_eq!(b.find("#f-name").property("value"), json!("Nora Neu"));
    b.execute("document.getElementById('f-language').value = 'de'", vec![]);
    b.find("form[action='/account/profile'] button[type=submit]")
        .click();
    b.wait_until("the German page", Duration::from_secs(10), |b| {
        b.text_of("main h1") == "Konto"
    });
    assert_eq!(b.find("#f-name").property("value"), json!("Nora Neu"));
    // Three used of a limit of one: the meter is over, and says so.
    b.goto(&app.url("/"));
    let over = b.text_of(".meter-text.over");
    assert!(over.contains('3') && over.contains('1'), "{over}");
    // A fourth is refused with the same numbers.
    b.goto(&app.url("/weight"));
    b.find("input[name=weight_kg]").send_keys("71");
    b.find("form[action='/weight'] button[type=submit]").click();
    b.wait_until("the refusal", Duration::from_secs(10), |b| {
        b.exists_now("main [role=alert]")
    });
    let alert = b.text_of("main [role=alert]");
    assert!(
        alert.contains("3 verbraucht") && alert.contains("die 1"),
        "{alert}"
    );
    // No AI configured: a warning, no calls offered.
    b.goto(&app.url("/insights"));
    assert!(b.exists("main .warning"));
    assert!(
        !b.text_of("main").contains("übrig"),
        "{}",
        b.text_of("main")
    );
    // The CSV export is off: disabled, with the reason.
    b.goto(&app.url("/account"));
    let csv = b.find("form[action='/account/export/csv'] button");
    assert!(!csv.is_enabled(), "a disabled button");
    assert!(b.text_of("#why-csv").contains("Nicht in deinem Tarif"));
}

/// Import a Libra export (the report counts and names the refused line), switch on the
/// weigh-in reminder, then delete the account with the password: signed out, told so, and
/// the address no longer signs in.
fn import_remind_and_leave(backend: Backend) {
    let app = App::start(backend);
    app.user("leaving@example.org");
    let driver = Driver::start();
    let b = session(&driver, true);
    sign_in(&b, &app, "leaving@example.org");
    let file = app.dir.join("libra.csv");
    std::fs::write(
        &file,
        "#Version: 6\n#Units: kg\n\n#date;weight;weight trend;body fat;body fat trend;muscle mass;muscle mass trend;log\n\
         2026-10-01T06:00:00.000Z;80.1;80.1;;;;;\n\
         2026-10-02T06:00:00.000Z;79.9\n\
         2026-10-03T06:00:00.000Z;heavy\n",
    )
    .unwrap();
    b.goto(&app.url("/weight"));
    b.find("form[action='/weight/import'] input[type=file]")
        .send_keys(file.to_str().unwrap());
    b.find("form[action='/weight/import'] button[type=submit]")
        .click();
    wait_for_text(&b, "3 lines read: 2 added, 0 already there, 1 refused.");
    assert!(b.text_of("main").contains("Line 7:"));
    assert_eq!(rows(&b), 2);
    // The reminder: Monday and Thursday at 07:15.
    b.goto(&app.url("/account"));
    for day in ["mon", "thu"] {
        b.find(&format!("input[name=reminder_days][value={day}]"))
            .click();
    }
    // A time field takes its value as the browser's own control shows it; set it directly.
    b.execute(
        "document.getElementById('f-reminder_time').value = '07:15'",
        vec![],
    );
    b.find("form[action='/account/reminder'] button[type=submit]")
        .click();
    wait_for_text(&b, "Saved");
    assert_eq!(
        b.find("input[name=reminder_days][value=thu]")
            .property("checked"),
        json!(true)
    );
    // Leaving: the list of what goes, a wrong password first.
    assert!(b.text_of("#delete-account").contains("every entry"));
    b.find("#f-password").send_keys("not-the-password");
    b.find("form[action='/account/delete'] button[type=submit]")
        .click();
    wait_for_text(&b, "nothing was deleted");
    b.find("#f-password").send_keys(PASSWORD);
    b.find("form[action='/account/delete'] button[type=submit]")
        .click();
    wait_for_text(&b, "Your account and your data are deleted.");
    assert!(b.exists("form[action='/login']"));
    let body = json!({"email": "leaving@example.org", "password": PASSWORD}).to_string();
    let (status, _) = app
        .server
        .http("POST", "/api/auth/login", Some(&body), None);
    assert_eq!(status, 401);
}

fn redeem_a_coupon_and_see_the_tier(backend: Backend) {
    let app = App::start(backend);
    app.user("saver@example.org");
    let (status, body) = app.api(
        "POST",
        "/api/admin/coupons",
        json!({"code": "SPRING-2027", "kind": "single_use", "tier": "premium", "duration_days": 30}),
    );
    assert_eq!(status, 201, "{body}");
    let driver = Driver::start();
    let b = session(&driver, true);
    sign_in(&b, &app, "saver@example.org");
    b.goto(&app.url("/plan"));
    assert_eq!(b.text_of(".hero .big"), "Free");
    // A wrong code: the API's refusal in words.
    b.find("input[name=code]").send_keys("NOPE-NOPE");
    b.find("form[action='/plan/redeem'] button[type=submit]")
        .click();
    b.wait_until("the refusal", Duration::from_secs(10), |b| {
        b.exists_now("main [role=alert]")
    });
    assert!(b.text_of("main [role=alert]").contains("not valid"));
    b.find("input[name=code]").clear();
    b.find("input[name=code]").send_keys("spring 2027");
    b.find("form[action='/plan/redeem'] button[type=submit]")
        .click();
    b.wait_until("the redemption", Duration::from_secs(10), |b| {
        b.exists_now("main [role=status]")
    });
    assert!(b.text_of("main [role=status]").contains("Premium"));
    assert_eq!(b.text_of(".hero .big"), "Premium");
    assert!(b.exists("svg.timeline rect.seg-running"));
    // Used once: a second time is refused.
    b.find("input[name=code]").send_keys("SPRING-2027");
    b.find("form[action='/plan/redeem'] button[type=submit]")
        .click();
    b.wait_until("the refusal", Duration::from_secs(10), |b| {
        b.exists_now("main [role=alert]")
    });
}

fn the_german_ui(backend: Backend) {
    let app = App::start(backend);
    app.user("greta@example.org");
    let driver = Driver::start();
    let b = driver.session(SessionOptions {
        language: Some("de".into()),
        ..SessionOptions::default()
    });
    b.goto(&app.url("/login"));
    assert_eq!(b.find("html").attr("lang").as_deref(), Some("de"));
    assert_eq!(b.text_of("main h1"), "Anmelden");
    b.find("input[name=email]").send_keys("greta@example.org");
    b.find("input[name=password]").send_keys(PASSWORD);
    b.find("form[action='/login'] button[type=submit]").click();
    b.wait_until("the dashboard", Duration::from_secs(10), |b| {
        b.url().ends_with('/')
    });
    // Signed in, the profile's language counts (English, as the account was made); the
    // switch in the header changes it.
    assert!(b.text_of("main h1").starts_with("Hello"));
    b.find("header button[name=language][value=de]").click();
    // Read in one script, never through an element the swap may replace meanwhile.
    b.wait_until("German", Duration::from_secs(10), |b| {
        b.execute(
            "const h = document.querySelector('main h1'); \
             return document.documentElement.lang === 'de' && !!h \
                 && h.textContent.trim().startsWith('Hallo')",
            vec![],
        )
        .as_bool()
            == Some(true)
    });
    b.goto(&app.url("/weight"));
    b.find("input[name=weight_kg]").send_keys("72,5");
    b.find("form[action='/weight'] button[type=submit]").click();
    wait_for_text(&b, "Eintrag hinzugefügt");
    let row = b.text_of("main table.entries tbody tr");
    assert!(row.contains("72,5"), "a German number: {row}");
    assert!(row.contains('.'), "a German date: {row}");
    // The switch in the header: English from now on, for this profile too.
    b.find("header button[name=language][value=en]").click();
    b.wait_until("English", Duration::from_secs(10), |b| {
        b.execute(
            "const h = document.querySelector('main h1'); \
             return document.documentElement.lang === 'en' && !!h \
                 && h.textContent.trim() === 'Weight'",
            vec![],
        )
        .as_bool()
            == Some(true)
    });
}

fn a_cross_origin_form_post_is_refused(backend: Backend) {
    let app = App::start(backend);
    app.user("victim@example.org");
    // Another origin (another port) with a form that posts to Mitai.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let evil = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let target = app.url("/weight");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let page = format!(
                "<!doctype html><html lang=en><title>evil</title><form method=post action='{target}'>\
                 <input name=date value=2026-01-01><input name=weight_kg value=99>\
                 <button type=submit>win</button></form>"
            );
            let mut stream = stream;
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = std::io::Write::write_all(
                &mut stream,
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            );
        }
    });
    let driver = Driver::start();
    let b = session(&driver, true);
    sign_in(&b, &app, "victim@example.org");
    b.goto(&evil);
    b.find("button").click();
    b.wait_until("the refusal", Duration::from_secs(10), |b| {
        b.url().starts_with(&app.base)
    });
    assert!(
        b.text_of("main h1").contains("Not allowed"),
        "{}",
        b.source()
    );
    b.goto(&app.url("/weight"));
    assert_eq!(rows(&b), 0, "nothing was written");
}

/// The words of the page's content broken across two lines (a word broken inside, as a
/// table squeezed letter by letter does it), up to twenty. Charts are left out; a
/// hyphenated compound may break at its hyphen.
const BROKEN_WORDS: &str = r#"
    const broken = [];
    const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode()) && broken.length < 20) {
        if (node.parentElement.closest('svg')) continue;
        const text = node.textContent;
        // A compound may break at its hyphen, as typesetting does; a word may not.
        const words = /[^\s\-\u2010]+/g;
        let m;
        while ((m = words.exec(text))) {
            const range = document.createRange();
            range.setStart(node, m.index);
            range.setEnd(node, m.index + m[0].length);
            const tops = new Set(Array.from(range.getClientRects())
                .filter(r => r.width > 0)
                .map(r => Math.round(r.top)));
            if (tops.size > 1) broken.push(m[0]);
        }
    }
    return broken;
"#;

/// The elements that reach past the window's right edge, innermost first (for a message).
const WIDEST: &str = r#"
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > window.innerWidth + 1 && el.children.length === 0) {
            out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right) + ': ' + (el.textContent || '').slice(0, 40));
        }
    }
    return out.slice(0, 10);
"#;

/// What is wrong with the page's charts, if anything: label text outside 11–14 CSS px (as
/// drawn, not only as styled), x labels that overlap, y labels that repeat, two series
/// without a legend.
const CHART_RULES: &str = r#"
    const problems = [];
    for (const frame of document.querySelectorAll('.chart-frame')) {
        const name = frame.getAttribute('aria-label');
        for (const text of frame.querySelectorAll('text')) {
            if (getComputedStyle(text).display === 'none') continue;
            const size = parseFloat(getComputedStyle(text).fontSize);
            const drawn = text.getBoundingClientRect().height;
            if (size < 11 || size > 14 || drawn < 10 || drawn > 20) {
                problems.push(name + ': "' + text.textContent + '" at ' + size + ' px, drawn ' + drawn.toFixed(1));
            }
        }
        const xs = Array.from(frame.querySelectorAll('.x-axis text'))
            .filter(t => getComputedStyle(t).display !== 'none')
            .map(t => t.getBoundingClientRect())
            .sort((a, b) => a.left - b.left);
        for (let i = 1; i < xs.length; i++) {
            if (xs[i].left < xs[i - 1].right + 2) problems.push(name + ': x labels overlap');
        }
        const ys = Array.from(frame.querySelectorAll('.y-axis text')).map(t => t.textContent);
        if (new Set(ys).size !== ys.length) problems.push(name + ': y labels repeat: ' + ys.join(', '));
        const series = frame.querySelectorAll('.plot .series').length;
        const legend = frame.parentElement.querySelector('.legend');
        if (series > 1 && !legend) problems.push(name + ': two series, no legend');
    }
    return problems;
"#;

/// Every page a user sees, signed out and in, at 375 px wide: no horizontal scrolling, no
/// word broken inside, and no serious or critical axe violation.
fn every_page_is_narrow_and_accessible(backend: Backend) {
    let app = App::start(backend);
    app.user("all@example.org");
    let user = app.server.login("all@example.org", PASSWORD);
    // Some data on every page.
    for (path, body) in [
        (
            "/api/weight",
            json!({"date": "2026-11-01", "weight_kg": 80.5}),
        ),
        (
            "/api/weight",
            json!({"date": "2026-11-20", "weight_kg": 79.0, "note": "good week"}),
        ),
        (
            "/api/circumference",
            json!({"date": "2026-11-01", "waist": 90, "hip": 100}),
        ),
        (
            "/api/circumference",
            json!({"date": "2026-11-21", "waist": 88}),
        ),
        (
            "/api/caliper",
            json!({"date": "2026-11-02", "method": "jp3", "sex": "male", "age": 40, "sites": {"chest": 12, "abdomen": 20, "thigh": 15}}),
        ),
        (
            "/api/nutrition",
            json!({"date": "2026-11-30", "kcal": 2100, "protein_g": 120, "carbs_g": 200, "fat_g": 70}),
        ),
        (
            "/api/activity",
            json!({"date": "2026-11-29", "kind": "running", "minutes": 45, "kcal": 420}),
        ),
    ] {
        let (status, answer) = app
            .server
            .http("POST", path, Some(&body.to_string()), Some(&user));
        assert_eq!(status, 201, "{path}: {answer}");
    }
    let driver = Driver::start();
    let b = driver.session(SessionOptions {
        width: 375,
        height: 800,
        ..SessionOptions::default()
    });
    let check = |b: &Browser, path: &str| {
        b.goto(&app.url(path));
        b.wait_until(path, Duration::from_secs(10), |b| b.exists_now("main"));
        let width = b.execute("return document.documentElement.scrollWidth", vec![]);
        assert!(
            width.as_u64().is_some_and(|w| w <= 375),
            "{path} scrolls sideways at 375 px: {width}: {}",
            b.execute(WIDEST, vec![])
        );
        let broken = b.execute(BROKEN_WORDS, vec![]);
        assert_eq!(broken, json!([]), "{path}: words broken inside at 375 px");
        let charts = b.execute(CHART_RULES, vec![]);
        assert_eq!(charts, json!([]), "{path}: charts at 375 px");
        let violations = axe_check(b);
        assert!(
            violations.is_empty(),
            "{path}: {}",
            serious_violations_report(&violations)
        );
    };
    for path in [
        "/login",
        "/register",
        "/forgot-password",
        "/reset-password?token=x",
        "/verify-email?token=x",
        "/nope",
    ] {
        check(&b, path);
    }
    sign_in(&b, &app, "all@example.org");
    for path in [
        "/",
        "/weight",
        "/weight?range=all",
        "/measurements",
        "/body-fat?method=jp7&sex=female",
        "/nutrition",
        "/activity",
        "/photos",
        "/insights",
        "/plan",
        "/account",
        "/nope",
    ] {
        check(&b, path);
    }
    // The pages of an entry being changed, and two photos compared.
    let edits: Vec<String> = [
        "/weight",
        "/measurements",
        "/body-fat",
        "/nutrition",
        "/activity",
    ]
    .iter()
    .map(|page| {
        b.goto(&app.url(page));
        b.find("a[rel=edit]").attr("href").expect("an edit link")
    })
    .collect();
    for path in &edits {
        check(&b, path);
    }
    let photos: Vec<String> = (0..2)
        .map(|_| {
            let (status, answer) = app.server.upload_png(&user);
            assert_eq!(status, 201, "{answer}");
            answer["photo"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let compare = format!("/photos?a={}&b={}", photos[0], photos[1]);
    check(&b, &compare);
    // The same pages on a desktop, dark, in German and in pounds and inches: nothing
    // reaches past the edge, the charts keep their rules, axe finds nothing serious.
    let (status, answer) = app.server.http(
        "PATCH",
        "/api/me",
        Some(&json!({"language": "de", "units": "imperial", "kcal_target": 2000}).to_string()),
        Some(&user),
    );
    assert_eq!(status, 200, "{answer}");
    b.set_window_size(1440, 900);
    b.set_color_scheme("dark");
    let wide = |b: &Browser, path: &str| {
        b.goto(&app.url(path));
        b.wait_until(path, Duration::from_secs(10), |b| b.exists_now("main"));
        let width = b.execute("return document.documentElement.scrollWidth", vec![]);
        assert!(
            width.as_u64().is_some_and(|w| w <= 1440),
            "{path} scrolls sideways at 1440 px: {width}: {}",
            b.execute(WIDEST, vec![])
        );
        let charts = b.execute(CHART_RULES, vec![]);
        assert_eq!(charts, json!([]), "{path}: charts at 1440 px");
        let violations = axe_check(b);
        assert!(
            violations.is_empty(),
            "{path} (dark, German): {}",
            serious_violations_report(&violations)
        );
    };
    for path in [
        "/",
        "/weight?range=all",
        "/measurements",
        "/body-fat",
        "/nutrition",
        "/activity",
        "/photos",
        compare.as_str(),
        "/insights",
        "/plan",
        "/account",
    ]
    .into_iter()
    .chain(edits.iter().map(String::as_str))
    {
        wide(&b, path);
    }
    assert!(
        b.text_of("main").contains("Eintrag ändern"),
        "the last page is German and changes an entry"
    );
    b.goto(&app.url("/weight"));
    assert!(b.exists("input[name=weight_lb]"), "in pounds");
    if std::env::var("MITAI_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&out).unwrap();
        b.set_window_size(1280, 900);
        b.goto(&app.url("/"));
        std::fs::write(out.join("dashboard-dark-de.png"), b.screenshot_png()).unwrap();
        let (status, answer) = app.server.http(
            "PATCH",
            "/api/me",
            Some(&json!({"language": "en", "units": "metric"}).to_string()),
            Some(&user),
        );
        assert_eq!(status, 200, "{answer}");
        b.set_color_scheme("light");
        b.set_window_size(375, 800);
        for (path, name) in [
            ("/weight", "weight-phone"),
            ("/plan", "plan-phone"),
            (compare.as_str(), "photos-phone"),
        ] {
            b.goto(&app.url(path));
            std::fs::write(out.join(format!("{name}.png")), b.screenshot_png()).unwrap();
        }
        b.set_window_size(1280, 900);
        for (path, name) in [
            ("/", "dashboard"),
            ("/weight", "weight"),
            ("/nutrition", "nutrition"),
        ] {
            b.goto(&app.url(path));
            std::fs::write(out.join(format!("{name}.png")), b.screenshot_png()).unwrap();
        }
    }
}

// --- the admin pages ----------------------------------------------------------------------

fn sign_in_admin(b: &Browser, app: &App) {
    sign_in(b, app, "admin@example.org");
}

fn admin_changes_a_cell_and_the_plan_follows(backend: Backend) {
    let app = App::start(backend);
    app.user("planned@example.org");
    let driver = Driver::start();
    let admin = session(&driver, true);
    sign_in_admin(&admin, &app);
    admin.goto(&app.url("/admin/limits"));
    let cell = admin.find("input[name='limit.free.weight']");
    cell.clear();
    cell.send_keys("3");
    // Leaving the cell shows its change with the profiles it affects (htmx).
    admin.find("input[name='limit.basic.weight']").click();
    admin.wait_until("the review", Duration::from_secs(10), |b| {
        b.exists_now("#pending .pending")
    });
    assert!(
        admin.text_of("#pending").contains("Affects"),
        "{}",
        admin.text_of("#pending")
    );
    admin.click_on("#pending button[type=submit]");
    wait_for_text(&admin, "Saved.");
    assert_eq!(
        admin
            .find("input[name='limit.free.weight']")
            .property("value"),
        json!("3")
    );
    let user = session(&driver, true);
    sign_in(&user, &app, "planned@example.org");
    user.goto(&app.url("/plan"));
    let row = user
        .find_all("main table.table tbody tr")
        .into_iter()
        .map(|r| r.text())
        .find(|t| t.starts_with("Weight entries"))
        .unwrap();
    assert!(row.contains("3 per month"), "{row}");
}

fn admin_makes_a_coupon_that_a_user_redeems(backend: Backend) {
    let app = App::start(backend);
    app.user("redeemer@example.org");
    let driver = Driver::start();
    let admin = session(&driver, true);
    sign_in_admin(&admin, &app);
    admin.goto(&app.url("/admin/coupons"));
    admin.find("#n-kind option[value=single_use]").click();
    admin.find("#n-tier option[value=premium]").click();
    admin.find("input[name=code]").send_keys("WELCOME-2027");
    let days = admin.find("form[method=post][action='/admin/coupons'] input[name=duration_days]");
    days.clear();
    days.send_keys("14");
    admin
        .find("form[method=post][action='/admin/coupons'] button[type=submit]")
        .click();
    admin.wait_until("the new code", Duration::from_secs(10), |b| {
        b.exists_now("main [role=status] code")
    });
    let code = admin.text_of("main [role=status] code");
    assert!(code.contains("WELCOME"), "{code}");
    let user = session(&driver, true);
    sign_in(&user, &app, "redeemer@example.org");
    user.goto(&app.url("/plan"));
    user.find("input[name=code]").send_keys(&code);
    user.find("form[action='/plan/redeem'] button[type=submit]")
        .click();
    user.wait_until("the redemption", Duration::from_secs(10), |b| {
        b.exists_now("main [role=status]")
    });
    assert_eq!(user.text_of(".hero .big"), "Premium");
    // The coupon's page lists the redemption.
    admin.goto(&app.url("/admin/coupons"));
    admin.find("main table a[href^='/admin/coupons/']").click();
    wait_for_text(&admin, "redeemer@example.org");
}

fn admin_pauses_and_resumes_a_grant(backend: Backend) {
    let app = App::start(backend);
    let id = app.user("granted@example.org");
    let driver = Driver::start();
    let admin = session(&driver, true);
    sign_in_admin(&admin, &app);
    admin.goto(&app.url(&format!("/admin/users/{id}")));
    admin.find("#g-tier option[value=premium]").click();
    let days = admin.find("form[action$='/grants'] input[name=days]");
    days.clear();
    days.send_keys("30");
    admin
        .find("form[action$='/grants'] button[type=submit]")
        .click();
    wait_for_text(&admin, "Grant added.");
    assert!(admin.exists("svg.timeline rect.seg-running"));
    assert!(admin.text_of(".grants .badge").contains("running"));
    admin
        .find(".grants input[name=reason]")
        .send_keys("support ticket");
    admin.find(".grants form[action$='/pause'] button").click();
    wait_for_text(&admin, "The grant is changed.");
    assert!(
        admin
            .find(".grants .badge")
            .text()
            .contains("paused by an administrator")
    );
    assert!(admin.exists("svg.timeline rect.seg-paused"));
    assert!(admin.text_of(".grants").contains("support ticket"));
    // The user sees it paused too.
    let user = session(&driver, true);
    sign_in(&user, &app, "granted@example.org");
    user.goto(&app.url("/plan"));
    assert!(user.text_of(".grants").contains("paused"));
    admin.find(".grants form[action$='/resume'] button").click();
    admin.wait_until("the grant running again", Duration::from_secs(10), |b| {
        b.exists_now(".grants .badge.status-running")
    });
    assert!(admin.exists("svg.timeline rect.seg-running"));
    user.refresh();
    assert_eq!(user.text_of(".hero .big"), "Premium");
}

fn a_bad_setting_is_refused_at_its_field(backend: Backend) {
    let app = App::start(backend);
    let driver = Driver::start();
    let admin = session(&driver, false);
    sign_in_admin(&admin, &app);
    admin.goto(&app.url("/admin/settings"));
    let field = admin.find("#s-trial_days");
    field.clear();
    field.send_keys("-3");
    field.submit_form();
    admin.wait_until("the refusal", Duration::from_secs(10), |b| {
        b.exists_now("#s-trial_days-e")
    });
    assert_eq!(
        admin.find("#s-trial_days").attr("aria-invalid").as_deref(),
        Some("true")
    );
    admin.goto(&app.url("/admin/settings"));
    assert_eq!(
        admin.find("#s-trial_days").property("value"),
        json!("14"),
        "the old value is kept"
    );
}

/// The admin side in a real browser: the coupon form shows only its kind's fields (CSS
/// `:has`), the limits' pending changes float beside an edit at the bottom of the grid, a
/// generous personal limit is confirmed before it is saved, and the activity page says
/// what changed in words.
fn the_admin_side_reads_well(backend: Backend) {
    let app = App::start(backend);
    let id = app.user("generous@example.org");
    let driver = Driver::start();
    let admin = session(&driver, true);
    sign_in_admin(&admin, &app);

    admin.goto(&app.url("/admin/coupons"));
    let shown = |b: &Browser, css: &str| {
        b.execute(
            "return document.querySelector(arguments[0]).checkVisibility()",
            vec![json!(css)],
        ) == json!(true)
    };
    admin.find("#n-kind option[value=period]").click();
    assert!(!shown(&admin, "#n-duration_days") && shown(&admin, "#n-period_ends_at"));
    admin.find("#n-kind option[value=single_use]").click();
    assert!(shown(&admin, "#n-duration_days") && !shown(&admin, "#n-period_ends_at"));
    assert!(!shown(&admin, "#n-max_redemptions"));

    // The last row of the grid: its pending change shows in the window, not above it.
    admin.set_window_size(1280, 700);
    admin.goto(&app.url("/admin/limits"));
    let cells = admin.find_all("table.matrix input[name^='limit.free.']");
    let last = cells.last().unwrap();
    last.clear();
    last.send_keys("2");
    admin.find("h1").click();
    admin.wait_until("the review", Duration::from_secs(10), |b| {
        b.exists_now("#pending .pending")
    });
    let inside = admin.execute(
        "const r = document.querySelector('#pending .pending').getBoundingClientRect(); \
         return r.top >= 0 && r.bottom <= window.innerHeight + 1",
        vec![],
    );
    assert_eq!(inside, json!(true), "the pending box is in view");

    // Unlimited AI calls for one person: asked first, then saved with the reason.
    admin.goto(&app.url(&format!("/admin/users/{id}")));
    admin
        .find("details.inplace:has(#r-ai_calls-unlimited) summary")
        .click();
    admin.find("#r-ai_calls-unlimited").click();
    admin.find("#r-ai_calls-reason").send_keys("support case 7");
    admin
        .find("form[action$='/restrictions/ai_calls'] button[value=set]")
        .click();
    admin.wait_until("the question", Duration::from_secs(10), |b| {
        b.exists_now("form[action$='/restrictions/ai_calls'] .warning")
    });
    assert!(
        admin
            .text_of("form[action$='/restrictions/ai_calls'] .warning")
            .contains("unlimited")
    );
    admin
        .find("form[action$='/restrictions/ai_calls'] button[value=set]")
        .click();
    wait_for_text(&admin, "support case 7");
    admin.goto(&app.url("/admin/activity"));
    let log = admin.text_of("main table tbody");
    assert!(log.contains("Personal limit set"), "{log}");
    assert!(log.contains("generous@example.org"), "{log}");
    assert!(
        log.contains("Reason: support case 7") || log.contains("support case 7"),
        "{log}"
    );
    let violations = axe_check(&admin);
    assert!(
        violations.is_empty(),
        "{}",
        serious_violations_report(&violations)
    );
}

/// Every admin page: a user gets the 403 page; the admin's pages are narrow and
/// accessible, in English and in German.
fn every_admin_page_is_guarded_narrow_and_accessible(backend: Backend) {
    let app = App::start(backend);
    let id = app.user("nosy@example.org");
    let (_, coupon) = app.api(
        "POST",
        "/api/admin/coupons",
        json!({"kind": "period", "tier": "basic", "period_ends_at": "2030-01-01T00:00:00Z", "campaign": "spring"}),
    );
    let coupon = coupon["id"].as_str().unwrap().to_owned();
    let pages: Vec<String> = mitai_server::ui::admin::PAGES
        .iter()
        .filter(|p| !p.contains("export.csv"))
        .map(|p| {
            p.replace("{feature}", "weight")
                .replace("{tier}", "basic")
                .replace("{coupon}", &coupon)
                .replace("{user}", &id)
        })
        .collect();
    let driver = Driver::start();
    let nosy = session(&driver, true);
    sign_in(&nosy, &app, "nosy@example.org");
    for path in &pages {
        nosy.goto(&app.url(path));
        assert_eq!(nosy.text_of("main h1"), "Not allowed", "{path}");
    }
    let admin = driver.session(SessionOptions {
        width: 375,
        height: 800,
        ..SessionOptions::default()
    });
    sign_in_admin(&admin, &app);
    for path in &pages {
        admin.goto(&app.url(path));
        admin.wait_until(path, Duration::from_secs(10), |b| b.exists_now("main h1"));
        let width = admin.execute("return document.documentElement.scrollWidth", vec![]);
        assert!(
            width.as_u64().is_some_and(|w| w <= 375),
            "{path} scrolls sideways: {width}: {}",
            admin.execute(WIDEST, vec![])
        );
        let broken = admin.execute(BROKEN_WORDS, vec![]);
        assert_eq!(broken, json!([]), "{path}: words broken inside at 375 px");
        let charts = admin.execute(CHART_RULES, vec![]);
        assert_eq!(charts, json!([]), "{path}: charts at 375 px");
        let violations = axe_check(&admin);
        assert!(
            violations.is_empty(),
            "{path}: {}",
            serious_violations_report(&violations)
        );
    }
    // The German admin UI.
    admin.find("header button[name=language][value=de]").click();
    admin.wait_until("German", Duration::from_secs(10), |b| {
        b.execute("return document.documentElement.lang", vec![])
            .as_str()
            == Some("de")
    });
    admin.goto(&app.url("/admin"));
    assert_eq!(admin.text_of("main h1"), "Verwaltung");
    admin.goto(&app.url("/admin/limits"));
    assert!(admin.text_of("main").contains("Änderungen prüfen"));
    // Every page again in German on a desktop, in the dark scheme.
    admin.set_window_size(1440, 900);
    admin.set_color_scheme("dark");
    for path in &pages {
        admin.goto(&app.url(path));
        admin.wait_until(path, Duration::from_secs(10), |b| b.exists_now("main h1"));
        let charts = admin.execute(CHART_RULES, vec![]);
        assert_eq!(charts, json!([]), "{path}: charts at 1440 px");
        let violations = axe_check(&admin);
        assert!(
            violations.is_empty(),
            "{path} (de, dark, 1440): {}",
            serious_violations_report(&violations)
        );
    }
}

/// Payments with the Stripe stand-in: the buy button lands on its Checkout page; once its
/// events arrive the plan says the subscription renews, and Manage billing opens its portal.
/// The billing parts of /plan and /pricing pass axe on a phone.
fn buy_a_subscription_and_manage_billing(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stand_in = rt.block_on(common::stripe::StandIn::start());
    stand_in.add_recurring("price_premium_month", 999, "month");
    let app = App::start_with(
        backend,
        &[
            ("MITAI_STRIPE_SECRET_KEY", common::stripe::KEY),
            (
                "MITAI_STRIPE_WEBHOOK_SECRET",
                common::stripe::WEBHOOK_SECRET,
            ),
            ("MITAI_STRIPE_API_BASE", &stand_in.base),
        ],
    );
    let (status, body) = app.api(
        "POST",
        "/api/admin/billing/prices",
        json!({"stripe_price_id": "price_premium_month", "tier": "premium"}),
    );
    assert_eq!(status, 201, "{body}");
    app.user("buyer@example.org");
    let driver = Driver::start();
    let b = driver.session(SessionOptions {
        javascript: true,
        width: 375,
        ..SessionOptions::default()
    });
    b.goto(&app.url("/pricing"));
    assert!(b.exists("a[href='/login?next=/pricing']"));
    let violations = axe_check(&b);
    assert!(
        violations.is_empty(),
        "/pricing: {}",
        serious_violations_report(&violations)
    );
    sign_in(&b, &app, "buyer@example.org");
    b.goto(&app.url("/plan"));
    let violations = axe_check(&b);
    assert!(
        violations.is_empty(),
        "/plan: {}",
        serious_violations_report(&violations)
    );
    b.find("form[action='/plan/checkout'] button[type=submit]")
        .click();
    b.wait_until("Stripe's Checkout", Duration::from_secs(10), |b| {
        b.url()
            .starts_with(&format!("{}/checkout/cs_", stand_in.base))
    });
    assert!(b.text_of("h1").starts_with("Checkout"));
    // Stripe's events arrive, signed, over HTTP.
    let session = b.url().rsplit('/').next().unwrap().to_owned();
    for event in stand_in.complete_checkout(&session, chrono::Utc::now()) {
        let body = event.to_string();
        let signature = common::stripe::signature(&body, chrono::Utc::now().timestamp());
        let request = format!(
            "POST /api/webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nStripe-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, _, answer) =
            common::process::raw(app.server.addr, request.as_bytes()).unwrap();
        assert_eq!(status, 200, "{answer}");
    }
    b.goto(&app.url("/plan?checkout=success"));
    assert!(b.exists("main [role=status]"));
    b.wait_until("the subscription", Duration::from_secs(10), |b| {
        b.goto(&app.url("/plan"));
        b.text_of("#billing").contains("renews on")
    });
    assert_eq!(b.text_of(".hero .big"), "Premium");
    let violations = axe_check(&b);
    assert!(
        violations.is_empty(),
        "/plan bought: {}",
        serious_violations_report(&violations)
    );
    b.find("form[action='/plan/billing'] button[type=submit]")
        .click();
    b.wait_until("Stripe's portal", Duration::from_secs(10), |b| {
        b.url()
            .starts_with(&format!("{}/portal/cus_", stand_in.base))
    });
    drop(rt);
}

/// The bell counts what is unread on every admin page; the list reads it in words; a
/// preference is chosen and kept; marking all read empties the bell.
fn the_bell_and_the_preferences(backend: Backend) {
    let app = App::start(backend);
    app.user("newcomer@example.org");
    // A sign-up made through the API raises a notification (the CLI's users do not).
    let (status, body) = app.api(
        "POST",
        "/api/auth/register",
        json!({"email": "signed-up@example.org", "password": "browser-pass-9", "name": "New"}),
    );
    assert_eq!(status, 201, "{body}");
    let driver = Driver::start();
    let b = session(&driver, true);
    sign_in_admin(&b, &app);
    b.wait_until("the bell", Duration::from_secs(10), |b| {
        b.goto(&app.url("/admin"));
        b.text_of(".bell .count") == "1"
    });
    assert!(b.find(".bell").attr("title").unwrap().contains("1 unread"));
    b.find(".bell").click();
    b.wait_until("the list", Duration::from_secs(10), |b| {
        b.url().ends_with("/admin/notifications")
    });
    assert!(
        b.text_of(".notices")
            .contains("New person: signed-up@example.org")
    );
    b.find("#pref-user_registered option[value=immediate]")
        .click();
    b.find("form[action='/admin/notifications/preferences'] button[type=submit]")
        .click();
    b.wait_until("saved", Duration::from_secs(10), |b| {
        b.exists_now("main [role=status]")
    });
    assert_eq!(
        b.execute(
            "return document.querySelector('#pref-user_registered').value",
            vec![]
        ),
        json!("immediate")
    );
    let violations = axe_check(&b);
    assert!(
        violations.is_empty(),
        "{}",
        serious_violations_report(&violations)
    );
    b.find("form[action='/admin/notifications/read-all'] button[type=submit]")
        .click();
    b.wait_until("all read", Duration::from_secs(10), |b| {
        b.text_of(".bell .count") == "0"
    });
}

macro_rules! on_both {
    ($($name:ident => $body:expr;)*) => {
        mod sqlite {
            use super::*;
            $(#[test] fn $name() { ($body)(Backend::Sqlite) })*
        }
        mod postgres {
            use super::*;
            $(#[test] fn $name() { ($body)(Backend::Postgres) })*
        }
    };
}

on_both! {
    sign_up_verify_and_sign_in => super::sign_up_verify_and_sign_in;
    weight_with_javascript => |b| super::add_list_and_delete_a_weight(b, true);
    weight_without_javascript => |b| super::add_list_and_delete_a_weight(b, false);
    gated_form_at_its_limit => super::a_gated_form_at_its_limit_writes_nothing;
    first_visit_on_a_phone => super::a_new_users_first_visit_on_a_phone;
    import_remind_and_leave => super::import_remind_and_leave;
    redeem_a_coupon => super::redeem_a_coupon_and_see_the_tier;
    german_ui => super::the_german_ui;
    cross_origin_form_post => super::a_cross_origin_form_post_is_refused;
    narrow_and_accessible => super::every_page_is_narrow_and_accessible;
    admin_grid_cell => super::admin_changes_a_cell_and_the_plan_follows;
    admin_coupon => super::admin_makes_a_coupon_that_a_user_redeems;
    admin_grant_pause_resume => super::admin_pauses_and_resumes_a_grant;
    admin_bad_setting => super::a_bad_setting_is_refused_at_its_field;
    admin_pages => super::every_admin_page_is_guarded_narrow_and_accessible;
    admin_reads_well => super::the_admin_side_reads_well;
    buy_and_manage_billing => super::buy_a_subscription_and_manage_billing;
    bell_and_preferences => super::the_bell_and_the_preferences;
}
