//! Every form of the web pages, posted with hostile values on both backends — NUL and other
//! control characters, 70,000 characters, `1e309`, `NaN`, impossible dates and invalid UTF-8
//! — in each of its fields in turn, the others as the page filled them in. The forms are found
//! by reading the pages (signed out, as a user and as an admin with some data), so a new form is
//! covered without a change here.
//!
//! No answer may be a 5xx. A refusal (4xx) changes nothing in the database but the record of
//! the attempt in the activity log (every table is compared, except the windows of the rate
//! limits, which count attempts before checking them, and the sessions' last use). A form whose
//! hostile field is not one it keeps (a `next` path, a filter) may go on, but nothing of the
//! hostile value reaches the database. Fields the page leaves empty get valid values, so that
//! the hostile field is the only thing wrong with a post.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mitai_server::service::credentials::token_hash;
use mitai_server::ui::csrf_token;
use mitai_store::Backend;
use serde_json::json;
use sqlx::{Connection, Row};

use crate::common::TestApp;

on_both_backends!(every_form_refuses_hostile_values_and_stores_nothing);

/// A form as a page shows it.
#[derive(Debug, Clone)]
struct Form {
    page: String,
    method: Method,
    action: String,
    multipart: bool,
    fields: Vec<Field>,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// `text`, `number`, `date`, `hidden`, `select`, `textarea`, `file`, `checkbox`, …
    kind: String,
    value: String,
}

/// The longest text a test value holds: far over every limit.
const LONG: usize = 70_000;

/// Hostile values for a field of this kind, as bytes (a form may carry invalid UTF-8).
fn hostile(field: &Field) -> Vec<(&'static str, Vec<u8>)> {
    let mut values: Vec<(&'static str, Vec<u8>)> = vec![
        ("NUL", b"a\0b".to_vec()),
        ("escape", b"\x1b[31mred".to_vec()),
        ("70,000 characters", "ä".repeat(LONG).into_bytes()),
        ("invalid UTF-8", b"\xff\xfe\xfd".to_vec()),
    ];
    let numeric = matches!(field.kind.as_str(), "number")
        || [
            "limit", "_kg", "_lb", "_cm", "_in", "_mm", "kcal", "_g", "minutes", "age", "days",
            "count",
        ]
        .iter()
        .any(|s| field.name.ends_with(s))
        || field.name.starts_with("limit.");
    if numeric || field.kind == "select" {
        values.push(("1e309", b"1e309".to_vec()));
        values.push(("NaN", b"NaN".to_vec()));
    }
    let date = field.kind == "date"
        || field.kind == "datetime-local"
        || [
            "date",
            "taken_on",
            "valid_until",
            "valid_from",
            "period_ends_at",
            "since",
        ]
        .contains(&field.name.as_str())
        || field.name.ends_with("_at");
    if date {
        values.push(("30 February", b"2026-02-30".to_vec()));
        values.push(("year 0", b"0000-00-00".to_vec()));
        values.push(("year 99999", b"99999-01-01T00:00".to_vec()));
    }
    values
}

