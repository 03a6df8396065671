//! Coupons: creation (one, or a batch of generated codes) and redemption.

use chrono::{DateTime, TimeDelta, Utc};
use mitai_access::coupons::{
    code_from_random, display_code, month_key, normalize_code, wellpass_ends_at,
};
use mitai_access::text::{Code, Rule, Text, rules};
use mitai_store::coupons::{Coupon, CouponKind, GrantSpan, NewGrant, Redeem, RedeemOutcome};
use mitai_store::{NewActivity, NewMail, Profile, StoreError, actions};
use rand::RngCore;
use uuid::Uuid;

use crate::service::AppState;
use crate::service::grants;
use crate::service::grants::GrantView;
use crate::service::rate_limit::{self, Limit};
use crate::service::{Error, ErrorCode, Result, field};

/// Unknown-code attempts allowed per profile, and per IP, in one window.
pub const UNKNOWN_CODE_LIMIT_PER_PROFILE: i64 = 10;
pub const UNKNOWN_CODE_LIMIT_PER_IP: i64 = 50;
/// The rate-limit window.
pub const RATE_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// A coupon as an admin describes it.
#[derive(Debug, Clone)]
pub struct CouponSpec {
    pub code: Option<String>,
    pub kind: CouponKind,
    pub tier: String,
    pub duration_days: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub period_ends_at: Option<DateTime<Utc>>,
    pub max_redemptions: Option<i32>,
    pub campaign: Option<String>,
    pub note: Option<String>,
}

/// A new random code: 60 bits from the operating system's CSPRNG.
pub fn generate_code() -> String {
    let mut random = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut random);
    code_from_random(random)
}

/// An optional text of kind `R` (blank or absent is none), checked and trimmed.
pub fn optional<R: Rule>(name: &str, value: Option<&str>) -> Result<Option<String>> {
    Ok(field(name, Text::<R>::parse_optional(value.unwrap_or("")))?.map(String::from))
}

/// Checks a spec against the coupon rules and builds the coupon.
pub fn build_coupon(state: &AppState, spec: CouponSpec, admin: Uuid) -> Result<Coupon> {
    let registry = state.registry();
    let now = state.now();
    if !registry.tier_by_id(&spec.tier).is_some_and(|t| t.active) {
        return Err(Error::field("tier", "must be the id of an active tier"));
    }
    let (code, display) = match &spec.code {
        Some(given) => {
            let code = normalize_code(given).ok_or_else(|| {
                Error::field(
                    "code",
                    "must be 1 to 64 letters, digits or _ (spaces and dashes are ignored)",
                )
            })?;
            (code, given.trim().to_owned())
        }
        None => {
            let code = generate_code();
            let display = display_code(&code);
            (code, display)
        }
    };
    if let (Some(from), Some(until)) = (spec.valid_from, spec.valid_until)
        && until <= from
    {
        return Err(Error::field("valid_until", "must be after valid_from"));
    }
    if spec
        .max_redemptions
        .is_some_and(|m| !(1..=10_000_000).contains(&m))
    {
        return Err(Error::field(
            "max_redemptions",
            "must be from 1 to 10000000",
        ));
    }
    let campaign = optional::<rules::Campaign>("campaign", spec.campaign.as_deref())?;
    let note = optional::<rules::CouponNote>("note", spec.note.as_deref())?;
    let mut coupon = Coupon {
        id: Uuid::now_v7(),
        code,
        display_code: display,
        kind: spec.kind,
        tier_id: spec.tier,
        duration_days: None,
        valid_from: spec.valid_from,
        valid_until: spec.valid_until,
        period_ends_at: None,
        max_redemptions: spec.max_redemptions,
        redeemed_count: 0,
        active: true,
        campaign,
        note,
        created_by: Some(admin),
        created_at: now,
    };
    match spec.kind {
        CouponKind::SingleUse => {
            match spec.duration_days {
                Some(days) if (1..=3650).contains(&days) => coupon.duration_days = Some(days),
                _ => {
                    return Err(Error::field(
                        "duration_days",
                        "a single_use coupon needs 1 to 3650 days",
                    ));
                }
            }
            if spec.max_redemptions.is_some_and(|m| m != 1) {
                return Err(Error::field(
                    "max_redemptions",
                    "a single_use coupon is redeemed once",
                ));
            }
            coupon.max_redemptions = Some(1);
        }
        CouponKind::Period => match spec.period_ends_at {
            Some(end) if end > now => coupon.period_ends_at = Some(end),
            _ => {
                return Err(Error::field(
                    "period_ends_at",
                    "a period coupon needs an end in the future",
                ));
            }
        },
        CouponKind::Wellpass => {
            if spec.duration_days.is_some() || spec.period_ends_at.is_some() {
                return Err(Error::field(
                    "kind",
                    "a wellpass coupon lasts a calendar month; give no duration or end",
                ));
            }
        }
    }
    if spec.kind != CouponKind::SingleUse && spec.duration_days.is_some() {
        return Err(Error::field(
            "duration_days",
            "only single_use coupons have a duration",
        ));
    }
    Ok(coupon)
}

