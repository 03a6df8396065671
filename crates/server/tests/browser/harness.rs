//! The browser harness itself (tests/common/browser.rs), against small static pages served
//! from a plain std TcpListener: sessions with and without JavaScript, elements, forms,
//! history, cookies, language, window sizes, screenshots and the axe-core check.

use crate::common::browser::{Driver, SessionOptions, axe_check, serious_violations_report};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

const HEAD: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">"#;

/// The base URL of the static test site, started once for the whole file.
fn site() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        base
    })
}

fn serve(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&raw).into_owned();
    let target = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let header = |name: &str| {
        request
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let mut extra = String::new();
    let (status, body) = match path {
        "/script" => (
            "200 OK",
            format!(
                r#"{HEAD}<title>Script</title></head><body><main>
<p id="out">script did not run</p>
<script>document.getElementById('out').textContent = 'script ran';</script>
</main></body></html>"#
            ),
        ),
        "/form" => (
            "200 OK",
            format!(
                r#"{HEAD}<title>Form</title></head><body><main><h1>Form</h1>
<form action="/submitted" method="get">
  <label for="name">Name</label> <input id="name" name="name" autocomplete="off">
  <button type="submit" id="send">Send</button>
  <button type="button" id="off" disabled>Unavailable</button>
</form>
<ul><li>one</li><li>two</li><li>three</li></ul>
<p id="out">nothing yet</p>
</main></body></html>"#
            ),
        ),
        "/submitted" => {
            let name = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("name="))
                .map(url_decode)
                .unwrap_or_default();
            (
                "200 OK",
                format!(
                    r#"{HEAD}<title>Submitted</title></head><body><main>
<p id="out">Hello, {}</p></main></body></html>"#,
                    html_escape(&name)
                ),
            )
        }
        "/cookie" => {
            extra.push_str("Set-Cookie: flavour=oat; Path=/; SameSite=Lax\r\n");
            (
                "200 OK",
                format!(r#"{HEAD}<title>Cookie</title></head><body><p>set</p></body></html>"#),
            )
        }
        "/headers" => (
            "200 OK",
            format!(
                r#"{HEAD}<title>Headers</title></head><body><p id="out">{}</p></body></html>"#,
                html_escape(&header("accept-language"))
            ),
        ),
        "/responsive" => (
            "200 OK",
            format!(
                r#"{HEAD}<title>Responsive</title>
<style>body {{ margin: 0; font-family: sans-serif; }} main {{ max-width: 40rem; padding: 1rem; }}
img {{ max-width: 100%; }}</style></head><body><main><h1>Responsive</h1>
<p>Text that wraps at any width, and a box that shrinks with the window.</p>
<div style="width: 100%; height: 50px; background: #369"></div></main></body></html>"#
            ),
        ),
        "/wide" => (
            "200 OK",
            format!(
                r#"{HEAD}<title>Wide</title></head><body>
<div style="width: 1000px; height: 50px; background: #963">fixed 1000 px</div></body></html>"#
            ),
        ),
        "/a11y-good" => (
            "200 OK",
            format!(
                r#"{HEAD}<title>Accessible</title></head><body>
<header><nav aria-label="Main"><a href="/a11y-good">Home</a></nav></header>
<main><h1>Accessible page</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A tiny picture" width="10" height="10">
<form action="/submitted"><label for="q">Search</label> <input id="q" name="name">
<button type="submit">Go</button></form></main></body></html>"#
            ),
        ),
        "/a11y-bad" => (
            "200 OK",
            r#"<!doctype html><html><head><meta charset="utf-8"><title>Broken</title></head><body>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="10" height="10">
<input name="unlabelled">
</body></html>"#
                .to_owned(),
        ),
        _ => ("404 Not Found", "not found".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn url(path: &str) -> String {
    format!("{}{path}", site())
}

#[test]
fn javascript_on_runs_page_scripts() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions::default());
    browser.goto(&url("/script"));
    assert_eq!(browser.text_of("#out"), "script ran");
    assert_eq!(browser.title(), "Script");
    assert_eq!(browser.url(), url("/script"));
    assert!(browser.source().contains("id=\"out\""));
    assert_eq!(
        browser.execute(
            "return arguments[0] + arguments[1]",
            vec![json!(2), json!(3)]
        ),
        json!(5)
    );
    assert_eq!(
        browser.execute_async(
            "const done = arguments[arguments.length - 1]; setTimeout(() => done('later'), 50);",
            vec![]
        ),
        json!("later")
    );
}

#[test]
fn javascript_off_blocks_page_scripts() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions {
        javascript: false,
        ..SessionOptions::default()
    });
    browser.goto(&url("/script"));
    assert_eq!(browser.text_of("#out"), "script did not run");
    // WebDriver's own scripts still run.
    assert!(browser.exists_now("#out"));
    // A form still submits the old way: a click on its submit button.
    browser.goto(&url("/form"));
    let input = browser.find("#name");
    input.send_keys("Grace");
    input.submit_form();
    assert_eq!(browser.text_of("#out"), "Hello, Grace");
    assert_eq!(browser.url(), url("/submitted?name=Grace"));
}

