//! The conformance suite of the account flows of [`AccountStore`]: registration with its
//! token, mail and event; invitations; verification and password-reset tokens; password
//! changes; sessions (renewal, ending all of a profile's). Every case is written once,
//! against `&TestDb`, and runs on both backends (`sqlite::<case>` and `postgres::<case>`),
//! each on a fresh database.
//!
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mitai_store::testing::TestDb;
use mitai_store::{
    AccountToken, ActivityFilter, Backend, NewAccountToken, NewActivity, NewInvitation, NewMail,
    NewProfile, NewRegistration, NewSession, Profile, ProfilePatch, RegisterOutcome, Role, Store,
    StoreError, TokenKind,
};
use serde_json::json;
use uuid::Uuid;

// --- the two backends ---------------------------------------------------------------------

conformance! {
    plain: [
        register_commits_profile_token_mail_and_event_together,
        register_with_a_taken_email_changes_nothing,
        register_with_an_invitation_uses_it_and_verifies,
        register_with_an_unusable_invitation_changes_nothing,
        create_account_token_commits_its_mail_and_event,
        account_token_finds_only_usable_tokens,
        verify_email_uses_the_token_once,
        verify_email_refuses_expired_unknown_and_other_tokens,
        reset_password_sets_the_hash_and_ends_every_session,
        change_password_is_compare_and_set,
        invitations_round_trip_and_expire,
        session_shows_its_times_and_renewal_only_extends,
        delete_sessions_ends_all_or_all_but_one,
        disabling_a_profile_ends_its_sessions,
        purge_removes_expired_tokens_and_invitations,
    ],
    concurrent: [
        verification_token_is_used_once_under_concurrency,
        reset_token_is_used_once_under_concurrency,
        tokens_of_one_profile_used_at_once_succeed_once,
        invitation_is_used_once_under_concurrency,
    ],
}

// --- helpers ------------------------------------------------------------------------------

fn at(year: i32, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, min, sec)
        .single()
        .expect("valid instant")
}

/// The instant most tests call "now".
fn t0() -> DateTime<Utc> {
    at(2026, 5, 4, 10, 0, 0)
}

fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn store(db: &TestDb) -> &dyn Store {
    &*db.store
}

fn new_profile(email: &str) -> NewProfile {
    NewProfile {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: format!("hash-of-{email}"),
        name: "User".to_owned(),
        role: Role::User,
        tier: "free".to_owned(),
        trial_ends_at: None,
        email_verified: false,
        invited_by: None,
        language: "en".to_owned(),
        created_at: t0(),
    }
}

async fn user(s: &dyn Store, email: &str) -> Profile {
    s.create_profile(&new_profile(email))
        .await
        .expect("create profile")
}

fn token(hash: &str, kind: TokenKind, profile: Uuid, expires_at: DateTime<Utc>) -> NewAccountToken {
    NewAccountToken {
        token_hash: hash.to_owned(),
        kind,
        profile_id: profile,
        created_at: t0(),
        expires_at,
    }
}

fn mail(to: &str, template: &str, token: &str) -> NewMail {
    NewMail::new(to, template, "en", json!({ "token": token }), t0())
}

/// Stores a token of a profile with its mail.
async fn give_token(s: &dyn Store, hash: &str, kind: TokenKind, p: &Profile, ttl: TimeDelta) {
    s.create_account_token(
        &token(hash, kind, p.id, t0() + ttl),
        &mail(&p.email, kind.as_str(), hash),
        None,
    )
    .await
    .expect("create token");
}

fn registration(email: &str) -> NewRegistration {
    let profile = new_profile(email);
    let pid = profile.id;
    NewRegistration {
        token: Some(token(
            &format!("verify-{email}"),
            TokenKind::VerifyEmail,
            pid,
            t0() + hours(48),
        )),
        mail: Some(mail(email, "verify_email", "raw")),
        activity: Some(NewActivity::new("register", t0()).by_self(pid)),
        invitation: None,
        profile,
    }
}

fn invitation(hash: &str, email: &str, by: Option<Uuid>, ttl: TimeDelta) -> NewInvitation {
    NewInvitation {
        id: Uuid::now_v7(),
        token_hash: hash.to_owned(),
        email: email.to_owned(),
        invited_by: by,
        created_at: t0(),
        expires_at: t0() + ttl,
    }
}

