//! The conformance suite of [`NotificationStore`] on both backends: one notification per
//! event and subject within the window (exact under concurrency), read per admin,
//! preferences per admin.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mitai_store::notifications::{NewNotification, NotifyMode, Webhook};
use mitai_store::testing::TestDb;
use mitai_store::{Backend, NewProfile, Profile, Role, Store};
use uuid::Uuid;

conformance! {
    plain: [
        the_same_event_within_the_window_is_one_notification,
        reading_is_per_admin_and_a_raise_makes_it_unread_again,
        preferences_merge_per_admin,
        webhooks_get_one_delivery_per_new_notification_retried_until_sent,
    ],
    concurrent: [
        a_burst_of_raises_counts_each_once,
        a_delivery_is_claimed_by_one_instance,
    ],
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).single().unwrap() + TimeDelta::minutes(minute)
}

fn hour() -> TimeDelta {
    TimeDelta::hours(1)
}

fn event(event: &str, subject: &str) -> NewNotification {
    NewNotification {
        id: Uuid::now_v7(),
        event: event.into(),
        subject: subject.into(),
        data: serde_json::json!({"email": format!("{subject}@example.org")}),
        link: format!("/admin/users/{subject}"),
    }
}

async fn admin(s: &dyn Store, email: &str) -> Profile {
    s.create_profile(&NewProfile {
        id: Uuid::now_v7(),
        email: email.into(),
        password_hash: "$argon2id$x".into(),
        name: "Admin".into(),
        role: Role::Admin,
        tier: "free".into(),
        trial_ends_at: None,
        email_verified: true,
        invited_by: None,
        language: "en".into(),
        created_at: at(0),
    })
    .await
    .unwrap()
}

async fn the_same_event_within_the_window_is_one_notification(db: &TestDb) {
    let s = &*db.store;
    let a = admin(s, "a@example.org").await;
    let first = s
        .raise_notification(&event("mail_failing", "mail"), hour(), &[], &[], at(0))
        .await
        .unwrap();
    assert!(first.is_new());
    let again = s
        .raise_notification(&event("mail_failing", "mail"), hour(), &[], &[], at(30))
        .await
        .unwrap();
    assert_eq!((again.id, again.count), (first.id, 2));
    // Another subject, another event: their own.
    let other = s
        .raise_notification(&event("mail_failing", "other"), hour(), &[], &[], at(31))
        .await
        .unwrap();
    assert!(other.is_new());
    let job = s
        .raise_notification(&event("job_failed", "mail"), hour(), &[], &[], at(31))
        .await
        .unwrap();
    assert!(job.is_new());
    // An hour after the first: a new one.
    let later = s
        .raise_notification(&event("mail_failing", "mail"), hour(), &[], &[], at(60))
        .await
        .unwrap();
    assert!(later.is_new());
    assert_ne!(later.id, first.id);
    let list = s.notifications_for(a.id, false, 10).await.unwrap();
    assert_eq!(list.len(), 4);
    let old = list.iter().find(|n| n.id == first.id).unwrap();
    assert_eq!((old.count, old.first_at, old.last_at), (2, at(0), at(30)));
    assert_eq!(old.link, "/admin/users/mail");
    assert_eq!(old.data["email"], "mail@example.org");
    assert_eq!(list[0].id, later.id, "the newest first");
}

async fn reading_is_per_admin_and_a_raise_makes_it_unread_again(db: &TestDb) {
    let s = &*db.store;
    let a = admin(s, "a@example.org").await;
    let b = admin(s, "b@example.org").await;
    let n = s
        .raise_notification(&event("user_registered", "p1"), hour(), &[], &[], at(0))
        .await
        .unwrap();
    s.raise_notification(&event("user_registered", "p2"), hour(), &[], &[], at(1))
        .await
        .unwrap();
    assert_eq!(s.unread_notifications(a.id).await.unwrap(), 2);
    assert!(s.mark_notification_read(a.id, n.id, at(2)).await.unwrap());
    assert!(
        !s.mark_notification_read(a.id, Uuid::now_v7(), at(2))
            .await
            .unwrap()
    );
    assert_eq!(s.unread_notifications(a.id).await.unwrap(), 1);
    assert_eq!(
        s.unread_notifications(b.id).await.unwrap(),
        2,
        "b has read nothing"
    );
    let unread = s.notifications_for(a.id, true, 10).await.unwrap();
    assert_eq!(unread.len(), 1);
    let all = s.notifications_for(a.id, false, 10).await.unwrap();
    assert_eq!(all.last().unwrap().id, n.id, "read ones after the unread");
    assert_eq!(all.last().unwrap().read_at, Some(at(2)));
    // Raised again after it was read: unread again.
    s.raise_notification(&event("user_registered", "p1"), hour(), &[], &[], at(3))
        .await
        .unwrap();
    assert_eq!(s.unread_notifications(a.id).await.unwrap(), 2);
    assert_eq!(s.mark_all_notifications_read(a.id, at(4)).await.unwrap(), 2);
    assert_eq!(s.unread_notifications(a.id).await.unwrap(), 0);
    assert_eq!(s.unread_notifications(b.id).await.unwrap(), 2);
}