/// Stores coupons; a chosen code that exists answers 409 `code_taken`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn store_coupons(state: &AppState, coupons: &[Coupon]) -> Result<()> {
    match state.store.create_coupons(coupons).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(Error::refused(
            ErrorCode::CodeTaken,
            "a coupon with this code exists",
        )),
        Err(StoreError::MissingReference(_)) => Err(Error::field("tier", "no such tier")),
        Err(e) => Err(e.into()),
    }
}

/// Creates `count` single-use coupons with generated codes, all or none. A collision of
/// generated codes (about 2^-60 per pair) is answered by generating the batch again.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_batch(
    state: &AppState,
    spec: CouponSpec,
    count: usize,
    admin: Uuid,
) -> Result<Vec<Coupon>> {
    for _ in 0..3 {
        let coupons = (0..count)
            .map(|_| {
                build_coupon(
                    state,
                    CouponSpec {
                        code: None,
                        ..spec.clone()
                    },
                    admin,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        match state.store.create_coupons(&coupons).await {
            Ok(()) => return Ok(coupons),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "generated codes collided three times"
    )))
}

/// The guessing limits of a redemption: per profile and, when known, per IP.
fn guessing_limits(profile: &Profile, ip: Option<&str>) -> Vec<Limit> {
    let mut limits = vec![Limit::new(
        format!("redeem:profile:{}", profile.id),
        UNKNOWN_CODE_LIMIT_PER_PROFILE,
        RATE_WINDOW,
    )];
    if let Some(ip) = ip {
        limits.push(Limit::new(
            rate_limit::key("redeem:ip", ip),
            UNKNOWN_CODE_LIMIT_PER_IP,
            RATE_WINDOW,
        ));
    }
    limits
}

/// Logs a refused redemption (`coupon_failed`) with the code as typed (at most 64 chars).
async fn failed(state: &AppState, profile: &Profile, code: &str, reason: &str, ip: Option<&str>) {
    let code: String = code.chars().take(64).collect();
    let event = NewActivity::new(actions::COUPON_FAILED, state.now())
        .by_self(profile.id)
        .details(serde_json::json!({"code": code, "reason": reason}))
        .ip(ip.map(str::to_owned));
    crate::service::activity_log::record(state, event).await;
}

fn invalid_coupon() -> Error {
    Error::refused(ErrorCode::InvalidCoupon, "this code is not valid")
}

/// Redeems a code for a profile. Returns the new grant and the effective tier after it.
/// A profile whose e-mail must be verified first is refused (403 `email_not_verified`)
/// before anything else, so its attempts do not count against the guessing limits.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn redeem(
    state: &AppState,
    profile: &Profile,
    code: &str,
    ip: Option<&str>,
) -> Result<(GrantView, String)> {
    crate::service::accounts::require_verified(state, profile)?;
    let code = field("code", Code::parse(code))?;
    let code = code.as_str();
    let now = state.now();
    // Counted before the code is looked up, so parallel guesses cannot pass the limit;
    // a code that exists is given back (only unknown and inactive codes count).
    let attempt = rate_limit::reserve(state, &guessing_limits(profile, ip)).await?;
    let coupon = match normalize_code(code) {
        Some(code) => match state.store.coupon_by_code(&code).await {
            Ok(found) => found.filter(|c| c.active),
            Err(e) => {
                attempt.refund(state).await;
                return Err(e.into());
            }
        },
        None => None,
    };
    let Some(coupon) = coupon else {
        failed(state, profile, code, ErrorCode::InvalidCoupon.as_str(), ip).await;
        // Unknown and inactive codes look the same, and both stay counted.
        return Err(invalid_coupon());
    };
    attempt.refund(state).await;
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let (span, period_key) = match coupon.kind {
        CouponKind::SingleUse => (
            GrantSpan::Duration {
                seconds: i64::from(coupon.duration_days.unwrap_or(1)) * 86_400,
            },
            String::new(),
        ),
        CouponKind::Period => {
            let ends_at = coupon.period_ends_at.unwrap_or(now);
            if ends_at <= now {
                return Err(Error::refused(
                    ErrorCode::CouponExpired,
                    "this coupon's period is over",
                ));
            }
            (
                GrantSpan::Fixed {
                    starts_at: now,
                    ends_at,
                },
                String::new(),
            )
        }
        CouponKind::Wellpass => (
            GrantSpan::Fixed {
                starts_at: now,
                ends_at: wellpass_ends_at(tz, now, registry.settings.wellpass_grace_days),
            },
            month_key(tz, now),
        ),
    };
    let tier_name = registry
        .tier_by_id(&coupon.tier_id)
        .map_or_else(|| coupon.tier_id.clone(), |t| t.name.clone());
    let mut mail_data = serde_json::json!({
        "name": profile.name,
        "code": coupon.display_code,
        "tier": tier_name,
    });
    match span {
        GrantSpan::Fixed { ends_at, .. } => mail_data["ends_at"] = serde_json::json!(ends_at),
        GrantSpan::Duration { seconds } => mail_data["days"] = serde_json::json!(seconds / 86_400),
    }
    let grant_id = Uuid::now_v7();
    let redeem = Redeem {
        redemption_id: Uuid::now_v7(),
        coupon_id: coupon.id,
        period_key,
        grant: NewGrant {
            id: grant_id,
            profile_id: profile.id,
            tier_id: coupon.tier_id.clone(),
            source: "coupon".into(),
            coupon_id: Some(coupon.id),
            span,
            created_by: None,
            created_at: now,
        },
        now,
        activity: Some(
            NewActivity::new(actions::COUPON_REDEEMED, now)
                .by_self(profile.id)
                .details(serde_json::json!({
                    "coupon_id": coupon.id,
                    "code": coupon.display_code,
                    "kind": coupon.kind.as_str(),
                    "tier": coupon.tier_id,
                    "grant_id": grant_id,
                }))
                .ip(ip.map(str::to_owned)),
        ),
        mail: Some(NewMail::new(
            profile.email.clone(),
            "coupon_redeemed",
            profile.language.clone(),
            mail_data,
            now,
        )),
    };
    let outcome = state.store.redeem(&redeem).await?;
    if !matches!(outcome, RedeemOutcome::Redeemed(_)) {
        let reason = match outcome {
            RedeemOutcome::Invalid => ErrorCode::InvalidCoupon,
            RedeemOutcome::Expired => ErrorCode::CouponExpired,
            RedeemOutcome::Exhausted => ErrorCode::CouponExhausted,
            _ => ErrorCode::CouponAlreadyRedeemed,
        }
        .as_str();
        failed(state, profile, &coupon.display_code, reason, ip).await;
    }
    match outcome {
        RedeemOutcome::Redeemed(grant) => {
            if let Some(cap) = coupon.max_redemptions
                && let Ok(Some(now_counted)) = state.store.coupon(coupon.id).await
                && now_counted.redeemed_count >= cap
            {
                crate::service::notifications::raise(
                    state,
                    "coupon_exhausted",
                    coupon.id.to_string(),
                    serde_json::json!({
                        "code": coupon.display_code,
                        "campaign": coupon.campaign.clone().unwrap_or_else(|| "–".into()),
                        "cap": cap,
                    }),
                    format!("/admin/coupons/{}", coupon.id),
                );
            }
            let view = grants::grant_view(state, grant.id).await?;
            let tier = grants::effective_tier_id(state, profile).await?;
            Ok((view, tier))
        }
        RedeemOutcome::Invalid => Err(invalid_coupon()),
        RedeemOutcome::Expired => Err(Error::refused(
            ErrorCode::CouponExpired,
            "this coupon cannot be redeemed now",
        )),
        RedeemOutcome::Exhausted => Err(Error::refused(
            ErrorCode::CouponExhausted,
            "this coupon has been redeemed as often as it may",
        )),
        RedeemOutcome::AlreadyRedeemed => Err(Error::refused(
            ErrorCode::CouponAlreadyRedeemed,
            if coupon.kind == CouponKind::Wellpass {
                "you redeemed this coupon this month already"
            } else {
                "you redeemed this coupon already"
            },
        )),
    }
}
