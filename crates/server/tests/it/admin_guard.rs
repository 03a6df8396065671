//! Every admin route of the real router refuses anonymous callers (401) and normal users
//! (403). The routes are enumerated from the OpenAPI document the server builds from the
//! same router, so a route added later is covered without touching this file.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mitai_store::Backend;
use serde_json::{Value, json};

/// The admin route/method pairs that exist today (API.md, "Admin"); the walk must cover
/// at least these, so an empty or shrunken walk fails.
const REQUIRED: &[(&str, &str)] = &[
    ("GET", "/api/admin/features"),
    ("POST", "/api/admin/features"),
    ("GET", "/api/admin/features/{id}"),
    ("PATCH", "/api/admin/features/{id}"),
    ("GET", "/api/admin/tiers"),
    ("POST", "/api/admin/tiers"),
    ("GET", "/api/admin/tiers/{id}"),
    ("PATCH", "/api/admin/tiers/{id}"),
    ("GET", "/api/admin/tier-limits"),
    ("PUT", "/api/admin/tier-limits/{tier}/{feature}"),
    ("DELETE", "/api/admin/tier-limits/{tier}/{feature}"),
    ("GET", "/api/admin/users"),
    ("GET", "/api/admin/users/{id}"),
    ("PATCH", "/api/admin/users/{id}"),
    ("GET", "/api/admin/users/{id}/access"),
    ("PUT", "/api/admin/users/{id}/restrictions/{feature}"),
    ("DELETE", "/api/admin/users/{id}/restrictions/{feature}"),
    ("GET", "/api/admin/settings"),
    ("PUT", "/api/admin/settings/{key}"),
    ("GET", "/api/admin/users/{id}/grants"),
    ("POST", "/api/admin/users/{id}/grants"),
    ("POST", "/api/admin/grants/{id}/pause"),
    ("POST", "/api/admin/grants/{id}/resume"),
    ("DELETE", "/api/admin/grants/{id}"),
    ("GET", "/api/admin/coupons"),
    ("POST", "/api/admin/coupons"),
    ("POST", "/api/admin/coupons/batch"),
    ("GET", "/api/admin/coupons/{id}"),
    ("PATCH", "/api/admin/coupons/{id}"),
    ("GET", "/api/admin/coupons/{id}/redemptions"),
];

/// The walk must cover at least this many route/method pairs.
const MIN_ROUTES: usize = 20;

/// One admin route with its parameters filled in.
struct Route {
    method: Method,
    template: String,
    uri: String,
    /// A parameter was filled with a random id, so 404 is a fine answer for an admin.
    random_id: bool,
}

/// Fills `{param}` segments with plausible values, judged by the parameter's name and the
/// segment before it, and adds the required query parameters of the operation.
fn fill(template: &str, operation: &Value, user_id: &str) -> (String, bool) {
    let mut random_id = false;
    let mut previous = "";
    let mut out = Vec::new();
    for segment in template.split('/') {
        let value = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None => segment.to_owned(),
            Some(param) => match (param, previous) {
                ("tier", _) | ("id", "tiers") => "free".to_owned(),
                ("feature", _) | ("id", "features") => "weight".to_owned(),
                ("key", _) | ("id", "settings") => "registration_mode".to_owned(),
                ("id", "users") | ("user_id" | "profile_id", _) => user_id.to_owned(),
                _ => {
                    random_id = true;
                    uuid::Uuid::new_v4().to_string()
                }
            },
        };
        previous = segment;
        out.push(value);
    }
    let query: Vec<String> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            let value = match name {
                "limit" => "10",
                "campaign" => "guard",
                "tier" => "free",
                "feature" => "weight",
                _ => "x",
            };
            format!("{name}={value}")
        })
        .collect();
    let mut uri = out.join("/");
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    (uri, random_id)
}

