//! Scheduled jobs: reminders sent once, grant expiry logged once, and on PostgreSQL two
//! `mitai serve` processes running jobs at the same time still send a due reminder once.

use std::path::Path;

use crate::common::TestApp;
use crate::common::process::{Server, http};
use axum::http::StatusCode;
use mitai_store::Backend;
use mitai_store::testing::TestDb;
use serde_json::{Value, json};

async fn run_jobs(app: &TestApp) -> Value {
    let (status, report) = app.post("/api/test/jobs/run", None, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

async fn templates(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = app
        .db
        .store
        .outbox(None, None, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.template)
        .collect();
    names.sort();
    names
}

async fn reminders_and_expiries_happen_once(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.clock_to("2027-01-10T12:00:00Z").await;
    let admin = app.admin().await;
    app.set_setting(&admin, "trial_days", json!(2)).await;
    // The mails counted here are the person's; the admin's digest of the sign-up is not.
    let (status, _) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&admin),
            json!({"user_registered": "off"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, id) = app.user("remind@example.org").await;
    let (status, body) = app
        .post(
            &format!("/api/admin/users/{id}/grants"),
            Some(&admin),
            json!({"tier": "basic", "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-01-12T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .post(
            &format!("/api/admin/users/{id}/grants"),
            Some(&admin),
            json!({"tier": "selfhosted", "days": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let report = run_jobs(&app).await;
    assert_eq!(report["trial_reminders"], 1, "{report}");
    assert_eq!(
        report["grant_reminders"], 1,
        "only the fixed grant ends within the lead days: {report}"
    );
    assert_eq!(
        report["mail_sent"], 3,
        "the verification mail of the registration and the two reminders: {report}"
    );
    let report = run_jobs(&app).await;
    assert_eq!(
        (
            report["trial_reminders"].as_u64(),
            report["grant_reminders"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        templates(&app).await,
        vec!["grant_expiring", "trial_ending", "verify_email"]
    );

    // Past the fixed grant's end: its expiry is logged once.
    app.clock_to("2027-01-13T00:00:00Z").await;
    let report = run_jobs(&app).await;
    assert_eq!(report["grants_expired"], 1, "{report}");
    assert_eq!(run_jobs(&app).await["grants_expired"], 0);
    let admin = app.login("admin@example.org", "adminpass1").await;
    let (_, log) = app
        .get(
            &format!("/api/admin/activity?action=grant_expired&profile_id={id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");

    // 30 days later the duration grant ends too; its reminder came once, 3 days ahead.
    app.clock_to("2027-02-08T00:00:00Z").await;
    assert_eq!(run_jobs(&app).await["grant_reminders"], 1);
    assert_eq!(
        templates(&app).await,
        vec![
            "grant_expiring",
            "grant_expiring",
            "trial_ending",
            "verify_email"
        ]
    );
    app.clock_to("2027-02-12T00:00:00Z").await;
    assert_eq!(run_jobs(&app).await["grants_expired"], 1);
}

/// Rounds run one right after another on one instance: each finds the lock free (the
/// previous round released it before answering), none is skipped and none fails.
async fn back_to_back_rounds_are_never_skipped(backend: Backend) {
    let app = TestApp::new(backend).await;
    for round in 0..50 {
        let report = run_jobs(&app).await;
        assert_eq!(report["skipped"], false, "round {round}: {report}");
        assert_eq!(report["errors"], json!([]), "round {round}: {report}");
    }
}

/// A weigh-in reminder goes out on the person's weekdays from their time of day in their
/// time zone, at most once a day, not when they weighed in that day already, and not once
/// switched off. `PATCH /api/me` sets it (422 for a bad day or time).
async fn weigh_in_reminders_come_on_their_days_and_time(backend: Backend) {
    let app = TestApp::new(backend).await;
    // Monday 2027-01-11, 05:30 UTC = 06:30 in Berlin.
    app.clock_to("2027-01-11T05:30:00Z").await;
    let (token, _) = app.user("scale@example.org").await;
    for (field, value) in [
        ("reminder_days", json!(["monday"])),
        ("reminder_days", json!("mon")),
        ("reminder_time", json!("7 am")),
        ("reminder_time", json!("24:00")),
    ] {
        let (status, body) = app
            .patch("/api/me", Some(&token), json!({ field: value }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    }
    let (status, body) = app
        .patch(
            "/api/me",
            Some(&token),
            json!({"reminder_days": ["mon", "wed"], "reminder_time": "7:00",
                   "timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["reminder_days"], json!(["mon", "wed"]));
    assert_eq!(body["profile"]["reminder_time"], "07:00");
    let reminders = |app: &TestApp| {
        let store = app.db.store.clone();
        async move {
            store
                .outbox(None, None, 500)
                .await
                .unwrap()
                .iter()
                .filter(|m| m.template == "weigh_in_reminder")
                .count()
        }
    };
    run_jobs(&app).await;
    assert_eq!(reminders(&app).await, 0, "06:30 in Berlin: not yet");
    app.clock_to("2027-01-11T06:05:00Z").await;
    let report = run_jobs(&app).await;
    assert_eq!(report["weigh_in_reminders"], 1, "{report}");
    run_jobs(&app).await;
    app.clock_to("2027-01-11T20:00:00Z").await;
    run_jobs(&app).await;
    assert_eq!(reminders(&app).await, 1, "once a day");
    // Tuesday: not a reminder day.
    app.clock_to("2027-01-12T08:00:00Z").await;
    run_jobs(&app).await;
    assert_eq!(reminders(&app).await, 1);
    // Wednesday, weighed in already: no reminder.
    app.clock_to("2027-01-13T05:00:00Z").await;
    let (status, body) = app
        .post(
            "/api/weight",
            Some(&token),
            json!({"date": "2027-01-13", "weight_kg": 80}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.clock_to("2027-01-13T09:00:00Z").await;
    run_jobs(&app).await;
    assert_eq!(reminders(&app).await, 1);
    // Switched off: the next Monday is quiet.
    let (status, _) = app
        .patch("/api/me", Some(&token), json!({"reminder_days": []}))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.clock_to("2027-01-18T09:00:00Z").await;
    run_jobs(&app).await;
    assert_eq!(reminders(&app).await, 1);
}

on_both_backends!(
    weigh_in_reminders_come_on_their_days_and_time,
    reminders_and_expiries_happen_once,
    back_to_back_rounds_are_never_skipped,
    retention_folds_old_uses_and_the_statistics_stay
);

// --- two processes on one PostgreSQL database ------------------------------------------------

fn serve(dir: &Path, database_url: &str, mail_dir: &Path) -> Server {
    let mail = format!("file:{}", mail_dir.display());
    Server::start(
        dir,
        &[
            ("MITAI_DATABASE_URL", database_url),
            ("MITAI_TEST_CLOCK", "1"),
            ("MITAI_MAIL", &mail),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_a_due_reminder_once() {
    let db = TestDb::new(Backend::Postgres).await;
    // A profile whose trial ends within the reminder lead time.
    let store = db.store.clone();
    let now = chrono::Utc::now();
    store
        .create_profile(&mitai_store::NewProfile {
            id: uuid::Uuid::now_v7(),
            email: "twice@example.org".into(),
            password_hash: "x".into(),
            name: "Twice".into(),
            role: mitai_store::Role::User,
            tier: "free".into(),
            trial_ends_at: Some(now + chrono::TimeDelta::days(1)),
            email_verified: true,
            invited_by: None,
            language: "en".into(),
            created_at: now,
        })
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("mitai-jobs-{}", uuid::Uuid::now_v7().simple()));
    let mail_dir = dir.join("mail");
    std::fs::create_dir_all(&mail_dir).unwrap();
    let a = serve(&dir, &db.url, &mail_dir);
    let b = serve(&dir, &db.url, &mail_dir);
    let (addr_a, addr_b) = (a.addr, b.addr);
    // Both processes also ran a round at start; now both run jobs at once, repeatedly.
    let runs: Vec<_> = (0..10)
        .map(|i| {
            let addr = if i % 2 == 0 { addr_a } else { addr_b };
            std::thread::spawn(move || http(addr, "POST", "/api/test/jobs/run", Some("{}"), None).0)
        })
        .collect();
    for run in runs {
        assert_eq!(run.join().unwrap(), 200);
    }
    // A round that began at start-up may still be delivering in the background: wait (bounded)
    // until the one message is marked sent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let sent = loop {
        let sent = db.store.outbox(None, None, 100).await.unwrap();
        let delivered = sent
            .iter()
            .all(|m| m.status == mitai_store::MailStatus::Sent);
        if delivered || std::time::Instant::now() > deadline {
            break sent;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].template, "trial_ending");
    assert_eq!(sent[0].status, mitai_store::MailStatus::Sent);
    let files = std::fs::read_dir(&mail_dir).unwrap().count();
    assert_eq!(files, 1, "exactly one .eml written");
    for server in [a, b] {
        assert!(server.terminate().success());
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Retention through the jobs: uses older than `activity_retention_days` are folded into
/// daily counts; the global per-day figures and a person's totals are the same afterwards.
async fn retention_folds_old_uses_and_the_statistics_stay(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("counted@example.org").await;
    for _ in 0..3 {
        let (status, body) = app
            .post(
                "/api/me/access/weight/consume",
                Some(&token),
                json!({"amount": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.advance(86_400).await;
    let (status, _) = app
        .post(
            "/api/me/access/weight/consume",
            Some(&token),
            json!({"amount": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.set_setting(&admin, "activity_retention_days", json!(7))
        .await;
    // A week and two hours after the first day's uses, six days after the second day's.
    app.advance(6 * 86_400 + 7200).await;
    let (_, done) = mitai_server::service::jobs::roll_up_usage(&app.state)
        .await
        .unwrap();
    assert!(done);
    let (_, global_before) = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(
        global_before["feature_usage_per_day"][0]["uses"], 3,
        "{global_before}"
    );
    let (_, user_before) = app
        .get(&format!("/api/admin/users/{id}/stats"), Some(&admin))
        .await;
    let report = run_jobs(&app).await;
    assert_eq!(
        report["activity_folded"], 3,
        "the first day's uses: {report}"
    );
    let (_, global_after) = app.get("/api/admin/stats", Some(&admin)).await;
    let (_, user_after) = app
        .get(&format!("/api/admin/users/{id}/stats"), Some(&admin))
        .await;
    assert_eq!(
        global_after["feature_usage_per_day"],
        global_before["feature_usage_per_day"]
    );
    assert_eq!(user_after["feature_totals"], user_before["feature_totals"]);
    assert_eq!(user_after["feature_totals"]["weight"], 5);
    let (_, uses) = app
        .get("/api/admin/activity?action=feature_used", Some(&admin))
        .await;
    assert_eq!(
        uses["items"].as_array().unwrap().len(),
        1,
        "the newer use stays"
    );
}