async fn invite(s: &dyn Store, hash: &str, email: &str, by: Option<Uuid>, ttl: TimeDelta) {
    s.create_invitation(
        &invitation(hash, email, by, ttl),
        &mail(email, "invitation", hash),
        None,
    )
    .await
    .expect("create invitation");
}

async fn session(s: &dyn Store, hash: &str, p: &Profile, expires_at: DateTime<Utc>) {
    s.create_session(&NewSession {
        token_hash: hash.to_owned(),
        profile_id: p.id,
        created_at: t0(),
        expires_at,
        user_agent: None,
    })
    .await
    .expect("create session");
}

async fn mail_count(s: &dyn Store) -> usize {
    s.outbox(None, None, 1000).await.unwrap().len()
}

/// Actions logged about a profile, oldest first.
async fn actions_of(s: &dyn Store, profile: Uuid) -> Vec<String> {
    let filter = ActivityFilter {
        profile_id: Some(profile),
        ..Default::default()
    };
    let mut items: Vec<String> = s
        .activity(&filter, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    items.reverse();
    items
}

fn registered(outcome: RegisterOutcome) -> Profile {
    match outcome {
        RegisterOutcome::Registered(p) => *p,
        other => panic!("expected a registration, got {other:?}"),
    }
}

fn verified_event() -> NewActivity {
    NewActivity::new("email_verified", t0())
}

// --- registration -------------------------------------------------------------------------

async fn register_commits_profile_token_mail_and_event_together(db: &TestDb) {
    let s = store(db);
    let r = registration(" Reg@Example.org ");
    let p = registered(s.register(&r).await.unwrap());
    assert_eq!(p.id, r.profile.id);
    assert_eq!(p.email, "Reg@Example.org");
    assert!(!p.email_verified);
    assert_eq!(p.invited_by, None);
    assert_eq!(s.profile(p.id).await.unwrap(), Some(p.clone()));
    // Found case-insensitively.
    let (found, hash) = s.credentials("reg@example.org").await.unwrap().unwrap();
    assert_eq!(
        (found.id, hash.as_str()),
        (p.id, "hash-of- Reg@Example.org ")
    );

    let token = s
        .account_token("verify- Reg@Example.org ", TokenKind::VerifyEmail, t0())
        .await
        .unwrap();
    assert_eq!(
        token,
        Some(AccountToken {
            kind: TokenKind::VerifyEmail,
            profile_id: p.id,
            created_at: t0(),
            expires_at: t0() + hours(48),
        })
    );
    let outbox = s.outbox(None, None, 10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].id, r.mail.as_ref().unwrap().id);
    assert_eq!(outbox[0].template, "verify_email");
    assert_eq!(actions_of(s, p.id).await, ["register"]);

    // Without token, mail and event: just the profile.
    let bare = NewRegistration {
        token: None,
        mail: None,
        activity: None,
        ..registration("bare@example.org")
    };
    let q = registered(s.register(&bare).await.unwrap());
    assert_eq!(mail_count(s).await, 1);
    assert!(actions_of(s, q.id).await.is_empty());
}

async fn register_with_a_taken_email_changes_nothing(db: &TestDb) {
    let s = store(db);
    registered(
        s.register(&registration("taken@example.org"))
            .await
            .unwrap(),
    );
    let again = registration("TAKEN@example.org");
    assert_eq!(
        s.register(&again).await.unwrap(),
        RegisterOutcome::EmailTaken
    );
    assert_eq!(s.profile(again.profile.id).await.unwrap(), None);
    assert_eq!(
        mail_count(s).await,
        1,
        "the refused registration's mail is gone"
    );
    assert!(actions_of(s, again.profile.id).await.is_empty());
    // An invitation presented with a taken e-mail stays usable.
    invite(s, "inv-taken", "taken@example.org", None, hours(24)).await;
    let with = NewRegistration {
        invitation: Some("inv-taken".into()),
        ..registration("taken@example.org")
    };
    assert_eq!(
        s.register(&with).await.unwrap(),
        RegisterOutcome::EmailTaken
    );
    assert!(s.invitation("inv-taken", t0()).await.unwrap().is_some());
    // An unknown tier is a missing reference, not a taken e-mail.
    let mut bad = registration("tierless@example.org");
    bad.profile.tier = "no-such-tier".into();
    let err = s.register(&bad).await.unwrap_err();
    assert!(matches!(err, StoreError::MissingReference(_)), "{err:?}");
    assert_eq!(s.profile(bad.profile.id).await.unwrap(), None);
}

