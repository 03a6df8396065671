//! The web UI through the router (no browser): redirects to sign in, the CSRF token of
//! forms, a form sent twice creating one entry, messages at fields, the CSV import refused
//! whole at the limit, the languages, the error pages and the security headers.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mitai_server::service::credentials::token_hash;
use mitai_server::ui::csrf_token;
use mitai_store::Backend;
use serde_json::{Value, json};

/// A signed-in browser: the session cookie and the CSRF token of its forms.
struct Browser {
    cookie: String,
    csrf: String,
    token: String,
}

async fn browser(app: &TestApp, email: &str) -> Browser {
    let (token, _) = app.user(email).await;
    Browser {
        cookie: format!("mitai_session={token}"),
        csrf: csrf_token(&token_hash(&token)),
        token,
    }
}

async fn page(
    app: &TestApp,
    path: &str,
    who: Option<&Browser>,
) -> (StatusCode, String, axum::http::HeaderMap) {
    let mut request = Request::get(path);
    if let Some(b) = who {
        request = request.header(header::COOKIE, &b.cookie);
    }
    let (status, headers, body) = app.send(request.body(Body::empty()).unwrap()).await;
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

async fn post_form(
    app: &TestApp,
    path: &str,
    who: &Browser,
    fields: &[(&str, &str)],
) -> (StatusCode, String, axum::http::HeaderMap) {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let request = Request::post(path)
        .header(header::COOKIE, &who.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn weights(app: &TestApp, who: &Browser) -> Vec<Value> {
    let (_, list) = app.get("/api/weight?limit=500", Some(&who.token)).await;
    list["items"].as_array().unwrap().clone()
}

async fn pages_need_a_session_and_come_back_after_it(backend: Backend) {
    let app = TestApp::new(backend).await;
    for path in ["/", "/weight?range=90d", "/plan", "/account"] {
        let (status, _, headers) = page(&app, path, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        let location = headers[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{location}");
    }
    // Signing in goes to `next` — only on this site.
    app.register_user("back@example.org").await;
    for (next, lands) in [
        ("/weight%3Frange%3D90d", "/weight?range=90d"),
        ("%2F%2Fevil.example", "/"),
    ] {
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "email=back%40example.org&password=password123&next={next}"
            )))
            .unwrap();
        let (status, headers, _) = app.send(request).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], lands);
        let cookie = headers[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.starts_with("mitai_session=") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
    }
    // Wrong password: the page again with the message, the address kept.
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            "email=back%40example.org&password=nope&next=%2F",
        ))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("role=\"alert\"") && body.contains("value=\"back@example.org\""));
}

async fn forms_need_their_csrf_token(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "csrf@example.org").await;
    let fields = [("date", "2026-01-02"), ("weight_kg", "70")];
    let (status, body, _) = post_form(&app, "/weight", &who, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("<html") && body.contains("Not allowed"));
    let (status, _, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", "0123456789abcdef0123456789abcdef"),
            fields[0],
            fields[1],
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(weights(&app, &who).await.is_empty());
    let (status, _, _) = post_form(
        &app,
        "/weight",
        &who,
        &[("_csrf", &who.csrf), fields[0], fields[1]],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(weights(&app, &who).await.len(), 1);
}

async fn a_form_sent_twice_creates_one_entry(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "twice@example.org").await;
    let fields = [
        ("_csrf", who.csrf.as_str()),
        ("idempotency_key", "form-rendering-1"),
        ("date", "2026-01-03"),
        ("weight_kg", "71,5"),
    ];
    for _ in 0..3 {
        let (status, _, headers) = post_form(&app, "/weight", &who, &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/weight?done=entry_added");
    }
    let list = weights(&app, &who).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["weight_kg"], 71.5, "the decimal comma was read");
    let (_, access) = app.get("/api/me/access/weight", Some(&who.token)).await;
    assert_eq!(access["used"], 1);
}

async fn bad_values_get_messages_at_their_fields(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "fields@example.org").await;
    let (status, body, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("date", "2026-01-03"),
            ("weight_kg", "12kg"),
            ("note", "kept"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("id=\"e-weight_kg\"") && body.contains("role=\"alert\""),
        "{body}"
    );
    assert!(
        body.contains("value=\"12kg\"") && body.contains("value=\"kept\""),
        "refilled"
    );
    let (status, body, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("date", "1800-01-01"),
            ("weight_kg", "5000"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-date\"") && body.contains("id=\"e-weight_kg\""));
    assert!(weights(&app, &who).await.is_empty());
    // German messages for a German profile.
    let (status, _, _) = post_form(
        &app,
        "/account/profile",
        &who,
        &[("_csrf", &who.csrf), ("name", "Fritz"), ("language", "de")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("date", "2026-01-03"),
            ("weight_kg", "5000"),
        ],
    )
    .await;
    assert!(
        body.contains("<html lang=\"de\">") && body.contains("Erlaubt sind Werte von 20 bis 500"),
        "{body}"
    );
}