async fn every_form_refuses_hostile_values_and_stores_nothing(backend: Backend) {
    // Payments on (against the Stripe stand-in), a price on sale: their forms are crawled too.
    let (app, _stand_in) = crate::billing::app(backend).await;
    let admin = app.admin().await;
    let (user, user_id) = app.user("someone@example.org").await;
    let fixtures = Fixtures::make(&app, &admin, &user_id).await;
    crate::billing::put_on_sale(&app, &admin).await;
    // The user types in pounds and inches: the forms' imperial fields are crawled too.
    let (status, _) = app
        .patch("/api/me", Some(&user), json!({"units": "imperial"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let admin_cookie = Session::of(&admin);
    let user_cookie = Session::of(&user);

    let mut pages: Vec<(Option<&Session>, String)> = vec![
        (None, "/pricing".into()),
        (None, "/login".into()),
        (None, "/register".into()),
        (None, "/forgot-password".into()),
        (None, "/reset-password?token=nothing".into()),
        (None, "/verify-email?token=nothing".into()),
    ];
    for path in [
        "/",
        "/weight",
        "/measurements",
        "/body-fat",
        "/nutrition",
        "/activity",
        "/photos",
        "/insights",
        "/plan",
        "/pricing",
        "/account",
    ] {
        pages.push((Some(&user_cookie), path.into()));
        pages.push((Some(&admin_cookie), path.into()));
    }
    for path in [
        "/admin".to_owned(),
        "/admin/limits".into(),
        "/admin/features".into(),
        "/admin/features/weight".into(),
        "/admin/tiers".into(),
        "/admin/tiers/basic".into(),
        "/admin/coupons".into(),
        format!("/admin/coupons/{}", fixtures.coupon),
        "/admin/users".into(),
        format!("/admin/users/{user_id}"),
        "/admin/activity".into(),
        "/admin/settings".into(),
        "/admin/mail".into(),
        "/admin/billing".into(),
        "/admin/notifications".into(),
    ] {
        pages.push((Some(&admin_cookie), path));
    }

    let mut db = Dump::open(&app).await;
    let mut forms = 0;
    let mut posts = 0;
    let mut actions = std::collections::BTreeSet::new();
    let mut tried = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    let mut visited = std::collections::BTreeSet::new();
    let mut field_names = std::collections::BTreeSet::new();
    let mut next = 0;
    while next < pages.len() {
        let (who, path) = pages[next].clone();
        next += 1;
        let (status, html) = get_page(&app, &path, who).await;
        assert!(!status.is_server_error(), "{path}: {status}");
        // An entry's edit page has a form of its own: the first one a page links is visited.
        if let Some(edit) = first_edit_link(&html)
            && visited.insert(normalized(&edit))
        {
            pages.push((who, edit));
        }
        for form in forms_of(&path, &html) {
            actions.insert(normalized(&form.action));
            field_names.extend(form.fields.iter().map(|f| f.name.clone()));
            // Signing out has no field a person types (and would end the crawl's session).
            if ["/logout", "/account/sessions"].contains(&form.action.as_str()) {
                continue;
            }
            // The same form on many pages (the language switch) is tried once per visitor.
            let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
            let key = format!(
                "{} {} {} {}",
                who.is_some_and(|w| std::ptr::eq(w, &admin_cookie)),
                form.method,
                normalized(&form.action),
                names.join(",")
            );
            if !tried.insert(key) {
                continue;
            }
            forms += 1;
            for (i, field) in form.fields.iter().enumerate() {
                if field.kind == "submit" {
                    continue;
                }
                for (what, value) in hostile(field) {
                    posts += 1;
                    let before = db.snapshot().await;
                    let (status, body) = submit(&app, who, &form, i, &value).await;
                    let context = format!(
                        "{} {} (from {}), field {} = {what}",
                        form.method, form.action, form.page, field.name
                    );
                    if status.is_server_error() {
                        problems.push(format!("{context}: answered {status}: {}", excerpt(&body)));
                        continue;
                    }
                    let after = db.snapshot().await;
                    for row in changed(&before, &after) {
                        if status.is_client_error() {
                            // A refusal may record the attempt (`login_failed`, `coupon_failed`),
                            // and nothing else.
                            if !row.starts_with("user_activity_log: +") || holds_hostile(&row) {
                                problems.push(format!(
                                    "{context}: refused with {status} but the database changed: {}",
                                    excerpt(row.as_bytes())
                                ));
                            }
                        } else if row.contains(": +") && holds_hostile(&row) {
                            problems.push(format!(
                                "{context}: answered {status} and stored {}",
                                excerpt(row.as_bytes())
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {posts} hostile posts went wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for name in [
        "weight_kg",
        "weight_lb",
        "waist",
        "waist_in",
        "height_in",
        "goal_weight_lb",
    ] {
        assert!(field_names.contains(name), "no form has the field {name}");
    }
    // The crawl really found the forms (a broken parser would find none and pass).
    for expected in [
        "/login",
        "/register",
        "/forgot-password",
        "/weight",
        "/weight/import",
        "/weight/{id}/delete",
        "/weight/{id}/edit",
        "/measurements/{id}/edit",
        "/body-fat/{id}/edit",
        "/nutrition/{id}/edit",
        "/activity/{id}/edit",
        "/measurements",
        "/body-fat",
        "/nutrition",
        "/activity",
        "/photos",
        "/photos/{id}/delete",
        "/insights",
        "/plan/redeem",
        "/account/profile",
        "/account/password",
        "/account/invitations",
        "/language",
        "/admin/limits",
        "/admin/features/weight",
        "/admin/tiers/basic",
        "/admin/coupons",
        "/admin/coupons/batch",
        "/admin/coupons/{id}",
        "/admin/users",
        "/admin/users/{id}",
        "/admin/users/{id}/grants",
        "/admin/users/{id}/restrictions/{id}",
        "/admin/grants/{id}/pause",
        "/admin/activity",
        "/admin/settings/trial_days",
        "/admin/features",
        "/admin/tiers",
    ] {
        assert!(
            actions.contains(expected),
            "no form posts to {expected}; found {actions:?}"
        );
    }
    eprintln!("{backend:?}: {forms} forms, {posts} hostile posts");
}

/// An action with its ids (UUIDs, feature ids of restrictions) replaced by `{id}`.
fn normalized(action: &str) -> String {
    let path = action.split('?').next().unwrap_or(action);
    path.split('/')
        .enumerate()
        .map(|(i, part)| {
            let restriction = i == 5 && path.contains("/restrictions/");
            if uuid::Uuid::parse_str(part).is_ok() || restriction {
                "{id}".to_owned()
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Rows of `after` that are not in `before`, and rows gone.
fn changed(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (table, rows) in after {
        let old = before.get(table).cloned().unwrap_or_default();
        for row in rows {
            if !old.contains(row) {
                out.push(format!("{table}: +{row}"));
            }
        }
        for row in &old {
            if !rows.contains(row) {
                out.push(format!("{table}: -{row}"));
            }
        }
    }
    out
}

/// Whether a stored row holds a hostile value (or a trace of one).
fn holds_hostile(row: &str) -> bool {
    let number = row
        .split(|c: char| "|,()\"':{}[] ".contains(c))
        .any(|token| {
            ["nan", "inf", "-inf", "infinity", "-infinity", "1e309"]
                .iter()
                .any(|bad| token.eq_ignore_ascii_case(bad))
        });
    number
        || row.contains('\0')
        || row.contains("<NUL>")
        || row.contains("\\u0000")
        || row.contains('\u{1b}')
        || row.contains("\\u001b")
        || row.contains(&"ä".repeat(1000))
        || row.contains('\u{fffd}')
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text: String = text.chars().take(300).collect();
    text.replace('\0', "\\0")
}

/// What the pages need to show all their forms: entries of every kind and a photo of the
/// admin, a coupon, and a grant and a personal limit of the user.
struct Fixtures {
    coupon: String,
}

impl Fixtures {
    async fn make(app: &TestApp, admin: &str, user_id: &str) -> Fixtures {
        for who in [admin] {
            for (path, body) in [
                (
                    "/api/weight",
                    json!({"date": "2026-01-02", "weight_kg": 80.5, "note": "n"}),
                ),
                (
                    "/api/circumference",
                    json!({"date": "2026-01-02", "waist": 90}),
                ),
                (
                    "/api/caliper",
                    json!({"date": "2026-01-02", "method": "jp3", "sex": "male", "age": 40,
                           "sites": {"chest": 10, "abdomen": 20, "thigh": 15}}),
                ),
                (
                    "/api/nutrition",
                    json!({"date": "2026-01-02", "kcal": 2000, "protein_g": 100, "carbs_g": 200, "fat_g": 70}),
                ),
                (
                    "/api/activity",
                    json!({"date": "2026-01-02", "kind": "run", "minutes": 30}),
                ),
            ] {
                let (status, body) = app.post(path, Some(who), body).await;
                assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
            }
            upload_photo(app, who).await;
        }
        let (status, coupon) = app
            .post(
                "/api/admin/coupons",
                Some(admin),
                json!({"kind": "single_use", "tier": "premium", "duration_days": 30, "campaign": "spring"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{coupon}");
        let (status, grant) = app
            .post(
                &format!("/api/admin/users/{user_id}/grants"),
                Some(admin),
                json!({"tier": "premium", "days": 10}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{grant}");
        app.restrict(admin, user_id, "photos", json!(3)).await;
        Fixtures {
            coupon: coupon["id"].as_str().expect("coupon id").to_owned(),
        }
    }
}

fn png() -> Vec<u8> {
    crate::common::png(8, 6)
}

async fn upload_photo(app: &TestApp, token: &str) {
    let boundary = "hostile-forms-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&png());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::post("/api/photos")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let (status, _, answer) = app.send(request).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// A signed-in browser: its session cookie and the CSRF token of its forms.
struct Session {
    cookie: String,
}

impl Session {
    fn of(token: &str) -> Session {
        // The CSRF token comes with each form (a hidden field), so only the cookie is kept.
        let _ = csrf_token(&token_hash(token));
        Session {
            cookie: format!("mitai_session={token}"),
        }
    }
}

async fn get_page(app: &TestApp, path: &str, who: Option<&Session>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(who) = who {
        request = request.header(header::COOKIE, &who.cookie);
    }
    let (status, _, body) = app.send(request.body(Body::empty()).unwrap()).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A valid value for a field the page leaves empty, so that the hostile field is the only
/// thing wrong with a post (a note is checked only when the rest of its entry is valid).
fn sample(name: &str, action: &str) -> Option<&'static str> {
    Some(match name {
        "email" if action == "/login" || action == "/forgot-password" => "someone@example.org",
        "email" if action == "/register" => "newcomer@example.org",
        "email" => "friend@example.org",
        "password" | "new_password" => "password123",
        "current_password" => "adminpass1",
        "name" => "A name",
        "weight_kg" => "80.5",
        "weight_lb" | "goal_weight_lb" => "177.5",
        "goal_weight_kg" => "75",
        "height_cm" => "175",
        "height_in" => "69",
        "neck" | "waist" | "hip" | "arm" | "calf" => "40",
        "neck_in" | "chest_in" | "waist_in" | "hip_in" | "thigh_in" | "arm_in" | "calf_in" => "16",
        "chest" | "abdomen" | "thigh" | "triceps" | "suprailiac" | "midaxillary"
        | "subscapular" => "12",
        "age" => "40",
        "kcal" => "2000",
        "protein_g" | "carbs_g" | "fat_g" => "50",
        "kind" if action == "/activity" => "yoga",
        "minutes" => "30",
        "question" => "How am I doing?",
        "limit" => "5",
        "reason" => "testing",
        "days" | "duration_days" => "7",
        "count" => "2",
        "campaign" => "spring",
        "id" => "hostile_test",
        "label" | "description" | "category" => "test",
        _ => return None,
    })
}

/// Sends `form` with field `hostile_at` set to `value`, the others as the page had them.
async fn submit(
    app: &TestApp,
    who: Option<&Session>,
    form: &Form,
    hostile_at: usize,
    value: &[u8],
) -> (StatusCode, Vec<u8>) {
    let fields: Vec<(&str, &str, Vec<u8>)> = form
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind != "submit")
        .map(|(i, f)| {
            let v = if i == hostile_at {
                value.to_vec()
            } else if f.value.is_empty() {
                sample(&f.name, &form.action)
                    .unwrap_or("")
                    .as_bytes()
                    .to_vec()
            } else {
                f.value.as_bytes().to_vec()
            };
            (f.name.as_str(), f.kind.as_str(), v)
        })
        .collect();
    let mut request = Request::builder().method(form.method.clone());
    if let Some(who) = who {
        request = request.header(header::COOKIE, &who.cookie);
    }
    let request = if form.method == Method::GET {
        let query = fields
            .iter()
            .map(|(name, _, v)| format!("{}={}", encode(name.as_bytes()), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if form.action.contains('?') { '&' } else { '?' };
        request
            .uri(format!("{}{sep}{query}", form.action))
            .body(Body::empty())
    } else if form.multipart {
        let boundary = "hostile-forms-boundary";
        let mut body = Vec::new();
        for (name, kind, v) in &fields {
            if *kind == "file" {
                // The file field: a real image for photos, a CSV carrying the value for an
                // import (unless the hostile value is the file's place itself).
                let (filename, content) = if form.action.starts_with("/photos") {
                    ("a.png", if v.is_empty() { png() } else { v.clone() })
                } else {
                    let mut csv = b"date,weight_kg,note\n2026-01-05,81,".to_vec();
                    csv.extend_from_slice(v);
                    csv.extend_from_slice(b"\n");
                    ("weights.csv", csv)
                };
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                         filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&content);
                body.extend_from_slice(b"\r\n");
            } else {
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(v);
                body.extend_from_slice(b"\r\n");
            }
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        request
            .uri(&form.action)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
    } else {
        let body = fields
            .iter()
            .map(|(name, _, v)| format!("{}={}", encode(name.as_bytes()), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        request
            .uri(&form.action)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
    };
    // A query of 70,000 characters is longer than a URI may be: no browser sends it.
    let Ok(request) = request else {
        return (StatusCode::URI_TOO_LONG, Vec::new());
    };
    let (status, _, body) = app.send(request).await;
    (status, body.to_vec())
}

fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// --- reading forms out of a page ----------------------------------------------------------

/// The forms of a page, with their fields as filled in.
/// The target of the first `<a rel="edit" … href="…">` of a page.
fn first_edit_link(html: &str) -> Option<String> {
    let at = html.find(r#"rel="edit""#)?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[at..tag_end];
    let start = tag.find(r#"href=""#)? + 6;
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].replace("&amp;", "&"))
}

fn forms_of(page: &str, html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let after = &rest[start..];
        let Some(end) = after.find("</form>") else {
            break;
        };
        let inner = &after[..end];
        let tag_end = inner.find('>').unwrap_or(inner.len());
        let tag = &inner[..tag_end];
        let method = match attr(tag, "method").map(|m| m.to_ascii_lowercase()) {
            Some(m) if m == "post" => Method::POST,
            _ => Method::GET,
        };
        let action = attr(tag, "action").unwrap_or_else(|| page.to_owned());
        let multipart = attr(tag, "enctype").is_some_and(|e| e.contains("multipart"));
        forms.push(Form {
            page: page.to_owned(),
            method,
            action,
            multipart,
            fields: fields_of(&inner[tag_end..]),
        });
        rest = &after[end..];
    }
    forms
}

fn fields_of(html: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut at = 0;
    while let Some(open) = html[at..].find('<') {
        let start = at + open;
        let tag_end = start + html[start..].find('>').unwrap_or(html.len() - start);
        let tag = &html[start..tag_end];
        let lower = tag.to_ascii_lowercase();
        at = tag_end.min(html.len() - 1) + 1;
        let Some(name) = attr(tag, "name") else {
            continue;
        };
        if lower.starts_with("<input") {
            let kind = attr(tag, "type").unwrap_or_else(|| "text".into());
            if (kind == "checkbox" || kind == "radio") && !lower.contains(" checked") {
                continue;
            }
            let value = attr(tag, "value").unwrap_or_else(|| {
                if kind == "checkbox" {
                    "on".into()
                } else {
                    String::new()
                }
            });
            fields.push(Field { name, kind, value });
        } else if lower.starts_with("<textarea") {
            let close = html[at..].find("</textarea>").map_or(at, |i| at + i);
            let value = unescape(&html[at..close]);
            fields.push(Field {
                name,
                kind: "textarea".into(),
                value,
            });
        } else if lower.starts_with("<select") {
            let close = html[at..].find("</select>").map_or(at, |i| at + i);
            let options = &html[at..close];
            let mut value = None;
            let mut first = None;
            let mut o = 0;
            while let Some(i) = options[o..].find("<option") {
                let s = o + i;
                let e = s + options[s..].find('>').unwrap_or(0);
                let option = &options[s..e];
                let v = attr(option, "value").unwrap_or_default();
                if first.is_none() {
                    first = Some(v.clone());
                }
                if option.contains(" selected") {
                    value = Some(v);
                }
                o = e + 1;
            }
            fields.push(Field {
                name,
                kind: "select".into(),
                value: value.or(first).unwrap_or_default(),
            });
        } else if lower.starts_with("<button")
            && let Some(value) = attr(tag, "value")
        {
            fields.push(Field {
                name,
                kind: "submit".into(),
                value,
            });
        }
    }
    // A button with a name and value is sent as a field of its own (the first one).
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for f in fields {
        if f.kind == "submit" {
            if seen.insert(f.name.clone()) {
                out.push(Field {
                    kind: "hidden".into(),
                    ..f
                });
            }
        } else {
            out.push(f);
        }
    }
    out
}

/// The value of attribute `name` of an HTML tag, unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut i = 0;
    while let Some(found) = tag[i..].find(name) {
        let at = i + found;
        i = at + name.len();
        let before_ok = at > 0 && (bytes[at - 1] as char).is_ascii_whitespace();
        let rest = &tag[at + name.len()..];
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = &rest[1..];
        let (quote, rest) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &rest[1..]),
            _ => (None, rest),
        };
        let end = match quote {
            Some(q) => rest.find(q).unwrap_or(rest.len()),
            None => rest.find([' ', '>']).unwrap_or(rest.len()),
        };
        return Some(unescape(&rest[..end]));
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// --- the database as text --------------------------------------------------------------------

/// Every row of every table as text, to compare before and after a post.
struct Dump {
    conn: Conn,
}

enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// Tables that change by design on any request: the windows of the rate limits (attempts are
/// counted before they are checked), the sessions' last use and the per-profile statistics
/// (last active) — and the admin notifications, raised in a task of their own a moment
/// after the request that caused them (an earlier, accepted post's may land during a later
/// one).
const VOLATILE: [&str; 4] = ["rate_limits", "sessions", "user_stats", "notifications"];

impl Dump {
    async fn open(app: &TestApp) -> Dump {
        let conn = if app.db.url.starts_with("sqlite:") {
            Conn::Sqlite(
                sqlx::SqliteConnection::connect(&app.db.url)
                    .await
                    .expect("sqlite"),
            )
        } else {
            Conn::Postgres(
                sqlx::PgConnection::connect(&app.db.url)
                    .await
                    .expect("postgres"),
            )
        };
        Dump { conn }
    }

    async fn snapshot(&mut self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        match &mut self.conn {
            Conn::Postgres(c) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
                       AND table_name NOT LIKE '\\_sqlx%'",
                )
                .fetch_all(&mut *c)
                .await
                .expect("tables");
                for t in tables
                    .into_iter()
                    .filter(|t| !VOLATILE.contains(&t.as_str()))
                {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT x::text FROM {t} x ORDER BY 1"))
                            .fetch_all(&mut *c)
                            .await
                            .expect("rows");
                    out.insert(t, rows);
                }
            }
            Conn::Sqlite(c) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
                )
                .fetch_all(&mut *c)
                .await
                .expect("tables");
                for t in tables
                    .into_iter()
                    .filter(|t| !VOLATILE.contains(&t.as_str()))
                {
                    let columns: Vec<String> =
                        sqlx::query(&format!("SELECT name FROM pragma_table_info('{t}')"))
                            .fetch_all(&mut *c)
                            .await
                            .expect("columns")
                            .iter()
                            .map(|r| r.get::<String, _>(0))
                            .collect();
                    // A NUL inside a text shows as `<NUL>` (SQLite's text functions stop at it).
                    let text = columns
                        .iter()
                        .map(|col| {
                            format!(
                                "CASE WHEN instr(CAST(\"{col}\" AS BLOB), X'00') > 0 \
                                 THEN '<NUL>' ELSE quote(\"{col}\") END"
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" || '|' || ");
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT {text} FROM \"{t}\" ORDER BY 1"))
                            .fetch_all(&mut *c)
                            .await
                            .expect("rows");
                    out.insert(t, rows);
                }
            }
        }
        out
    }
}
