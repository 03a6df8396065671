//! The admin pages through the router: the guard on every page (signed out → sign in,
//! user → 403, admin → the page), the limits grid with its review and bad cells, settings
//! refused at the field, and the last admin kept.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mitai_server::service::credentials::token_hash;
use mitai_server::ui::admin::PAGES;
use mitai_server::ui::csrf_token;
use mitai_store::Backend;
use serde_json::json;

struct Who {
    cookie: String,
    csrf: String,
}

fn who(token: &str) -> Who {
    Who {
        cookie: format!("mitai_session={token}"),
        csrf: csrf_token(&token_hash(token)),
    }
}

async fn get(
    app: &TestApp,
    path: &str,
    w: Option<&Who>,
) -> (StatusCode, String, axum::http::HeaderMap) {
    let mut r = Request::get(path);
    if let Some(w) = w {
        r = r.header(header::COOKIE, &w.cookie);
    }
    let (status, headers, body) = app.send(r.body(Body::empty()).unwrap()).await;
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

async fn post(
    app: &TestApp,
    path: &str,
    w: &Who,
    fields: &[(&str, &str)],
) -> (StatusCode, String, axum::http::HeaderMap) {
    let mut all = vec![("_csrf".to_owned(), w.csrf.clone())];
    all.extend(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let body = all
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = Request::post(path)
        .header(header::COOKIE, &w.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let (status, headers, body) = app.send(r).await;
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every admin page and form, as an admin, a user and nobody.
async fn every_admin_page_is_guarded(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = who(&app.admin().await);
    let (user_token, user_id) = app.user("plain@example.org").await;
    let user = who(&user_token);
    let (status, coupon) = app
        .post(
            "/api/admin/coupons",
            Some(&app.login("admin@example.org", "adminpass1").await),
            json!({"kind": "single_use", "tier": "basic", "duration_days": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    let coupon_id = coupon["id"].as_str().unwrap().to_owned();
    let fill = |p: &str| {
        p.replace("{feature}", "weight")
            .replace("{tier}", "free")
            .replace("{coupon}", &coupon_id)
            .replace("{user}", &user_id)
    };
    for page in PAGES {
        let path = fill(page);
        let (status, _, headers) = get(&app, &path, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path} signed out");
        assert!(
            headers[header::LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/login?next=")
        );
        let (status, body, _) = get(&app, &path, Some(&user)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} as a user");
        assert!(body.contains("Not allowed"), "{path}: the 403 page");
        let (status, body, _) = get(&app, &path, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{path} as the admin: {body}");
    }
    // The forms too: a user's post changes nothing.
    for path in [
        "/admin/limits".to_owned(),
        "/admin/limits/review".to_owned(),
        "/admin/features".to_owned(),
        "/admin/features/weight".to_owned(),
        "/admin/tiers".to_owned(),
        "/admin/tiers/free".to_owned(),
        "/admin/coupons".to_owned(),
        "/admin/coupons/batch".to_owned(),
        format!("/admin/coupons/{coupon_id}"),
        format!("/admin/users/{user_id}"),
        format!("/admin/users/{user_id}/grants"),
        format!("/admin/users/{user_id}/restrictions/weight"),
        "/admin/grants/00000000-0000-0000-0000-000000000000/pause".to_owned(),
        "/admin/settings/trial_days".to_owned(),
    ] {
        let (status, _, _) = post(
            &app,
            &path,
            &user,
            &[("role", "admin"), ("trial_days", "99")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "POST {path} as a user");
    }
    let (_, me) = app.get("/api/me", Some(&user_token)).await;
    assert_eq!(me["profile"]["role"], "user");
}

async fn the_grid_reviews_then_saves_and_refuses_bad_cells(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = who(&app.admin().await);
    let (token, id) = app.user("grid@example.org").await;
    let api_admin = app.login("admin@example.org", "adminpass1").await;
    // This user is on the trial (premium); a personal limit of photos keeps winning.
    app.put(
        &format!("/api/admin/users/{id}/restrictions/photos"),
        Some(&api_admin),
        json!({"limit": 2, "reason": "test"}),
    )
    .await;
    let (status, body, _) = post(
        &app,
        "/admin/limits",
        &admin,
        &[("step", "review"), ("limit.premium.photos", "7")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Affects 1 profile on this plan now.")
            && body.contains("1 of them keeps a personal limit"),
        "{body}"
    );
    let (_, access) = app.get("/api/me/access/photos", Some(&token)).await;
    assert_eq!(access["limit"], 2, "nothing changed by the review");
    // A boolean feature is on or off, not a count "ever".
    let (_, grid, _) = get(&app, "/admin/limits", Some(&admin)).await;
    let cell = grid.split(r#"id="c-free-ai_pipeline""#).nth(1).unwrap();
    let cell = cell.split("</select>").next().unwrap();
    assert!(cell.contains(">on<") && cell.contains(">off<"), "{cell}");
    assert!(grid.contains("ai_pipeline · on or off"));
    // A bad cell: the message at it, nothing saved.
    let (status, body, _) = post(
        &app,
        "/admin/limits",
        &admin,
        &[
            ("step", "apply"),
            ("limit.premium.weight", "lots"),
            ("limit.premium.photos", "7"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("c-premium-weight-e"), "{body}");
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&api_admin)).await;
    assert_eq!(matrix["limits"]["premium"]["photos"], 200);
    // Applied: the matrix and the user's access follow.
    let (status, _, headers) = post(
        &app,
        "/admin/limits",
        &admin,
        &[
            ("step", "apply"),
            ("limit.premium.weight", "40"),
            ("default.premium.nutrition", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/admin/limits?done=saved");
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&api_admin)).await;
    assert_eq!(matrix["limits"]["premium"]["weight"], 40);
    assert!(
        matrix["limits"]["premium"].get("nutrition").is_none(),
        "back to the default: {matrix}"
    );
    let (_, access) = app.get("/api/me/access/weight", Some(&token)).await;
    assert_eq!(
        (access["limit"].as_i64(), access["source"].as_str()),
        (Some(40), Some("tier_limit"))
    );
    // One cell at a time (htmx): a fragment with its impact and a save button.
    let (status, body, _) = post(
        &app,
        "/admin/limits/review",
        &admin,
        &[("limit.free.weight", "0")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !body.contains("<html") && body.contains("name=\"limit.free.weight\" value=\"0\""),
        "{body}"
    );
}

async fn settings_are_refused_at_their_field(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = who(&app.admin().await);
    let (status, body, _) = post(
        &app,
        "/admin/settings/trial_days",
        &admin,
        &[("trial_days", "-4")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("id=\"s-trial_days-e\"") && body.contains("role=\"alert\""),
        "{body}"
    );
    let api_admin = app.login("admin@example.org", "adminpass1").await;
    let (_, settings) = app.get("/api/admin/settings", Some(&api_admin)).await;
    let trial = settings["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "trial_days")
        .unwrap()
        .clone();
    assert_eq!(trial["value"], 14, "the old value is kept");
    let (status, _, _) = post(
        &app,
        "/admin/settings/trial_days",
        &admin,
        &[("trial_days", "30")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, settings) = app.get("/api/admin/settings", Some(&api_admin)).await;
    assert!(
        settings["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "trial_days" && s["value"] == 30)
    );
    let (status, _, _) = post(
        &app,
        "/admin/settings/registration_mode",
        &admin,
        &[("registration_mode", "invite_only")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn the_last_admin_cannot_demote_itself(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = who(&app.admin().await);
    let api_admin = app.login("admin@example.org", "adminpass1").await;
    let (_, me) = app.get("/api/me", Some(&api_admin)).await;
    let id = me["profile"]["id"].as_str().unwrap().to_owned();
    let (status, body, _) = post(
        &app,
        &format!("/admin/users/{id}"),
        &admin,
        &[("tier", "selfhosted"), ("role", "user")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("role=\"alert\""));
    let (_, me) = app.get("/api/me", Some(&api_admin)).await;
    assert_eq!(me["profile"]["role"], "admin");
}

/// A personal limit is chosen explicitly (a number, unlimited or off) with a reason; an
/// empty number is refused instead of meaning unlimited, and a choice more generous than
/// the plan is confirmed before it is saved.
async fn personal_limits_are_explicit_and_generous_ones_confirmed(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = who(&app.admin().await);
    let api_admin = app.login("admin@example.org", "adminpass1").await;
    let (_, id) = app.user("limits@example.org").await;
    let path = format!("/admin/users/{id}/restrictions/ai_calls");
    let uri = format!("/api/admin/users/{id}");
    // "Set" on an empty row: refused at the field, nothing given.
    let (status, page, _) = post(
        &app,
        &path,
        &admin,
        &[("do", "set"), ("limit", ""), ("reason", "")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Enter a number, or choose unlimited or off."),
        "{page}"
    );
    assert!(page.contains("Say why"), "the reason is required");
    assert_eq!(personal(&app, &uri, &api_admin).await, json!([]));

    // Unlimited is more than any plan with a limit gives: asked first, saved on confirm.
    let fields = [
        ("do", "set"),
        ("choice", "unlimited"),
        ("reason", "support case 12"),
    ];
    let (status, page, _) = post(&app, &path, &admin, &fields).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("This gives unlimited"), "asks to confirm");
    assert!(page.contains(r#"name="confirm" value="1""#));
    assert_eq!(
        personal(&app, &uri, &api_admin).await,
        json!([]),
        "nothing saved before the confirmation"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "1"));
    let (status, _, headers) = post(&app, &path, &admin, &confirmed).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .ends_with("done=restriction_set")
    );
    let saved = personal(&app, &uri, &api_admin).await;
    assert_eq!(saved[0]["limit"], serde_json::Value::Null, "{saved}");
    assert_eq!(saved[0]["reason"], "support case 12");

    // Off and a small number need no confirmation.
    let off = [("do", "set"), ("choice", "off"), ("reason", "abuse")];
    let (status, _, _) = post(&app, &path, &admin, &off).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(personal(&app, &uri, &api_admin).await[0]["limit"], 0);
    let one = [
        ("do", "set"),
        ("choice", "number"),
        ("limit", "1"),
        ("reason", "trial"),
    ];
    let (status, _, _) = post(&app, &path, &admin, &one).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(personal(&app, &uri, &api_admin).await[0]["limit"], 1);
}

/// A new coupon has no plan until the admin picks one; plans and kinds show by name;
/// every id on the page is unique.
async fn coupons_default_to_no_plan_and_ids_are_unique(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = who(&app.admin().await);
    let (status, page, _) = get(&app, "/admin/coupons", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let tier_select = page
        .split(r#"id="n-tier""#)
        .nth(1)
        .unwrap()
        .split("</select>")
        .next()
        .unwrap();
    assert!(
        !tier_select.contains("selected"),
        "no plan chosen: {tier_select}"
    );
    assert!(tier_select.contains(">Choose a plan<") && tier_select.contains(">Premium<"));
    assert!(page.contains(">single use<"), "kinds by name");
    let (status, page, _) = post(
        &app,
        "/admin/coupons",
        &admin,
        &[
            ("kind", "single_use"),
            ("tier", ""),
            ("duration_days", "30"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert_unique_ids(&page);
    // The form shows the fields of the kind chosen (the others are marked to be hidden).
    assert!(page.contains(r#"<div class="not-period not-wellpass">"#));

    // A batch is one row: its count, its redemption rate, switched off at once.
    let token = app.login("admin@example.org", "adminpass1").await;
    let body = json!({"kind": "single_use", "tier": "basic", "duration_days": 7, "count": 4, "campaign": "spring"});
    let (status, _) = app
        .post("/api/admin/coupons/batch", Some(&token), body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page, _) = get(&app, "/admin/coupons", Some(&admin)).await;
    let batches = page.split("Batches and campaigns").nth(1).unwrap();
    assert!(
        batches.contains(">spring</a>") && batches.contains(">0 %<") && batches.contains(">4 / 4<"),
        "{batches}"
    );
    let fields = [("campaign", "spring"), ("active", "0")];
    let (status, _, _) = post(&app, "/admin/coupons/campaign", &admin, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, list) = app
        .get("/api/admin/coupons?campaign=spring", Some(&token))
        .await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["active"] == false),
        "{list}"
    );
    let (_, log) = app
        .get("/api/admin/activity?action=coupon_updated", Some(&token))
        .await;
    assert_eq!(log["items"][0]["details"]["campaign"], "spring");
    assert_eq!(log["items"][0]["details"]["count"], 4);
    for path in [
        "/admin",
        "/admin/coupons",
        "/admin/limits",
        "/admin/features",
        "/admin/tiers",
        "/admin/users",
        "/admin/activity",
        "/admin/settings",
        "/admin/mail",
    ] {
        let (_, page, _) = get(&app, path, Some(&admin)).await;
        assert_unique_ids(&page);
    }
}

/// The user list filters by plan, role, status, trial ending and limits hit, sorts, and
/// downloads the filtered list as CSV.
async fn the_user_list_filters_sorts_and_exports(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.admin().await;
    let admin = who(&token);
    let (_, carl) = app.user("carl@example.org").await;
    let (anna_token, anna) = app.user("anna@example.org").await;
    let (_, bea) = app.user("bea@example.org").await;
    let soon = (chrono::Utc::now() + chrono::TimeDelta::days(3)).to_rfc3339();
    let uri = format!("/api/admin/users/{bea}");
    app.patch(&uri, Some(&token), json!({"trial_ends_at": soon}))
        .await;
    let uri = format!("/api/admin/users/{carl}");
    app.patch(&uri, Some(&token), json!({"disabled": true}))
        .await;
    // Anna is back on the free plan and hits its AI limit.
    let uri = format!("/api/admin/users/{anna}");
    app.patch(&uri, Some(&token), json!({"trial_ends_at": null}))
        .await;
    app.restrict(&token, &anna, "ai_calls", json!(1)).await;
    let (status, _) = app
        .post(
            "/api/me/access/ai_calls/consume",
            Some(&anna_token),
            json!({"amount": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            "/api/me/access/ai_calls/consume",
            Some(&anna_token),
            json!({"amount": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let emails = |page: &str| -> Vec<String> {
        page.split("<tbody>")
            .nth(1)
            .unwrap_or_default()
            .split(r#"<a href="/admin/users/"#)
            .skip(1)
            .map(|r| {
                r.split('>')
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let list = |q: &'static str| {
        let admin = &admin;
        let app = &app;
        async move {
            let (status, page, _) = get(app, &format!("/admin/users?{q}"), Some(admin)).await;
            assert_eq!(status, StatusCode::OK, "{q}");
            emails(&page)
        }
    };
    assert_eq!(
        list("sort=email").await,
        [
            "admin@example.org",
            "anna@example.org",
            "bea@example.org",
            "carl@example.org"
        ]
    );
    assert_eq!(list("sort=newest").await[0], "bea@example.org");
    assert_eq!(list("status=disabled").await, ["carl@example.org"]);
    assert_eq!(list("role=admin").await, ["admin@example.org"]);
    assert_eq!(list("plan=free&role=user").await, ["anna@example.org"]);
    assert_eq!(
        list("plan=premium&status=enabled").await,
        ["bea@example.org"]
    );
    assert_eq!(list("trial_ending=1&sort=email").await, ["bea@example.org"]);
    assert_eq!(list("at_limit=1").await, ["anna@example.org"]);
    assert!(list("query=nobody").await.is_empty());

    let (status, csv, headers) = get(
        &app,
        "/admin/users/export.csv?status=disabled",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("email,name,plan,base_plan,role,disabled"));
    assert!(lines[1].starts_with("carl@example.org,"), "{csv}");
    assert!(lines[1].contains(",true,"));
}

/// A grant an admin paused is drawn paused until now and then for the time it has left,
/// not to the far end of the chart.
async fn a_paused_grant_is_drawn_for_its_real_span(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.admin().await;
    let admin = who(&token);
    let (_, id) = app.user("paused@example.org").await;
    let uri = format!("/api/admin/users/{id}/grants");
    let (_, grant) = app
        .post(&uri, Some(&token), json!({"tier": "basic", "days": 10}))
        .await;
    app.advance(86_400).await;
    let gid = grant["id"].as_str().unwrap();
    let pause = json!({"reason": "holiday"});
    let (status, _) = app
        .post(
            &format!("/api/admin/grants/{gid}/pause"),
            Some(&token),
            pause,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page, _) = get(&app, &format!("/admin/users/{id}"), Some(&admin)).await;
    let plot = page.split(r#"class="plot timeline""#).nth(1).unwrap();
    let width: f64 = plot
        .split("viewBox=\"0 0 ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let now: f64 = plot
        .split(r#"class="now" x1=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The window is the least one, 30 days either side (9 days are left): now sits in the
    // middle, not at a few per cent of a 430-day window.
    assert!(now / width >= 0.45, "now at {now} of {width}");
    assert!(
        plot.contains("seg-paused") && plot.contains("seg-waiting"),
        "{plot}"
    );
}

/// A user's personal limits, as the API lists them.
async fn personal(app: &TestApp, uri: &str, token: &str) -> serde_json::Value {
    let (_, body) = app.get(uri, Some(token)).await;
    body["restrictions"].clone()
}

/// Asserts that no `id="…"` appears twice on a page.
fn assert_unique_ids(page: &str) {
    let mut seen = std::collections::BTreeSet::new();
    for part in page.split(" id=\"").skip(1) {
        let id = part.split('"').next().unwrap();
        assert!(seen.insert(id.to_owned()), "id {id} twice");
    }
}

on_both_backends!(
    a_paused_grant_is_drawn_for_its_real_span,
    the_user_list_filters_sorts_and_exports,
    personal_limits_are_explicit_and_generous_ones_confirmed,
    coupons_default_to_no_plan_and_ids_are_unique,
    every_admin_page_is_guarded,
    the_grid_reviews_then_saves_and_refuses_bad_cells,
    settings_are_refused_at_their_field,
    the_last_admin_cannot_demote_itself,
);
