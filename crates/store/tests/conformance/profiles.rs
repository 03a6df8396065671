//! The conformance suite of the profiles and sessions of
//! [`AccountStore`](mitai_store::AccountStore): creating, reading, searching, paging and
//! updating profiles (and keeping the last admin), passwords, sessions.
//!
//! Every case is written once, against `&TestDb`, and runs on both backends
//! (`sqlite::<case>` and `postgres::<case>`), each on a fresh, migrated database.
//! PostgreSQL tests need the server named by `MITAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and fail when it cannot be reached.

use std::sync::Arc;

use chrono::NaiveDate;
use mitai_store::testing::TestDb;
use mitai_store::{Backend, Body, NewProfile, NewSession, Profile, ProfilePatch, Role, StoreError};
use uuid::Uuid;

use crate::support::{admin, at, new_profile, store, t0, user};

conformance! {
    plain: [
        body_facts_are_set_kept_and_cleared,
        weigh_in_reminders_list_who_has_one,
        deleting_a_profile_forgets_the_person_and_keeps_the_counts,
        deleting_the_last_admin_is_refused,
        create_profile_and_read_it_back,
        email_is_unique_case_insensitively_and_trimmed,
        credentials_by_email_in_any_case,
        list_profiles_search_is_case_insensitive_and_literal,
        list_profiles_pages_by_id,
        find_profiles_filters_sorts_and_pages,
        update_profile_applies_each_field,
        admin_exists_counts_enabled_admins,
        set_password_replaces_the_hash,
        sessions_live_expire_and_delete,
        the_last_admin_keeps_role_and_access,
    ],
    concurrent: [
        admins_demoting_each_other_at_once_leave_one,
    ],
}

fn ids(profiles: &[Profile]) -> Vec<Uuid> {
    profiles.iter().map(|p| p.id).collect()
}

fn sorted_ids(profiles: &[Profile]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = profiles.iter().map(|p| p.id).collect();
    ids.sort();
    ids
}

async fn create_profile_and_read_it_back(db: &TestDb) {
    let s = store(db);
    let inviter = user(s, "inviter@example.org", "Inviter").await;
    assert_eq!(inviter.tier, "free");
    assert_eq!(inviter.role, Role::User);
    assert!(!inviter.disabled);

    let new = NewProfile {
        id: Uuid::now_v7(),
        email: "  Anna.Schmidt@Example.org ".to_owned(),
        password_hash: "$argon2id$v=19$anna".to_owned(),
        name: "Anna Schmidt".to_owned(),
        role: Role::Admin,
        tier: "basic".to_owned(),
        trial_ends_at: Some(at(2025, 3, 28, 9, 30, 0)),
        email_verified: true,
        invited_by: Some(inviter.id),
        language: "en".to_owned(),
        created_at: t0(),
    };
    let created = s.create_profile(&new).await.expect("create profile");
    let expected = Profile {
        id: new.id,
        email: "Anna.Schmidt@Example.org".to_owned(),
        name: "Anna Schmidt".to_owned(),
        role: Role::Admin,
        tier: "basic".to_owned(),
        trial_ends_at: new.trial_ends_at,
        email_verified: true,
        invited_by: Some(inviter.id),
        language: "en".to_owned(),
        disabled: false,
        created_at: t0(),
        updated_at: t0(),
        body: Body::default(),
    };
    assert_eq!(created, expected);
    assert_eq!(s.profile(new.id).await.unwrap(), Some(expected));
    assert_eq!(s.profile(inviter.id).await.unwrap(), Some(inviter));
    assert_eq!(s.profile(Uuid::now_v7()).await.unwrap(), None);

    // References must exist.
    let mut bad = new_profile("bad-tier@example.org", "Bad");
    bad.tier = "platinum".to_owned();
    let err = s.create_profile(&bad).await.expect_err("unknown tier");
    assert!(
        matches!(err, StoreError::MissingReference("tier or inviter")),
        "{err:?}"
    );
    let mut bad = new_profile("bad-inviter@example.org", "Bad");
    bad.invited_by = Some(Uuid::now_v7());
    let err = s.create_profile(&bad).await.expect_err("unknown inviter");
    assert!(
        matches!(err, StoreError::MissingReference("tier or inviter")),
        "{err:?}"
    );
    assert_eq!(s.list_profiles(None, None, 100).await.unwrap().len(), 2);
}