async fn the_import_is_refused_whole_at_the_limit(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let who = browser(&app, "import@example.org").await;
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    let id = me["profile"]["id"].as_str().unwrap().to_owned();
    app.put(
        &format!("/api/admin/users/{id}/restrictions/weight"),
        Some(&admin),
        json!({"limit": 3, "reason": "import test"}),
    )
    .await;
    let upload = |csv: &str| {
        let boundary = "b0undary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n",
            who.csrf
        );
        Request::post("/weight/import")
            .header(header::COOKIE, &who.cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    };
    async fn used(app: &TestApp, token: &str) -> i64 {
        let (_, access) = app.get("/api/me/access/weight", Some(token)).await;
        access["used"].as_i64().unwrap()
    }
    // A bad line is refused and named; the good one is added.
    let (status, _, body) = app
        .send(upload("date,weight_kg\n2026-01-01,70\n2026-01-02,heavy\n"))
        .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("2 lines read: 1 added, 0 already there, 1 refused."),
        "{body}"
    );
    assert!(body.contains("Line 3: "), "{body}");
    assert_eq!(weights(&app, &who).await.len(), 1);
    assert_eq!(used(&app, &who.token).await, 1);
    // Four new lines against the two left of a limit of three: refused whole.
    let four = "2026-01-03,70\n2026-01-04;70,5;semicolon\n05.01.2026,71\n2026-01-06,71.5\n";
    let (status, _, body) = app.send(upload(four)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("/plan"), "{body}");
    assert_eq!(weights(&app, &who).await.len(), 1);
    assert_eq!(used(&app, &who.token).await, 1);
    // Two new ones and one already there fit: only the new ones count.
    let three = "2026-01-01,70.0\n2026-01-04;70,5;semicolon\n05.01.2026,71\n";
    let (status, _, body) = app.send(upload(three)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("3 lines read: 2 added, 1 already there, 0 refused."),
        "{body}"
    );
    let list = weights(&app, &who).await;
    assert_eq!(list.len(), 3);
    assert!(
        list.iter()
            .any(|w| w["weight_kg"] == 70.5 && w["note"] == "semicolon")
    );
    // The same file again adds nothing and spends nothing, even at the limit.
    let (status, _, body) = app.send(upload(three)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("3 lines read: 0 added, 3 already there"),
        "{body}"
    );
    assert_eq!(used(&app, &who.token).await, 3);
    // openScale's and Libra's exports.
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(me["profile"]["id"], id.as_str());
    app.put(
        &format!("/api/admin/users/{id}/restrictions/weight"),
        Some(&admin),
        json!({"limit": null, "reason": "import test"}),
    )
    .await;
    let openscale = "\"bone\",\"comment\",\"dateTime\",\"fat\",\"weight\"\n\
                     1.0,\"morning\",\"10.01.2026 07:45\",20.0,69.5\n\
                     1.0,\"\",\"11.01.2026 07:40\",20.0,69.4\n";
    let (status, _, body) = app.send(upload(openscale)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("2 lines read: 2 added"), "{body}");
    let libra = "#Version: 6\n#Units: lbs\n\n\
                 #date;weight;weight trend;body fat;body fat trend;muscle mass;muscle mass trend;log\n\
                 2026-01-12T06:19:20.000Z;152.0;152.0;;;;;fasted\n\
                 2026-01-13T06:07:48.000Z;151.6\n\
                 2026-13-14T06:07:48.000Z;151.6\n";
    let (status, _, body) = app.send(upload(libra)).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("3 lines read: 2 added, 0 already there, 1 refused."),
        "{body}"
    );
    assert!(body.contains("Line 7: "), "{body}");
    let list = weights(&app, &who).await;
    assert!(
        list.iter().any(|w| w["date"] == "2026-01-12"
            && w["weight_kg"] == 68.946
            && w["note"] == "fasted"),
        "{list:?}"
    );
}