async fn register_with_an_invitation_uses_it_and_verifies(db: &TestDb) {
    let s = store(db);
    let inviter = user(s, "inviter@example.org").await;
    invite(s, "inv-1", "Guest@Example.org", Some(inviter.id), hours(24)).await;
    let r = NewRegistration {
        invitation: Some("inv-1".into()),
        token: None,
        mail: None,
        ..registration("guest@EXAMPLE.org")
    };
    let now = t0() + hours(23);
    let r = NewRegistration {
        profile: NewProfile {
            created_at: now,
            ..r.profile.clone()
        },
        ..r
    };
    let p = registered(s.register(&r).await.unwrap());
    assert!(p.email_verified, "an invitation counts as verified");
    assert_eq!(p.invited_by, Some(inviter.id));
    assert_eq!(s.invitation("inv-1", now).await.unwrap(), None, "used");

    // Used: a second registration with it is refused.
    let again = NewRegistration {
        invitation: Some("inv-1".into()),
        ..registration("guest2@example.org")
    };
    assert_eq!(
        s.register(&again).await.unwrap(),
        RegisterOutcome::InvalidInvitation
    );

    // An invitation by nobody (inviter unknown) still works, without `invited_by`.
    invite(s, "inv-anon", "anon@example.org", None, hours(1)).await;
    let anon = NewRegistration {
        invitation: Some("inv-anon".into()),
        ..registration("anon@example.org")
    };
    let anon = registered(s.register(&anon).await.unwrap());
    assert!(anon.email_verified);
    assert_eq!(anon.invited_by, None);
}

async fn register_with_an_unusable_invitation_changes_nothing(db: &TestDb) {
    let s = store(db);
    invite(s, "inv-short", "late@example.org", None, hours(1)).await;
    invite(s, "inv-other", "someone@example.org", None, hours(24)).await;
    let cases = [
        ("inv-unknown", "late@example.org", t0()),
        ("inv-short", "late@example.org", t0() + hours(1)),
        ("inv-other", "not-someone@example.org", t0()),
    ];
    for (hash, email, now) in cases {
        let mut r = NewRegistration {
            invitation: Some(hash.into()),
            ..registration(email)
        };
        r.profile.created_at = now;
        assert_eq!(
            s.register(&r).await.unwrap(),
            RegisterOutcome::InvalidInvitation,
            "{hash} for {email}"
        );
        assert_eq!(s.profile(r.profile.id).await.unwrap(), None);
        assert!(s.credentials(email).await.unwrap().is_none());
    }
    // Only the invitation mails are in the outbox; the other invitation is still usable.
    assert_eq!(mail_count(s).await, 2);
    assert!(s.invitation("inv-other", t0()).await.unwrap().is_some());
}

// --- tokens -------------------------------------------------------------------------------

async fn create_account_token_commits_its_mail_and_event(db: &TestDb) {
    let s = store(db);
    let p = user(s, "token@example.org").await;
    let event = NewActivity::new("password_reset_requested", t0()).profile(Some(p.id));
    s.create_account_token(
        &token("reset-1", TokenKind::PasswordReset, p.id, t0() + hours(1)),
        &mail(&p.email, "password_reset", "raw"),
        Some(&event),
    )
    .await
    .unwrap();
    assert_eq!(mail_count(s).await, 1);
    assert_eq!(actions_of(s, p.id).await, ["password_reset_requested"]);

    // An unknown profile: refused, nothing written.
    let err = s
        .create_account_token(
            &token("reset-2", TokenKind::PasswordReset, Uuid::now_v7(), t0()),
            &mail("x@example.org", "password_reset", "raw"),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference("profile")),
        "{err:?}"
    );
    // A hash that exists: refused, nothing written.
    let err = s
        .create_account_token(
            &token("reset-1", TokenKind::VerifyEmail, p.id, t0() + hours(1)),
            &mail(&p.email, "verify_email", "raw"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("token")), "{err:?}");
    assert_eq!(mail_count(s).await, 1);
}