async fn email_is_unique_case_insensitively_and_trimmed(db: &TestDb) {
    let s = store(db);
    let first = user(s, "A@x.org", "First").await;
    for taken in [" a@X.org", "a@x.org", "A@X.ORG  ", "\ta@x.org"] {
        let err = s
            .create_profile(&new_profile(taken, "Second"))
            .await
            .expect_err("e-mail taken");
        assert!(
            matches!(err, StoreError::Conflict("email")),
            "{taken:?}: {err:?}"
        );
    }
    // Other addresses are fine, and the first profile is untouched.
    user(s, "b@x.org", "Other").await;
    user(s, "a@x.org.de", "Longer").await;
    assert_eq!(s.profile(first.id).await.unwrap(), Some(first));
    assert_eq!(s.list_profiles(None, None, 100).await.unwrap().len(), 3);
}

async fn credentials_by_email_in_any_case(db: &TestDb) {
    let s = store(db);
    let mut new = new_profile("Bea@Example.org", "Bea");
    new.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bea".to_owned();
    let bea = s.create_profile(&new).await.unwrap();
    user(s, "other@example.org", "Other").await;

    for email in [
        "Bea@Example.org",
        "bea@example.org",
        "BEA@EXAMPLE.ORG",
        "  bEa@exAmple.org ",
    ] {
        let (profile, hash) = s
            .credentials(email)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("credentials for {email:?}"));
        assert_eq!(profile, bea);
        assert_eq!(hash, new.password_hash);
    }
    assert!(s.credentials("nobody@example.org").await.unwrap().is_none());
    assert!(s.credentials("bea@example").await.unwrap().is_none());
    assert!(s.credentials("").await.unwrap().is_none());
}