async fn languages_error_pages_and_headers(backend: Backend) {
    let app = TestApp::new(backend).await;
    let request = Request::get("/login")
        .header(header::ACCEPT_LANGUAGE, "de-DE,de;q=0.9,en;q=0.5")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<html lang=\"de\">") && body.contains("Anmelden"));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    // The cookie of the language switch wins over the header.
    let request = Request::get("/login")
        .header(header::ACCEPT_LANGUAGE, "de")
        .header(header::COOKIE, "mitai_lang=en")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = app.send(request).await;
    assert!(String::from_utf8_lossy(&body).contains("<html lang=\"en\">"));
    // A page that does not exist: the 404 page, in the layout; the API keeps its JSON.
    let (status, body, headers) = page(&app, "/no/such/page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("Page not found") && body.contains("<header"));
    let (status, body) = app.get("/api/no/such", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // Assets: cached for a year under their hash; an old hash is gone.
    let (_, body, _) = page(&app, "/login", None).await;
    let css = body
        .split("href=\"")
        .find(|s| s.starts_with("/assets/"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, headers) = page(&app, &css, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let (status, _, _) = page(&app, "/assets/000000000000/app.css", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn every_page_renders_for_a_user_with_data(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "full@example.org").await;
    for (path, body) in [
        (
            "/api/weight",
            json!({"date": "2026-01-01", "weight_kg": 80.5}),
        ),
        (
            "/api/weight",
            json!({"date": "2026-01-09", "weight_kg": 79.0}),
        ),
        (
            "/api/circumference",
            json!({"date": "2026-01-01", "waist": 90}),
        ),
        (
            "/api/caliper",
            json!({"date": "2026-01-02", "method": "jp7", "sex": "female", "age": 33, "sites": {"chest": 10, "midaxillary": 11, "triceps": 15, "subscapular": 12, "abdomen": 20, "suprailiac": 14, "thigh": 22}}),
        ),
        (
            "/api/nutrition",
            json!({"date": "2026-01-02", "kcal": 1900, "protein_g": 100, "carbs_g": 180, "fat_g": 60}),
        ),
        (
            "/api/activity",
            json!({"date": "2026-01-02", "kind": "swim", "minutes": 30}),
        ),
    ] {
        let (status, answer) = app.post(path, Some(&who.token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {answer}");
    }
    for path in [
        "/",
        "/weight",
        "/weight?range=all",
        "/weight?range=bogus&cursor=garbage",
        "/measurements",
        "/body-fat",
        "/body-fat?method=jp7&sex=female",
        "/nutrition",
        "/activity",
        "/photos",
        "/photos?a=x&b=y",
        "/insights",
        "/plan",
        "/account",
    ] {
        let (status, body, _) = page(&app, path, Some(&who)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            body.contains("aria-current=\"page\"") || path == "/photos?a=x&b=y",
            "{path}: the navigation marks the page"
        );
        assert!(!body.contains("Something went wrong"), "{path}");
    }
    let (_, body, _) = page(&app, "/body-fat", Some(&who)).await;
    assert!(
        body.contains("kg"),
        "fat and lean mass from the nearest weight"
    );
}

/// The name field shows the person's name, and saving the account page (to change the
/// language, say) keeps it — it once showed and saved the word "name" (a template macro's
/// parameter hid the page's field).
async fn the_name_field_keeps_the_name(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "named@example.org").await;
    let (status, html, _) = page(&app, "/account", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="name" type="text" value="Test""#),
        "{html}"
    );
    let (status, _, _) = post_form(
        &app,
        "/account/profile",
        &who,
        &[("_csrf", &who.csrf), ("name", "Test"), ("language", "de")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(me["profile"]["name"], "Test");
    assert_eq!(me["profile"]["language"], "de");
    // A refused registration shows the name typed.
    let request = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            "email=nope&password=short&name=Anna+Muster&language=en",
        ))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    let html = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"value="Anna Muster""#), "{html}");
}

/// Usage over a limit (a limit lowered below it) looks over the limit and the words agree:
/// the meter is full and says by how much, and a refused entry names the same numbers.
async fn over_the_limit_looks_and_reads_over_it(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let who = browser(&app, "over@example.org").await;
    for day in ["2026-01-01", "2026-01-02", "2026-01-03"] {
        let (status, body) = app
            .post(
                "/api/weight",
                Some(&who.token),
                json!({"date": day, "weight_kg": 80}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    let id = me["profile"]["id"].as_str().unwrap().to_owned();
    app.restrict(&admin, &id, "weight", json!(2)).await;
    for path in ["/plan", "/"] {
        let (_, html, _) = page(&app, path, Some(&who)).await;
        assert!(html.contains("3 of 2 — 1 over the limit"), "{path}: {html}");
        assert!(html.contains(r#"class="meter-text over""#), "{path}");
        assert!(
            html.contains(r#"max="2" low="2" high="2" optimum="0" value="2""#),
            "{path}: {html}"
        );
    }
    let (status, html, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("date", "2026-01-04"),
            ("weight_kg", "80"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("you have used 3, more than the 2 your plan allows now"),
        "{html}"
    );
}

/// An export that is off or used up is a disabled button with the reason beside it; the AI
/// page without a provider warns (not as a success) and counts no calls.
async fn unavailable_actions_say_why(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let who = browser(&app, "exports@example.org").await;
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    let id = me["profile"]["id"].as_str().unwrap().to_owned();
    app.restrict(&admin, &id, "export_zip", json!(0)).await;
    app.restrict(&admin, &id, "export_csv", json!(1)).await;
    let (_, html, _) = page(&app, "/account", Some(&who)).await;
    assert!(
        html.contains(r#"<button type="submit" disabled aria-describedby="why-zip">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="why-zip">Not in your plan.</span>"#),
        "{html}"
    );
    assert!(!html.contains(r#"aria-describedby="why-csv""#), "{html}");
    let (status, _, _) =
        post_form(&app, "/account/export/csv", &who, &[("_csrf", &who.csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, html, _) = page(&app, "/account", Some(&who)).await;
    assert!(
        html.contains(r#"disabled aria-describedby="why-csv""#)
            && html.contains("Used up for now; again from"),
        "{html}"
    );
    assert!(!html.contains(r#"aria-describedby="why-json""#), "{html}");

    let (_, html, _) = page(&app, "/insights", Some(&who)).await;
    assert!(
        html.contains(r#"<p class="warning" role="status">"#),
        "{html}"
    );
    assert!(!html.contains("AI calls left"), "{html}");
}

/// The account page takes the facts in the person's units and stores them metric.
async fn the_account_page_takes_facts_in_the_chosen_units(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "units@example.org").await;
    let save = |fields: Vec<(&'static str, &'static str)>| {
        let mut all = vec![("name", "Test"), ("language", "en")];
        all.extend(fields);
        all
    };
    let (status, _, _) = post_form(
        &app,
        "/account/profile",
        &who,
        &[
            &[("_csrf", who.csrf.as_str())][..],
            &save(vec![
                ("units", "imperial"),
                ("height_cm", "180"),
                ("goal_weight_kg", "75"),
                ("birth_date", "1980-05-17"),
                ("sex", "male"),
                ("timezone", "Europe/Berlin"),
            ]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(me["profile"]["height_cm"], 180.0);
    assert_eq!(me["profile"]["units"], "imperial");
    let (_, html, _) = page(&app, "/account", Some(&who)).await;
    assert!(
        html.contains(r#"name="height_in" type="text" value="70.9""#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="goal_weight_lb" type="text" value="165.3""#),
        "{html}"
    );
    let (status, _, _) = post_form(
        &app,
        "/account/profile",
        &who,
        &[
            &[("_csrf", who.csrf.as_str())][..],
            &save(vec![
                ("units", "imperial"),
                ("height_in", "70"),
                ("goal_weight_lb", ""),
            ]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert!((me["profile"]["height_cm"].as_f64().unwrap() - 177.8).abs() < 1e-9);
    assert_eq!(me["profile"]["goal_weight_kg"], Value::Null, "cleared");
    assert_eq!(me["profile"]["sex"], "male", "not in the form: kept");
    // A height that cannot be is said at the field the form has.
    let (status, html, _) = post_form(
        &app,
        "/account/profile",
        &who,
        &[
            &[("_csrf", who.csrf.as_str())][..],
            &save(vec![("units", "imperial"), ("height_in", "500")]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="e-height_in" role="alert""#), "{html}");
}

/// The weight page (and the dashboard) at a glance: the latest weigh-in with the BMI, the
/// smoothed trend and its rate, the goal and when it is reached at that rate, the changes;
/// the caliper form is filled in with the profile's sex and age.
async fn weight_at_a_glance_and_a_filled_in_caliper_form(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "glance@example.org").await;
    let (status, body) = app
        .patch(
            "/api/me",
            Some(&who.token),
            json!({"height_cm": 180, "goal_weight_kg": 75, "sex": "female",
                   "birth_date": "1980-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Five weeks, half a kilo a week down, the days swinging by a kilo.
    let today = app.state.now().date_naive();
    for i in 0..35i64 {
        let day = today - chrono::TimeDelta::days(34 - i);
        let swing = if i % 2 == 0 { 0.5 } else { -0.5 };
        let kg = 85.0 - 0.5 * (i as f64) / 7.0 + swing;
        let (status, body) = app
            .post(
                "/api/weight",
                Some(&who.token),
                json!({"date": day.to_string(), "weight_kg": kg}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for path in ["/weight", "/"] {
        let (status, html, _) = page(&app, path, Some(&who)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("BMI 25."),
            "{path}: BMI of ~82 kg at 180 cm: {html}"
        );
        assert!(html.contains(" a week"), "{path}: the rate");
        assert!(
            html.contains("at this rate reached around"),
            "{path}: {html}"
        );
    }
    let (_, html, _) = page(&app, "/weight", Some(&who)).await;
    assert!(html.contains("Last 7 days") && html.contains("−"), "{html}");
    let (_, html, _) = page(&app, "/body-fat", Some(&who)).await;
    let age = mitai_access::body::age(chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(), today);
    assert!(
        html.contains(&format!(
            r#"name="age" type="text" inputmode="decimal" autocomplete="off" value="{age}""#
        )),
        "{html}"
    );
    assert!(html.contains("triceps"), "the women's sites: {html}");
}

/// The account page says what deleting the account removes; a wrong password comes back
/// with a message at the field and deletes nothing; the right one deletes the account and
/// signs the person out, with a confirmation on the sign-in page.
async fn people_delete_their_account_on_the_page(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "leaving@example.org").await;
    let (status, html, _) = page(&app, "/account", Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"action="/account/delete""#), "{html}");
    assert!(html.contains("every entry"), "what goes is listed");
    let (status, html, _) = post_form(
        &app,
        "/account/delete",
        &who,
        &[("_csrf", &who.csrf), ("password", "wrong-password")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("nothing was deleted"), "{html}");
    let (status, _) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(status, StatusCode::OK);
    // Without the form's token nothing happens either.
    let (status, _, _) = post_form(
        &app,
        "/account/delete",
        &who,
        &[("password", "password123")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, headers) = post_form(
        &app,
        "/account/delete",
        &who,
        &[("_csrf", &who.csrf), ("password", "password123")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[header::LOCATION].to_str().unwrap();
    assert_eq!(location, "/login?done=account_deleted");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    let (_, html, _) = page(&app, location, None).await;
    assert!(
        html.contains("Your account and your data are deleted."),
        "{html}"
    );
    let (status, _) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Every page links the web app manifest and the icon; the manifest names the app and its
/// icons, and each icon is served with its type (so a phone can put the app on its home
/// screen); `/favicon.ico` answers too.
async fn the_app_can_go_on_a_home_screen(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "phone@example.org").await;
    for (path, viewer) in [("/login", None), ("/", Some(&who)), ("/weight", Some(&who))] {
        let (status, html, headers) = page(&app, path, viewer).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));
        assert!(
            html.contains(r#"<link rel="icon" href="/assets/"#),
            "{path}"
        );
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("manifest-src 'self'"), "{csp}");
    }
    let (status, headers, bytes) = app
        .send(
            Request::get("/manifest.webmanifest")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/manifest+json");
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest["name"], "Mitai");
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    assert!(icons.iter().any(|i| i["sizes"] == "512x512"));
    assert!(icons.iter().any(|i| i["sizes"] == "192x192"));
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let (status, headers, bytes) = app
            .send(Request::get(src).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{src}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            icon["type"].as_str().unwrap()
        );
        if icon["type"] == "image/png" {
            let size: u32 = icon["sizes"].as_str().unwrap()[..3].parse().unwrap();
            let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            assert_eq!(width, size, "{src} is as wide as it says");
        }
    }
    let (status, headers, _) = app
        .send(Request::get("/favicon.ico").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
}

/// The photo form proposes today; the grid shows each thumbnail in its own shape and links
/// the full photo; two photos compare side by side, with a slider and overlaid, each with
/// its day's weight in the person's units.
async fn photos_open_full_size_and_compare_three_ways(backend: Backend) {
    let dir = crate::common::DataDir::new();
    let args = mitai_server::config::ServeArgs {
        test_clock: "1".into(),
        data_dir: dir.0.clone(),
        ..Default::default()
    };
    let app = TestApp::with_args(backend, args).await;
    let who = browser(&app, "photos@example.org").await;
    let today = app.state.now().date_naive().to_string();
    let (_, html, _) = page(&app, "/photos", Some(&who)).await;
    assert!(
        html.contains(&format!(r#"name="taken_on" type="date" value="{today}""#)),
        "{html}"
    );
    let first = crate::common::upload_png(&app, &who.token).await;
    let second = crate::common::upload_png(&app, &who.token).await;
    app.post(
        "/api/weight",
        Some(&who.token),
        json!({"date": today, "weight_kg": 80}),
    )
    .await;
    app.patch("/api/me", Some(&who.token), json!({"units": "imperial"}))
        .await;
    let (_, html, _) = page(&app, "/photos", Some(&who)).await;
    for photo in [&first, &second] {
        let id = photo["id"].as_str().unwrap();
        assert!(
            html.contains(&format!(
                r#"<a href="/api/photos/{id}/file" hx-boost="false""#
            )),
            "{html}"
        );
    }
    // The PNG is 4 × 3: so is its tile.
    assert!(html.contains(r#"width="4" height="3""#), "{html}");
    let (a, b) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let (status, html, _) = page(&app, &format!("/photos?a={a}&b={b}"), Some(&who)).await;
    assert_eq!(status, StatusCode::OK);
    for mode in ["m-side", "m-slider", "m-overlay"] {
        assert!(html.contains(&format!(r#"id="{mode}""#)), "{mode}");
    }
    assert!(html.contains(r#"class="view view-slider""#));
    assert!(html.contains(r#"class="reveal""#));
    assert!(html.contains("176.4 lb"), "the weight in pounds: {html}");
}

/// Every data page lists its entries with an edit link (`rel="edit"`) to the page with its
/// form filled in with the entry; saving changes the entry (an emptied note is cleared),
/// spends nothing, and a bad value comes back at its field and changes nothing. Another
/// person's entry is not found. Deleting asks first.
async fn entries_are_changed_on_every_page(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "editor@example.org").await;
    let other = browser(&app, "other@example.org").await;
    let day = "2026-11-02";
    // (page, API path, the body that creates, the form that changes it, a field and the
    // value it shows in the filled-in form, what the API shows after, a refused value)
    type Case<'a> = (
        &'a str,
        &'a str,
        Value,
        Vec<(&'a str, &'a str)>,
        (&'a str, &'a str),
        (&'a str, Value),
        (&'a str, &'a str),
    );
    let cases: [Case; 5] = [
        (
            "/weight",
            "/api/weight",
            json!({"date": day, "weight_kg": 80.5, "note": "before"}),
            vec![("date", day), ("weight_kg", "79,9"), ("note", "")],
            ("weight_kg", "80.5"),
            ("weight_kg", json!(79.9)),
            ("weight_kg", "7000"),
        ),
        (
            "/measurements",
            "/api/circumference",
            json!({"date": day, "waist": 90.0, "hip": 100.0, "note": "before"}),
            vec![("date", day), ("waist", "88"), ("hip", ""), ("note", "")],
            ("hip", "100"),
            ("hip", Value::Null),
            ("waist", "abc"),
        ),
        (
            "/body-fat",
            "/api/caliper",
            json!({"date": day, "method": "jp3", "sex": "male", "age": 40,
                   "sites": {"chest": 10.0, "abdomen": 20.0, "thigh": 15.0}, "note": "before"}),
            vec![
                ("date", day),
                ("method", "jp3"),
                ("sex", "male"),
                ("age", "41"),
                ("chest", "11"),
                ("abdomen", "20"),
                ("thigh", "15"),
                ("note", ""),
            ],
            ("abdomen", "20"),
            ("age", json!(41)),
            ("age", "x"),
        ),
        (
            "/nutrition",
            "/api/nutrition",
            json!({"date": day, "kcal": 600, "protein_g": 30, "carbs_g": 70, "fat_g": 20,
                   "note": "before"}),
            vec![
                ("date", day),
                ("kcal", "650"),
                ("protein_g", "30"),
                ("carbs_g", "70"),
                ("fat_g", "20"),
                ("note", ""),
            ],
            ("protein_g", "30"),
            ("kcal", json!(650.0)),
            ("kcal", "-5"),
        ),
        (
            "/activity",
            "/api/activity",
            json!({"date": day, "kind": "run", "minutes": 30, "kcal": 300, "note": "before"}),
            vec![
                ("date", day),
                ("kind", "run"),
                ("minutes", "45"),
                ("kcal", ""),
                ("note", ""),
            ],
            ("minutes", "30"),
            ("kcal", Value::Null),
            ("minutes", "many"),
        ),
    ];
    for (path, api, body, form, (shown, shown_value), (field, after), (bad, bad_value)) in cases {
        let (status, created) = app.post(api, Some(&who.token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {created}");
        let id = created["entry"]["id"].as_str().unwrap().to_owned();
        let (_, usage) = app.get("/api/me/access", Some(&who.token)).await;
        let (_, html, _) = page(&app, path, Some(&who)).await;
        let edit = format!("{path}/{id}/edit");
        assert!(
            html.contains(&format!(
                r#"rel="edit" class="button small secondary" href="{edit}""#
            )),
            "{path}: {html}"
        );
        assert!(
            html.contains(r#"<details class="confirm">"#),
            "deleting asks first"
        );
        let (status, html, _) = page(&app, &edit, Some(&who)).await;
        assert_eq!(status, StatusCode::OK, "{edit}");
        assert!(
            html.contains(&format!(r#"action="{edit}""#)),
            "{edit}: {html}"
        );
        assert!(
            html.contains(&format!(r#"name="{shown}""#))
                && html.contains(&format!(r#"value="{shown_value}""#)),
            "{edit}: {shown} = {shown_value}: {html}"
        );
        assert!(html.contains(r#"value="before""#), "the note is filled in");
        // A bad value: 422, the message at its field, nothing changed.
        let mut refused: Vec<(&str, &str)> = form
            .iter()
            .map(|(k, v)| if *k == bad { (*k, bad_value) } else { (*k, *v) })
            .collect();
        refused.push(("_csrf", &who.csrf));
        let (status, html, _) = post_form(&app, &edit, &who, &refused).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{edit}: {html}");
        assert!(html.contains(&format!(r#"id="e-{bad}""#)), "{edit}: {html}");
        let (_, still) = app.get(&format!("{api}/{id}"), Some(&who.token)).await;
        assert_eq!(still["entry"]["note"], "before", "{edit}");
        // Saved.
        let mut sent = form.clone();
        sent.push(("_csrf", &who.csrf));
        let (status, html, headers) = post_form(&app, &edit, &who, &sent).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{edit}: {html}");
        assert_eq!(
            headers[header::LOCATION],
            format!("{path}?done=entry_saved")
        );
        let (_, entry) = app.get(&format!("{api}/{id}"), Some(&who.token)).await;
        assert_eq!(entry["entry"][field], after, "{edit}: {entry}");
        assert_eq!(
            entry["entry"]["note"],
            Value::Null,
            "{edit}: the note is cleared"
        );
        let (_, usage_after) = app.get("/api/me/access", Some(&who.token)).await;
        assert_eq!(usage, usage_after, "{edit}: editing spends nothing");
        // Not someone else's.
        let (status, _, _) = page(&app, &edit, Some(&other)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let mut theirs = form.clone();
        theirs.push(("_csrf", &other.csrf));
        let (status, _, _) = post_form(&app, &edit, &other, &theirs).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = page(&app, &format!("{path}/not-an-id/edit"), Some(&who)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// Two weigh-ins on one day are both listed; the chart's numbers show one value for the
/// day, their mean, and the page says so.
async fn two_weigh_ins_on_a_day_are_kept_and_averaged(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "twice@example.org").await;
    let day = app.state.now().date_naive().to_string();
    for kg in [80.0, 81.0] {
        let (status, body) = app
            .post(
                "/api/weight",
                Some(&who.token),
                json!({"date": day, "weight_kg": kg}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, html, _) = page(&app, "/weight", Some(&who)).await;
    assert_eq!(
        html.matches("<tr><td class=\"lead\">").count(),
        2,
        "both listed"
    );
    assert!(
        html.contains(r#"data-label="Weight">80.5</td>"#),
        "the mean: {html}"
    );
    assert!(html.contains("use their mean"));
}

/// In imperial units every page speaks pounds and inches: the forms' fields are named so
/// (`weight_lb`, `waist_in`) and take those units, the lists, the filled-in edit form and
/// the dashboard show them, a refusal names the range in them, and the CSV export's
/// columns say them. The API stays metric.
async fn the_pages_speak_the_persons_units(backend: Backend) {
    let app = TestApp::new(backend).await;
    let who = browser(&app, "imperial@example.org").await;
    app.patch("/api/me", Some(&who.token), json!({"units": "imperial"}))
        .await;
    let day = app.state.now().date_naive().to_string();
    let (_, html, _) = page(&app, "/weight", Some(&who)).await;
    assert!(
        html.contains(r#"<label for="f-weight_lb">Weight (lb)</label>"#),
        "{html}"
    );
    assert!(!html.contains(r#"name="weight_kg""#));
    let (status, _, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("idempotency_key", "imperial-1"),
            ("date", &day),
            ("weight_lb", "176,4"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let list = weights(&app, &who).await;
    assert_eq!(list[0]["weight_kg"], 80.0137, "stored metric: {list:?}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let (_, html, _) = page(&app, "/weight", Some(&who)).await;
    assert!(html.contains(">176.4</td>"), "listed in pounds: {html}");
    let (_, html, _) = page(&app, &format!("/weight/{id}/edit"), Some(&who)).await;
    assert!(
        html.contains(
            r#"name="weight_lb" type="text" inputmode="decimal" autocomplete="off" value="176.4""#
        ),
        "{html}"
    );
    // Too heavy: the message at the pounds field, the range in pounds.
    let (status, html, _) = post_form(
        &app,
        "/weight",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("idempotency_key", "imperial-2"),
            ("date", &day),
            ("weight_lb", "2000"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="e-weight_lb""#), "{html}");
    assert!(html.contains("44.1") && html.contains("1102.3"), "{html}");
    // Circumferences in inches.
    let (_, html, _) = page(&app, "/measurements", Some(&who)).await;
    assert!(
        html.contains(r#"name="waist_in""#) && html.contains("(in)"),
        "{html}"
    );
    let (status, _, _) = post_form(
        &app,
        "/measurements",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("idempotency_key", "imperial-3"),
            ("date", &day),
            ("waist_in", "35"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, list) = app.get("/api/circumference", Some(&who.token)).await;
    assert_eq!(list["items"][0]["waist"], 88.9);
    let (_, html, _) = page(&app, "/measurements", Some(&who)).await;
    assert!(html.contains(">35.0</td>"), "{html}");
    assert!(html.contains("35.0 in"), "{html}");
    // The dashboard's quick form and the export.
    let (_, html, _) = page(&app, "/", Some(&who)).await;
    assert!(html.contains(r#"name="weight_lb""#), "{html}");
    let (status, _, bytes) = app
        .send(
            Request::get("/api/export/csv?type=weight")
                .header(header::AUTHORIZATION, format!("Bearer {}", who.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8_lossy(&bytes);
    assert!(csv.starts_with("id,date,weight_lb,note,"), "{csv}");
    assert!(csv.contains(",176.4,"), "{csv}");
}

/// Before the trial ends, the dashboard says when and what comes then, and names each
/// feature the person has used past the coming limit ("31 per month from then — you have
/// used 33"); without a coming drop it says nothing.
async fn the_dashboard_warns_before_the_trial_ends(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.clock_to("2027-03-02T09:00:00Z").await;
    let who = browser(&app, "trial@example.org").await;
    for i in 0..33 {
        let (status, body) = app
            .post(
                "/api/weight",
                Some(&who.token),
                json!({"date": "2027-03-01", "weight_kg": 80.0 + f64::from(i) / 10.0}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, html, _) = page(&app, "/", Some(&who)).await;
    assert!(!html.contains("Your trial ends on"), "not yet: {html}");
    // Two days before the end (the lead is three).
    app.clock_to("2027-03-14T09:00:00Z").await;
    let (_, html, _) = page(&app, "/", Some(&who)).await;
    assert!(
        html.contains("Your trial ends on 16 Mar 2027; from then you have the Free plan."),
        "{html}"
    );
    assert!(
        html.contains("Weight entries: 31 per month from then — you have used 33."),
        "{html}"
    );
    // In German too.
    app.patch("/api/me", Some(&who.token), json!({"language": "de"}))
        .await;
    let (_, html, _) = page(&app, "/", Some(&who)).await;
    assert!(html.contains("Deine Testphase endet am"), "{html}");
}

/// Nutrition shows the day's totals in an open table with aligned numbers, and today's
/// totals against the daily targets a person sets on the page; the weigh-in reminder is
/// set on the account page; activity weeks are named by their dates.
async fn targets_reminders_and_week_dates(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.clock_to("2027-01-13T12:00:00Z").await;
    let who = browser(&app, "meals@example.org").await;
    for kcal in [600, 850] {
        app.post(
            "/api/nutrition",
            Some(&who.token),
            json!({"date": "2027-01-13", "kcal": kcal, "protein_g": 40, "carbs_g": 80, "fat_g": 20}),
        )
        .await;
    }
    let (_, html, _) = page(&app, "/nutrition", Some(&who)).await;
    assert!(html.contains("Set daily targets"), "{html}");
    assert!(html.contains(r#"<th scope="col" class="num">kcal</th>"#));
    assert!(
        !html.contains("<summary>Daily totals</summary>"),
        "not folded"
    );
    let (status, html, _) = post_form(
        &app,
        "/nutrition/targets",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("kcal_target", "100"),
            ("protein_target_g", "120"),
            ("carbs_target_g", ""),
            ("fat_target_g", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="e-kcal_target""#), "{html}");
    let (status, _, _) = post_form(
        &app,
        "/nutrition/targets",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("kcal_target", "2000"),
            ("protein_target_g", "120"),
            ("carbs_target_g", ""),
            ("fat_target_g", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(me["profile"]["kcal_target"], 2000.0);
    assert_eq!(me["profile"]["carbs_target_g"], Value::Null);
    let (_, html, _) = page(&app, "/nutrition", Some(&who)).await;
    assert!(html.contains("1450 of 2000 kcal (72 %)"), "{html}");
    assert!(html.contains("80.0 of 120.0 g (67 %)"), "{html}");
    // The reminder on the account page.
    let (_, html, _) = page(&app, "/account", Some(&who)).await;
    assert!(
        html.contains(r#"name="reminder_days" value="mon""#),
        "{html}"
    );
    let (status, _, _) = post_form(
        &app,
        "/account/reminder",
        &who,
        &[
            ("_csrf", &who.csrf),
            ("reminder_days", "mon"),
            ("reminder_days", "fri"),
            ("reminder_time", "06:45"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(me["profile"]["reminder_days"], json!(["mon", "fri"]));
    assert_eq!(me["profile"]["reminder_time"], "06:45");
    let (_, html, _) = page(&app, "/account", Some(&who)).await;
    assert!(html.contains(r#"value="fri" checked"#), "{html}");
    let (status, _, _) = post_form(
        &app,
        "/account/reminder",
        &who,
        &[("_csrf", &who.csrf), ("reminder_time", "06:45")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, me) = app.get("/api/me", Some(&who.token)).await;
    assert_eq!(me["profile"]["reminder_days"], json!([]), "no day: off");
    // Activity weeks by date.
    app.post(
        "/api/activity",
        Some(&who.token),
        json!({"date": "2027-01-13", "kind": "run", "minutes": 30}),
    )
    .await;
    let (_, html, _) = page(&app, "/activity", Some(&who)).await;
    assert!(html.contains("Week from 11 Jan 2027"), "{html}");
    assert!(!html.contains("Week 2"), "{html}");
}

on_both_backends!(
    targets_reminders_and_week_dates,
    the_dashboard_warns_before_the_trial_ends,
    the_pages_speak_the_persons_units,
    two_weigh_ins_on_a_day_are_kept_and_averaged,
    entries_are_changed_on_every_page,
    photos_open_full_size_and_compare_three_ways,
    the_app_can_go_on_a_home_screen,
    people_delete_their_account_on_the_page,
    weight_at_a_glance_and_a_filled_in_caliper_form,
    the_account_page_takes_facts_in_the_chosen_units,
    unavailable_actions_say_why,
    over_the_limit_looks_and_reads_over_it,
    the_name_field_keeps_the_name,
    pages_need_a_session_and_come_back_after_it,
    forms_need_their_csrf_token,
    a_form_sent_twice_creates_one_entry,
    bad_values_get_messages_at_their_fields,
    the_import_is_refused_whole_at_the_limit,
    languages_error_pages_and_headers,
    every_page_renders_for_a_user_with_data,
);
