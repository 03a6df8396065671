//! `/admin`: profiles by effective tier, active profiles, uses and refusals per day, the
//! redemptions per coupon and the health of the mail outbox — as charts with their numbers.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use chrono::NaiveDate;

use super::Admin;
use crate::service::AppState;
use crate::service::admin::stats;
use crate::ui::charts::{self, BarChart, Frame};
use crate::ui::plan::{feature_name, tier_name};
use crate::ui::{Ctx, UiResult, render};

#[derive(Template)]
#[template(path = "ui/admin/overview.html")]
struct OverviewPage {
    ctx: Ctx,
    total: String,
    disabled: String,
    tiers_chart: BarChart,
    /// Each plan's name and how many enabled profiles have it now.
    by_tier: Vec<(String, String)>,
    active_chart: BarChart,
    active: Vec<(&'static str, String)>,
    /// When the active profiles were counted, in words.
    active_at: String,
    /// Up to when the uses are counted, in words.
    usage_through: String,
    uses_chart: BarChart,
    refused_chart: BarChart,
    per_feature: Vec<(String, String, String)>,
    redemptions: Vec<(String, String, String, String, String)>,
    redemptions_chart: BarChart,
    mail_queued: String,
    mail_failing: String,
    mail_failed: String,
    mail_oldest: String,
    /// Trials ending within seven days: (id, e-mail, end), the first ten.
    trials: Vec<(String, String, String)>,
    trials_more: bool,
    /// Payments (when they are on): paying subscribers, monthly recurring revenue, revenue
    /// of the last 30 days.
    billing: Option<(String, String, String)>,
}

/// Messages looked at to find the failing and the oldest waiting ones.
const MAIL_LOOKED_AT: i64 = 500;

pub async fn page(State(state): State<AppState>, admin: Admin) -> UiResult {
    let lang = admin.lang();
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let (s, (trials, trials_more), waiting) = tokio::try_join!(
        stats::global(&state),
        crate::service::admin::users::trials_ending(&state, 10),
        crate::service::admin::mail::waiting(&state, MAIL_LOOKED_AT),
    )?;
    let trials = trials
        .into_iter()
        .map(|t| (t.id.to_string(), t.email, lang.datetime(t.ends_at, tz)))
        .collect();
    let n = |v: i64| lang.number(v as f64, 0);
    // Each plan's name and its enabled profiles now: the chart and the table beside it.
    let counts: Vec<(String, i64)> = registry
        .tiers()
        .iter()
        .map(|t| {
            let count = s
                .profiles
                .by_effective_tier
                .get(&t.id)
                .copied()
                .unwrap_or(0);
            (tier_name(lang, &registry, &t.id), count)
        })
        .collect();
    let by_tier = counts
        .iter()
        .map(|(name, c)| (name.clone(), n(*c)))
        .collect();
    let tiers_chart = charts::bar_chart(
        Frame::plot(),
        counts
            .into_iter()
            .map(|(name, c)| (name, c as f64))
            .collect(),
        &|v, d| lang.number(v, d),
    );
    let active = [
        (lang.t("admin.active_1"), s.active_profiles.last_1_day),
        (lang.t("admin.active_7"), s.active_profiles.last_7_days),
        (lang.t("admin.active_30"), s.active_profiles.last_30_days),
    ];
    let active_chart = charts::bar_chart(
        Frame::plot(),
        active
            .iter()
            .map(|(l, v)| ((*l).to_owned(), *v as f64))
            .collect(),
        &|v, d| lang.number(v, d),
    );
    // Per day (every day of the 30, empty ones included) and per feature.
    let today = s.generated_at.date_naive();
    let mut uses: BTreeMap<NaiveDate, (i64, i64)> = (0..30)
        .map(|i| (today - chrono::TimeDelta::days(29 - i), (0, 0)))
        .collect();
    let mut by_feature: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for d in &s.feature_usage_per_day {
        let day = uses.entry(d.day).or_default();
        day.0 += d.uses;
        day.1 += d.limit_reached;
        let f = by_feature.entry(d.feature.clone()).or_default();
        f.0 += d.uses;
        f.1 += d.limit_reached;
    }
    let day_bars = |pick: fn(&(i64, i64)) -> i64| {
        charts::bar_chart(
            Frame::plot(),
            uses.iter()
                .map(|(d, v)| (lang.short_date(*d), pick(v) as f64))
                .collect(),
            &|v, d| lang.number(v, d),
        )
    };
    let failing = waiting.iter().filter(|m| m.attempts > 0).count() as i64;
    let oldest = waiting
        .iter()
        .map(|m| m.created_at)
        .min()
        .map_or_else(|| lang.t("admin.none").to_owned(), |t| lang.datetime(t, tz));
    render(&OverviewPage {
        ctx: admin.ctx(None),
        total: n(s.profiles.total),
        disabled: n(s.profiles.disabled),
        tiers_chart,
        active_chart,
        active: active.iter().map(|(l, v)| (*l, n(*v))).collect(),
        active_at: lang.tf(
            "admin.active_at",
            &[&lang.datetime(s.active_profiles_at, tz)],
        ),
        usage_through: match s.feature_usage_through {
            Some(t) => lang.tf("admin.usage_through", &[&lang.datetime(t, tz)]),
            None => lang.t("admin.usage_not_counted").to_owned(),
        },
        uses_chart: day_bars(|v| v.0),
        refused_chart: day_bars(|v| v.1),
        per_feature: by_feature
            .iter()
            .map(|(f, (u, r))| (feature_name(lang, &registry, f), n(*u), n(*r)))
            .collect(),
        redemptions_chart: charts::bar_chart(
            Frame::plot(),
            s.redemptions_per_coupon
                .iter()
                .take(12)
                .map(|r| (r.code.clone(), r.redemptions as f64))
                .collect(),
            &|v, d| lang.number(v, d),
        ),
        redemptions: s
            .redemptions_per_coupon
            .iter()
            .map(|r| {
                (
                    r.coupon_id.to_string(),
                    r.code.clone(),
                    r.campaign.clone().unwrap_or_default(),
                    tier_name(lang, &registry, &r.tier),
                    n(r.redemptions),
                )
            })
            .collect(),
        mail_queued: n(s.mail.pending + s.mail.sending),
        mail_failing: n(failing),
        mail_failed: n(s.mail.failed),
        mail_oldest: oldest,
        trials,
        trials_more,
        billing: crate::service::billing::enabled(&state).then(|| {
            let sums = |list: &[crate::service::admin::stats::Amount]| {
                crate::ui::billing::amounts(
                    lang,
                    list.iter().map(|a| (a.currency.as_str(), a.amount)),
                )
            };
            (
                n(s.billing.paying_subscribers),
                sums(&s.billing.monthly_recurring_revenue),
                sums(&s.billing.revenue_last_30_days),
            )
        }),
        by_tier,
    })
}
