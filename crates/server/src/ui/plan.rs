//! `/plan`: the subscription as its user sees it — the effective tier and why, every
//! feature's limit, use, reset and source in plain words, the grants with an access
//! timeline, and the coupon form.

use crate::service::records::Profile;
use crate::service::records::{Grant, GrantSpan};
use askama::Template;
use axum::extract::State;
use chrono::{DateTime, TimeDelta, Utc};
use mitai_access::grants::GrantStatus;
use mitai_access::{FeatureKind, Registry};
use serde::Deserialize;

use super::charts::{self, SegmentKind, Timeline, TimelineRow};
use super::forms::{FormData, Params};
use super::{Ctx, Lang, Member, Refusal, UiResult, refusal, render, render_status};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::access::AccessView;
use crate::service::{access, coupons, grants};

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    done: Option<String>,
    /// `success` or `cancel`: back from Stripe's Checkout.
    checkout: Option<String>,
}

/// One feature's row of the plan.
pub struct FeatureRow {
    pub name: String,
    pub limit: String,
    pub used: String,
    pub remaining: String,
    pub resets: String,
    pub source: &'static str,
    pub meter: Option<Meter>,
    pub enabled: bool,
}

/// A usage meter: `used` of `max`, drawn full when used up or over (a limit lowered below
/// the usage, say), and coloured by how much is left: the `<meter>`'s `low` and `high`
/// mark the last third and the last tenth, and its `optimum` is empty.
pub struct Meter {
    /// What the bar shows: at most `max`.
    pub value: i64,
    pub max: i64,
    pub low: i64,
    pub high: i64,
    /// More used than the limit allows now.
    pub over: bool,
    /// "3 of 10", or "52 of 31 — 21 over the limit".
    pub text: String,
}

impl Meter {
    pub fn new(lang: Lang, used: i64, max: i64) -> Meter {
        let (used_text, max_text) = (lang.number(used as f64, 0), lang.number(max as f64, 0));
        let over = used > max;
        Meter {
            value: used.clamp(0, max),
            max,
            low: (max * 2 + 2) / 3,
            high: (max * 9 + 9) / 10,
            over,
            text: if over {
                let beyond = lang.number((used - max) as f64, 0);
                lang.tf("plan.used_over", &[&used_text, &max_text, &beyond])
            } else {
                lang.tf("plan.used_of", &[&used_text, &max_text])
            },
        }
    }
}

/// One grant as the plan lists it.
pub struct GrantRow {
    pub tier: String,
    pub status: &'static str,
    pub status_key: &'static str,
    pub source: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "ui/plan.html")]
struct PlanPage {
    ctx: Ctx,
    tier: String,
    why: String,
    features: Vec<FeatureRow>,
    grants: Vec<GrantRow>,
    timeline: Timeline,
    code: String,
    redeemed: Option<String>,
    refusal: Option<Refusal>,
    /// Payments (when they are on).
    billing: Option<super::billing::PlanBilling>,
    billing_refusal: Option<Refusal>,
}

/// A feature's name in `lang`, the same on every page: in English the name an admin gave it
/// (the registry's); in another language its translation where one exists (the seeded
/// features have one), else that name.
pub fn feature_name(lang: Lang, registry: &Registry, id: &str) -> String {
    let given = registry
        .feature_idx(id)
        .map(|f| registry.feature(f).name.clone());
    translated(lang, &format!("feature.{id}"), given).unwrap_or_else(|| id.to_owned())
}

/// A tier's name in `lang`, the same way.
pub fn tier_name(lang: Lang, registry: &Registry, id: &str) -> String {
    let given = registry.tier_by_id(id).map(|t| t.name.clone());
    translated(lang, &format!("tier.{id}"), given).unwrap_or_else(|| id.to_owned())
}

fn translated(lang: Lang, key: &str, given: Option<String>) -> Option<String> {
    let translation = || crate::ui::messages::lookup(lang, key).map(str::to_owned);
    match lang {
        Lang::En => given.or_else(translation),
        _ => translation().or(given),
    }
}

/// The rows of the feature table (also the dashboard's meters).
pub fn feature_rows(state: &AppState, lang: Lang, views: &[AccessView]) -> Vec<FeatureRow> {
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    views
        .iter()
        .map(|a| {
            let boolean = a.kind == FeatureKind::Boolean.as_str();
            let limit = match (a.enabled, a.limit, boolean) {
                (false, _, _) => lang.t("plan.off").to_owned(),
                (true, _, true) => lang.t("plan.on").to_owned(),
                (true, None, _) => lang.t("plan.unlimited").to_owned(),
                (true, Some(n), _) => lang.tf(
                    "plan.per_period",
                    &[
                        &lang.number(n as f64, 0),
                        lang.t(&format!("period.{}", a.reset_period)),
                    ],
                ),
            };
            let meter = match (a.enabled, a.limit, boolean) {
                (true, Some(max), false) if max > 0 => Some(Meter::new(lang, a.used, max)),
                _ => None,
            };
            FeatureRow {
                name: feature_name(lang, &registry, &a.feature),
                limit,
                used: if boolean {
                    String::new()
                } else {
                    lang.number(a.used as f64, 0)
                },
                remaining: match (a.enabled, a.remaining, boolean) {
                    (true, Some(r), false) => lang.number(r as f64, 0),
                    (true, None, false) => "∞".into(),
                    _ => String::new(),
                },
                resets: match a.resets_at {
                    Some(t) if !boolean => lang.datetime(t, tz),
                    _ => String::new(),
                },
                source: lang.t(&format!("source.{}", a.source)),
                meter,
                enabled: a.enabled,
            }
        })
        .collect()
}