async fn list_profiles_search_is_case_insensitive_and_literal(db: &TestDb) {
    let s = store(db);
    let anna = user(s, "anna@example.org", "Anna Schmidt").await;
    let bob = user(s, "bob@example.org", "Bob 100% Fit").await;
    let frank = user(s, "frank@example.org", "Frank 1000 Points").await;
    let carl = user(s, "carl@example.org", "Carl_Heinz").await;
    let carla = user(s, "carla@sample.net", "Carlx Heinz").await;
    let win = user(s, "win@sample.net", r"C:\Users\Win").await;
    let jurgen = user(s, "JUERGEN@Sample.NET", "Jürgen Müller").await;
    let omer = user(s, "oe@beispiel.de", "ÖMER ÖZDEMİR").await;
    let ute = user(s, "ÜTE@beispiel.de", "Ute").await;

    let search = |q: &'static str| async move {
        sorted_ids(&s.list_profiles(Some(q), None, 100).await.unwrap())
    };
    let expect = |ps: &[&Profile]| {
        let mut v: Vec<Uuid> = ps.iter().map(|p| p.id).collect();
        v.sort();
        v
    };

    // Name, any case.
    assert_eq!(search("SCHMIDT").await, expect(&[&anna]));
    assert_eq!(search("anna s").await, expect(&[&anna]));
    // E-mail, any case.
    assert_eq!(search("SAMPLE.NET").await, expect(&[&carla, &win, &jurgen]));
    assert_eq!(search("juergen@").await, expect(&[&jurgen]));
    assert_eq!(
        search("example").await,
        expect(&[&anna, &bob, &frank, &carl])
    );
    // `%`, `_` and `\` are literal characters, not wildcards.
    assert_eq!(search("100%").await, expect(&[&bob]));
    assert_eq!(search("%").await, expect(&[&bob]));
    assert_eq!(search("carl_").await, expect(&[&carl]));
    assert_eq!(search("_").await, expect(&[&carl]));
    assert_eq!(search(r"\").await, expect(&[&win]));
    assert_eq!(search(r"c:\users").await, expect(&[&win]));
    // Letters beyond ASCII, any case.
    assert_eq!(search("MÜLLER").await, expect(&[&jurgen]));
    assert_eq!(search("jürgen").await, expect(&[&jurgen]));
    assert_eq!(search("ömer ö").await, expect(&[&omer]));
    assert_eq!(search("Öme").await, expect(&[&omer]));
    assert_eq!(search("üte@").await, expect(&[&ute]));
    // Nothing.
    assert_eq!(search("zzz").await, Vec::<Uuid>::new());
    // No query: everyone.
    assert_eq!(
        sorted_ids(&s.list_profiles(None, None, 100).await.unwrap()),
        expect(&[
            &anna, &bob, &frank, &carl, &carla, &win, &jurgen, &omer, &ute
        ])
    );
    // The empty query matches everyone too.
    assert_eq!(search("").await.len(), 9);
}

/// The admin list's filters (role, disabled, trial ending, refused lately, search), each
/// alone and together, in each order, paged by its cursor.
async fn find_profiles_filters_sorts_and_pages(db: &TestDb) {
    use mitai_store::{NewActivity, ProfileFilter, ProfileOrder, actions};
    let s = store(db);
    let boss = admin(s, "zed-admin@example.org").await;
    let anna = user(s, "anna@example.org", "Anna").await;
    let carl = user(s, "carl@example.org", "Carl").await;
    let bea = user(s, "bea@example.org", "Bea").await;
    let off = ProfilePatch {
        disabled: Some(true),
        ..Default::default()
    };
    s.update_profile(carl.id, &off, t0()).await.unwrap();
    let trial = ProfilePatch {
        trial_ends_at: Some(Some(t0() + chrono::TimeDelta::days(3))),
        ..Default::default()
    };
    s.update_profile(bea.id, &trial, t0()).await.unwrap();
    let late = ProfilePatch {
        trial_ends_at: Some(Some(t0() + chrono::TimeDelta::days(30))),
        ..Default::default()
    };
    s.update_profile(anna.id, &late, t0()).await.unwrap();
    let refused = NewActivity::new(actions::LIMIT_REACHED, t0()).by_self(anna.id);
    s.log_activity(&refused).await.unwrap();
    let old = NewActivity::new(actions::LIMIT_REACHED, t0() - chrono::TimeDelta::days(20))
        .by_self(carl.id);
    s.log_activity(&old).await.unwrap();

    let find = |f: ProfileFilter, order: ProfileOrder| async move {
        ids(&s.find_profiles(&f, order, None, 100).await.unwrap())
    };
    let all = ProfileFilter::default();
    assert_eq!(
        find(all.clone(), ProfileOrder::Oldest).await,
        [boss.id, anna.id, carl.id, bea.id]
    );
    assert_eq!(
        find(all.clone(), ProfileOrder::Newest).await,
        [bea.id, carl.id, anna.id, boss.id]
    );
    assert_eq!(
        find(all.clone(), ProfileOrder::Email).await,
        [anna.id, bea.id, carl.id, boss.id]
    );
    let admins = ProfileFilter {
        role: Some(Role::Admin),
        ..Default::default()
    };
    assert_eq!(find(admins, ProfileOrder::Oldest).await, [boss.id]);
    let disabled = ProfileFilter {
        disabled: Some(true),
        ..Default::default()
    };
    assert_eq!(find(disabled, ProfileOrder::Oldest).await, [carl.id]);
    let enabled = ProfileFilter {
        disabled: Some(false),
        ..Default::default()
    };
    assert_eq!(
        find(enabled, ProfileOrder::Email).await,
        [anna.id, bea.id, boss.id]
    );
    let week = ProfileFilter {
        trial_ending: Some((t0(), t0() + chrono::TimeDelta::days(7))),
        ..Default::default()
    };
    assert_eq!(find(week, ProfileOrder::Oldest).await, [bea.id]);
    let lately = ProfileFilter {
        refused_since: Some(t0() - chrono::TimeDelta::days(7)),
        ..Default::default()
    };
    assert_eq!(find(lately, ProfileOrder::Oldest).await, [anna.id]);
    let both = ProfileFilter {
        query: Some("CARL".into()),
        refused_since: Some(t0() - chrono::TimeDelta::days(30)),
        ..Default::default()
    };
    assert_eq!(find(both, ProfileOrder::Oldest).await, [carl.id]);

    // Pages of one, by each cursor.
    for (order, cursor_of) in [
        (
            ProfileOrder::Oldest,
            (|p: &Profile| p.id.to_string()) as fn(&Profile) -> String,
        ),
        (ProfileOrder::Newest, |p: &Profile| p.id.to_string()),
        (ProfileOrder::Email, |p: &Profile| p.email.to_lowercase()),
    ] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = s
                .find_profiles(&all, order, after.as_deref(), 1)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(cursor_of(last));
            seen.push(last.id);
        }
        assert_eq!(seen, find(all.clone(), order).await, "{order:?}");
    }
    // A cursor that is no id matches nothing rather than failing.
    let bad = s
        .find_profiles(&all, ProfileOrder::Oldest, Some("x"), 10)
        .await;
    assert!(bad.unwrap().is_empty());
}

