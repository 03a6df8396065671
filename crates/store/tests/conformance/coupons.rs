//! The conformance suite of [`CouponStore`]: coupons, redemptions, access grants, admin
//! pauses, revocation and rate-limit counters. Every case is written once, against
//! `&TestDb`, and runs on both backends (`sqlite::<case>` and `postgres::<case>`).
//!
//! Every test gets a fresh, migrated database. PostgreSQL tests need the server named by
//! `MITAI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! fail when it cannot be reached.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mitai_store::coupons::{
    Coupon, CouponKind, CouponPatch, Grant, GrantChange, GrantPause, GrantSpan, NewGrant, Redeem,
    RedeemOutcome,
};
use mitai_store::testing::TestDb;
use mitai_store::{
    ActivityFilter, Backend, NewActivity, NewMail, NewProfile, Profile, Role, Store, StoreError,
};
use uuid::Uuid;

// --- the two backends ---------------------------------------------------------------------

conformance! {
    plain: [
        grants_of_many_profiles_come_in_one_call,
        redeem_commits_its_activity_and_mail_with_it,
        create_coupons_round_trips_every_field,
        create_coupons_inserts_many_in_one_call,
        create_coupons_is_all_or_none_on_a_taken_code,
        create_coupons_is_all_or_none_on_a_code_twice_in_the_batch,
        create_coupons_with_unknown_tier_is_refused,
        list_coupons_filters_by_campaign_and_pages_by_id,
        campaigns_are_counted_and_switched_off_at_once,
        update_coupon_sets_each_field,
        update_coupon_clears_each_optional_field,
        update_coupon_of_unknown_id_is_none,
        update_coupon_refuses_max_below_redeemed_count,
        redeem_creates_grant_and_redemption_and_counts,
        redeem_single_use_creates_a_duration_grant,
        redemptions_page_by_id,
        redeem_of_inactive_or_unknown_coupon_is_invalid,
        redeem_outside_the_window_is_expired,
        redeem_at_max_redemptions_is_exhausted,
        redeem_twice_by_one_profile_is_refused,
        wellpass_is_redeemed_once_per_period_key,
        redeem_for_unknown_profile_changes_nothing,
        create_grant_fixed_and_duration,
        create_grant_with_coupon_shows_its_display_code,
        create_grant_with_unknown_references_is_refused,
        grants_are_ordered_by_creation,
        pause_and_resume_record_pauses,
        pauses_attach_to_their_grants_in_order,
        grant_changes_of_unknown_grant_are_not_found,
        revoked_grant_cannot_change,
        revoke_of_paused_grant_keeps_the_pause,
        rate_limits_count_per_bucket_and_window,
        rate_limit_take_reserves_until_max_and_refunds,
        rate_limit_windows_are_purged_after_a_day,
    ],
    concurrent: [
        single_redemption_coupon_is_redeemed_once_under_concurrency,
        max_redemptions_is_never_exceeded_under_concurrency,
        one_profile_redeems_once_under_concurrency,
        one_profile_redeems_a_single_use_code_once_under_concurrency,
        rate_limit_hits_are_exact_under_concurrency,
        rate_limit_take_reserves_at_most_max_under_concurrency,
    ],
}

// --- helpers ------------------------------------------------------------------------------

/// A whole-second instant (PostgreSQL keeps microseconds; whole seconds compare exactly).
fn at(year: i32, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, min, sec)
        .single()
        .expect("valid instant")
}