/// Why the profile has its effective tier, in plain words.
fn why(
    lang: Lang,
    registry: &Registry,
    profile: &Profile,
    tier: &str,
    running: &[&Grant],
    now: DateTime<Utc>,
) -> String {
    if let Some(g) = running.iter().find(|g| g.tier_id == tier) {
        return match &g.coupon_code {
            Some(code) => lang.tf("plan.why_coupon", &[code]),
            None => lang.t("plan.why_grant").to_owned(),
        };
    }
    if let Some(ends) = profile.trial_ends_at.filter(|e| *e > now)
        && registry.settings.trial_tier == tier
    {
        let tz = registry.settings.usage_timezone;
        return lang.tf("plan.why_trial", &[&lang.datetime(ends, tz)]);
    }
    lang.t("plan.why_base").to_owned()
}

/// The grants of a profile as rows, and their access timeline (used by the admin pages
/// too).
pub fn grant_timeline(
    lang: Lang,
    registry: &Registry,
    profile: &Profile,
    list: &[Grant],
    now: DateTime<Utc>,
) -> (Vec<GrantRow>, Timeline, Vec<usize>) {
    let tz = registry.settings.usage_timezone;
    let timeline = grants::profile_timeline(registry, profile, list, now);
    let horizon_cap = now + TimeDelta::days(400);
    let mut start = now - TimeDelta::days(30);
    let mut end = now + TimeDelta::days(30);
    let mut rows = Vec::new();
    let mut chart_rows = Vec::new();
    let mut running = Vec::new();
    for (i, g) in list.iter().enumerate() {
        let s = timeline.state(i);
        let opened = match g.span {
            GrantSpan::Fixed { starts_at, .. } => starts_at.min(g.created_at),
            GrantSpan::Duration { .. } => g.created_at,
        };
        // A grant an admin paused has no end until it resumes: it is drawn paused until
        // now and then for the time it has left (as if resumed now), not to the horizon.
        let paused_open = s.ends_at.is_none() && s.status == GrantStatus::PausedAdmin;
        let closes = match (s.ends_at, s.remaining_seconds) {
            (Some(ends), _) => ends,
            (None, Some(left)) if paused_open => now.max(opened) + TimeDelta::seconds(left),
            _ => horizon_cap,
        }
        .min(horizon_cap);
        start = start.min(opened);
        end = end.max(closes);
        let gone = matches!(s.status, GrantStatus::Expired | GrantStatus::Revoked);
        let mut segments = Vec::new();
        let mut cursor = opened;
        let mut ran = false;
        for span in timeline.runs(i) {
            let span_end = span.end.min(closes);
            if span.start > cursor {
                let kind = if ran {
                    SegmentKind::Paused
                } else {
                    SegmentKind::Waiting
                };
                segments.push((
                    cursor,
                    span.start,
                    if gone { SegmentKind::Expired } else { kind },
                ));
            }
            if span_end > span.start {
                segments.push((
                    span.start,
                    span_end,
                    if gone {
                        SegmentKind::Expired
                    } else {
                        SegmentKind::Running
                    },
                ));
            }
            ran = true;
            cursor = cursor.max(span_end);
        }
        if paused_open && cursor < now {
            segments.push((cursor, now, SegmentKind::Paused));
            cursor = now;
        }
        if cursor < closes && !gone {
            let kind = if ran && !paused_open {
                SegmentKind::Paused
            } else {
                SegmentKind::Waiting
            };
            segments.push((cursor, closes, kind));
        }
        if s.status == GrantStatus::Running {
            running.push(i);
        }
        let tier = tier_name(lang, registry, &g.tier_id);
        let mut detail = Vec::new();
        if let Some(secs) = s.remaining_seconds.filter(|_| !gone) {
            let days = (secs as f64 / 86_400.0).ceil();
            detail.push(lang.tf("plan.days_left", &[&lang.number(days, 0)]));
        }
        if let Some(ends) = s.ends_at {
            detail.push(lang.tf("plan.ends", &[&lang.datetime(ends, tz)]));
        }
        if let Some(p) = g.pauses.iter().find(|p| p.resumed_at.is_none()) {
            detail.push(lang.tf("plan.paused_because", &[&p.reason]));
        }
        rows.push(GrantRow {
            tier: tier.clone(),
            status: s.status.as_str(),
            status_key: status_key(s.status),
            source: match (&g.coupon_code, g.source.as_str()) {
                (Some(code), _) => lang.tf("plan.from_coupon", &[code]),
                (None, "stripe") => lang.t("plan.from_stripe").to_owned(),
                (None, _) => lang.t("plan.from_admin").to_owned(),
            },
            detail: detail.join(" · "),
        });
        chart_rows.push(TimelineRow {
            label: tier,
            segments,
        });
    }
    let chart = charts::timeline(chart_rows, (start, end.min(horizon_cap)), now, &|d| {
        lang.short_date(d)
    });
    (rows, chart, running)
}

