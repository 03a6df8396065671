//! The admin API as an admin uses it, on both backends: features, tiers, the tier-limit
//! matrix, users, restrictions and settings, each checked by what users then see.

use std::collections::BTreeSet;

use crate::common::TestApp;
use axum::http::StatusCode;
use mitai_store::Backend;
use serde_json::{Value, json};

const SEEDED_FEATURES: [&str; 11] = [
    "weight",
    "circumference",
    "caliper",
    "nutrition",
    "activity",
    "photos",
    "ai_calls",
    "ai_pipeline",
    "export_csv",
    "export_json",
    "export_zip",
];

const SEEDED_TIERS: [&str; 4] = ["free", "basic", "premium", "selfhosted"];

/// An app at a fixed instant with an admin; returns (app, admin token).
async fn fresh_app(backend: Backend) -> (TestApp, String) {
    let app = TestApp::new(backend).await;
    app.clock_to("2027-04-01T10:00:00Z").await;
    let admin = app.admin().await;
    (app, admin)
}

/// Like [`fresh_app`], with e-mail verification off: these flows are about limits.
async fn admin_app(backend: Backend) -> (TestApp, String) {
    let (app, admin) = fresh_app(backend).await;
    app.set_setting(&admin, "require_email_verification", json!(false))
        .await;
    (app, admin)
}

/// The `<access>` of one feature from a `GET /api/me/access`-shaped list.
fn find<'a>(list: &'a Value, feature: &str) -> &'a Value {
    list["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|a| a["feature"] == feature)
        .unwrap_or_else(|| panic!("{feature} missing from {list}"))
}