/// A body an admin could plausibly send to this route.
fn plausible_body(method: &Method, template: &str) -> Value {
    let last = template.rsplit('/').next().unwrap_or_default();
    match (method.as_str(), template) {
        ("POST", "/api/admin/features") => json!({"id": "guard_feature", "name": "Guard",
            "kind": "count", "reset_period": "monthly", "default_limit": 5}),
        ("POST", "/api/admin/tiers") => json!({"id": "guard_tier", "name": "Guard", "rank": 5}),
        ("PATCH", t) if t.starts_with("/api/admin/users/") => json!({"tier": "basic"}),
        ("PATCH", _) => json!({"description": "patched by the guard test"}),
        ("PUT", t) if t.contains("/restrictions/") => json!({"limit": 10, "reason": "guard"}),
        ("PUT", t) if t.starts_with("/api/admin/tier-limits/") => json!({"limit": 40}),
        ("PUT", t) if t.starts_with("/api/admin/settings/") => json!({"value": "open"}),
        ("POST", t) if t.ends_with("/grants") => json!({"tier": "premium", "days": 7}),
        ("POST", _) if last == "pause" => json!({"reason": "guard"}),
        ("POST", "/api/admin/coupons") => {
            json!({"kind": "single_use", "tier": "premium", "duration_days": 7})
        }
        ("POST", "/api/admin/coupons/batch") => json!({"count": 2, "kind": "single_use",
            "tier": "premium", "duration_days": 7, "campaign": "guard"}),
        _ => json!({}),
    }
}

fn admin_routes(app: &TestApp, user_id: &str) -> Vec<Route> {
    let doc = mitai_server::api::openapi(&app.state);
    let paths = doc["paths"].as_object().expect("paths");
    let mut routes = Vec::new();
    for (template, item) in paths {
        if !template.starts_with("/api/admin") {
            continue;
        }
        for (name, method) in [
            ("get", Method::GET),
            ("post", Method::POST),
            ("put", Method::PUT),
            ("patch", Method::PATCH),
            ("delete", Method::DELETE),
            ("head", Method::HEAD),
            ("options", Method::OPTIONS),
            ("trace", Method::TRACE),
        ] {
            if let Some(operation) = item.get(name) {
                let (uri, random_id) = fill(template, operation, user_id);
                routes.push(Route {
                    method,
                    template: template.clone(),
                    uri,
                    random_id,
                });
            }
        }
    }
    routes
}

fn body_for(route: &Route) -> Option<Value> {
    matches!(route.method, Method::POST | Method::PUT | Method::PATCH)
        .then(|| plausible_body(&route.method, &route.template))
}