#[test]
fn elements_forms_and_history() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions::default());
    browser.goto(&url("/form"));
    let input = browser.find("input#name");
    assert_eq!(input.attr("name").as_deref(), Some("name"));
    assert_eq!(input.attr("placeholder"), None);
    input.send_keys("typo");
    assert_eq!(input.property("value"), json!("typo"));
    input.clear();
    assert_eq!(input.property("value"), json!(""));
    input.send_keys("Ada & <Lovelace>");
    let form = browser.find("form");
    assert_eq!(form.find("label").text(), "Name");
    assert!(form.find("#send").is_enabled());
    assert!(!browser.find("#off").is_enabled());
    assert_eq!(browser.find_all("li").len(), 3);
    assert_eq!(
        browser
            .find_all("li")
            .iter()
            .map(|li| li.text())
            .collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    assert!(browser.exists_now("#send"));
    assert!(!browser.exists_now("#nothing-here"));
    assert!(!browser.exists("#nothing-here"));
    assert!(browser.exists("li"));

    browser.find("#send").click();
    browser.wait_until("the submitted page", Duration::from_secs(5), |b| {
        b.url().contains("/submitted")
    });
    assert_eq!(browser.text_of("#out"), "Hello, Ada & <Lovelace>");
    browser.back();
    assert_eq!(browser.url(), url("/form"));
    browser.refresh();
    assert_eq!(browser.title(), "Form");
}

#[test]
#[should_panic(expected = "#does-not-exist")]
fn find_panics_naming_the_selector() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions::default());
    browser.goto(&url("/form"));
    browser.find("#does-not-exist");
}

#[test]
fn cookies_and_language() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions {
        language: Some("de".into()),
        ..SessionOptions::default()
    });
    browser.goto(&url("/cookie"));
    let cookies = browser.cookies();
    assert!(
        cookies
            .iter()
            .any(|c| c["name"] == "flavour" && c["value"] == "oat"),
        "{cookies:?}"
    );
    browser.delete_cookies();
    assert!(browser.cookies().is_empty());

    browser.goto(&url("/headers"));
    let accept = browser.text_of("#out");
    assert!(accept.starts_with("de"), "Accept-Language: {accept}");
    let language = browser.execute("return navigator.language", vec![]);
    assert!(
        language.as_str().is_some_and(|l| l.starts_with("de")),
        "{language}"
    );
}

#[test]
fn narrow_window_and_screenshot() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions {
        width: 375,
        height: 800,
        ..SessionOptions::default()
    });
    let scroll_width = || {
        browser
            .execute("return document.documentElement.scrollWidth", vec![])
            .as_u64()
            .expect("a number")
    };
    browser.goto(&url("/responsive"));
    assert_eq!(
        browser.execute("return window.innerWidth", vec![]),
        json!(375)
    );
    assert!(scroll_width() <= 375, "scrollWidth {}", scroll_width());
    // The measurement does catch a page that is too wide.
    browser.goto(&url("/wide"));
    assert!(scroll_width() > 375, "scrollWidth {}", scroll_width());

    browser.set_window_size(1024, 700);
    browser.goto(&url("/responsive"));
    let width = browser
        .execute(
            "return Math.round(window.innerWidth * window.devicePixelRatio)",
            vec![],
        )
        .as_u64()
        .unwrap();
    assert_eq!(width, 1024);
    let png = browser.screenshot_png();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // IHDR: the width is the big-endian u32 at bytes 16..20.
    let png_width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(u64::from(png_width), width);
}

#[test]
fn axe_passes_an_accessible_page_and_flags_a_broken_one() {
    let driver = Driver::start();
    let browser = driver.session(SessionOptions::default());
    browser.goto(&url("/a11y-good"));
    let good = axe_check(&browser);
    assert!(good.is_empty(), "{}", serious_violations_report(&good));

    browser.goto(&url("/a11y-bad"));
    let bad = axe_check(&browser);
    let ids: Vec<&str> = bad.iter().filter_map(|v| v["id"].as_str()).collect();
    assert!(ids.contains(&"image-alt"), "{ids:?}");
    assert!(ids.contains(&"label"), "{ids:?}");
    let report = serious_violations_report(&bad);
    assert!(report.contains("image-alt (critical)"), "{report}");
    assert!(
        report.contains("at input: <input name=\"unlabelled\">"),
        "{report}"
    );
}