fn status_key(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Running => "status.running",
        GrantStatus::Waiting => "status.waiting",
        GrantStatus::PausedStacking => "status.paused_stacking",
        GrantStatus::PausedAdmin => "status.paused_admin",
        GrantStatus::Expired => "status.expired",
        GrantStatus::Revoked => "status.revoked",
    }
}

async fn plan_view(
    state: &AppState,
    member: &Member,
    done: Option<&str>,
    checkout: Option<&str>,
) -> UiResult<PlanPage> {
    let lang = member.lang();
    let registry = state.registry();
    let profile = member.profile();
    let (tier, views) = access::access_list(state, profile).await?;
    let list = crate::service::grants::of_profile(state, profile.id).await?;
    let now = state.now();
    let (mut grant_rows, timeline, running) = grant_timeline(lang, &registry, profile, &list, now);
    grant_rows.reverse();
    let running: Vec<&Grant> = running.iter().map(|&i| &list[i]).collect();
    Ok(PlanPage {
        ctx: member.ctx("plan", done),
        why: why(lang, &registry, profile, &tier, &running, now),
        tier: tier_name(lang, &registry, &tier),
        features: feature_rows(state, lang, &views),
        grants: grant_rows,
        timeline,
        code: String::new(),
        redeemed: None,
        refusal: None,
        billing: super::billing::plan_billing(state, member, checkout).await?,
        billing_refusal: None,
    })
}

/// `/plan` with the refusal of buying or of the portal, answered with its status.
pub async fn with_billing_refusal(
    state: &AppState,
    member: &Member,
    e: &crate::service::Error,
) -> UiResult {
    let mut page = plan_view(state, member, None, None).await?;
    page.billing_refusal = Some(super::billing::billing_refusal(member.lang(), e));
    Ok(super::billing::allowing_stripe(
        state,
        render_status(super::status_of(e), &page)?,
    ))
}

pub async fn page(
    State(state): State<AppState>,
    member: Member,
    Params(query): Params<PlanQuery>,
) -> UiResult {
    let page = plan_view(
        &state,
        &member,
        query.done.as_deref(),
        query.checkout.as_deref(),
    )
    .await?;
    Ok(super::billing::allowing_stripe(&state, render(&page)?))
}

/// `POST /plan/redeem` (`code`): the new access named, or the refusal of the API.
pub async fn redeem(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let code = form.get("code").to_owned();
    let result = coupons::redeem(&state, member.profile(), &code, ip.as_deref()).await;
    let mut page = plan_view(&state, &member, None, None).await?;
    match result {
        Ok((grant, _)) => {
            let registry = state.registry();
            let tz = registry.settings.usage_timezone;
            let tier = tier_name(lang, &registry, &grant.tier);
            page.redeemed = Some(
                match (grant.kind.as_str(), grant.ends_at, grant.duration_seconds) {
                    ("fixed", Some(ends), _) => {
                        lang.tf("plan.redeemed_until", &[&tier, &lang.datetime(ends, tz)])
                    }
                    (_, _, Some(secs)) => {
                        lang.tf("plan.redeemed_days", &[&tier, &(secs / 86_400).to_string()])
                    }
                    _ => lang.tf("plan.redeemed", &[&tier]),
                },
            );
            render(&page)
        }
        Err(e) => {
            page.code = code;
            page.refusal = Some(refusal(&state, lang, &e).unwrap_or_else(|| Refusal {
                text: coupon_refusal(lang, &e),
                plan_link: false,
                plan_label: lang.t("refusal.plan_link"),
            }));
            render_status(super::status_of(&e), &page)
        }
    }
}

/// The words for each refusal of a redemption.
fn coupon_refusal(lang: Lang, e: &crate::service::Error) -> String {
    use crate::service::ErrorCode as C;
    let key = match e.code() {
        C::InvalidCoupon => "coupon.invalid",
        C::CouponExpired => "coupon.expired",
        C::CouponExhausted => "coupon.exhausted",
        C::CouponAlreadyRedeemed => "coupon.already",
        C::InvalidInput => "coupon.invalid",
        _ => "error.internal_text",
    };
    lang.t(key).to_owned()
}