async fn every_admin_route_is_guarded(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (user, user_id) = app.user("guarded@example.org").await;
    let routes = admin_routes(&app, &user_id);

    for (method, template) in REQUIRED {
        assert!(
            routes
                .iter()
                .any(|r| r.method.as_str() == *method && r.template == *template),
            "{method} {template} is missing from the OpenAPI document"
        );
    }
    assert!(
        routes.len() >= MIN_ROUTES.max(REQUIRED.len()),
        "the walk covered only {} admin routes",
        routes.len()
    );

    let callers: [(&str, Option<&str>, StatusCode, &str); 3] = [
        (
            "no token",
            None,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "an unknown token",
            Some("0000000000000000000000000000000000000000000000000000000000000000"),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "a user's token",
            Some(user.as_str()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ];
    for route in &routes {
        for (who, token, status, code) in &callers {
            let what = format!(
                "{} {} ({}) with {who}",
                route.method, route.uri, route.template
            );
            let (got, body) = app
                .call(route.method.clone(), &route.uri, *token, body_for(route))
                .await;
            assert_eq!(got, *status, "{what}: {body}");
            assert_eq!(body["error"]["code"], *code, "{what}: {body}");
            assert!(body["error"]["message"].is_string(), "{what}: {body}");
        }
    }

    // Nothing was changed by the refused calls.
    let (_, me) = app.get("/api/me", Some(&user)).await;
    assert_eq!(me["profile"]["role"], "user", "{me}");
    assert_ne!(me["profile"]["tier"], "basic", "{me}");
    let (_, feature) = app.get("/api/admin/features/weight", Some(&admin)).await;
    assert_ne!(
        feature["description"], "patched by the guard test",
        "{feature}"
    );
    let (_, features) = app.get("/api/admin/features", Some(&admin)).await;
    assert!(
        !features.to_string().contains("guard_feature"),
        "a refused POST created a feature: {features}"
    );

    // The admin passes the guard everywhere: reads first, then writes.
    let (reads, writes): (Vec<&Route>, Vec<&Route>) =
        routes.iter().partition(|r| r.method == Method::GET);
    for route in reads {
        let what = format!("GET {} ({}) as admin", route.uri, route.template);
        let (got, body) = send(&app, route, &admin).await;
        let fine = got == StatusCode::OK || (route.random_id && got == StatusCode::NOT_FOUND);
        assert!(fine, "{what}: {got} {body}");
    }
    for route in writes {
        let what = format!(
            "{} {} ({}) as admin",
            route.method, route.uri, route.template
        );
        let (got, body) = send(&app, route, &admin).await;
        assert!(
            got != StatusCode::UNAUTHORIZED && got != StatusCode::FORBIDDEN,
            "{what}: {got} {body}"
        );
        // Payments are off here: their routes answer 503 `billing_unavailable` (API.md).
        let payments_off =
            got == StatusCode::SERVICE_UNAVAILABLE && body.contains("billing_unavailable");
        assert!(
            !got.is_server_error() || payments_off,
            "{what}: {got} {body}"
        );
    }
}

/// Sends a route's request as `token`; the answer need not be JSON (CSV exports).
async fn send(app: &TestApp, route: &Route, token: &str) -> (StatusCode, String) {
    let builder = Request::builder()
        .method(route.method.clone())
        .uri(&route.uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let request = match body_for(route) {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request");
    let (status, _, bytes) = app.send(request).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

on_both_backends!(every_admin_route_is_guarded);

/// Every error code the OpenAPI document names in an error answer is one of the API's
/// codes (`ErrorCode`), with the status that code answers with: the handlers' own
/// descriptions are literal text, so they are checked here.
#[tokio::test]
async fn the_document_names_only_real_error_codes() {
    use mitai_server::service::ErrorCode;
    let app = TestApp::new(Backend::Sqlite).await;
    let doc = mitai_server::api::openapi(&app.state);
    use mitai_server::service::Error;
    let mut known: std::collections::BTreeMap<&str, Vec<u16>> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), vec![c.http_status()]))
        .collect();
    // The one error whose status is not its code's: a wrong password confirming a deletion.
    let confirmation = Error::NotConfirmed;
    known
        .get_mut(confirmation.code().as_str())
        .expect("a code")
        .push(confirmation.http_status());
    let mut named = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                let error = response["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("/ErrorBody"));
                if !error {
                    continue;
                }
                let description = response["description"].as_str().unwrap_or("");
                // The codes come first ("feature_disabled (why), feature_limit_reached or
                // email_not_verified; what else"): the words with `_` outside parentheses,
                // before a `:` or `;`, and any single word that is a code.
                let mut listed = String::new();
                let mut depth = 0;
                for c in description.chars().take_while(|c| *c != ':' && *c != ';') {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        c if depth == 0 => listed.push(c),
                        _ => {}
                    }
                }
                for word in listed.split(|c: char| !(c.is_ascii_lowercase() || c == '_')) {
                    if !word.contains('_') && !known.contains_key(word) {
                        continue;
                    }
                    named += 1;
                    let statuses = known.get(word).unwrap_or_else(|| {
                        panic!("{method} {path} {status}: `{word}` is not an error code")
                    });
                    assert!(
                        statuses.iter().any(|s| s.to_string() == *status),
                        "{method} {path}: `{word}` answers {statuses:?}, documented under {status}"
                    );
                }
            }
        }
    }
    assert!(named > 100, "only {named} codes named");
}
