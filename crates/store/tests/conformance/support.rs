//! Helpers of the store-trait cases (`registry`, `profiles`, `usage`, `mail`, `activity`,
//! `jobs`, `hot_path`): fixed instants, profiles, consume requests and what a handler answers
//! for them, and a race of tasks on the runtime's worker threads.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mitai_store::testing::TestDb;
use mitai_store::{ConsumeRequest, Consumed, NewProfile, Profile, Role, Store, StoredResponse};
use serde_json::json;
use uuid::Uuid;

/// A whole-second instant (PostgreSQL keeps microseconds; whole seconds compare exactly).
pub(crate) fn at(year: i32, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, min, sec)
        .single()
        .expect("valid instant")
}

/// The instant most tests call "now".
pub(crate) fn t0() -> DateTime<Utc> {
    at(2025, 3, 14, 9, 30, 0)
}

/// The start of March 2025, a monthly usage bucket.
pub(crate) fn march() -> DateTime<Utc> {
    at(2025, 3, 1, 0, 0, 0)
}

pub(crate) fn store(db: &TestDb) -> &dyn Store {
    &*db.store
}

pub(crate) fn new_profile(email: &str, name: &str) -> NewProfile {
    NewProfile {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: format!("$argon2id$hash-of-{email}"),
        name: name.to_owned(),
        role: Role::User,
        tier: "free".to_owned(),
        trial_ends_at: None,
        email_verified: false,
        invited_by: None,
        language: "de".to_owned(),
        created_at: t0(),
    }
}

pub(crate) async fn user(s: &dyn Store, email: &str, name: &str) -> Profile {
    s.create_profile(&new_profile(email, name))
        .await
        .expect("create profile")
}

pub(crate) async fn admin(s: &dyn Store, email: &str) -> Profile {
    let mut p = new_profile(email, "Admin");
    p.role = Role::Admin;
    s.create_profile(&p).await.expect("create admin")
}

pub(crate) fn consume_request(
    profile_id: Uuid,
    feature_id: &str,
    period_start: DateTime<Utc>,
    amount: i64,
    cap: Option<i64>,
) -> ConsumeRequest<'_> {
    ConsumeRequest {
        profile_id,
        feature_id,
        period_start,
        amount,
        cap,
        now: t0(),
        idempotency: None,
        log: None,
    }
}

/// What a handler would answer for a decision.
pub(crate) fn answer(decided: Consumed) -> StoredResponse {
    match decided {
        Consumed::Spent { used } => StoredResponse {
            status: 201,
            body: json!({ "used": used }),
        },
        Consumed::LimitReached { used } => StoredResponse {
            status: 429,
            body: json!({ "error": "limit_reached", "used": used }),
        },
    }
}

pub(crate) async fn used(
    s: &dyn Store,
    profile_id: Uuid,
    feature_id: &str,
    start: DateTime<Utc>,
) -> i64 {
    s.usage(profile_id, &[(feature_id, start)])
        .await
        .expect("usage")[0]
}

/// Runs `n` calls of `call(i)` at once on the runtime's worker threads.
pub(crate) async fn race<F, Fut, T>(n: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let work = call(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("task panicked"));
    }
    out
}