async fn preferences_merge_per_admin(db: &TestDb) {
    let s = &*db.store;
    let a = admin(s, "a@example.org").await;
    let b = admin(s, "b@example.org").await;
    assert!(s.notification_preferences(a.id).await.unwrap().is_empty());
    s.set_notification_preferences(
        a.id,
        &[
            ("job_failed".into(), NotifyMode::Off),
            ("user_registered".into(), NotifyMode::Immediate),
        ],
    )
    .await
    .unwrap();
    s.set_notification_preferences(a.id, &[("job_failed".into(), NotifyMode::Digest)])
        .await
        .unwrap();
    assert_eq!(
        s.notification_preferences(a.id).await.unwrap(),
        vec![
            ("job_failed".to_owned(), NotifyMode::Digest),
            ("user_registered".to_owned(), NotifyMode::Immediate)
        ]
    );
    assert!(s.notification_preferences(b.id).await.unwrap().is_empty());
}

async fn a_burst_of_raises_counts_each_once(db: &TestDb) {
    let s: Arc<dyn Store> = db.store.clone();
    let a = admin(&*s, "a@example.org").await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let mail = mitai_store::NewMail::new(
                    "a@example.org",
                    "notification",
                    "en",
                    serde_json::json!({}),
                    at(0),
                );
                s.raise_notification(
                    &event("mail_failing", "mail"),
                    hour(),
                    &[mail],
                    &[],
                    at(0) + TimeDelta::seconds(i),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        if t.await.unwrap().is_new() {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    let list = s.notifications_for(a.id, false, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].count, 50);
    assert_eq!(
        s.outbox(None, None, 100).await.unwrap().len(),
        1,
        "one mail"
    );
    let one = s.notification(list[0].id).await.unwrap().unwrap();
    assert_eq!((one.count, one.read_at), (50, None));
    assert!(s.notification(Uuid::now_v7()).await.unwrap().is_none());
}

fn hook(url: &str) -> Webhook {
    Webhook {
        id: Uuid::now_v7(),
        url: url.into(),
        events: vec!["job_failed".into()],
        format: "json".into(),
        secret: "mitai_secret".into(),
        language: "en".into(),
        created_by: None,
        created_at: at(0),
    }
}

async fn webhooks_get_one_delivery_per_new_notification_retried_until_sent(db: &TestDb) {
    let s = &*db.store;
    let h = hook("http://127.0.0.1:9/hook");
    s.create_webhook(&h).await.unwrap();
    assert_eq!(s.webhooks().await.unwrap(), vec![h.clone()]);
    assert_eq!(s.webhook(h.id).await.unwrap().as_ref(), Some(&h));
    let first = s
        .raise_notification(&event("job_failed", "purge"), hour(), &[], &[h.id], at(0))
        .await
        .unwrap();
    // Raised again while it waits: no second delivery.
    s.raise_notification(&event("job_failed", "purge"), hour(), &[], &[h.id], at(1))
        .await
        .unwrap();
    let waiting = s.deliveries_of(first.id).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].status, "pending");
    // Claimed, failed, due again later; not before.
    let claimed = s.claim_deliveries(at(2), at(3), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    s.delivery_failed(claimed[0].id, 1, "refused", Some(at(10)))
        .await
        .unwrap();
    assert!(
        s.claim_deliveries(at(5), at(6), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_deliveries(at(10), at(11), 10).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    s.delivery_sent(again[0].id, 2, at(10)).await.unwrap();
    let done = s.deliveries_of(first.id).await.unwrap();
    assert_eq!(
        (done[0].status.as_str(), done[0].sent_at),
        ("sent", Some(at(10)))
    );
    assert!(
        s.claim_deliveries(at(100), at(101), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Given up.
    let other = s
        .raise_notification(&event("job_failed", "other"), hour(), &[], &[h.id], at(0))
        .await
        .unwrap();
    let claimed = s.claim_deliveries(at(20), at(21), 10).await.unwrap();
    s.delivery_failed(claimed[0].id, 1, "gone", None)
        .await
        .unwrap();
    assert_eq!(s.deliveries_of(other.id).await.unwrap()[0].status, "failed");
    // A deleted webhook takes its deliveries with it.
    assert!(s.delete_webhook(h.id).await.unwrap());
    assert!(!s.delete_webhook(h.id).await.unwrap());
    assert!(s.deliveries_of(first.id).await.unwrap().is_empty());
}

async fn a_delivery_is_claimed_by_one_instance(db: &TestDb) {
    let s: Arc<dyn Store> = db.store.clone();
    let h = hook("http://127.0.0.1:9/hook");
    s.create_webhook(&h).await.unwrap();
    for i in 0..20 {
        s.raise_notification(
            &event("job_failed", &format!("job-{i}")),
            hour(),
            &[],
            &[h.id],
            at(0),
        )
        .await
        .unwrap();
    }
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.claim_deliveries(at(1), at(2), 20).await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    for c in claims {
        ids.extend(c.await.unwrap().into_iter().map(|d| d.id));
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), 20, "each claimed");
    assert_eq!(unique.len(), 20, "by one instance each");
}