/// The instant most tests call "now".
fn t0() -> DateTime<Utc> {
    at(2025, 3, 14, 9, 30, 0)
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn store(db: &TestDb) -> &dyn Store {
    &*db.store
}

fn new_profile(email: &str, name: &str) -> NewProfile {
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

async fn user(s: &dyn Store, email: &str) -> Profile {
    s.create_profile(&new_profile(email, "User"))
        .await
        .expect("create profile")
}

async fn admin(s: &dyn Store, email: &str) -> Profile {
    let mut p = new_profile(email, "Admin");
    p.role = Role::Admin;
    s.create_profile(&p).await.expect("create admin")
}

/// `n` profiles `<prefix>-<i>@example.org`, created one after another.
async fn users(s: &dyn Store, prefix: &str, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(user(s, &format!("{prefix}-{i}@example.org")).await.id);
    }
    ids
}

/// A plain active coupon of `kind` for premium, without window, cap, campaign or note.
/// `display` is the code as shown; the stored code is its normal form.
pub(crate) fn coupon(display: &str, kind: CouponKind) -> Coupon {
    Coupon {
        id: Uuid::now_v7(),
        code: display.replace(['-', ' '], "").to_uppercase(),
        display_code: display.to_owned(),
        kind,
        tier_id: "premium".to_owned(),
        duration_days: (kind == CouponKind::SingleUse).then_some(30),
        valid_from: None,
        valid_until: None,
        period_ends_at: (kind == CouponKind::Period).then(|| at(2025, 6, 30, 23, 59, 59)),
        max_redemptions: None,
        redeemed_count: 0,
        active: true,
        campaign: None,
        note: None,
        created_by: None,
        created_at: t0() - days(7),
    }
}

/// A coupon with every optional field set.
fn full_coupon(display: &str, created_by: Uuid) -> Coupon {
    Coupon {
        id: Uuid::now_v7(),
        code: display.replace(['-', ' '], "").to_uppercase(),
        display_code: display.to_owned(),
        kind: CouponKind::Period,
        tier_id: "basic".to_owned(),
        duration_days: Some(14),
        valid_from: Some(at(2025, 3, 1, 0, 0, 0)),
        valid_until: Some(at(2025, 3, 31, 23, 59, 59)),
        period_ends_at: Some(at(2025, 9, 30, 0, 0, 0)),
        max_redemptions: Some(100),
        redeemed_count: 7,
        active: false,
        campaign: Some("spring-2025".to_owned()),
        note: Some("for the newsletter, \"quoted\" & 'apostrophes'".to_owned()),
        created_by: Some(created_by),
        created_at: at(2025, 2, 20, 12, 0, 0),
    }
}

pub(crate) async fn put(s: &dyn Store, coupons: &[Coupon]) {
    s.create_coupons(coupons).await.expect("create coupons");
}

async fn reread(s: &dyn Store, id: Uuid) -> Coupon {
    s.coupon(id)
        .await
        .expect("read coupon")
        .expect("coupon exists")
}

pub(crate) async fn redeemed_count(s: &dyn Store, id: Uuid) -> i32 {
    reread(s, id).await.redeemed_count
}

/// The redemption of `c` by `profile_id` at `now`, with the grant the service would make.
pub(crate) fn redeem_request(
    c: &Coupon,
    profile_id: Uuid,
    period_key: &str,
    now: DateTime<Utc>,
) -> Redeem {
    let span = match c.kind {
        CouponKind::SingleUse => GrantSpan::Duration {
            seconds: i64::from(c.duration_days.expect("single-use coupon has days")) * 86_400,
        },
        CouponKind::Period => GrantSpan::Fixed {
            starts_at: now,
            ends_at: c.period_ends_at.expect("period coupon has an end"),
        },
        CouponKind::Wellpass => GrantSpan::Fixed {
            starts_at: now,
            ends_at: now + days(30),
        },
    };
    Redeem {
        redemption_id: Uuid::now_v7(),
        coupon_id: c.id,
        period_key: period_key.to_owned(),
        grant: NewGrant {
            id: Uuid::now_v7(),
            profile_id,
            tier_id: c.tier_id.clone(),
            source: "coupon".to_owned(),
            coupon_id: Some(c.id),
            span,
            created_by: None,
            created_at: now,
        },
        now,
        activity: None,
        mail: None,
    }
}

async fn redeem(
    s: &dyn Store,
    c: &Coupon,
    profile_id: Uuid,
    period_key: &str,
    now: DateTime<Utc>,
) -> RedeemOutcome {
    s.redeem(&redeem_request(c, profile_id, period_key, now))
        .await
        .expect("redeem")
}

/// The grant a [`NewGrant`] should read back as, before any pause or revocation.
fn expected_grant(g: &NewGrant, coupon_code: Option<&str>) -> Grant {
    Grant {
        id: g.id,
        profile_id: g.profile_id,
        tier_id: g.tier_id.clone(),
        source: g.source.clone(),
        coupon_id: g.coupon_id,
        coupon_code: coupon_code.map(str::to_owned),
        span: g.span,
        created_by: g.created_by,
        created_at: g.created_at,
        revoked_at: None,
        revoked_by: None,
        pauses: Vec::new(),
    }
}

fn admin_grant(
    profile_id: Uuid,
    tier: &str,
    span: GrantSpan,
    created_at: DateTime<Utc>,
) -> NewGrant {
    NewGrant {
        id: Uuid::now_v7(),
        profile_id,
        tier_id: tier.to_owned(),
        source: "admin".to_owned(),
        coupon_id: None,
        span,
        created_by: None,
        created_at,
    }
}

fn duration(days_: i64) -> GrantSpan {
    GrantSpan::Duration {
        seconds: days_ * 86_400,
    }
}

async fn grant_of(s: &dyn Store, id: Uuid) -> Grant {
    s.grant(id)
        .await
        .expect("read grant")
        .expect("grant exists")
}

async fn grants_of(s: &dyn Store, profile_id: Uuid) -> Vec<Grant> {
    s.grants(profile_id).await.expect("grants")
}

async fn total_grants(s: &dyn Store, profiles: &[Uuid]) -> usize {
    let mut n = 0;
    for &p in profiles {
        n += grants_of(s, p).await.len();
    }
    n
}

/// The grants of many profiles at once equal each profile's own list, pauses included.
async fn grants_of_many_profiles_come_in_one_call(db: &TestDb) {
    let s = store(db);
    let ids = users(s, "many", 3).await;
    for (i, &p) in ids.iter().enumerate() {
        for j in 0..=i {
            let g = admin_grant(
                p,
                "premium",
                duration(10 + j as i64),
                t0() + hours(j as i64),
            );
            let made = s.create_grant(&g).await.unwrap();
            if j == 1 {
                s.pause_grant(made.id, None, "check", t0() + hours(5))
                    .await
                    .unwrap();
            }
        }
    }
    let wanted = [ids[0], ids[2]];
    let all = s.grants_of(&wanted).await.unwrap();
    let mut expected = Vec::new();
    let mut sorted = wanted.to_vec();
    sorted.sort();
    for p in sorted {
        expected.extend(grants_of(s, p).await);
    }
    assert_eq!(all, expected);
    assert_eq!(all.len(), 1 + 3);
    assert_eq!(all.iter().filter(|g| !g.pauses.is_empty()).count(), 1);
    assert!(s.grants_of(&[]).await.unwrap().is_empty());
    // More than one chunk of ids.
    let many: Vec<Uuid> = (0..1100)
        .map(|_| Uuid::now_v7())
        .chain(ids.iter().copied())
        .collect();
    assert_eq!(s.grants_of(&many).await.unwrap().len(), 1 + 2 + 3);
}

fn pause(
    id: Uuid,
    paused_at: DateTime<Utc>,
    paused_by: Option<Uuid>,
    reason: &str,
    resumed: Option<(DateTime<Utc>, Option<Uuid>)>,
) -> GrantPause {
    GrantPause {
        id,
        paused_at,
        paused_by,
        reason: reason.to_owned(),
        resumed_at: resumed.map(|(t, _)| t),
        resumed_by: resumed.and_then(|(_, by)| by),
    }
}

/// A coupon patch and what it should do to the coupon.
type Step = (CouponPatch, fn(&mut Coupon));

// --- creating and reading coupons ---------------------------------------------------------

async fn create_coupons_round_trips_every_field(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await.id;
    let full = full_coupon("SPRG-2025-ABCD", boss);
    let plain = coupon("PLAIN-CODE", CouponKind::SingleUse);
    let wellpass = coupon("WELL PASS", CouponKind::Wellpass);
    put(s, &[full.clone(), plain.clone(), wellpass.clone()]).await;

    for c in [&full, &plain, &wellpass] {
        assert_eq!(s.coupon(c.id).await.unwrap().as_ref(), Some(c));
        assert_eq!(s.coupon_by_code(&c.code).await.unwrap().as_ref(), Some(c));
    }
    assert_eq!(full.code, "SPRG2025ABCD");
    assert_eq!(wellpass.code, "WELLPASS");
    assert_eq!(s.coupon(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(s.coupon_by_code("NOSUCHCODE").await.unwrap(), None);
}

async fn create_coupons_inserts_many_in_one_call(db: &TestDb) {
    let s = store(db);
    let batch: Vec<Coupon> = (0..25)
        .map(|i| coupon(&format!("BTCH-{i:04}"), CouponKind::Period))
        .collect();
    put(s, &batch).await;
    let listed = s.list_coupons(None, None, 100).await.unwrap();
    assert_eq!(listed, batch);
    for c in &batch {
        assert_eq!(s.coupon_by_code(&c.code).await.unwrap().as_ref(), Some(c));
    }
    // An empty batch is nothing to do.
    s.create_coupons(&[]).await.expect("empty batch");
    assert_eq!(s.list_coupons(None, None, 100).await.unwrap().len(), 25);
}

async fn create_coupons_is_all_or_none_on_a_taken_code(db: &TestDb) {
    let s = store(db);
    let taken = coupon("TAKEN", CouponKind::Period);
    put(s, std::slice::from_ref(&taken)).await;

    let before = coupon("FRESH-ONE", CouponKind::Period);
    let mut dup = coupon("taken", CouponKind::SingleUse);
    dup.code = "TAKEN".to_owned();
    let after = coupon("FRESH-TWO", CouponKind::Period);
    let err = s
        .create_coupons(&[before.clone(), dup.clone(), after.clone()])
        .await
        .expect_err("a taken code is refused");
    assert!(matches!(err, StoreError::Conflict("code")), "{err:?}");

    assert_eq!(s.coupon(before.id).await.unwrap(), None);
    assert_eq!(s.coupon(dup.id).await.unwrap(), None);
    assert_eq!(s.coupon(after.id).await.unwrap(), None);
    assert_eq!(
        s.list_coupons(None, None, 100).await.unwrap(),
        vec![taken.clone()]
    );
    assert_eq!(s.coupon_by_code("TAKEN").await.unwrap(), Some(taken));
}

async fn create_coupons_is_all_or_none_on_a_code_twice_in_the_batch(db: &TestDb) {
    let s = store(db);
    let first = coupon("TWICE", CouponKind::Period);
    let other = coupon("OTHER", CouponKind::Period);
    let second = coupon("TWICE", CouponKind::Wellpass);
    let err = s
        .create_coupons(&[first, other, second])
        .await
        .expect_err("a code twice in one batch is refused");
    assert!(matches!(err, StoreError::Conflict("code")), "{err:?}");
    assert!(s.list_coupons(None, None, 100).await.unwrap().is_empty());
    assert_eq!(s.coupon_by_code("TWICE").await.unwrap(), None);
    assert_eq!(s.coupon_by_code("OTHER").await.unwrap(), None);
}

async fn create_coupons_with_unknown_tier_is_refused(db: &TestDb) {
    let s = store(db);
    let good = coupon("GOOD", CouponKind::Period);
    let mut bad = coupon("BAD-TIER", CouponKind::Period);
    bad.tier_id = "platinum".to_owned();
    let err = s
        .create_coupons(&[good.clone(), bad])
        .await
        .expect_err("unknown tier is refused");
    assert!(
        matches!(err, StoreError::MissingReference("tier")),
        "{err:?}"
    );
    assert_eq!(s.coupon(good.id).await.unwrap(), None);
    assert!(s.list_coupons(None, None, 100).await.unwrap().is_empty());
}

/// A batch is one campaign: counted (coupons, active, redeemed), newest first, and
/// switched off at once; coupons without a campaign are no batch.
async fn campaigns_are_counted_and_switched_off_at_once(db: &TestDb) {
    let s = store(db);
    let mut made = Vec::new();
    for i in 0..5 {
        let mut c = coupon(&format!("CAMP-{i}"), CouponKind::SingleUse);
        c.campaign = Some(if i < 3 { "spring" } else { "summer" }.to_owned());
        c.created_at = t0() + days(if i < 3 { 1 } else { 2 });
        if i == 0 {
            c.redeemed_count = 1;
            c.max_redemptions = Some(1);
        }
        made.push(c);
    }
    made.push(coupon("LONE", CouponKind::Period));
    put(s, &made).await;

    let all = s.campaigns(10).await.unwrap();
    let counts: Vec<(&str, i64, i64, i64)> = all
        .iter()
        .map(|c| (c.campaign.as_str(), c.coupons, c.active, c.redeemed))
        .collect();
    assert_eq!(counts, [("summer", 2, 2, 0), ("spring", 3, 3, 1)]);
    assert_eq!(all[0].tier_id, "premium");
    assert_eq!(all[0].kind, "single_use");
    assert_eq!(all[0].last_created_at, t0() + days(2));
    assert_eq!(s.campaigns(1).await.unwrap().len(), 1);

    assert_eq!(s.set_campaign_active("spring", false).await.unwrap(), 3);
    assert_eq!(
        s.set_campaign_active("spring", false).await.unwrap(),
        0,
        "already off"
    );
    assert_eq!(s.set_campaign_active("nobody", false).await.unwrap(), 0);
    let spring = s.list_coupons(Some("spring"), None, 10).await.unwrap();
    assert!(spring.iter().all(|c| !c.active));
    let summer = s.list_coupons(Some("summer"), None, 10).await.unwrap();
    assert!(summer.iter().all(|c| c.active), "other campaigns stay");
    assert_eq!(s.campaigns(10).await.unwrap()[1].active, 0);
}

async fn list_coupons_filters_by_campaign_and_pages_by_id(db: &TestDb) {
    let s = store(db);
    // Ids made in order are ordered (UUID v7); created in one call in a shuffled order so
    // that the listing must sort.
    let mut made: Vec<Coupon> = (0..7)
        .map(|i| {
            let mut c = coupon(&format!("LIST-{i}"), CouponKind::Period);
            c.campaign = match i % 3 {
                0 => Some("alpha".to_owned()),
                1 => Some("beta".to_owned()),
                _ => None,
            };
            c
        })
        .collect();
    assert!(made.windows(2).all(|w| w[0].id < w[1].id), "v7 ids ascend");
    let mut shuffled = made.clone();
    shuffled.reverse();
    shuffled.swap(1, 4);
    put(s, &shuffled).await;
    made.sort_by_key(|c| c.id);
    let ids = |cs: &[Coupon]| cs.iter().map(|c| c.id).collect::<Vec<_>>();

    // Everything, in id order.
    let all = s.list_coupons(None, None, 100).await.unwrap();
    assert_eq!(all, made);

    // One campaign.
    let alpha: Vec<Uuid> = made
        .iter()
        .filter(|c| c.campaign.as_deref() == Some("alpha"))
        .map(|c| c.id)
        .collect();
    assert_eq!(alpha.len(), 3);
    assert_eq!(
        ids(&s.list_coupons(Some("alpha"), None, 100).await.unwrap()),
        alpha
    );
    let beta = s.list_coupons(Some("beta"), None, 100).await.unwrap();
    assert_eq!(beta.len(), 2);
    assert!(beta.iter().all(|c| c.campaign.as_deref() == Some("beta")));
    assert!(
        s.list_coupons(Some("gamma"), None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Limit and cursor.
    assert_eq!(
        ids(&s.list_coupons(None, None, 3).await.unwrap()),
        ids(&made[..3])
    );
    assert_eq!(
        ids(&s.list_coupons(None, Some(made[2].id), 3).await.unwrap()),
        ids(&made[3..6])
    );
    assert_eq!(
        ids(&s.list_coupons(None, Some(made[5].id), 3).await.unwrap()),
        ids(&made[6..])
    );
    assert!(
        s.list_coupons(None, Some(made[6].id), 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.list_coupons(None, None, 0).await.unwrap().is_empty());

    // Paging through everything, two at a time, visits each coupon once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list_coupons(None, cursor, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        cursor = page.last().map(|c| c.id);
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ids(&made));

    // Campaign and cursor together.
    assert_eq!(
        ids(&s
            .list_coupons(Some("alpha"), Some(alpha[0]), 100)
            .await
            .unwrap()),
        alpha[1..].to_vec()
    );
    assert_eq!(
        ids(&s
            .list_coupons(Some("alpha"), Some(alpha[0]), 1)
            .await
            .unwrap()),
        alpha[1..2].to_vec()
    );
}

// --- updating coupons ---------------------------------------------------------------------

async fn update_coupon_sets_each_field(db: &TestDb) {
    let s = store(db);
    let c = coupon("UPDT-0001", CouponKind::Period);
    put(s, std::slice::from_ref(&c)).await;
    let mut expected = c.clone();

    // An empty patch changes nothing.
    let same = s
        .update_coupon(c.id, &CouponPatch::default())
        .await
        .unwrap();
    assert_eq!(same.as_ref(), Some(&expected));

    let steps: Vec<Step> = vec![
        (
            CouponPatch {
                active: Some(false),
                ..CouponPatch::default()
            },
            |c| c.active = false,
        ),
        (
            CouponPatch {
                active: Some(true),
                ..CouponPatch::default()
            },
            |c| c.active = true,
        ),
        (
            CouponPatch {
                valid_from: Some(Some(at(2025, 3, 1, 0, 0, 0))),
                ..CouponPatch::default()
            },
            |c| c.valid_from = Some(at(2025, 3, 1, 0, 0, 0)),
        ),
        (
            CouponPatch {
                valid_until: Some(Some(at(2025, 4, 30, 23, 59, 59))),
                ..CouponPatch::default()
            },
            |c| c.valid_until = Some(at(2025, 4, 30, 23, 59, 59)),
        ),
        (
            CouponPatch {
                max_redemptions: Some(Some(250)),
                ..CouponPatch::default()
            },
            |c| c.max_redemptions = Some(250),
        ),
        (
            CouponPatch {
                campaign: Some(Some("summer".to_owned())),
                ..CouponPatch::default()
            },
            |c| c.campaign = Some("summer".to_owned()),
        ),
        (
            CouponPatch {
                note: Some(Some("handed out at the fair".to_owned())),
                ..CouponPatch::default()
            },
            |c| c.note = Some("handed out at the fair".to_owned()),
        ),
        // Everything at once.
        (
            CouponPatch {
                active: Some(false),
                valid_from: Some(Some(at(2025, 5, 1, 0, 0, 0))),
                valid_until: Some(Some(at(2025, 5, 31, 0, 0, 0))),
                max_redemptions: Some(Some(3)),
                campaign: Some(Some("may".to_owned())),
                note: Some(Some("replaced".to_owned())),
            },
            |c| {
                c.active = false;
                c.valid_from = Some(at(2025, 5, 1, 0, 0, 0));
                c.valid_until = Some(at(2025, 5, 31, 0, 0, 0));
                c.max_redemptions = Some(3);
                c.campaign = Some("may".to_owned());
                c.note = Some("replaced".to_owned());
            },
        ),
    ];
    for (i, (patch, apply)) in steps.iter().enumerate() {
        apply(&mut expected);
        let updated = s.update_coupon(c.id, patch).await.unwrap();
        assert_eq!(updated.as_ref(), Some(&expected), "step {i}: {patch:?}");
        assert_eq!(reread(s, c.id).await, expected, "step {i} read back");
    }
}

async fn update_coupon_clears_each_optional_field(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await.id;
    let mut c = full_coupon("CLR-0001", boss);
    c.redeemed_count = 0;
    put(s, std::slice::from_ref(&c)).await;
    let mut expected = c.clone();

    let steps: Vec<Step> = vec![
        (
            CouponPatch {
                valid_from: Some(None),
                ..CouponPatch::default()
            },
            |c| c.valid_from = None,
        ),
        (
            CouponPatch {
                valid_until: Some(None),
                ..CouponPatch::default()
            },
            |c| c.valid_until = None,
        ),
        (
            CouponPatch {
                max_redemptions: Some(None),
                ..CouponPatch::default()
            },
            |c| c.max_redemptions = None,
        ),
        (
            CouponPatch {
                campaign: Some(None),
                ..CouponPatch::default()
            },
            |c| c.campaign = None,
        ),
        (
            CouponPatch {
                note: Some(None),
                ..CouponPatch::default()
            },
            |c| c.note = None,
        ),
    ];
    for (i, (patch, apply)) in steps.iter().enumerate() {
        apply(&mut expected);
        let updated = s.update_coupon(c.id, patch).await.unwrap();
        assert_eq!(updated.as_ref(), Some(&expected), "step {i}: {patch:?}");
        assert_eq!(reread(s, c.id).await, expected, "step {i} read back");
    }
    // What a patch never touches stays as created.
    let now = reread(s, c.id).await;
    assert_eq!(now.period_ends_at, c.period_ends_at);
    assert_eq!(now.duration_days, c.duration_days);
    assert_eq!(now.created_by, Some(boss));
    assert!(!now.active);
    // The campaign filter no longer finds it.
    assert!(
        s.list_coupons(Some("spring-2025"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn update_coupon_of_unknown_id_is_none(db: &TestDb) {
    let s = store(db);
    let c = coupon("KNOWN", CouponKind::Period);
    put(s, std::slice::from_ref(&c)).await;
    let patch = CouponPatch {
        active: Some(false),
        note: Some(Some("x".to_owned())),
        ..CouponPatch::default()
    };
    assert_eq!(s.update_coupon(Uuid::now_v7(), &patch).await.unwrap(), None);
    assert_eq!(
        s.update_coupon(Uuid::now_v7(), &CouponPatch::default())
            .await
            .unwrap(),
        None
    );
    assert_eq!(reread(s, c.id).await, c);
}

async fn update_coupon_refuses_max_below_redeemed_count(db: &TestDb) {
    let s = store(db);
    let mut c = coupon("CAPD-0001", CouponKind::Period);
    c.max_redemptions = Some(5);
    put(s, std::slice::from_ref(&c)).await;
    for p in users(s, "capped", 3).await {
        assert!(matches!(
            redeem(s, &c, p, "", t0()).await,
            RedeemOutcome::Redeemed(_)
        ));
    }
    let before = reread(s, c.id).await;
    assert_eq!(before.redeemed_count, 3);

    // Alone, and together with other fields: refused, and nothing changes.
    for patch in [
        CouponPatch {
            max_redemptions: Some(Some(2)),
            ..CouponPatch::default()
        },
        CouponPatch {
            active: Some(false),
            max_redemptions: Some(Some(1)),
            note: Some(Some("should not stick".to_owned())),
            ..CouponPatch::default()
        },
    ] {
        let refused = s.update_coupon(c.id, &patch).await;
        assert!(refused.is_err(), "{patch:?} gave {refused:?}");
        assert_eq!(reread(s, c.id).await, before);
    }

    // Down to exactly the count is allowed; then it is exhausted.
    let at_count = s
        .update_coupon(
            c.id,
            &CouponPatch {
                max_redemptions: Some(Some(3)),
                ..CouponPatch::default()
            },
        )
        .await
        .unwrap()
        .expect("coupon exists");
    assert_eq!(at_count.max_redemptions, Some(3));
    assert_eq!(at_count.redeemed_count, 3);
    let late = user(s, "late@example.org").await.id;
    assert_eq!(
        redeem(s, &c, late, "", t0()).await,
        RedeemOutcome::Exhausted
    );

    // Lifting the cap lets it be redeemed again.
    let open = s
        .update_coupon(
            c.id,
            &CouponPatch {
                max_redemptions: Some(None),
                ..CouponPatch::default()
            },
        )
        .await
        .unwrap()
        .expect("coupon exists");
    assert_eq!(open.max_redemptions, None);
    assert!(matches!(
        redeem(s, &c, late, "", t0()).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(redeemed_count(s, c.id).await, 4);
}

// --- redeeming ----------------------------------------------------------------------------

async fn redeem_creates_grant_and_redemption_and_counts(db: &TestDb) {
    let s = store(db);
    let alice = user(s, "alice@example.org").await;
    let bob = user(s, "bob@example.org").await;
    let mut c = coupon("SPRG-2025-PRMM", CouponKind::Period);
    c.campaign = Some("spring".to_owned());
    put(s, std::slice::from_ref(&c)).await;

    let req = redeem_request(&c, alice.id, "", t0());
    let outcome = s.redeem(&req).await.expect("redeem");
    let expected = expected_grant(&req.grant, Some("SPRG-2025-PRMM"));
    let RedeemOutcome::Redeemed(grant) = outcome else {
        panic!("expected Redeemed, got {outcome:?}");
    };
    assert_eq!(*grant, expected);
    assert_eq!(grant.coupon_code.as_deref(), Some(c.display_code.as_str()));
    assert_eq!(
        grant.span,
        GrantSpan::Fixed {
            starts_at: t0(),
            ends_at: at(2025, 6, 30, 23, 59, 59)
        }
    );
    assert_eq!(grant_of(s, req.grant.id).await, expected);
    assert_eq!(grants_of(s, alice.id).await, vec![expected.clone()]);
    assert!(grants_of(s, bob.id).await.is_empty());
    assert_eq!(redeemed_count(s, c.id).await, 1);

    let redemptions = s.redemptions(c.id, None, 100).await.unwrap();
    assert_eq!(redemptions.len(), 1);
    let r = &redemptions[0];
    assert_eq!(r.id, req.redemption_id);
    assert_eq!(r.coupon_id, c.id);
    assert_eq!(r.profile_id, alice.id);
    assert_eq!(r.profile_email, "alice@example.org");
    assert_eq!(r.profile_email, alice.email);
    assert_eq!(r.access_grant_id, Some(req.grant.id));
    assert_eq!(r.redeemed_at, t0());
    assert_eq!(r.period_key, "");

    // A second profile: a second grant, a second redemption, the counter at 2.
    let later = t0() + hours(5);
    let req2 = redeem_request(&c, bob.id, "", later);
    assert!(matches!(
        s.redeem(&req2).await.unwrap(),
        RedeemOutcome::Redeemed(g) if g.id == req2.grant.id && g.profile_id == bob.id
    ));
    assert_eq!(redeemed_count(s, c.id).await, 2);
    let redemptions = s.redemptions(c.id, None, 100).await.unwrap();
    assert_eq!(
        redemptions
            .iter()
            .map(|r| (r.profile_email.as_str(), r.access_grant_id, r.redeemed_at))
            .collect::<Vec<_>>(),
        vec![
            ("alice@example.org", Some(req.grant.id), t0()),
            ("bob@example.org", Some(req2.grant.id), later),
        ]
    );
    assert_eq!(grants_of(s, alice.id).await.len(), 1);
    assert_eq!(grants_of(s, bob.id).await.len(), 1);

    // Another coupon has no redemptions.
    let other = coupon("OTHR", CouponKind::Period);
    put(s, std::slice::from_ref(&other)).await;
    assert!(s.redemptions(other.id, None, 100).await.unwrap().is_empty());
}

async fn redeem_single_use_creates_a_duration_grant(db: &TestDb) {
    let s = store(db);
    let p = user(s, "solo@example.org").await.id;
    let c = coupon("ABCD-EFGH-JKMN", CouponKind::SingleUse);
    put(s, std::slice::from_ref(&c)).await;
    let req = redeem_request(&c, p, "", t0());
    let RedeemOutcome::Redeemed(grant) = s.redeem(&req).await.unwrap() else {
        panic!("single-use coupon not redeemed");
    };
    assert_eq!(*grant, expected_grant(&req.grant, Some("ABCD-EFGH-JKMN")));
    assert_eq!(
        grant.span,
        GrantSpan::Duration {
            seconds: 30 * 86_400
        }
    );
    assert_eq!(grant.tier_id, "premium");
    assert_eq!(grant.source, "coupon");
    assert_eq!(grant.coupon_id, Some(c.id));
    assert_eq!(grant_of(s, req.grant.id).await, *grant);
}

async fn redemptions_page_by_id(db: &TestDb) {
    let s = store(db);
    let c = coupon("PAGE", CouponKind::Period);
    put(s, std::slice::from_ref(&c)).await;
    let profiles = users(s, "pager", 5).await;
    let mut redemption_ids = Vec::new();
    for (i, &p) in profiles.iter().enumerate() {
        let req = redeem_request(&c, p, "", t0() + hours(i as i64));
        assert!(matches!(
            s.redeem(&req).await.unwrap(),
            RedeemOutcome::Redeemed(_)
        ));
        redemption_ids.push(req.redemption_id);
    }
    let ids = |rs: Vec<mitai_store::coupons::Redemption>| {
        rs.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(s.redemptions(c.id, None, 100).await.unwrap()),
        redemption_ids
    );
    assert_eq!(
        ids(s.redemptions(c.id, None, 2).await.unwrap()),
        redemption_ids[..2]
    );
    assert_eq!(
        ids(s
            .redemptions(c.id, Some(redemption_ids[1]), 2)
            .await
            .unwrap()),
        redemption_ids[2..4]
    );
    assert_eq!(
        ids(s
            .redemptions(c.id, Some(redemption_ids[3]), 2)
            .await
            .unwrap()),
        redemption_ids[4..]
    );
    assert!(
        s.redemptions(c.id, Some(redemption_ids[4]), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.redemptions(c.id, None, 0).await.unwrap().is_empty());
}

async fn redeem_of_inactive_or_unknown_coupon_is_invalid(db: &TestDb) {
    let s = store(db);
    let p = user(s, "someone@example.org").await.id;
    let mut inactive = coupon("OFF", CouponKind::Period);
    inactive.active = false;
    put(s, std::slice::from_ref(&inactive)).await;

    assert_eq!(
        redeem(s, &inactive, p, "", t0()).await,
        RedeemOutcome::Invalid
    );
    let unknown = coupon("NEVER-STORED", CouponKind::Period);
    assert_eq!(
        redeem(s, &unknown, p, "", t0()).await,
        RedeemOutcome::Invalid
    );

    assert_eq!(reread(s, inactive.id).await, inactive);
    assert!(grants_of(s, p).await.is_empty());
    assert!(
        s.redemptions(inactive.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.redemptions(unknown.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Activated again, it works.
    s.update_coupon(
        inactive.id,
        &CouponPatch {
            active: Some(true),
            ..CouponPatch::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        redeem(s, &inactive, p, "", t0()).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(redeemed_count(s, inactive.id).await, 1);
}

async fn redeem_outside_the_window_is_expired(db: &TestDb) {
    let s = store(db);
    let mut c = coupon("WNDW", CouponKind::Period);
    c.valid_from = Some(t0() + days(1));
    c.valid_until = Some(t0() + days(10));
    put(s, std::slice::from_ref(&c)).await;
    let profiles = users(s, "window", 4).await;

    let early = t0() + days(1) - TimeDelta::seconds(1);
    assert_eq!(
        redeem(s, &c, profiles[0], "", t0()).await,
        RedeemOutcome::Expired
    );
    assert_eq!(
        redeem(s, &c, profiles[0], "", early).await,
        RedeemOutcome::Expired
    );
    let late = t0() + days(10) + TimeDelta::seconds(1);
    assert_eq!(
        redeem(s, &c, profiles[0], "", late).await,
        RedeemOutcome::Expired
    );
    assert_eq!(
        redeem(s, &c, profiles[0], "", t0() + days(40)).await,
        RedeemOutcome::Expired
    );
    assert_eq!(reread(s, c.id).await, c);
    assert!(grants_of(s, profiles[0]).await.is_empty());
    assert!(s.redemptions(c.id, None, 10).await.unwrap().is_empty());

    // Both ends of the window belong to it.
    for (p, now) in [
        (profiles[1], t0() + days(1)),
        (profiles[2], t0() + days(5)),
        (profiles[3], t0() + days(10)),
    ] {
        assert!(
            matches!(redeem(s, &c, p, "", now).await, RedeemOutcome::Redeemed(_)),
            "at {now}"
        );
    }
    assert_eq!(redeemed_count(s, c.id).await, 3);

    // Only one end set.
    let mut open_end = coupon("OPEN-END", CouponKind::Period);
    open_end.valid_from = Some(t0());
    let mut open_start = coupon("OPEN-START", CouponKind::Period);
    open_start.valid_until = Some(t0());
    put(s, &[open_end.clone(), open_start.clone()]).await;
    let q = profiles[0];
    assert_eq!(
        redeem(s, &open_end, q, "", t0() - hours(1)).await,
        RedeemOutcome::Expired
    );
    assert_eq!(
        redeem(s, &open_start, q, "", t0() + hours(1)).await,
        RedeemOutcome::Expired
    );
    assert!(matches!(
        redeem(s, &open_end, q, "", t0() + days(3650)).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert!(matches!(
        redeem(s, &open_start, q, "", t0() - days(3650)).await,
        RedeemOutcome::Redeemed(_)
    ));
}

async fn redeem_at_max_redemptions_is_exhausted(db: &TestDb) {
    let s = store(db);
    let mut c = coupon("MAX2", CouponKind::Period);
    c.max_redemptions = Some(2);
    put(s, std::slice::from_ref(&c)).await;
    let p = users(s, "max", 4).await;

    assert!(matches!(
        redeem(s, &c, p[0], "", t0()).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert!(matches!(
        redeem(s, &c, p[1], "", t0()).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(
        redeem(s, &c, p[2], "", t0()).await,
        RedeemOutcome::Exhausted
    );
    assert_eq!(
        redeem(s, &c, p[3], "", t0()).await,
        RedeemOutcome::Exhausted
    );
    assert_eq!(redeemed_count(s, c.id).await, 2);
    assert!(grants_of(s, p[2]).await.is_empty());
    assert!(grants_of(s, p[3]).await.is_empty());
    assert_eq!(s.redemptions(c.id, None, 10).await.unwrap().len(), 2);

    // Still "already redeemed" for a profile that has it, not "exhausted".
    assert_eq!(
        redeem(s, &c, p[0], "", t0()).await,
        RedeemOutcome::AlreadyRedeemed
    );
    assert_eq!(redeemed_count(s, c.id).await, 2);
}

async fn redeem_twice_by_one_profile_is_refused(db: &TestDb) {
    let s = store(db);
    let p = user(s, "twice@example.org").await.id;
    let other = user(s, "other@example.org").await.id;
    let period = coupon("ONCE-EACH", CouponKind::Period);
    let single = coupon("SNGL-USE1", CouponKind::SingleUse);
    put(s, &[period.clone(), single.clone()]).await;

    for c in [&period, &single] {
        assert!(matches!(
            redeem(s, c, p, "", t0()).await,
            RedeemOutcome::Redeemed(_)
        ));
        assert_eq!(
            redeem(s, c, p, "", t0() + hours(1)).await,
            RedeemOutcome::AlreadyRedeemed
        );
        assert_eq!(
            redeem(s, c, p, "", t0() + days(2)).await,
            RedeemOutcome::AlreadyRedeemed
        );
        assert_eq!(redeemed_count(s, c.id).await, 1);
        assert_eq!(s.redemptions(c.id, None, 10).await.unwrap().len(), 1);
    }
    assert_eq!(grants_of(s, p).await.len(), 2);
    // Another profile may still redeem the period coupon.
    assert!(matches!(
        redeem(s, &period, other, "", t0()).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(redeemed_count(s, period.id).await, 2);
}

async fn wellpass_is_redeemed_once_per_period_key(db: &TestDb) {
    let s = store(db);
    let p = user(s, "member@example.org").await.id;
    let q = user(s, "colleague@example.org").await.id;
    let c = coupon("WELLPASS-ACME", CouponKind::Wellpass);
    put(s, std::slice::from_ref(&c)).await;

    let march = at(2025, 3, 3, 8, 0, 0);
    let april = at(2025, 4, 2, 8, 0, 0);
    assert!(matches!(
        redeem(s, &c, p, "2025-03", march).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(
        redeem(s, &c, p, "2025-03", march + days(10)).await,
        RedeemOutcome::AlreadyRedeemed
    );
    assert!(matches!(
        redeem(s, &c, q, "2025-03", march).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert!(matches!(
        redeem(s, &c, p, "2025-04", april).await,
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(
        redeem(s, &c, p, "2025-04", april + hours(1)).await,
        RedeemOutcome::AlreadyRedeemed
    );
    assert_eq!(redeemed_count(s, c.id).await, 3);
    assert_eq!(grants_of(s, p).await.len(), 2);
    assert_eq!(grants_of(s, q).await.len(), 1);

    let mut mine: Vec<(String, DateTime<Utc>)> = s
        .redemptions(c.id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.profile_id == p)
        .map(|r| (r.period_key, r.redeemed_at))
        .collect();
    mine.sort();
    assert_eq!(
        mine,
        vec![("2025-03".to_owned(), march), ("2025-04".to_owned(), april)]
    );
}

async fn redeem_for_unknown_profile_changes_nothing(db: &TestDb) {
    let s = store(db);
    let c = coupon("GHOST", CouponKind::Period);
    put(s, std::slice::from_ref(&c)).await;
    let ghost = Uuid::now_v7();
    let err = s
        .redeem(&redeem_request(&c, ghost, "", t0()))
        .await
        .expect_err("a grant for an unknown profile is refused");
    assert!(matches!(err, StoreError::MissingReference(_)), "{err:?}");
    assert_eq!(reread(s, c.id).await, c);
    assert!(s.redemptions(c.id, None, 10).await.unwrap().is_empty());
    assert!(grants_of(s, ghost).await.is_empty());
}

// --- grants -------------------------------------------------------------------------------

async fn create_grant_fixed_and_duration(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await.id;
    let p = user(s, "granted@example.org").await.id;

    let mut fixed = admin_grant(
        p,
        "basic",
        GrantSpan::Fixed {
            starts_at: at(2025, 4, 1, 0, 0, 0),
            ends_at: at(2025, 5, 1, 0, 0, 0),
        },
        t0(),
    );
    fixed.created_by = Some(boss);
    let made = s.create_grant(&fixed).await.expect("fixed grant");
    assert_eq!(made, expected_grant(&fixed, None));
    assert_eq!(grant_of(s, fixed.id).await, made);

    let long = admin_grant(p, "premium", duration(365), t0() + hours(1));
    let made_long = s.create_grant(&long).await.expect("duration grant");
    assert_eq!(made_long, expected_grant(&long, None));
    assert_eq!(
        made_long.span,
        GrantSpan::Duration {
            seconds: 365 * 86_400
        }
    );
    assert_eq!(made_long.created_by, None);
    assert_eq!(grant_of(s, long.id).await, made_long);

    assert_eq!(grants_of(s, p).await, vec![made, made_long]);
    assert_eq!(s.grant(Uuid::now_v7()).await.unwrap(), None);
    assert!(grants_of(s, boss).await.is_empty());
    assert!(grants_of(s, Uuid::now_v7()).await.is_empty());
}

async fn create_grant_with_coupon_shows_its_display_code(db: &TestDb) {
    let s = store(db);
    let p = user(s, "coupon-grant@example.org").await.id;
    let c = coupon("GRNT-FROM-CPN1", CouponKind::SingleUse);
    put(s, std::slice::from_ref(&c)).await;
    let mut g = admin_grant(p, "premium", duration(30), t0());
    g.source = "coupon".to_owned();
    g.coupon_id = Some(c.id);
    let made = s.create_grant(&g).await.unwrap();
    assert_eq!(made, expected_grant(&g, Some("GRNT-FROM-CPN1")));
    assert_eq!(
        grant_of(s, g.id).await.coupon_code.as_deref(),
        Some("GRNT-FROM-CPN1")
    );
    // Creating a grant directly is not a redemption.
    assert_eq!(redeemed_count(s, c.id).await, 0);
}

async fn create_grant_with_unknown_references_is_refused(db: &TestDb) {
    let s = store(db);
    let p = user(s, "refs@example.org").await.id;

    let bad_tier = admin_grant(p, "platinum", duration(1), t0());
    let err = s.create_grant(&bad_tier).await.expect_err("unknown tier");
    assert!(matches!(err, StoreError::MissingReference(_)), "{err:?}");

    let ghost = admin_grant(Uuid::now_v7(), "basic", duration(1), t0());
    let err = s.create_grant(&ghost).await.expect_err("unknown profile");
    assert!(matches!(err, StoreError::MissingReference(_)), "{err:?}");

    let mut bad_coupon = admin_grant(p, "basic", duration(1), t0());
    bad_coupon.coupon_id = Some(Uuid::now_v7());
    let err = s
        .create_grant(&bad_coupon)
        .await
        .expect_err("unknown coupon");
    assert!(matches!(err, StoreError::MissingReference(_)), "{err:?}");

    assert!(grants_of(s, p).await.is_empty());
    assert_eq!(s.grant(bad_tier.id).await.unwrap(), None);
}

async fn grants_are_ordered_by_creation(db: &TestDb) {
    let s = store(db);
    let p = user(s, "ordered@example.org").await.id;
    // Inserted in an order that differs from their creation times.
    let third = admin_grant(p, "basic", duration(3), t0() + days(2));
    let first = admin_grant(p, "premium", duration(1), t0() - days(5));
    let second = admin_grant(
        p,
        "basic",
        GrantSpan::Fixed {
            starts_at: t0(),
            ends_at: t0() + days(30),
        },
        t0(),
    );
    for g in [&third, &first, &second] {
        s.create_grant(g).await.unwrap();
    }
    let listed: Vec<Uuid> = grants_of(s, p).await.iter().map(|g| g.id).collect();
    assert_eq!(listed, vec![first.id, second.id, third.id]);
}

// --- pauses and revocation ----------------------------------------------------------------

async fn pause_and_resume_record_pauses(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await.id;
    let helper = admin(s, "helper@example.org").await.id;
    let p = user(s, "paused@example.org").await.id;
    let g = admin_grant(p, "premium", duration(30), t0());
    s.create_grant(&g).await.unwrap();

    let t1 = t0() + days(1);
    let t2 = t0() + days(3);
    let t3 = t0() + days(5);
    let t4 = t0() + days(6);

    assert_eq!(
        s.pause_grant(g.id, Some(boss), "chargeback", t1)
            .await
            .unwrap(),
        GrantChange::Done
    );
    // A second pause while paused changes nothing, and records nothing.
    assert_eq!(
        s.pause_grant(g.id, Some(helper), "again", t1 + hours(1))
            .await
            .unwrap(),
        GrantChange::NoChange
    );
    let paused = grant_of(s, g.id).await;
    assert_eq!(paused.pauses.len(), 1);
    let first_id = paused.pauses[0].id;
    assert_eq!(
        paused.pauses,
        vec![pause(first_id, t1, Some(boss), "chargeback", None)]
    );
    assert_eq!(paused.revoked_at, None);

    assert_eq!(
        s.resume_grant(g.id, Some(helper), t2).await.unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.resume_grant(g.id, Some(boss), t2 + hours(1))
            .await
            .unwrap(),
        GrantChange::NoChange
    );
    assert_eq!(
        grant_of(s, g.id).await.pauses,
        vec![pause(
            first_id,
            t1,
            Some(boss),
            "chargeback",
            Some((t2, Some(helper)))
        )]
    );

    // A second cycle, by nobody in particular: a second pause row, in time order.
    assert_eq!(
        s.pause_grant(g.id, None, "", t3).await.unwrap(),
        GrantChange::Done
    );
    let open = grant_of(s, g.id).await;
    assert_eq!(open.pauses.len(), 2);
    let second_id = open.pauses[1].id;
    assert_ne!(first_id, second_id);
    assert_eq!(open.pauses[1], pause(second_id, t3, None, "", None));
    assert_eq!(
        s.resume_grant(g.id, None, t4).await.unwrap(),
        GrantChange::Done
    );
    let expected = vec![
        pause(
            first_id,
            t1,
            Some(boss),
            "chargeback",
            Some((t2, Some(helper))),
        ),
        pause(second_id, t3, None, "", Some((t4, None))),
    ];
    let done = grant_of(s, g.id).await;
    assert_eq!(done.pauses, expected);
    assert_eq!(grants_of(s, p).await, vec![done]);

    // Resume of a never-paused grant changes nothing.
    let fresh = admin_grant(p, "basic", duration(5), t0() + days(7));
    s.create_grant(&fresh).await.unwrap();
    assert_eq!(
        s.resume_grant(fresh.id, Some(boss), t4).await.unwrap(),
        GrantChange::NoChange
    );
    assert!(grant_of(s, fresh.id).await.pauses.is_empty());
}

async fn pauses_attach_to_their_grants_in_order(db: &TestDb) {
    let s = store(db);
    let p = user(s, "two-grants@example.org").await.id;
    let q = user(s, "bystander@example.org").await.id;
    let a = admin_grant(p, "premium", duration(30), t0());
    let b = admin_grant(
        p,
        "basic",
        GrantSpan::Fixed {
            starts_at: t0(),
            ends_at: t0() + days(60),
        },
        t0() + hours(1),
    );
    let c = admin_grant(q, "basic", duration(10), t0());
    for g in [&a, &b, &c] {
        s.create_grant(g).await.unwrap();
    }
    let h = |n: i64| t0() + days(1) + hours(n);
    // Interleaved: a paused, b paused, a resumed, a paused again, b resumed.
    assert_eq!(
        s.pause_grant(a.id, None, "a1", h(0)).await.unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.pause_grant(b.id, None, "b1", h(1)).await.unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.resume_grant(a.id, None, h(2)).await.unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.pause_grant(a.id, None, "a2", h(3)).await.unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.resume_grant(b.id, None, h(4)).await.unwrap(),
        GrantChange::Done
    );

    let listed = grants_of(s, p).await;
    assert_eq!(
        listed.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    let summary = |g: &Grant| {
        g.pauses
            .iter()
            .map(|x| (x.reason.clone(), x.paused_at, x.resumed_at))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        summary(&listed[0]),
        vec![
            ("a1".to_owned(), h(0), Some(h(2))),
            ("a2".to_owned(), h(3), None),
        ]
    );
    assert_eq!(
        summary(&listed[1]),
        vec![("b1".to_owned(), h(1), Some(h(4)))]
    );
    // grant(id) attaches the same pauses as grants(profile).
    assert_eq!(grant_of(s, a.id).await, listed[0]);
    assert_eq!(grant_of(s, b.id).await, listed[1]);
    // The bystander's grant has none.
    assert!(grant_of(s, c.id).await.pauses.is_empty());
    assert!(grants_of(s, q).await[0].pauses.is_empty());
}

async fn grant_changes_of_unknown_grant_are_not_found(db: &TestDb) {
    let s = store(db);
    let nobody = Uuid::now_v7();
    assert_eq!(
        s.pause_grant(nobody, None, "x", t0()).await.unwrap(),
        GrantChange::NotFound
    );
    assert_eq!(
        s.resume_grant(nobody, None, t0()).await.unwrap(),
        GrantChange::NotFound
    );
    assert_eq!(
        s.revoke_grant(nobody, None, t0()).await.unwrap(),
        GrantChange::NotFound
    );
    assert_eq!(s.grant(nobody).await.unwrap(), None);
}

async fn revoked_grant_cannot_change(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await.id;
    let helper = admin(s, "helper@example.org").await.id;
    let p = user(s, "revoked@example.org").await.id;
    let g = admin_grant(p, "premium", duration(30), t0());
    let other = admin_grant(p, "basic", duration(30), t0() + hours(1));
    s.create_grant(&g).await.unwrap();
    s.create_grant(&other).await.unwrap();

    let when = t0() + days(2);
    assert_eq!(
        s.revoke_grant(g.id, Some(boss), when).await.unwrap(),
        GrantChange::Done
    );
    let revoked = grant_of(s, g.id).await;
    assert_eq!(revoked.revoked_at, Some(when));
    assert_eq!(revoked.revoked_by, Some(boss));

    assert_eq!(
        s.pause_grant(g.id, Some(helper), "too late", when + hours(1))
            .await
            .unwrap(),
        GrantChange::Revoked
    );
    assert_eq!(
        s.resume_grant(g.id, Some(helper), when + hours(2))
            .await
            .unwrap(),
        GrantChange::Revoked
    );
    assert_eq!(
        s.revoke_grant(g.id, Some(helper), when + hours(3))
            .await
            .unwrap(),
        GrantChange::Revoked
    );
    // The first revocation stands; no pause was recorded.
    let after = grant_of(s, g.id).await;
    assert_eq!(after, revoked);
    assert_eq!(after.revoked_at, Some(when));
    assert_eq!(after.revoked_by, Some(boss));
    assert!(after.pauses.is_empty());

    // The other grant of the profile is untouched.
    let untouched = grant_of(s, other.id).await;
    assert_eq!(untouched, expected_grant(&other, None));
    assert_eq!(grants_of(s, p).await, vec![after, untouched]);
}

async fn revoke_of_paused_grant_keeps_the_pause(db: &TestDb) {
    let s = store(db);
    let boss = admin(s, "boss@example.org").await.id;
    let p = user(s, "paused-then-revoked@example.org").await.id;
    let g = admin_grant(
        p,
        "basic",
        GrantSpan::Fixed {
            starts_at: t0(),
            ends_at: t0() + days(30),
        },
        t0(),
    );
    s.create_grant(&g).await.unwrap();
    assert_eq!(
        s.pause_grant(g.id, Some(boss), "review", t0() + days(1))
            .await
            .unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.revoke_grant(g.id, None, t0() + days(2)).await.unwrap(),
        GrantChange::Done
    );
    assert_eq!(
        s.resume_grant(g.id, Some(boss), t0() + days(3))
            .await
            .unwrap(),
        GrantChange::Revoked
    );
    let after = grant_of(s, g.id).await;
    assert_eq!(after.revoked_at, Some(t0() + days(2)));
    assert_eq!(after.revoked_by, None);
    assert_eq!(after.pauses.len(), 1);
    assert_eq!(after.pauses[0].reason, "review");
    assert_eq!(after.pauses[0].paused_by, Some(boss));
    assert_eq!(after.pauses[0].resumed_at, None);
    assert_eq!(after.pauses[0].resumed_by, None);
}

// --- rate limits --------------------------------------------------------------------------

async fn rate_limits_count_per_bucket_and_window(db: &TestDb) {
    let s = store(db);
    let w1 = at(2025, 3, 14, 9, 30, 0);
    let w2 = at(2025, 3, 14, 9, 45, 0);
    let a = "coupon:profile:a";
    let b = "coupon:ip:203.0.113.7";

    assert_eq!(s.rate_limit_count(a, w1).await.unwrap(), 0);
    // Reading does not count.
    assert_eq!(s.rate_limit_count(a, w1).await.unwrap(), 0);
    for n in 1..=3 {
        assert_eq!(s.rate_limit_hit(a, w1).await.unwrap(), n);
    }
    assert_eq!(s.rate_limit_hit(b, w1).await.unwrap(), 1);
    assert_eq!(s.rate_limit_hit(a, w2).await.unwrap(), 1);
    assert_eq!(s.rate_limit_hit(a, w2).await.unwrap(), 2);

    assert_eq!(s.rate_limit_count(a, w1).await.unwrap(), 3);
    assert_eq!(s.rate_limit_count(a, w1).await.unwrap(), 3);
    assert_eq!(s.rate_limit_count(b, w1).await.unwrap(), 1);
    assert_eq!(s.rate_limit_count(a, w2).await.unwrap(), 2);
    assert_eq!(s.rate_limit_count(b, w2).await.unwrap(), 0);
    assert_eq!(s.rate_limit_count("coupon:profile:", w1).await.unwrap(), 0);
    assert_eq!(
        s.rate_limit_count(a, w1 + TimeDelta::seconds(1))
            .await
            .unwrap(),
        0
    );
    // A later hit continues from the stored count.
    assert_eq!(s.rate_limit_hit(a, w1).await.unwrap(), 4);
    assert_eq!(s.rate_limit_count(a, w1).await.unwrap(), 4);
}

async fn rate_limit_take_reserves_until_max_and_refunds(db: &TestDb) {
    let s = store(db);
    let w = at(2025, 3, 14, 9, 30, 0);
    let a = "login:account:a@example.org";
    for n in 1..=3 {
        assert!(s.rate_limit_take(a, w, 3).await.unwrap(), "attempt {n}");
    }
    assert!(
        !s.rate_limit_take(a, w, 3).await.unwrap(),
        "the fourth is refused"
    );
    assert_eq!(
        s.rate_limit_count(a, w).await.unwrap(),
        3,
        "a refusal counts nothing"
    );
    // A refund makes room for one more; refunds never go below zero.
    s.rate_limit_refund(a, w).await.unwrap();
    assert_eq!(s.rate_limit_count(a, w).await.unwrap(), 2);
    assert!(s.rate_limit_take(a, w, 3).await.unwrap());
    assert!(!s.rate_limit_take(a, w, 3).await.unwrap());
    for _ in 0..5 {
        s.rate_limit_refund(a, w).await.unwrap();
    }
    assert_eq!(s.rate_limit_count(a, w).await.unwrap(), 0);
    s.rate_limit_refund("never:seen", w).await.unwrap();
    assert_eq!(s.rate_limit_count("never:seen", w).await.unwrap(), 0);
    // Windows and buckets are separate; a limit of 0 takes nothing.
    assert!(
        s.rate_limit_take(a, w + TimeDelta::minutes(15), 1)
            .await
            .unwrap()
    );
    assert!(!s.rate_limit_take("zero", w, 0).await.unwrap());
    assert_eq!(s.rate_limit_count("zero", w).await.unwrap(), 0);
}

async fn rate_limit_windows_are_purged_after_a_day(db: &TestDb) {
    let s = store(db);
    let now = at(2025, 3, 14, 12, 0, 0);
    s.rate_limit_hit("old", now - TimeDelta::hours(25))
        .await
        .unwrap();
    s.rate_limit_hit("recent", now - TimeDelta::hours(23))
        .await
        .unwrap();
    let purged = s.purge_expired(now).await.unwrap();
    assert_eq!(purged.rate_limits, 1);
    assert_eq!(
        s.rate_limit_count("old", now - TimeDelta::hours(25))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.rate_limit_count("recent", now - TimeDelta::hours(23))
            .await
            .unwrap(),
        1
    );
}

// --- concurrency --------------------------------------------------------------------------

/// Runs `n` calls of `call(i)` at once on the runtime's worker threads.
async fn race<F, Fut, T>(n: usize, call: F) -> Vec<T>
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

/// Redeems `c` once per entry of `profiles`, all at once, and tallies the outcomes
/// `(redeemed grant ids, exhausted, already redeemed)`.
async fn redeem_race(db: &TestDb, c: &Coupon, profiles: &[Uuid]) -> (Vec<Uuid>, usize, usize) {
    let results = race(profiles.len(), |i| {
        let s = Arc::clone(&db.store);
        let req = redeem_request(c, profiles[i], "", t0());
        async move { s.redeem(&req).await }
    })
    .await;
    let mut redeemed = Vec::new();
    let (mut exhausted, mut already) = (0, 0);
    for result in results {
        match result.expect("redeem") {
            RedeemOutcome::Redeemed(g) => redeemed.push(g.id),
            RedeemOutcome::Exhausted => exhausted += 1,
            RedeemOutcome::AlreadyRedeemed => already += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (redeemed, exhausted, already)
}

async fn single_redemption_coupon_is_redeemed_once_under_concurrency(db: &TestDb) {
    let s = store(db);
    let mut c = coupon("ONLY-ONE", CouponKind::SingleUse);
    c.max_redemptions = Some(1);
    put(s, std::slice::from_ref(&c)).await;
    let profiles = users(s, "racer", 20).await;

    let (redeemed, exhausted, already) = redeem_race(db, &c, &profiles).await;
    assert_eq!(redeemed.len(), 1, "exactly one winner");
    assert_eq!(exhausted, 19);
    assert_eq!(already, 0);
    assert_eq!(redeemed_count(s, c.id).await, 1);
    assert_eq!(total_grants(s, &profiles).await, 1);
    let redemptions = s.redemptions(c.id, None, 100).await.unwrap();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(redemptions[0].access_grant_id, Some(redeemed[0]));
    let winner = grant_of(s, redeemed[0]).await;
    assert_eq!(redemptions[0].profile_id, winner.profile_id);
}

async fn max_redemptions_is_never_exceeded_under_concurrency(db: &TestDb) {
    let s = store(db);
    let mut c = coupon("FIVE-ONLY", CouponKind::Period);
    c.max_redemptions = Some(5);
    put(s, std::slice::from_ref(&c)).await;
    let profiles = users(s, "crowd", 15).await;

    let (redeemed, exhausted, already) = redeem_race(db, &c, &profiles).await;
    assert_eq!(redeemed.len(), 5);
    assert_eq!(exhausted, 10);
    assert_eq!(already, 0);
    assert_eq!(redeemed_count(s, c.id).await, 5);
    assert_eq!(total_grants(s, &profiles).await, 5);
    let redemptions = s.redemptions(c.id, None, 100).await.unwrap();
    assert_eq!(redemptions.len(), 5);
    let mut recorded: Vec<Uuid> = redemptions
        .iter()
        .filter_map(|r| r.access_grant_id)
        .collect();
    let mut won = redeemed.clone();
    recorded.sort();
    won.sort();
    assert_eq!(recorded, won);
    // Five different profiles won.
    let mut winners: Vec<Uuid> = redemptions.iter().map(|r| r.profile_id).collect();
    winners.sort();
    winners.dedup();
    assert_eq!(winners.len(), 5);
}

async fn one_profile_redeems_once_under_concurrency(db: &TestDb) {
    let s = store(db);
    let c = coupon("EAGER", CouponKind::Period);
    put(s, std::slice::from_ref(&c)).await;
    let p = user(s, "eager@example.org").await.id;

    let (redeemed, exhausted, already) = redeem_race(db, &c, &[p; 10]).await;
    assert_eq!(redeemed.len(), 1, "exactly one redemption");
    assert_eq!(exhausted, 0);
    assert_eq!(already, 9);
    assert_eq!(redeemed_count(s, c.id).await, 1);
    let grants = grants_of(s, p).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, redeemed[0]);
    let redemptions = s.redemptions(c.id, None, 100).await.unwrap();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(redemptions[0].access_grant_id, Some(redeemed[0]));
}

/// A double-submitted single-use code (max 1): the extra attempts are answered as
/// sequential ones are, "already redeemed", not "exhausted".
async fn one_profile_redeems_a_single_use_code_once_under_concurrency(db: &TestDb) {
    let s = store(db);
    let mut c = coupon("DBLE-CLCK-CODE", CouponKind::SingleUse);
    c.max_redemptions = Some(1);
    put(s, std::slice::from_ref(&c)).await;
    let p = user(s, "double-click@example.org").await.id;

    let (redeemed, exhausted, already) = redeem_race(db, &c, &[p; 10]).await;
    assert_eq!(redeemed.len(), 1, "exactly one redemption");
    assert_eq!(exhausted, 0, "the profile that has it is told so");
    assert_eq!(already, 9);
    assert_eq!(redeemed_count(s, c.id).await, 1);
    assert_eq!(grants_of(s, p).await.len(), 1);
    assert_eq!(s.redemptions(c.id, None, 100).await.unwrap().len(), 1);
    // Sequentially the same.
    assert_eq!(
        redeem(s, &c, p, "", t0()).await,
        RedeemOutcome::AlreadyRedeemed
    );
}

async fn rate_limit_hits_are_exact_under_concurrency(db: &TestDb) {
    let window = at(2025, 3, 14, 9, 45, 0);
    let results = race(50, |_| {
        let s = Arc::clone(&db.store);
        async move { s.rate_limit_hit("login:ip:198.51.100.1", window).await }
    })
    .await;
    let mut counts: Vec<i64> = results
        .into_iter()
        .map(|r| r.expect("rate limit hit"))
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<i64>>());
    let s = store(db);
    assert_eq!(
        s.rate_limit_count("login:ip:198.51.100.1", window)
            .await
            .unwrap(),
        50
    );
    assert_eq!(
        s.rate_limit_count("login:ip:198.51.100.2", window)
            .await
            .unwrap(),
        0
    );
}

/// 100 attempts at once against a limit of 10: exactly 10 are reserved. A read-then-write
/// limit would let many more through.
async fn rate_limit_take_reserves_at_most_max_under_concurrency(db: &TestDb) {
    let window = at(2025, 3, 14, 9, 30, 0);
    let results = race(100, |_| {
        let s = Arc::clone(&db.store);
        async move { s.rate_limit_take("login:account:x", window, 10).await }
    })
    .await;
    let taken = results
        .into_iter()
        .filter(|r| *r.as_ref().expect("take"))
        .count();
    assert_eq!(taken, 10);
    assert_eq!(
        store(db)
            .rate_limit_count("login:account:x", window)
            .await
            .unwrap(),
        10
    );
}

/// The redemption, its grant, its activity entry and its e-mail commit together; a refused
/// redemption leaves none of them.
async fn redeem_commits_its_activity_and_mail_with_it(db: &TestDb) {
    let s = db.store.as_ref();
    let now = Utc.with_ymd_and_hms(2027, 1, 10, 12, 0, 0).unwrap();
    let p = user(s, "tx@example.org").await;
    let mut c = coupon("TXCODE", CouponKind::Period);
    c.period_ends_at = Some(now + days(30));
    c.max_redemptions = Some(1);
    s.create_coupons(std::slice::from_ref(&c)).await.unwrap();
    let with_side_effects = |profile_id: Uuid| {
        let mut r = redeem_request(&c, profile_id, "", now);
        r.activity = Some(
            NewActivity::new("coupon_redeemed", now)
                .by_self(profile_id)
                .details(serde_json::json!({"code": c.display_code})),
        );
        r.mail = Some(NewMail::new(
            "tx@example.org",
            "coupon_redeemed",
            "en",
            serde_json::json!({"code": c.display_code}),
            now,
        ));
        r
    };
    let outcome = s.redeem(&with_side_effects(p.id)).await.unwrap();
    assert!(matches!(outcome, RedeemOutcome::Redeemed(_)), "{outcome:?}");
    let filter = ActivityFilter {
        action: Some("coupon_redeemed".into()),
        ..ActivityFilter::default()
    };
    assert_eq!(s.activity(&filter, None, 10).await.unwrap().len(), 1);
    assert_eq!(s.outbox(None, None, 10).await.unwrap().len(), 1);

    // Refused (exhausted): nothing of it is written.
    let other = user(s, "late@example.org").await;
    let outcome = s.redeem(&with_side_effects(other.id)).await.unwrap();
    assert_eq!(outcome, RedeemOutcome::Exhausted);
    assert_eq!(s.activity(&filter, None, 10).await.unwrap().len(), 1);
    assert_eq!(s.outbox(None, None, 10).await.unwrap().len(), 1);
}