async fn account_token_finds_only_usable_tokens(db: &TestDb) {
    let s = store(db);
    let p = user(s, "find@example.org").await;
    give_token(s, "v", TokenKind::VerifyEmail, &p, hours(48)).await;
    give_token(s, "r", TokenKind::PasswordReset, &p, hours(1)).await;
    let found = s.account_token("r", TokenKind::PasswordReset, t0()).await;
    assert_eq!(found.unwrap().map(|t| t.profile_id), Some(p.id));
    // Of another kind, unknown, or expired: none.
    assert_eq!(
        s.account_token("r", TokenKind::VerifyEmail, t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.account_token("nope", TokenKind::PasswordReset, t0())
            .await
            .unwrap(),
        None
    );
    let expiry = t0() + hours(1);
    assert!(
        s.account_token(
            "r",
            TokenKind::PasswordReset,
            expiry - TimeDelta::seconds(1)
        )
        .await
        .unwrap()
        .is_some()
    );
    assert_eq!(
        s.account_token("r", TokenKind::PasswordReset, expiry)
            .await
            .unwrap(),
        None
    );
    // Used: none.
    s.verify_email("v", t0(), &verified_event()).await.unwrap();
    assert_eq!(
        s.account_token("v", TokenKind::VerifyEmail, t0())
            .await
            .unwrap(),
        None
    );
}

async fn verify_email_uses_the_token_once(db: &TestDb) {
    let s = store(db);
    let p = user(s, "verify@example.org").await;
    let other = user(s, "other@example.org").await;
    give_token(s, "v-old", TokenKind::VerifyEmail, &p, hours(48)).await;
    give_token(s, "v-new", TokenKind::VerifyEmail, &p, hours(48)).await;
    give_token(s, "r", TokenKind::PasswordReset, &p, hours(3)).await;
    give_token(s, "v-other", TokenKind::VerifyEmail, &other, hours(48)).await;

    let now = t0() + hours(2);
    let event = verified_event().details(json!({"via": "test"}));
    let verified = s.verify_email("v-new", now, &event).await.unwrap();
    let verified = verified.expect("verified");
    assert_eq!(verified.id, p.id);
    assert!(verified.email_verified);
    assert_eq!(verified.updated_at, now);
    assert_eq!(s.profile(p.id).await.unwrap(), Some(verified));
    // The event is about the token's profile and by it.
    let logged = s
        .activity(&ActivityFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].action, "email_verified");
    assert_eq!(logged[0].profile_id, Some(p.id));
    assert_eq!(logged[0].actor_id, Some(p.id));
    assert_eq!(logged[0].details, json!({"via": "test"}));

    // Single use, and the older link of the same profile is spent too.
    assert_eq!(s.verify_email("v-new", now, &event).await.unwrap(), None);
    assert_eq!(s.verify_email("v-old", now, &event).await.unwrap(), None);
    // Tokens of another kind or another profile are untouched.
    assert!(
        s.account_token("r", TokenKind::PasswordReset, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(!s.profile(other.id).await.unwrap().unwrap().email_verified);
    assert!(
        s.verify_email("v-other", now, &verified_event())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(actions_of(s, p.id).await, ["email_verified"]);
}

async fn verify_email_refuses_expired_unknown_and_other_tokens(db: &TestDb) {
    let s = store(db);
    let p = user(s, "late@example.org").await;
    give_token(s, "v", TokenKind::VerifyEmail, &p, hours(48)).await;
    give_token(s, "r", TokenKind::PasswordReset, &p, hours(48)).await;
    let expiry = t0() + hours(48);
    let event = verified_event();
    for (hash, now) in [("v", expiry), ("unknown", t0()), ("r", t0()), ("", t0())] {
        assert_eq!(
            s.verify_email(hash, now, &event).await.unwrap(),
            None,
            "{hash}"
        );
    }
    let profile = s.profile(p.id).await.unwrap().unwrap();
    assert!(!profile.email_verified);
    assert_eq!(
        profile.updated_at, p.updated_at,
        "a refusal changes nothing"
    );
    assert!(actions_of(s, p.id).await.is_empty());
    // The reset token was not used by the refused verification.
    assert!(
        s.account_token("r", TokenKind::PasswordReset, t0())
            .await
            .unwrap()
            .is_some()
    );
    // One second before expiry it still works.
    let just_in_time = expiry - TimeDelta::seconds(1);
    assert!(
        s.verify_email("v", just_in_time, &event)
            .await
            .unwrap()
            .is_some()
    );
}

async fn reset_password_sets_the_hash_and_ends_every_session(db: &TestDb) {
    let s = store(db);
    let p = user(s, "reset@example.org").await;
    let q = user(s, "bystander@example.org").await;
    give_token(s, "r-1", TokenKind::PasswordReset, &p, hours(1)).await;
    give_token(s, "r-2", TokenKind::PasswordReset, &p, hours(1)).await;
    give_token(s, "v", TokenKind::VerifyEmail, &p, hours(48)).await;
    let later = t0() + hours(24 * 30);
    session(s, "s-p-1", &p, later).await;
    session(s, "s-p-2", &p, later).await;
    session(s, "s-q", &q, later).await;

    let now = t0() + TimeDelta::minutes(30);
    let event = NewActivity::new("password_changed", now).details(json!({"via": "reset"}));
    // Expired or of another kind: refused, nothing changes.
    assert_eq!(
        s.reset_password("r-1", "new-hash", t0() + hours(1), &event)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.reset_password("v", "new-hash", now, &event)
            .await
            .unwrap(),
        None
    );
    assert!(s.session_profile("s-p-1", now).await.unwrap().is_some());

    let reset = s
        .reset_password("r-2", "new-hash", now, &event)
        .await
        .unwrap();
    assert_eq!(reset.map(|p| p.id), Some(p.id));
    let (_, hash) = s.credentials(&p.email).await.unwrap().unwrap();
    assert_eq!(hash, "new-hash");
    for ended in ["s-p-1", "s-p-2"] {
        assert_eq!(
            s.session_profile(ended, now).await.unwrap(),
            None,
            "{ended}"
        );
    }
    assert!(s.session_profile("s-q", now).await.unwrap().is_some());
    // Both reset links are spent; the verification link is not.
    for hash in ["r-1", "r-2"] {
        assert_eq!(
            s.reset_password(hash, "other-hash", now, &event)
                .await
                .unwrap(),
            None
        );
    }
    let (_, hash) = s.credentials(&p.email).await.unwrap().unwrap();
    assert_eq!(hash, "new-hash");
    assert!(
        s.account_token("v", TokenKind::VerifyEmail, now)
            .await
            .unwrap()
            .is_some()
    );
    let filter = ActivityFilter {
        profile_id: Some(p.id),
        ..Default::default()
    };
    let logged = s.activity(&filter, None, 10).await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].action, "password_changed");
    assert_eq!(logged[0].actor_id, Some(p.id));
    assert_eq!(logged[0].details, json!({"via": "reset"}));
}

async fn change_password_is_compare_and_set(db: &TestDb) {
    let s = store(db);
    let p = user(s, "change@example.org").await;
    let later = t0() + hours(24 * 30);
    for hash in ["s-1", "s-2", "s-3"] {
        session(s, hash, &p, later).await;
    }
    give_token(s, "r", TokenKind::PasswordReset, &p, hours(1)).await;
    let now = t0() + hours(1) - TimeDelta::minutes(1);
    let event = NewActivity::new("password_changed", now).by_self(p.id);
    let old = "hash-of-change@example.org";

    // A stale expected hash changes nothing.
    assert!(
        !s.change_password(p.id, "stale", "h2", Some("s-1"), now, &event)
            .await
            .unwrap()
    );
    assert!(
        !s.change_password(Uuid::now_v7(), old, "h2", None, now, &event)
            .await
            .unwrap()
    );
    assert!(s.session_profile("s-2", now).await.unwrap().is_some());
    assert!(actions_of(s, p.id).await.is_empty());

    assert!(
        s.change_password(p.id, old, "h2", Some("s-1"), now, &event)
            .await
            .unwrap()
    );
    let (profile, hash) = s.credentials(&p.email).await.unwrap().unwrap();
    assert_eq!(hash, "h2");
    assert_eq!(profile.updated_at, now);
    assert!(
        s.session_profile("s-1", now).await.unwrap().is_some(),
        "kept"
    );
    for ended in ["s-2", "s-3"] {
        assert_eq!(s.session_profile(ended, now).await.unwrap(), None);
    }
    // An outstanding reset link is spent by the change.
    assert_eq!(
        s.account_token("r", TokenKind::PasswordReset, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(actions_of(s, p.id).await, ["password_changed"]);
    // The old hash no longer matches: a second change from it loses.
    assert!(
        !s.change_password(p.id, old, "h3", None, now, &event)
            .await
            .unwrap()
    );
    // Without a session to keep, all end.
    let event = NewActivity::new("password_changed", now).by_self(p.id);
    assert!(
        s.change_password(p.id, "h2", "h3", None, now, &event)
            .await
            .unwrap()
    );
    assert_eq!(s.session_profile("s-1", now).await.unwrap(), None);
}

// --- invitations --------------------------------------------------------------------------

async fn invitations_round_trip_and_expire(db: &TestDb) {
    let s = store(db);
    let inviter = user(s, "host@example.org").await;
    let new = invitation(
        "inv",
        " Friend@Example.org ",
        Some(inviter.id),
        hours(24 * 7),
    );
    let event = NewActivity::new("invitation_created", t0()).by_self(inviter.id);
    let created = s
        .create_invitation(
            &new,
            &mail("friend@example.org", "invitation", "raw"),
            Some(&event),
        )
        .await
        .unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.email, "Friend@Example.org");
    assert_eq!(created.invited_by, Some(inviter.id));
    assert_eq!(created.created_at, t0());
    assert_eq!(created.expires_at, t0() + hours(24 * 7));
    assert_eq!((created.used_at, created.used_by), (None, None));
    assert_eq!(mail_count(s).await, 1);
    assert_eq!(actions_of(s, inviter.id).await, ["invitation_created"]);

    assert_eq!(
        s.invitation("inv", t0()).await.unwrap(),
        Some(created.clone())
    );
    let expiry = created.expires_at;
    assert!(
        s.invitation("inv", expiry - TimeDelta::seconds(1))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.invitation("inv", expiry).await.unwrap(), None);
    assert_eq!(s.invitation("unknown", t0()).await.unwrap(), None);

    // A token hash is unique; an inviter must exist. Neither refusal sends mail.
    let err = s
        .create_invitation(
            &invitation("inv", "x@example.org", None, hours(1)),
            &mail("x@example.org", "invitation", "raw"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("invitation")), "{err:?}");
    let err = s
        .create_invitation(
            &invitation("inv-2", "x@example.org", Some(Uuid::now_v7()), hours(1)),
            &mail("x@example.org", "invitation", "raw"),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference("inviter")),
        "{err:?}"
    );
    assert_eq!(mail_count(s).await, 1);

    // Once used, the invitation records by whom.
    let r = NewRegistration {
        invitation: Some("inv".into()),
        ..registration("friend@example.org")
    };
    let p = registered(s.register(&r).await.unwrap());
    assert_eq!(s.invitation("inv", t0()).await.unwrap(), None);
    assert_eq!(p.invited_by, Some(inviter.id));
}

// --- sessions -----------------------------------------------------------------------------

async fn session_shows_its_times_and_renewal_only_extends(db: &TestDb) {
    let s = store(db);
    let p = user(s, "renew@example.org").await;
    let expires = t0() + hours(24 * 30);
    session(s, "s", &p, expires).await;
    let found = s.session("s", t0()).await.unwrap().expect("live");
    assert_eq!(found.profile, p);
    assert_eq!(
        (found.created_at, found.expires_at, found.last_seen_at),
        (t0(), expires, t0())
    );
    assert_eq!(s.session("unknown", t0()).await.unwrap(), None);
    assert_eq!(s.session("s", expires).await.unwrap(), None);

    // Renewal moves the expiry forward and records when the session was seen.
    let now = t0() + hours(24 * 20);
    let renewed = now + hours(24 * 30);
    assert!(s.renew_session("s", now, renewed).await.unwrap());
    let found = s.session("s", now).await.unwrap().unwrap();
    assert_eq!((found.expires_at, found.last_seen_at), (renewed, now));
    // Never backwards, nor to the same instant.
    assert!(!s.renew_session("s", now, renewed).await.unwrap());
    assert!(!s.renew_session("s", now, now + hours(1)).await.unwrap());
    assert_eq!(
        s.session("s", now).await.unwrap().unwrap().expires_at,
        renewed
    );
    // An expired session is not revived.
    assert!(
        !s.renew_session("s", renewed, renewed + hours(1))
            .await
            .unwrap()
    );
    assert_eq!(s.session("s", renewed).await.unwrap(), None);
    assert!(!s.renew_session("unknown", now, renewed).await.unwrap());
}

async fn delete_sessions_ends_all_or_all_but_one(db: &TestDb) {
    let s = store(db);
    let p = user(s, "many@example.org").await;
    let q = user(s, "bystander@example.org").await;
    let later = t0() + hours(24);
    for hash in ["p-1", "p-2", "p-3"] {
        session(s, hash, &p, later).await;
    }
    session(s, "q-1", &q, later).await;
    assert_eq!(s.delete_sessions(p.id, Some("p-2")).await.unwrap(), 2);
    assert!(s.session("p-2", t0()).await.unwrap().is_some());
    assert_eq!(s.session("p-1", t0()).await.unwrap(), None);
    assert_eq!(s.delete_sessions(p.id, None).await.unwrap(), 1);
    assert_eq!(s.session("p-2", t0()).await.unwrap(), None);
    assert_eq!(s.delete_sessions(p.id, None).await.unwrap(), 0);
    assert_eq!(s.delete_sessions(Uuid::now_v7(), None).await.unwrap(), 0);
    assert!(s.session("q-1", t0()).await.unwrap().is_some());
}

async fn disabling_a_profile_ends_its_sessions(db: &TestDb) {
    let s = store(db);
    let p = user(s, "disable@example.org").await;
    let q = user(s, "bystander@example.org").await;
    let later = t0() + hours(24);
    session(s, "p-1", &p, later).await;
    session(s, "p-2", &p, later).await;
    session(s, "q-1", &q, later).await;
    // Other changes keep the sessions.
    let rename = ProfilePatch {
        name: Some("Renamed".into()),
        disabled: Some(false),
        ..Default::default()
    };
    s.update_profile(p.id, &rename, t0())
        .await
        .unwrap()
        .unwrap();
    assert!(s.session("p-1", t0()).await.unwrap().is_some());

    let disable = ProfilePatch {
        disabled: Some(true),
        ..Default::default()
    };
    let disabled = s.update_profile(p.id, &disable, t0()).await.unwrap();
    assert!(disabled.unwrap().disabled);
    assert_eq!(s.session("p-1", t0()).await.unwrap(), None);
    assert_eq!(s.session("p-2", t0()).await.unwrap(), None);
    assert!(s.session("q-1", t0()).await.unwrap().is_some());
    // Unknown profile: None, nothing else happens.
    assert_eq!(
        s.update_profile(Uuid::now_v7(), &disable, t0())
            .await
            .unwrap(),
        None
    );
    // A bad tier in the same patch: refused, sessions stay.
    let bad = ProfilePatch {
        tier: Some("no-such-tier".into()),
        disabled: Some(true),
        ..Default::default()
    };
    assert!(s.update_profile(q.id, &bad, t0()).await.is_err());
    assert!(s.session("q-1", t0()).await.unwrap().is_some());
    assert!(!s.profile(q.id).await.unwrap().unwrap().disabled);
}

async fn purge_removes_expired_tokens_and_invitations(db: &TestDb) {
    let s = store(db);
    let p = user(s, "purge@example.org").await;
    give_token(s, "gone", TokenKind::VerifyEmail, &p, hours(1)).await;
    give_token(s, "kept", TokenKind::PasswordReset, &p, hours(3)).await;
    invite(s, "inv-gone", "a@example.org", None, hours(2)).await;
    invite(s, "inv-kept", "b@example.org", None, hours(48)).await;
    let now = t0() + hours(2);
    let purged = s.purge_expired(now).await.unwrap();
    assert_eq!(purged.tokens, 2);
    assert!(
        s.account_token("kept", TokenKind::PasswordReset, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.invitation("inv-kept", now).await.unwrap().is_some());
    assert_eq!(s.purge_expired(now).await.unwrap().tokens, 0);
    // The purged token's hash is free again.
    give_token(s, "gone", TokenKind::VerifyEmail, &p, hours(48)).await;
}

// --- concurrency --------------------------------------------------------------------------

/// Runs `n` copies of `f(i)` at once and returns their results.
async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let start = start.clone();
            let job = f(i);
            tokio::spawn(async move {
                start.wait().await;
                job.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

async fn verification_token_is_used_once_under_concurrency(db: &TestDb) {
    let s = db.store.clone();
    let p = user(&*s, "race@example.org").await;
    give_token(&*s, "v", TokenKind::VerifyEmail, &p, hours(48)).await;
    let results = race(10, |_| {
        let s = s.clone();
        async move { s.verify_email("v", t0(), &verified_event()).await }
    })
    .await;
    let wins = results
        .into_iter()
        .map(|r| r.expect("no errors under concurrency"))
        .filter(Option::is_some)
        .count();
    assert_eq!(wins, 1);
    assert_eq!(actions_of(&*s, p.id).await, ["email_verified"]);
}

async fn reset_token_is_used_once_under_concurrency(db: &TestDb) {
    let s = db.store.clone();
    let p = user(&*s, "race@example.org").await;
    give_token(&*s, "r", TokenKind::PasswordReset, &p, hours(1)).await;
    let results = race(10, |i| {
        let s = s.clone();
        async move {
            let event = NewActivity::new("password_changed", t0());
            let hash = format!("hash-{i}");
            s.reset_password("r", &hash, t0(), &event)
                .await
                .map(|done| done.map(|_| hash))
        }
    })
    .await;
    let winners: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.expect("no errors under concurrency"))
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (_, hash) = s.credentials(&p.email).await.unwrap().unwrap();
    assert_eq!(hash, winners[0], "the stored hash is the winner's");
    assert_eq!(actions_of(&*s, p.id).await, ["password_changed"]);
}

async fn tokens_of_one_profile_used_at_once_succeed_once(db: &TestDb) {
    let s = db.store.clone();
    let p = user(&*s, "many-links@example.org").await;
    for i in 0..10 {
        give_token(
            &*s,
            &format!("r-{i}"),
            TokenKind::PasswordReset,
            &p,
            hours(1),
        )
        .await;
    }
    // Ten different links of one profile at once: one wins, none deadlocks.
    let results = race(10, |i| {
        let s = s.clone();
        async move {
            let event = NewActivity::new("password_changed", t0());
            s.reset_password(&format!("r-{i}"), "h", t0(), &event).await
        }
    })
    .await;
    let wins = results
        .into_iter()
        .map(|r| r.expect("no errors under concurrency"))
        .filter(Option::is_some)
        .count();
    assert_eq!(wins, 1);
}

async fn invitation_is_used_once_under_concurrency(db: &TestDb) {
    let s = db.store.clone();
    let inviter = user(&*s, "host@example.org").await;
    invite(&*s, "inv", "guest@example.org", Some(inviter.id), hours(24)).await;
    let results = race(10, |_| {
        let s = s.clone();
        async move {
            let r = NewRegistration {
                invitation: Some("inv".into()),
                ..registration("guest@example.org")
            };
            s.register(&r).await
        }
    })
    .await;
    let mut registered = 0;
    for r in results {
        match r.expect("no errors under concurrency") {
            RegisterOutcome::Registered(p) => {
                registered += 1;
                assert_eq!(p.invited_by, Some(inviter.id));
            }
            RegisterOutcome::InvalidInvitation => {}
            RegisterOutcome::EmailTaken => panic!("the invitation is claimed before the insert"),
        }
    }
    assert_eq!(registered, 1);
    assert_eq!(
        mail_count(&*s).await,
        1 + 1,
        "the invitation's and one verification"
    );
}
