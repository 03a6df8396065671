//! The audit trail (DESIGN §18), on both backends: every admin change — limits, features,
//! tiers, settings, coupons (one, a batch, a change), grants, personal limits, roles — is
//! an activity entry by the admin with the values before and after, and the activity page
//! shows it in words, with names instead of ids.

use crate::common::TestApp;
use axum::http::StatusCode;
use mitai_store::Backend;
use serde_json::{Value, json};

/// The newest entry of `action`; panics if there is none.
async fn last(app: &TestApp, admin: &str, action: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/admin/activity?action={action}"), Some(admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"][0].clone()
}

async fn ok(result: (StatusCode, Value)) -> Value {
    let (status, body) = result;
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn every_admin_change_is_audited(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (_, me) = app.get("/api/me", Some(&admin)).await;
    let admin_id = me["profile"]["id"].as_str().unwrap().to_owned();
    let (_, anna) = app.user("anna@example.org").await;

    // A cell of the matrix: set, changed, removed.
    let cell = "/api/admin/tier-limits/free/weight";
    ok(app.put(cell, Some(&admin), json!({"limit": 40})).await).await;
    let e = last(&app, &admin, "tier_limit_changed").await;
    assert_eq!(e["actor_id"], admin_id.as_str());
    assert_eq!(
        e["details"],
        json!({"tier": "free", "feature": "weight", "before": {"limit": 31}, "after": {"limit": 40}})
    );
    ok(app.put(cell, Some(&admin), json!({"limit": null})).await).await;
    let e = last(&app, &admin, "tier_limit_changed").await;
    assert_eq!(e["details"]["after"], json!({"limit": null}), "unlimited");
    ok(app.delete(cell, Some(&admin)).await).await;
    let e = last(&app, &admin, "tier_limit_changed").await;
    assert_eq!(e["details"]["before"], json!({"limit": null}));
    assert_eq!(e["details"]["after"], Value::Null, "a removed cell");

    // A feature: created, then only what changed.
    let body = json!({"id": "steps", "name": "Steps", "kind": "count", "reset_period": "daily", "default_limit": 5});
    ok(app.post("/api/admin/features", Some(&admin), body).await).await;
    let e = last(&app, &admin, "feature_created").await;
    assert_eq!(e["details"]["feature"], "steps");
    assert_eq!(e["details"]["before"], Value::Null);
    assert_eq!(e["details"]["after"]["default_limit"], 5);
    let patch = json!({"active": false, "name": "Steps"});
    ok(app
        .patch("/api/admin/features/steps", Some(&admin), patch)
        .await)
    .await;
    let e = last(&app, &admin, "feature_updated").await;
    assert_eq!(
        e["details"],
        json!({"feature": "steps", "before": {"active": true}, "after": {"active": false}})
    );

    // A tier.
    let body = json!({"id": "gold", "name": "Gold", "rank": 50});
    ok(app.post("/api/admin/tiers", Some(&admin), body).await).await;
    assert_eq!(
        last(&app, &admin, "tier_created").await["details"]["after"]["rank"],
        50
    );
    ok(app
        .patch("/api/admin/tiers/gold", Some(&admin), json!({"rank": 60}))
        .await)
    .await;
    let e = last(&app, &admin, "tier_updated").await;
    assert_eq!(e["details"]["before"], json!({"rank": 50}));
    assert_eq!(e["details"]["after"], json!({"rank": 60}));

    // A setting: before and after; saving the same value again logs nothing new.
    app.set_setting(&admin, "trial_days", json!(30)).await;
    let e = last(&app, &admin, "setting_changed").await;
    assert_eq!(
        e["details"],
        json!({"key": "trial_days", "before": {"value": 14}, "after": {"value": 30}})
    );
    app.set_setting(&admin, "trial_days", json!(30)).await;
    assert_eq!(last(&app, &admin, "setting_changed").await["id"], e["id"]);

    // Coupons: one, a batch (one entry), a change.
    let body =
        json!({"kind": "single_use", "tier": "basic", "duration_days": 30, "code": "AUDIT-1"});
    let coupon = ok(app.post("/api/admin/coupons", Some(&admin), body).await).await;
    let e = last(&app, &admin, "coupon_created").await;
    assert_eq!(e["details"]["code"], "AUDIT-1");
    assert_eq!(e["details"]["after"]["tier"], "basic");
    let body = json!({"kind": "single_use", "tier": "basic", "duration_days": 7, "count": 27, "campaign": "spring"});
    ok(app
        .post("/api/admin/coupons/batch", Some(&admin), body)
        .await)
    .await;
    let (_, generated) = app
        .get("/api/admin/activity?action=coupons_generated", Some(&admin))
        .await;
    assert_eq!(
        generated["items"].as_array().unwrap().len(),
        1,
        "one entry per batch"
    );
    assert_eq!(generated["items"][0]["details"]["count"], 27);
    assert_eq!(generated["items"][0]["details"]["campaign"], "spring");
    let id = coupon["id"].as_str().unwrap();
    let uri = format!("/api/admin/coupons/{id}");
    ok(app
        .patch(&uri, Some(&admin), json!({"active": false}))
        .await)
    .await;
    let e = last(&app, &admin, "coupon_updated").await;
    assert_eq!(e["details"]["before"], json!({"active": true}));
    assert_eq!(e["details"]["after"], json!({"active": false}));

    // A grant: given, paused, resumed, revoked — each with its state before and after.
    let uri = format!("/api/admin/users/{anna}/grants");
    let grant = ok(app
        .post(&uri, Some(&admin), json!({"tier": "basic", "days": 10}))
        .await)
    .await;
    let e = last(&app, &admin, "grant_created").await;
    assert_eq!(e["profile_id"], anna.as_str());
    assert_eq!(e["details"]["before"], Value::Null);
    assert_eq!(e["details"]["after"]["tier"], "basic");
    let gid = grant["id"].as_str().unwrap();
    let pause = json!({"reason": "travelling"});
    ok(app
        .post(
            &format!("/api/admin/grants/{gid}/pause"),
            Some(&admin),
            pause,
        )
        .await)
    .await;
    let e = last(&app, &admin, "grant_paused").await;
    assert_eq!(e["details"]["grant_id"], gid);
    assert_eq!(e["details"]["after"]["status"], "paused_admin");
    assert_eq!(e["details"]["after"]["pause_reason"], "travelling");
    ok(app
        .post(
            &format!("/api/admin/grants/{gid}/resume"),
            Some(&admin),
            json!({}),
        )
        .await)
    .await;
    assert_eq!(
        last(&app, &admin, "grant_resumed").await["details"]["before"]["status"],
        "paused_admin"
    );
    ok(app
        .delete(&format!("/api/admin/grants/{gid}"), Some(&admin))
        .await)
    .await;
    assert_eq!(
        last(&app, &admin, "grant_revoked").await["details"]["after"]["status"],
        "revoked"
    );

    // A personal limit replaced: the old one is the before.
    app.restrict(&admin, &anna, "ai_calls", json!(1)).await;
    app.restrict(&admin, &anna, "ai_calls", json!(3)).await;
    let e = last(&app, &admin, "restriction_set").await;
    assert_eq!(
        e["details"]["before"],
        json!({"limit": 1}),
        "only what changed"
    );
    assert_eq!(e["details"]["after"], json!({"limit": 3}));

    // A role.
    let uri = format!("/api/admin/users/{anna}");
    ok(app
        .patch(&uri, Some(&admin), json!({"role": "admin"}))
        .await)
    .await;
    let e = last(&app, &admin, "role_changed").await;
    assert_eq!(
        e["details"],
        json!({"before": {"role": "user"}, "after": {"role": "admin"}})
    );

    // The page says it in words and names people, in both languages.
    let (status, page) = app.get_html("/admin/activity", &admin).await;
    assert_eq!(status, StatusCode::OK);
    for words in [
        "Plan limit changed",
        "Coupons generated",
        "Access paused",
        "Role changed",
        "anna@example.org",
        "<del>user</del>",
        "<ins>admin</ins>",
    ] {
        assert!(page.contains(words), "{words} missing");
    }
    assert!(
        !page.contains(&format!(">{anna}<")),
        "ids are not shown as text"
    );
    ok(app
        .patch("/api/me", Some(&admin), json!({"language": "de"}))
        .await)
    .await;
    let (_, page) = app
        .get_html("/admin/activity?action=tier_limit_changed", &admin)
        .await;
    let rows = page.split("<tbody>").nth(1).unwrap_or_default();
    assert!(rows.contains("Tarifgrenze geändert"), "German words");
    assert!(
        page.contains("unbegrenzt"),
        "a null limit reads as unlimited"
    );
    // The filter takes an e-mail for the profile.
    let (status, page) = app
        .get_html("/admin/activity?profile_id=anna%40example.org", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = page.split("<tbody>").nth(1).unwrap_or_default();
    assert!(rows.contains("Rolle geändert") && !rows.contains("Tarifgrenze geändert"));
}

on_both_backends!(every_admin_change_is_audited);