async fn list_profiles_pages_by_id(db: &TestDb) {
    let s = store(db);
    let mut made = Vec::new();
    for i in 0..7 {
        let domain = if i % 2 == 0 { "even.org" } else { "odd.org" };
        made.push(user(s, &format!("p{i}@{domain}"), &format!("Person {i}")).await);
    }
    let all = s.list_profiles(None, None, 100).await.unwrap();
    assert_eq!(ids(&all), sorted_ids(&made), "ordered by id");

    // Pages of two, following the cursor.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_profiles(None, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().id);
        pages.push(ids(&page));
    }
    assert_eq!(pages.len(), 4);
    assert_eq!(pages.concat(), ids(&all));
    assert_eq!(
        ids(&s.list_profiles(None, Some(all[2].id), 3).await.unwrap()),
        ids(&all[3..6])
    );
    assert!(
        s.list_profiles(None, Some(all[6].id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.list_profiles(None, None, 0).await.unwrap().is_empty());
    // A cursor that is not a profile still works as a position.
    assert_eq!(
        ids(&s.list_profiles(None, Some(Uuid::nil()), 100).await.unwrap()),
        ids(&all)
    );
    assert!(
        s.list_profiles(None, Some(Uuid::max()), 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Query and cursor together.
    let odd: Vec<Uuid> = all
        .iter()
        .filter(|p| p.email.ends_with("odd.org"))
        .map(|p| p.id)
        .collect();
    assert_eq!(odd.len(), 3);
    assert_eq!(
        ids(&s.list_profiles(Some("ODD.ORG"), None, 2).await.unwrap()),
        odd[..2]
    );
    assert_eq!(
        ids(&s
            .list_profiles(Some("odd.org"), Some(odd[0]), 10)
            .await
            .unwrap()),
        odd[1..]
    );
}

async fn update_profile_applies_each_field(db: &TestDb) {
    let s = store(db);
    let mut new = new_profile("upd@example.org", "Before");
    new.trial_ends_at = Some(at(2025, 3, 28, 0, 0, 0));
    let mut expected = s.create_profile(&new).await.unwrap();
    let other = user(s, "other@example.org", "Other").await;
    // Another admin, so that the profile may become an admin and then be disabled.
    admin(s, "boss@example.org").await;

    let mut now = t0();
    let mut step = async |patch: ProfilePatch, expected: &Profile| {
        now += chrono::Duration::hours(1);
        let updated = s
            .update_profile(expected.id, &patch, now)
            .await
            .expect("update profile")
            .expect("profile exists");
        let mut want = expected.clone();
        want.updated_at = now;
        (updated, want)
    };

    let (got, mut want) = step(
        ProfilePatch {
            name: Some("After".to_owned()),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.name = "After".to_owned();
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            tier: Some("premium".to_owned()),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.tier = "premium".to_owned();
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            role: Some(Role::Admin),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.role = Role::Admin;
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            disabled: Some(true),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.disabled = true;
    assert_eq!(got, want);
    expected = got;

    let later = at(2025, 5, 1, 0, 0, 0);
    let (got, mut want) = step(
        ProfilePatch {
            trial_ends_at: Some(Some(later)),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.trial_ends_at = Some(later);
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            trial_ends_at: Some(None),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.trial_ends_at = None;
    assert_eq!(got, want);
    expected = got;

    let (got, mut want) = step(
        ProfilePatch {
            language: Some("en".to_owned()),
            ..ProfilePatch::default()
        },
        &expected,
    )
    .await;
    want.language = "en".to_owned();
    assert_eq!(got, want);
    expected = got;

    // Several fields at once, and back.
    let (got, mut want) = step(
        ProfilePatch {
            name: Some("Ärger Both".to_owned()),
            tier: Some("free".to_owned()),
            role: Some(Role::User),
            disabled: Some(false),
            trial_ends_at: Some(Some(later)),
            language: Some("de".to_owned()),
            email_verified: None,
            ..Default::default()
        },
        &expected,
    )
    .await;
    want.name = "Ärger Both".to_owned();
    want.tier = "free".to_owned();
    want.role = Role::User;
    want.disabled = false;
    want.trial_ends_at = Some(later);
    want.language = "de".to_owned();
    assert_eq!(got, want);
    expected = got;

    // An empty patch changes nothing but the time stamp.
    let (got, want) = step(ProfilePatch::default(), &expected).await;
    assert_eq!(got, want);
    expected = got;
    assert_eq!(
        s.profile(expected.id).await.unwrap().as_ref(),
        Some(&expected)
    );
    // The search sees the new name, and no longer the old one.
    for query in ["ÄRGER BOTH", "ärger"] {
        assert_eq!(
            ids(&s.list_profiles(Some(query), None, 10).await.unwrap()),
            [expected.id]
        );
    }
    assert!(
        s.list_profiles(Some("after"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown profile.
    let patch = ProfilePatch {
        name: Some("Ghost".to_owned()),
        ..ProfilePatch::default()
    };
    assert_eq!(
        s.update_profile(Uuid::now_v7(), &patch, t0())
            .await
            .unwrap(),
        None
    );

    // Unknown tier: refused, nothing changes.
    let patch = ProfilePatch {
        name: Some("Platinum".to_owned()),
        tier: Some("platinum".to_owned()),
        ..ProfilePatch::default()
    };
    let err = s
        .update_profile(expected.id, &patch, t0())
        .await
        .expect_err("unknown tier");
    assert!(
        matches!(err, StoreError::MissingReference("tier")),
        "{err:?}"
    );
    assert_eq!(s.profile(expected.id).await.unwrap(), Some(expected));
    assert_eq!(s.profile(other.id).await.unwrap(), Some(other));
}

async fn admin_exists_counts_enabled_admins(db: &TestDb) {
    let s = store(db);
    assert!(!s.admin_exists().await.unwrap(), "no profiles yet");
    let u = user(s, "user@example.org", "User").await;
    assert!(!s.admin_exists().await.unwrap(), "only a user");

    let a = admin(s, "admin@example.org").await;
    assert!(s.admin_exists().await.unwrap());

    let disable = ProfilePatch {
        disabled: Some(true),
        ..ProfilePatch::default()
    };
    let promote = ProfilePatch {
        role: Some(Role::Admin),
        ..ProfilePatch::default()
    };
    s.update_profile(u.id, &promote, t0()).await.unwrap();
    assert!(s.admin_exists().await.unwrap(), "a promoted user counts");
    s.update_profile(a.id, &disable, t0()).await.unwrap();
    assert!(
        s.admin_exists().await.unwrap(),
        "the promoted user still counts"
    );
    // The disabled admin does not count: the other one is now the last.
    assert!(matches!(
        s.update_profile(u.id, &disable, t0()).await,
        Err(StoreError::LastAdmin)
    ));
}

async fn set_password_replaces_the_hash(db: &TestDb) {
    let s = store(db);
    let p = user(s, "pw@example.org", "Pw").await;
    let other = user(s, "other@example.org", "Other").await;
    let (_, old) = s.credentials("pw@example.org").await.unwrap().unwrap();

    let t1 = at(2025, 3, 20, 8, 0, 0);
    assert!(s.set_password(p.id, "$argon2id$new", t1).await.unwrap());
    let (profile, hash) = s.credentials("PW@example.org").await.unwrap().unwrap();
    assert_eq!(hash, "$argon2id$new");
    assert_ne!(hash, old);
    assert_eq!(profile.updated_at, t1);
    assert_eq!(
        Profile {
            updated_at: p.updated_at,
            ..profile
        },
        p
    );
    // Others keep theirs.
    let (_, other_hash) = s.credentials("other@example.org").await.unwrap().unwrap();
    assert_eq!(other_hash, "$argon2id$hash-of-other@example.org");
    assert_eq!(s.profile(other.id).await.unwrap(), Some(other));

    assert!(
        !s.set_password(Uuid::now_v7(), "$argon2id$x", t1)
            .await
            .unwrap()
    );
}

async fn sessions_live_expire_and_delete(db: &TestDb) {
    let s = store(db);
    let p = user(s, "sess@example.org", "Sess").await;
    let q = user(s, "other@example.org", "Other").await;
    let expires = t0() + chrono::Duration::hours(1);
    let session = |token: &str, profile_id: Uuid| NewSession {
        token_hash: token.to_owned(),
        profile_id,
        created_at: t0(),
        expires_at: expires,
        user_agent: Some("test/1.0".to_owned()),
    };
    s.create_session(&session("hash-p-1", p.id)).await.unwrap();
    s.create_session(&NewSession {
        user_agent: None,
        ..session("hash-p-2", p.id)
    })
    .await
    .unwrap();
    s.create_session(&session("hash-q", q.id)).await.unwrap();

    // Live until (not including) expires_at.
    assert_eq!(
        s.session_profile("hash-p-1", t0()).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        s.session_profile("hash-p-2", expires - chrono::Duration::seconds(1))
            .await
            .unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        s.session_profile("hash-q", t0()).await.unwrap(),
        Some(q.clone())
    );
    assert_eq!(s.session_profile("hash-p-1", expires).await.unwrap(), None);
    assert_eq!(
        s.session_profile("hash-p-1", expires + chrono::Duration::days(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.session_profile("unknown", t0()).await.unwrap(), None);
    assert_eq!(s.session_profile("", t0()).await.unwrap(), None);

    // The session shows the profile as it is now.
    let patch = ProfilePatch {
        name: Some("Renamed".to_owned()),
        ..ProfilePatch::default()
    };
    let renamed = s.update_profile(p.id, &patch, t0()).await.unwrap().unwrap();
    assert_eq!(
        s.session_profile("hash-p-1", t0()).await.unwrap(),
        Some(renamed)
    );

    // A token is unique; a session needs its profile.
    let err = s
        .create_session(&session("hash-q", p.id))
        .await
        .expect_err("token taken");
    assert!(matches!(err, StoreError::Conflict("session")), "{err:?}");
    assert_eq!(s.session_profile("hash-q", t0()).await.unwrap(), Some(q));
    let err = s
        .create_session(&session("hash-ghost", Uuid::now_v7()))
        .await
        .expect_err("unknown profile");
    assert!(
        matches!(err, StoreError::MissingReference("profile")),
        "{err:?}"
    );

    // Delete: true once, then false; other sessions stay.
    assert!(s.delete_session("hash-p-1").await.unwrap());
    assert!(!s.delete_session("hash-p-1").await.unwrap());
    assert!(!s.delete_session("unknown").await.unwrap());
    assert_eq!(s.session_profile("hash-p-1", t0()).await.unwrap(), None);
    assert!(s.session_profile("hash-p-2", t0()).await.unwrap().is_some());
}

async fn the_last_admin_keeps_role_and_access(db: &TestDb) {
    let s = store(db);
    let a = admin(s, "a@example.org").await;
    let demote = ProfilePatch {
        role: Some(Role::User),
        ..Default::default()
    };
    let disable = ProfilePatch {
        disabled: Some(true),
        ..Default::default()
    };
    for patch in [&demote, &disable] {
        assert!(matches!(
            s.update_profile(a.id, patch, t0()).await,
            Err(StoreError::LastAdmin)
        ));
        let after = s.profile(a.id).await.unwrap().unwrap();
        assert_eq!((after.role, after.disabled), (Role::Admin, false));
    }
    // Other changes of the last admin are fine; so is demoting once another admin exists.
    let renamed = ProfilePatch {
        name: Some("Boss".into()),
        ..Default::default()
    };
    s.update_profile(a.id, &renamed, t0())
        .await
        .unwrap()
        .unwrap();
    let b = admin(s, "b@example.org").await;
    s.update_profile(a.id, &demote, t0())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        s.update_profile(b.id, &disable, t0()).await,
        Err(StoreError::LastAdmin)
    ));
    // A plain user is demoted or disabled whatever the admins.
    let u = user(s, "u@example.org", "U").await;
    s.update_profile(u.id, &disable, t0())
        .await
        .unwrap()
        .unwrap();
}

/// Two admins, each demoting (or disabling) the other at the same moment, many times over:
/// one of each pair always remains. A check-then-update would leave none.
async fn admins_demoting_each_other_at_once_leave_one(db: &TestDb) {
    for round in 0..10 {
        let a = admin(store(db), &format!("a{round}@example.org")).await;
        let b = admin(store(db), &format!("b{round}@example.org")).await;
        // Only these two are admins in this round.
        for earlier in 0..round {
            for who in ["a", "b"] {
                let email = format!("{who}{earlier}@example.org");
                if let Some((p, _)) = store(db).credentials(&email).await.unwrap()
                    && p.role == Role::Admin
                {
                    let patch = ProfilePatch {
                        role: Some(Role::User),
                        ..Default::default()
                    };
                    store(db).update_profile(p.id, &patch, t0()).await.unwrap();
                }
            }
        }
        let patch = if round % 2 == 0 {
            ProfilePatch {
                role: Some(Role::User),
                ..Default::default()
            }
        } else {
            ProfilePatch {
                disabled: Some(true),
                ..Default::default()
            }
        };
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = [a.id, b.id]
            .into_iter()
            .map(|id| {
                let store = db.store.clone();
                let patch = patch.clone();
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.update_profile(id, &patch, t0()).await
                })
            })
            .collect();
        let mut done = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(Some(_)) => done += 1,
                Err(StoreError::LastAdmin) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(done, 1, "round {round}: exactly one change goes through");
        assert!(store(db).admin_exists().await.unwrap(), "round {round}");
    }
}

/// A person's own facts: none at first (metric, rewards shown), each set, the others kept
/// by a patch that names them not, and the optional ones cleared with `Some(None)`.
async fn body_facts_are_set_kept_and_cleared(db: &TestDb) {
    let s = store(db);
    let p = user(s, "body@example.org", "Body").await;
    assert_eq!(p.body, Body::default());
    let born = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap();
    let set = ProfilePatch {
        height_cm: Some(Some(181.5)),
        birth_date: Some(Some(born)),
        sex: Some(Some("female".into())),
        timezone: Some(Some("Europe/Berlin".into())),
        units: Some("imperial".into()),
        goal_weight_kg: Some(Some(72.25)),
        show_rewards: Some(false),
        kcal_target: Some(Some(2100.0)),
        protein_target_g: Some(Some(140.0)),
        carbs_target_g: Some(Some(220.5)),
        fat_target_g: Some(Some(70.0)),
        reminder_days: Some(0b0010101),
        reminder_time: Some(Some("07:30".into())),
        ..Default::default()
    };
    let got = s.update_profile(p.id, &set, t0()).await.unwrap().unwrap();
    let want = Body {
        height_cm: Some(181.5),
        birth_date: Some(born),
        sex: Some("female".into()),
        timezone: Some("Europe/Berlin".into()),
        units: "imperial".into(),
        goal_weight_kg: Some(72.25),
        show_rewards: false,
        kcal_target: Some(2100.0),
        protein_target_g: Some(140.0),
        carbs_target_g: Some(220.5),
        fat_target_g: Some(70.0),
        reminder_days: 0b0010101,
        reminder_time: Some("07:30".into()),
    };
    assert_eq!(got.body, want);
    assert_eq!(s.profile(p.id).await.unwrap().unwrap().body, want);
    // A patch of the name keeps every fact.
    let renamed = ProfilePatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    let got = s
        .update_profile(p.id, &renamed, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body, want);
    // Cleared one by one, the units and the switch set back.
    let clear = ProfilePatch {
        height_cm: Some(None),
        birth_date: Some(None),
        sex: Some(None),
        timezone: Some(None),
        units: Some("metric".into()),
        goal_weight_kg: Some(None),
        show_rewards: Some(true),
        kcal_target: Some(None),
        protein_target_g: Some(None),
        carbs_target_g: Some(None),
        fat_target_g: Some(None),
        reminder_days: Some(0),
        reminder_time: Some(None),
        ..Default::default()
    };
    let got = s.update_profile(p.id, &clear, t0()).await.unwrap().unwrap();
    assert_eq!(got.body, Body::default());
    // The session's profile carries them too.
    let facts = ProfilePatch {
        height_cm: Some(Some(170.0)),
        ..Default::default()
    };
    s.update_profile(p.id, &facts, t0()).await.unwrap();
    s.create_session(&NewSession {
        token_hash: "body-session".into(),
        profile_id: p.id,
        created_at: t0(),
        expires_at: at(2030, 1, 1, 0, 0, 0),
        user_agent: None,
    })
    .await
    .unwrap();
    let session = s.session("body-session", t0()).await.unwrap().unwrap();
    assert_eq!(session.profile.body.height_cm, Some(170.0));
}

/// A deleted profile takes its data with it — entries, photos (answered, so their files
/// can go), grants, redemptions, sessions, usage, statistics, queued mail, open
/// invitations to its address — while the activity log keeps its events without the
/// person (no profile, no e-mail, no address) and a coupon's count of redemptions stays.
async fn deleting_a_profile_forgets_the_person_and_keeps_the_counts(db: &TestDb) {
    use crate::{coupons, data, media};
    use mitai_access::EntryKind;
    use mitai_store::coupons::{CouponKind, RedeemOutcome};
    use mitai_store::{ActivityFilter, NewActivity, NewInvitation, NewMail, actions};
    use serde_json::json;

    let s = store(db);
    let boss = admin(s, "boss@example.org").await;
    let u = user(s, "Gone@Example.org", "Gone").await;
    let other = user(s, "stays@example.org", "Stays").await;
    for p in [&u, &other] {
        data::create(s, &data::new_entry(p.id, "2025-03-10", data::weight(80.0))).await;
    }
    let photo = media::photo(u.id);
    s.create_photo(
        &media::gate(u.id, "photos", None, None),
        &photo,
        &media::answer,
    )
    .await
    .unwrap();
    let c = coupons::coupon("GONE-2025", CouponKind::Period);
    coupons::put(s, std::slice::from_ref(&c)).await;
    let redeemed = s
        .redeem(&coupons::redeem_request(&c, u.id, "", t0()))
        .await
        .unwrap();
    assert!(matches!(redeemed, RedeemOutcome::Redeemed(_)));
    s.create_session(&NewSession {
        token_hash: "gone-session".into(),
        profile_id: u.id,
        created_at: t0(),
        expires_at: at(2030, 1, 1, 0, 0, 0),
        user_agent: None,
    })
    .await
    .unwrap();
    s.log_activity(
        &NewActivity::new(actions::LOGIN, t0())
            .by_self(u.id)
            .ip(Some("192.0.2.7".into()))
            .details(json!({"email": "gone@example.org", "via": "form"})),
    )
    .await
    .unwrap();
    s.log_activity(
        &NewActivity::new(actions::TIER_CHANGED, t0())
            .profile(Some(other.id))
            .actor(Some(u.id))
            .details(json!({"tier": "premium"})),
    )
    .await
    .unwrap();
    let mail = |to: &str, template: &str| NewMail {
        id: Uuid::now_v7(),
        to: to.to_owned(),
        template: template.to_owned(),
        language: "en".to_owned(),
        data: json!({}),
        created_at: t0(),
    };
    s.enqueue_mail(&mail("gone@example.org", "verify_email"))
        .await
        .unwrap();
    s.enqueue_mail(&mail("stays@example.org", "verify_email"))
        .await
        .unwrap();
    s.create_invitation(
        &NewInvitation {
            id: Uuid::now_v7(),
            token_hash: "invite-gone".into(),
            email: "GONE@example.org".into(),
            invited_by: Some(boss.id),
            created_at: t0(),
            expires_at: at(2030, 1, 1, 0, 0, 0),
        },
        &mail("GONE@example.org", "invitation"),
        None,
    )
    .await
    .unwrap();

    let photos = s.delete_profile(u.id).await.unwrap().expect("found");
    assert_eq!(photos, vec![photo.clone()]);

    assert!(s.profile(u.id).await.unwrap().is_none());
    assert!(s.credentials("gone@example.org").await.unwrap().is_none());
    assert!(s.session("gone-session", t0()).await.unwrap().is_none());
    assert!(s.photo(u.id, photo.id).await.unwrap().is_none());
    let weights = |id| async move {
        s.list_entries(id, EntryKind::Weight, &data::query(10))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(weights(u.id).await, 0);
    assert_eq!(weights(other.id).await, 1, "another's data stays");
    assert!(s.grants(u.id).await.unwrap().is_empty());
    assert!(s.redemptions(c.id, None, 10).await.unwrap().is_empty());
    assert_eq!(coupons::redeemed_count(s, c.id).await, 1);
    assert!(s.user_stats(u.id).await.unwrap().is_none());
    assert_eq!(
        s.usage(u.id, &[("photos", crate::support::march())])
            .await
            .unwrap(),
        [0]
    );
    assert!(s.invitation("invite-gone", t0()).await.unwrap().is_none());
    let outbox = s.outbox(None, None, 100).await.unwrap();
    let recipients: Vec<_> = outbox.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(recipients, ["stays@example.org"]);

    // The log keeps what happened, not who.
    let log = s
        .activity(&ActivityFilter::default(), None, 100)
        .await
        .unwrap();
    let login = log
        .iter()
        .find(|a| a.action == actions::LOGIN)
        .expect("kept");
    assert_eq!(
        (login.profile_id, login.actor_id, login.ip.as_deref()),
        (None, None, None)
    );
    assert_eq!(login.details, json!({"via": "form"}));
    let changed = log
        .iter()
        .find(|a| a.action == actions::TIER_CHANGED)
        .expect("kept");
    assert_eq!(
        (changed.profile_id, changed.actor_id),
        (Some(other.id), None)
    );

    // Once gone, gone.
    assert!(s.delete_profile(u.id).await.unwrap().is_none());
    // The address is free again.
    user(s, "gone@example.org", "Back").await;
}

/// The last enabled admin cannot be deleted (nobody could run the place); once another
/// admin exists, it can.
async fn deleting_the_last_admin_is_refused(db: &TestDb) {
    let s = store(db);
    let a = admin(s, "a@example.org").await;
    assert!(matches!(
        s.delete_profile(a.id).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(s.profile(a.id).await.unwrap().is_some());
    admin(s, "b@example.org").await;
    assert!(s.delete_profile(a.id).await.unwrap().is_some());
    assert!(s.admin_exists().await.unwrap());
}

/// The reminder job's list: enabled profiles with some weekday and a time, by id.
async fn weigh_in_reminders_list_who_has_one(db: &TestDb) {
    let s = store(db);
    let on = |days: i32, time: Option<&str>| ProfilePatch {
        reminder_days: Some(days),
        reminder_time: Some(time.map(str::to_owned)),
        ..Default::default()
    };
    let a = user(s, "a@example.org", "A").await;
    let b = user(s, "b@example.org", "B").await;
    let c = user(s, "c@example.org", "C").await;
    let d = user(s, "d@example.org", "D").await;
    user(s, "e@example.org", "E").await;
    s.update_profile(a.id, &on(1, Some("07:00")), t0())
        .await
        .unwrap();
    s.update_profile(b.id, &on(127, Some("21:15")), t0())
        .await
        .unwrap();
    s.update_profile(c.id, &on(0, Some("07:00")), t0())
        .await
        .unwrap();
    s.update_profile(d.id, &on(3, None), t0()).await.unwrap();
    let mut want = vec![a.id, b.id];
    want.sort();
    let got = s.profiles_with_weigh_in_reminders().await.unwrap();
    assert_eq!(ids(&got), want);
    assert_eq!(
        got.iter()
            .find(|p| p.id == b.id)
            .unwrap()
            .body
            .reminder_time
            .as_deref(),
        Some("21:15")
    );
    let disable = ProfilePatch {
        disabled: Some(true),
        ..Default::default()
    };
    s.update_profile(b.id, &disable, t0()).await.unwrap();
    assert_eq!(
        ids(&s.profiles_with_weigh_in_reminders().await.unwrap()),
        [a.id]
    );
}