async fn my_access(app: &TestApp, token: &str, feature: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/me/access/{feature}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Ends a user's trial so that their base tier is what counts.
async fn end_trial(app: &TestApp, admin: &str, id: &str) {
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(admin),
            json!({"trial_ends_at": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["trial_ends_at"], Value::Null);
}

async fn admin_routes_need_an_admin(backend: Backend) {
    let (app, _admin) = admin_app(backend).await;
    let (user, id) = app.user("plain@example.org").await;
    for uri in [
        "/api/admin/features".to_owned(),
        "/api/admin/tiers".to_owned(),
        "/api/admin/tier-limits".to_owned(),
        "/api/admin/users".to_owned(),
        format!("/api/admin/users/{id}"),
        format!("/api/admin/users/{id}/access"),
        "/api/admin/settings".to_owned(),
    ] {
        let (status, body) = app.get(&uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        assert_eq!(code(&body), "unauthenticated");
        let (status, body) = app.get(&uri, Some(&user)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        assert_eq!(code(&body), "forbidden");
    }
    // A user cannot promote themself.
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&user),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn features_flow(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (user, _) = app.user("feat@example.org").await;

    let (status, list) = app.get("/api/admin/features", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, SEEDED_FEATURES);
    assert_eq!(list["next_cursor"], Value::Null);
    let weight = &list["items"][0];
    for field in [
        "id",
        "name",
        "description",
        "category",
        "kind",
        "unit",
        "reset_period",
        "default_limit",
        "active",
        "sort_order",
    ] {
        assert!(weight.get(field).is_some(), "{field} missing: {weight}");
    }

    // A new feature: created, listed, and visible to users at once.
    let new = json!({
        "id": "water", "name": "Water log", "description": "Glasses of water.",
        "category": "data", "kind": "count", "unit": "glasses",
        "reset_period": "daily", "default_limit": 8, "sort_order": 120
    });
    let (status, created) = app
        .post("/api/admin/features", Some(&admin), new.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "water");
    assert_eq!(created["default_limit"], 8);
    assert_eq!(created["reset_period"], "daily");
    assert_eq!(created["active"], true);
    let (status, one) = app.get("/api/admin/features/water", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, created);
    let (_, list) = app.get("/api/admin/features", Some(&admin)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 12);

    let (status, mine) = app.get("/api/me/access", Some(&user)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["features"].as_array().unwrap().len(), 12);
    let water = find(&mine, "water");
    assert_eq!(water["enabled"], true);
    assert_eq!(water["limit"], 8);
    assert_eq!(water["source"], "feature_default");
    assert_eq!(water["reset_period"], "daily");
    let (status, spent) = app
        .post(
            "/api/me/access/water/consume",
            Some(&user),
            json!({"amount": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{spent}");
    assert_eq!(spent["remaining"], 5);

    // Duplicates and bad input.
    let (status, body) = app.post("/api/admin/features", Some(&admin), new).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "id_taken");
    let (status, body) = app
        .post(
            "/api/admin/features",
            Some(&admin),
            json!({"id": "weight", "name": "Again", "kind": "count", "reset_period": "daily"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "id_taken");
    for (bad, field) in [
        (
            json!({"id": "Bad Id", "name": "x", "kind": "count", "reset_period": "daily"}),
            "id",
        ),
        (
            json!({"id": "ok_id", "name": "x", "kind": "counter", "reset_period": "daily"}),
            "kind",
        ),
        (
            json!({"id": "ok_id", "name": "x", "kind": "count", "reset_period": "hourly"}),
            "reset_period",
        ),
        (
            json!({"id": "ok_id", "name": "x", "kind": "count", "reset_period": "daily",
                   "default_limit": -1}),
            "default_limit",
        ),
        (
            json!({"id": "ok_id", "name": " ", "kind": "count", "reset_period": "daily"}),
            "name",
        ),
    ] {
        let (status, body) = app.post("/api/admin/features", Some(&admin), bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), "invalid_input");
        assert!(
            body["error"]["fields"][field].is_string(),
            "{field}: {body}"
        );
    }
    let (status, _) = app.get("/api/admin/features/ok_id", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The kill switch.
    let (status, patched) = app
        .patch(
            "/api/admin/features/water",
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    assert_eq!(patched["name"], "Water log", "other fields stay");
    let water = my_access(&app, &user, "water").await;
    assert_eq!(water["enabled"], false);
    assert_eq!(water["source"], "feature_inactive");
    assert_eq!(water["used"], 3, "usage is kept");
    let (status, body) = app
        .post("/api/me/access/water/consume", Some(&user), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "feature_disabled");
    assert_eq!(body["error"]["feature"], "water");

    // A seeded feature can be switched off too, and on again.
    let (status, _) = app
        .patch(
            "/api/admin/features/weight",
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, mine) = app.get("/api/me/access", Some(&user)).await;
    assert_eq!(find(&mine, "weight")["source"], "feature_inactive");
    assert_eq!(find(&mine, "weight")["enabled"], false);
    let (status, body) = app
        .post("/api/me/access/weight/consume", Some(&user), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "feature_disabled")
    );
    let (status, _) = app
        .patch(
            "/api/admin/features/water",
            Some(&admin),
            json!({"active": true, "default_limit": 4}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let water = my_access(&app, &user, "water").await;
    assert_eq!(water["enabled"], true);
    assert_eq!(water["limit"], 4);
    assert_eq!(water["remaining"], 1);
    assert_eq!(water["source"], "feature_default");

    // PATCH of an unknown feature, or with a bad value.
    let (status, _) = app
        .patch(
            "/api/admin/features/nope",
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .patch(
            "/api/admin/features/water",
            Some(&admin),
            json!({"reset_period": "sometimes"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, one) = app.get("/api/admin/features/water", Some(&admin)).await;
    assert_eq!(one["reset_period"], "daily");
}

async fn tiers_flow(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (user, id) = app.user("tiered@example.org").await;

    let (status, list) = app.get("/api/admin/tiers", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, SEEDED_TIERS);

    let (status, gold) = app
        .post(
            "/api/admin/tiers",
            Some(&admin),
            json!({"id": "gold", "name": "Gold", "description": "Between premium and selfhosted.",
                   "rank": 25, "sort_order": 35}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{gold}");
    assert_eq!(gold["id"], "gold");
    assert_eq!(gold["rank"], 25);
    assert_eq!(gold["active"], true);
    let (status, body) = app
        .post(
            "/api/admin/tiers",
            Some(&admin),
            json!({"id": "gold", "name": "Gold again", "rank": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "id_taken");
    let (status, body) = app
        .post(
            "/api/admin/tiers",
            Some(&admin),
            json!({"id": "GOLD!", "name": "x", "rank": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A user on the new tier (still in the premium trial, rank 20 < 25).
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"tier": "gold"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["tier"], "gold");
    assert_eq!(body["profile"]["effective_tier"], "gold");
    let (_, mine) = app.get("/api/me/access", Some(&user)).await;
    assert_eq!(mine["effective_tier"], "gold");
    // Gold has no matrix cells yet: every feature falls back to its default.
    for a in mine["features"].as_array().unwrap() {
        assert_eq!(a["source"], "feature_default", "{a}");
    }
    assert_eq!(find(&mine, "weight")["limit"], 31);

    // Rank decides: below premium, the trial wins again.
    let (status, patched) = app
        .patch("/api/admin/tiers/gold", Some(&admin), json!({"rank": 15}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["rank"], 15);
    assert_eq!(patched["name"], "Gold");
    let (_, one) = app.get("/api/admin/tiers/gold", Some(&admin)).await;
    assert_eq!(one["rank"], 15);
    let (_, me) = app.get("/api/me", Some(&user)).await;
    assert_eq!(me["profile"]["effective_tier"], "premium");
    let (status, patched) = app
        .patch("/api/admin/tiers/gold", Some(&admin), json!({"rank": 40}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (_, me) = app.get("/api/me", Some(&user)).await;
    assert_eq!(me["profile"]["effective_tier"], "gold");

    // The matrix knows the tier, with no cells.
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&admin)).await;
    assert_eq!(matrix["tiers"].as_array().unwrap().len(), 5);
    assert_eq!(matrix["limits"]["gold"], json!({}));

    // The default tier cannot be switched off; unknown tiers are 404.
    let (status, body) = app
        .patch(
            "/api/admin/tiers/free",
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = app.get("/api/admin/tiers/platinum", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .patch(
            "/api/admin/tiers/platinum",
            Some(&admin),
            json!({"rank": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A user cannot be put on a tier that does not exist.
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"tier": "platinum"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["tier"].is_string());
}

async fn tier_limits_flow(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (user, id) = app.user("matrix@example.org").await;
    end_trial(&app, &admin, &id).await;

    let (status, matrix) = app.get("/api/admin/tier-limits", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(matrix["tiers"].as_array().unwrap().len(), 4);
    assert_eq!(matrix["features"].as_array().unwrap().len(), 11);
    let limits = matrix["limits"].as_object().unwrap();
    assert_eq!(
        limits.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(SEEDED_TIERS)
    );
    let cells: usize = limits
        .values()
        .map(|row| row.as_object().unwrap().len())
        .sum();
    assert_eq!(cells, 44);
    for tier in SEEDED_TIERS {
        for feature in SEEDED_FEATURES {
            assert!(
                limits[tier].get(feature).is_some(),
                "cell {tier}/{feature} missing"
            );
        }
    }
    for feature in SEEDED_FEATURES {
        assert_eq!(limits["selfhosted"][feature], Value::Null, "{feature}");
    }
    assert_eq!(limits["free"]["weight"], 31);

    // Changing a cell changes what free users see.
    let (status, cell) = app
        .put(
            "/api/admin/tier-limits/free/weight",
            Some(&admin),
            json!({"limit": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cell}");
    assert_eq!(
        cell,
        json!({"tier": "free", "feature": "weight", "limit": 2})
    );
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&admin)).await;
    assert_eq!(matrix["limits"]["free"]["weight"], 2);
    let a = my_access(&app, &user, "weight").await;
    assert_eq!(a["limit"], 2);
    assert_eq!(a["source"], "tier_limit");
    for _ in 0..2 {
        let (status, _) = app
            .post("/api/me/access/weight/consume", Some(&user), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = app
        .post("/api/me/access/weight/consume", Some(&user), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "feature_limit_reached")
    );
    assert_eq!(body["error"]["limit"], 2);

    // null = unlimited.
    let (status, _) = app
        .put(
            "/api/admin/tier-limits/free/weight",
            Some(&admin),
            json!({"limit": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let a = my_access(&app, &user, "weight").await;
    assert_eq!(a["limit"], Value::Null);
    assert_eq!(a["remaining"], Value::Null);
    assert_eq!(a["used"], 2);

    // DELETE: back to the feature default.
    let (status, body) = app
        .delete("/api/admin/tier-limits/free/weight", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let a = my_access(&app, &user, "weight").await;
    assert_eq!(a["source"], "feature_default");
    assert_eq!(a["limit"], 31);
    assert_eq!(a["remaining"], 29);
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&admin)).await;
    assert!(matrix["limits"]["free"].get("weight").is_none(), "{matrix}");
    let cells: usize = matrix["limits"]
        .as_object()
        .unwrap()
        .values()
        .map(|row| row.as_object().unwrap().len())
        .sum();
    assert_eq!(cells, 43);
    // The default itself follows the feature.
    app.patch(
        "/api/admin/features/weight",
        Some(&admin),
        json!({"default_limit": 3}),
    )
    .await;
    let a = my_access(&app, &user, "weight").await;
    assert_eq!(
        (a["limit"].clone(), a["source"].clone()),
        (json!(3), json!("feature_default"))
    );

    // Other tiers are untouched.
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&admin)).await;
    assert_eq!(matrix["limits"]["basic"]["weight"], 100);

    // Errors: unknown tier or feature, missing or bad limit.
    for uri in [
        "/api/admin/tier-limits/platinum/weight",
        "/api/admin/tier-limits/free/teleport",
    ] {
        let (status, _) = app.put(uri, Some(&admin), json!({"limit": 1})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let (status, _) = app.delete(uri, Some(&admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    for bad in [json!({}), json!({"limit": -5}), json!({"limit": "ten"})] {
        let (status, body) = app
            .put(
                "/api/admin/tier-limits/free/photos",
                Some(&admin),
                bad.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (_, matrix) = app.get("/api/admin/tier-limits", Some(&admin)).await;
    assert_eq!(matrix["limits"]["free"]["photos"], 5);
}

async fn users_list_and_pagination(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let mut ids = BTreeSet::new();
    for (email, name) in [
        ("anna.schmidt@example.org", "Anna Schmidt"),
        ("bernd@example.org", "Bernd Müller"),
        ("carla@example.net", "Carla"),
        ("dora_x@example.org", "Dora"),
    ] {
        let (status, body) = app
            .post(
                "/api/auth/register",
                None,
                json!({"email": email, "password": "password123", "name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.insert(body["profile"]["id"].as_str().unwrap().to_owned());
    }
    let (_, me) = app.get("/api/me", Some(&admin)).await;
    ids.insert(me["profile"]["id"].as_str().unwrap().to_owned());
    assert_eq!(ids.len(), 5);

    let (status, all) = app.get("/api/admin/users", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], Value::Null);

    let emails = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["email"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, expected) in [
        ("anna", vec!["anna.schmidt@example.org"]),
        ("SCHMIDT", vec!["anna.schmidt@example.org"]),
        ("müller", vec!["bernd@example.org"]),
        ("MÜLLER", vec!["bernd@example.org"]),
        ("example.net", vec!["carla@example.net"]),
        // `_` and `%` are literal, not wildcards.
        ("dor_", vec![]),
        ("dora_", vec!["dora_x@example.org"]),
        ("%", vec![]),
        ("nobody", vec![]),
    ] {
        let (status, page) = app
            .get(
                &format!("/api/admin/users?query={}", encode(query)),
                Some(&admin),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(emails(&page), expected, "query {query}");
    }
    let (_, page) = app
        .get("/api/admin/users?query=example.org", Some(&admin))
        .await;
    assert_eq!(emails(&page).len(), 4, "{page}");

    // limit=1 walks every profile exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let uri = match &cursor {
            Some(c) => format!("/api/admin/users?limit=1&cursor={c}"),
            None => "/api/admin/users?limit=1".to_owned(),
        };
        let (status, page) = app.get(&uri, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), ids);
    // With a query, pages of two.
    let (_, first) = app
        .get("/api/admin/users?query=example.org&limit=2", Some(&admin))
        .await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = app
        .get(
            &format!("/api/admin/users?query=example.org&limit=2&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    let mut both = emails(&first);
    both.extend(emails(&second));
    assert_eq!(both.len(), 4);
    assert_eq!(both.iter().collect::<BTreeSet<_>>().len(), 4);
    assert!(both.iter().all(|e| e.ends_with("example.org")));

    // Bad list parameters.
    for bad in ["limit=0", "limit=501", "limit=ten", "cursor=not-a-cursor"] {
        let (status, body) = app
            .get(&format!("/api/admin/users?{bad}"), Some(&admin))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(code(&body), "invalid_input");
    }
    let (status, page) = app.get("/api/admin/users?limit=500", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
}

/// Percent-encodes a query value (enough for these tests).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn users_get_and_patch(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (user, id) = app.user("patched@example.org").await;

    let (status, detail) = app
        .get(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["profile"]["id"], id.as_str());
    assert_eq!(detail["profile"]["email"], "patched@example.org");
    assert_eq!(detail["profile"]["tier"], "free");
    assert_eq!(detail["profile"]["effective_tier"], "premium");
    assert_eq!(detail["restrictions"], json!([]));
    let (status, _) = app
        .get(
            "/api/admin/users/0190f5d2-0000-7000-8000-000000000000",
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.get("/api/admin/users/not-a-uuid", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // tier + trial.
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"tier": "basic", "trial_ends_at": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["tier"], "basic");
    assert_eq!(body["profile"]["effective_tier"], "basic");
    assert_eq!(body["profile"]["trial_ends_at"], Value::Null);
    let (_, me) = app.get("/api/me", Some(&user)).await;
    assert_eq!(me["profile"]["effective_tier"], "basic");
    assert_eq!(my_access(&app, &user, "weight").await["limit"], 100);

    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"trial_ends_at": "2027-04-03T10:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["trial_ends_at"], "2027-04-03T10:00:00Z");
    assert_eq!(body["profile"]["effective_tier"], "premium");
    app.clock_to("2027-04-03T10:00:01Z").await;
    let (_, me) = app.get("/api/me", Some(&user)).await;
    assert_eq!(me["profile"]["effective_tier"], "basic");

    // role: the user becomes an admin and can use the admin API, then not any more.
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["role"], "admin");
    let (status, _) = app.get("/api/admin/users", Some(&user)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get("/api/admin/users", Some(&user)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad patches change nothing.
    for bad in [
        json!({"role": "superuser"}),
        json!({"tier": "nope"}),
        json!({"disabled": "yes"}),
        json!({"trial_ends_at": "soon"}),
        json!({"email": "other@example.org"}),
    ] {
        let (status, body) = app
            .patch(&format!("/api/admin/users/{id}"), Some(&admin), bad.clone())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (_, detail) = app
        .get(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(detail["profile"]["role"], "user");
    assert_eq!(detail["profile"]["tier"], "basic");

    // disabled: the token stops working; enabling lets the user sign in again.
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["disabled"], true);
    let (status, body) = app.get("/api/me", Some(&user)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "unauthenticated");
    let (status, _) = app
        .post("/api/me/access/weight/consume", Some(&user), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "patched@example.org", "password": "password123"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "account_disabled")
    );
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fresh = app.login("patched@example.org", "password123").await;
    let (status, _) = app.get("/api/me", Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn the_last_admin_stays(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (_, me) = app.get("/api/me", Some(&admin)).await;
    let admin_id = me["profile"]["id"].as_str().unwrap().to_owned();

    for patch in [
        json!({"role": "user"}),
        json!({"disabled": true}),
        json!({"role": "user", "disabled": true}),
    ] {
        let (status, body) = app
            .patch(
                &format!("/api/admin/users/{admin_id}"),
                Some(&admin),
                patch.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{patch}: {body}");
        assert_eq!(code(&body), "last_admin");
    }
    let (status, me) = app.get("/api/me", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["profile"]["role"], "admin");
    assert_eq!(me["profile"]["disabled"], false);
    // Other changes to the last admin are fine.
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            json!({"tier": "premium", "role": "admin", "disabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // With a second admin, the first may step down; then the second is the last one.
    let (second, second_id) = app.user("second@example.org").await;
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{second_id}"),
            Some(&admin),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A disabled admin does not count as the other admin.
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{second_id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "last_admin"));
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{second_id}"),
            Some(&admin),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Disabling ended the second admin's sessions; enabled again, it signs in anew.
    let (status, _) = app.get("/api/me", Some(&second)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let second = app.login("second@example.org", "password123").await;

    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get("/api/admin/users", Some(&admin)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no longer an admin");
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{second_id}"),
            Some(&second),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "last_admin"));
}

async fn restrictions_flow(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (user, id) = app.user("restricted@example.org").await;
    let uri = format!("/api/admin/users/{id}/restrictions/weight");

    // Premium trial: weight is unlimited by the tier.
    let a = my_access(&app, &user, "weight").await;
    assert_eq!(
        (a["source"].clone(), a["limit"].clone()),
        (json!("tier_limit"), Value::Null)
    );

    let (status, body) = app
        .put(
            &uri,
            Some(&admin),
            json!({"limit": 1, "reason": "abuse", "valid_until": "2027-04-02T10:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["limit"], 1);
    assert_eq!(body["reason"], "abuse");
    assert_eq!(body["valid_until"], "2027-04-02T10:00:00Z");
    assert_eq!(body["feature"], "weight");
    let (_, detail) = app
        .get(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(detail["restrictions"].as_array().unwrap().len(), 1);
    assert_eq!(detail["restrictions"][0]["reason"], "abuse");

    let a = my_access(&app, &user, "weight").await;
    assert_eq!(a["source"], "user_restriction");
    assert_eq!(a["limit"], 1);
    let (status, _) = app
        .post("/api/me/access/weight/consume", Some(&user), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post("/api/me/access/weight/consume", Some(&user), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "feature_limit_reached")
    );

    // Just before valid_until it still applies; from valid_until on, the tier does.
    app.clock_to("2027-04-02T09:58:00Z").await;
    assert_eq!(
        my_access(&app, &user, "weight").await["source"],
        "user_restriction"
    );
    app.clock_to("2027-04-02T10:00:00Z").await;
    let a = my_access(&app, &user, "weight").await;
    assert_eq!(a["source"], "tier_limit", "{a}");
    assert_eq!(a["limit"], Value::Null);
    assert_eq!(a["used"], 1);
    let (status, _) = app
        .post("/api/me/access/weight/consume", Some(&user), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // A restriction without an end; `null` lifts a tier limit for this user.
    let (status, _) = app
        .put(
            &format!("/api/admin/users/{id}/restrictions/photos"),
            Some(&admin),
            json!({"limit": null, "reason": "photographer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let a = my_access(&app, &user, "photos").await;
    assert_eq!(
        (a["source"].clone(), a["limit"].clone()),
        (json!("user_restriction"), Value::Null)
    );
    // 0 disables.
    let (status, _) = app
        .put(
            &format!("/api/admin/users/{id}/restrictions/ai_calls"),
            Some(&admin),
            json!({"limit": 0, "reason": "no AI"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let a = my_access(&app, &user, "ai_calls").await;
    assert_eq!(a["enabled"], false);
    assert_eq!(a["source"], "user_restriction");
    let (status, body) = app
        .post("/api/me/access/ai_calls/consume", Some(&user), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "feature_disabled")
    );

    // DELETE: 204, then 404.
    let photos = format!("/api/admin/users/{id}/restrictions/photos");
    let (status, _) = app.delete(&photos, Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.delete(&photos, Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(code(&body), "not_found");
    let a = my_access(&app, &user, "photos").await;
    assert_eq!(
        (a["source"].clone(), a["limit"].clone()),
        (json!("tier_limit"), json!(200))
    );
    // The expired weight restriction still exists until deleted.
    let (status, _) = app.delete(&uri, Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Refusals.
    let (status, body) = app
        .put(
            &uri,
            Some(&admin),
            json!({"limit": 1, "reason": "late", "valid_until": "2027-04-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["valid_until"].is_string());
    for bad in [
        json!({"reason": "no limit"}),
        json!({"limit": -1, "reason": "negative"}),
        json!({"limit": 1}),
    ] {
        let (status, body) = app.put(&uri, Some(&admin), bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (status, _) = app
        .put(
            &format!("/api/admin/users/{id}/restrictions/teleport"),
            Some(&admin),
            json!({"limit": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .put(
            "/api/admin/users/0190f5d2-0000-7000-8000-000000000000/restrictions/weight",
            Some(&admin),
            json!({"limit": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, detail) = app
        .get(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(
        detail["restrictions"].as_array().unwrap().len(),
        1,
        "only ai_calls"
    );
}

/// Good and bad values for every setting key, in the order the API lists them.
fn setting_values() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "registration_mode",
            json!("invite_only"),
            json!("sometimes"),
        ),
        ("require_email_verification", json!(false), json!("yes")),
        ("default_tier", json!("basic"), json!("platinum")),
        ("trial_days", json!(7), json!(-1)),
        ("trial_tier", json!("basic"), json!(5)),
        (
            "usage_timezone",
            json!("Europe/Berlin"),
            json!("Mars/Olympus"),
        ),
        ("wellpass_grace_days", json!(5), json!(99)),
        ("billing_grace_days", json!(7), json!(32)),
        ("users_can_invite", json!(true), json!(1)),
        (
            "mail_from",
            json!("Mitai <hello@example.org>"),
            json!("nobody"),
        ),
        (
            "base_url",
            json!("https://mitai.example.org"),
            json!("ftp://example.org"),
        ),
        ("photo_max_bytes", json!(2_097_152), json!(10)),
        ("reminder_lead_days", json!(7), json!(1000)),
        ("notification_digest_hour", json!(6), json!(24)),
        ("activity_retention_days", json!(30), json!(3)),
    ]
}

async fn settings_flow(backend: Backend) {
    let (app, admin) = fresh_app(backend).await;
    let (_, me) = app.get("/api/me", Some(&admin)).await;
    let admin_id = me["profile"]["id"].clone();

    let (status, list) = app.get("/api/admin/settings", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = setting_values().iter().map(|(k, _, _)| *k).collect();
    assert_eq!(keys, expected);
    let defaults: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].clone())
        .collect();
    assert_eq!(defaults[0], "open");
    assert_eq!(defaults[5], "UTC");

    for (i, (key, good, bad)) in setting_values().into_iter().enumerate() {
        // A bad value first: refused, the old value kept.
        let (status, body) = app
            .put(
                &format!("/api/admin/settings/{key}"),
                Some(&admin),
                json!({"value": bad}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{key}={bad}: {body}"
        );
        assert_eq!(code(&body), "invalid_input");
        assert!(body["error"]["fields"]["value"].is_string(), "{body}");
        let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
        assert_eq!(list["items"][i]["value"], defaults[i], "{key} kept");

        let (status, body) = app
            .put(
                &format!("/api/admin/settings/{key}"),
                Some(&admin),
                json!({"value": good}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{key}={good}: {body}");
        assert_eq!(body["key"], key);
        assert_eq!(body["value"], good);
        assert_eq!(body["updated_by"], admin_id);
        let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
        assert_eq!(list["items"][i]["value"], good, "{key} stored");

        // And a bad value after a good one keeps the good one.
        let (status, _) = app
            .put(
                &format!("/api/admin/settings/{key}"),
                Some(&admin),
                json!({"value": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
        assert_eq!(
            list["items"][i]["value"], good,
            "{key} kept after a bad value"
        );
    }

    // Canonical forms.
    let stored = app
        .set_setting(&admin, "base_url", json!("https://mitai.example.org/"))
        .await;
    assert_eq!(stored["value"], "https://mitai.example.org");
    app.set_setting(&admin, "base_url", Value::Null).await;

    // Unknown key, missing value, an inactive tier.
    let (status, _) = app
        .put(
            "/api/admin/settings/colour",
            Some(&admin),
            json!({"value": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .put("/api/admin/settings/trial_days", Some(&admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.post(
        "/api/admin/tiers",
        Some(&admin),
        json!({"id": "retired", "name": "Retired", "rank": 1, "active": false}),
    )
    .await;
    let (status, _) = app
        .put(
            "/api/admin/settings/default_tier",
            Some(&admin),
            json!({"value": "retired"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The settings take effect: registration is invite-only now.
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "late@example.org", "password": "password123"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "registration_closed")
    );
    app.set_setting(&admin, "registration_mode", json!("open"))
        .await;
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "late@example.org", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // default_tier basic, a 7-day basic trial.
    assert_eq!(body["profile"]["tier"], "basic");
    assert_eq!(body["profile"]["effective_tier"], "basic");
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(body["profile"][field].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        at("trial_ends_at") - at("created_at"),
        chrono::TimeDelta::days(7)
    );
}

async fn admin_sees_the_users_access(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (user, id) = app.user("mirror@example.org").await;
    app.restrict(&admin, &id, "weight", json!(5)).await;
    app.put(
        "/api/admin/tier-limits/premium/nutrition",
        Some(&admin),
        json!({"limit": 12}),
    )
    .await;
    app.post(
        "/api/me/access/weight/consume",
        Some(&user),
        json!({"amount": 2}),
    )
    .await;
    app.post("/api/me/access/nutrition/consume", Some(&user), json!({}))
        .await;

    let (status, mine) = app.get("/api/me/access", Some(&user)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, theirs) = app
        .get(&format!("/api/admin/users/{id}/access"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine, theirs);
    assert_eq!(mine["effective_tier"], "premium");
    assert_eq!(find(&mine, "weight")["used"], 2);
    assert_eq!(find(&mine, "weight")["source"], "user_restriction");
    assert_eq!(find(&mine, "nutrition")["limit"], 12);
    assert_eq!(find(&mine, "nutrition")["used"], 1);

    // After the trial: still the same view on both sides.
    app.advance(15 * 86_400).await;
    let (_, mine) = app.get("/api/me/access", Some(&user)).await;
    let (_, theirs) = app
        .get(&format!("/api/admin/users/{id}/access"), Some(&admin))
        .await;
    assert_eq!(mine, theirs);
    assert_eq!(mine["effective_tier"], "free");

    // Every feature once, and one-by-one views agree with the list.
    let features = mine["features"].as_array().unwrap();
    assert_eq!(features.len(), 11);
    for a in features {
        let one = my_access(&app, &user, a["feature"].as_str().unwrap()).await;
        assert_eq!(&one, a);
    }
    let (status, _) = app
        .get(
            "/api/admin/users/0190f5d2-0000-7000-8000-000000000000/access",
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Two admins demote each other at the same moment: at most one of them succeeds.
async fn racing_demotions_keep_an_admin(backend: Backend) {
    let (app, first) = admin_app(backend).await;
    let app = std::sync::Arc::new(app);
    let (_, me) = app.get("/api/me", Some(&first)).await;
    let first_id = me["profile"]["id"].as_str().unwrap().to_owned();
    let (second, second_id) = app.user("second@example.org").await;
    let demote = |token: &String, id: &String| {
        let (app, token, id) = (app.clone(), token.clone(), id.clone());
        tokio::spawn(async move {
            app.patch(
                &format!("/api/admin/users/{id}"),
                Some(&token),
                json!({"role": "user"}),
            )
            .await
        })
    };
    for round in 0..10 {
        // Both are active admins again (whichever of them still is one restores the other).
        for token in [&first, &second] {
            for id in [&first_id, &second_id] {
                app.patch(
                    &format!("/api/admin/users/{id}"),
                    Some(token),
                    json!({"role": "admin"}),
                )
                .await;
            }
        }
        let a = demote(&first, &second_id);
        let b = demote(&second, &first_id);
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(
            a.0 != StatusCode::OK || b.0 != StatusCode::OK,
            "round {round}: both demotions succeeded"
        );
        let mut admins = 0;
        for token in [&first, &second] {
            let (_, me) = app.get("/api/me", Some(token)).await;
            if me["profile"]["role"] == "admin" {
                admins += 1;
            }
        }
        assert!(admins >= 1, "round {round}: no admin left ({a:?}, {b:?})");
        for (status, body) in [&a, &b] {
            assert!(
                *status == StatusCode::OK
                    || (*status == StatusCode::CONFLICT && code(body) == "last_admin")
                    || (*status == StatusCode::FORBIDDEN && code(body) == "forbidden"),
                "round {round}: {status} {body}"
            );
        }
    }
}

on_both_backends!(
    admin_routes_need_an_admin,
    features_flow,
    tiers_flow,
    tier_limits_flow,
    users_list_and_pagination,
    users_get_and_patch,
    the_last_admin_stays,
    restrictions_flow,
    settings_flow,
    admin_sees_the_users_access,
    racing_demotions_keep_an_admin,
);
