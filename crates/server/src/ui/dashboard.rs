//! `/`: the dashboard — the effective tier and the trial's days left, a usage meter per
//! enabled count feature, the latest weight with its trend, and a quick weight form.

use askama::Template;
use axum::extract::State;
use chrono::TimeDelta;

use serde::Deserialize;

use super::charts::LineChart;
use super::data::weight::{self, WeightSummary};
use super::forms::{Params, new_idempotency_key};
use super::plan::{FeatureRow, feature_rows, tier_name};
use super::{Ctx, Lang, Member, UiResult, render};
use crate::service::AppState;
use crate::service::{access, entries, profiles};

#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/dashboard.html")]
struct DashboardPage {
    ctx: Ctx,
    greeting: String,
    tier: String,
    trial: Option<String>,
    meters: Vec<FeatureRow>,
    summary: Option<WeightSummary>,
    chart: LineChart,
    /// A warning of a coming drop to a lower plan, and what it leaves the person over.
    coming: Option<ComingView>,
    idempotency_key: String,
    weight_field: &'static str,
    weight_unit: &'static str,
    today: String,
    verified: bool,
}

pub async fn page(
    State(state): State<AppState>,
    member: Member,
    Params(query): Params<DashboardQuery>,
) -> UiResult {
    let lang = member.lang();
    let profile = member.profile();
    let registry = state.registry();
    let now = state.now();
    let today = crate::service::profiles::today(&state, profile);
    let (tier, views) = access::access_list(&state, profile).await?;
    let meters = feature_rows(&state, lang, &views)
        .into_iter()
        .zip(&views)
        .filter(|(row, view)| row.enabled && view.kind == "count")
        .map(|(row, _)| row)
        .collect();
    let trial = profile.trial_ends_at.filter(|e| *e > now).map(|ends| {
        let days = (ends - now).num_hours().div_euclid(24) + 1;
        lang.tf(
            "dashboard.trial_left",
            &[
                &days.to_string(),
                &tier_name(lang, &registry, &registry.settings.trial_tier),
            ],
        )
    });
    let coming = access::coming_change(&state, profile, &views)
        .await?
        .map(|c| coming_view(lang, &registry, &state, profile, &c));
    // The latest weigh-ins and the overview of all: the summary, and the chart's 90 days.
    let history = entries::weight_history(&state, profile.id).await?;
    let units = profiles::units_of(profile);
    let summary = weight::weight_summary(lang, units, profile, &history, today);
    let from = Some(today - TimeDelta::days(90));
    let recent = weight::chart_weights(&state, profile, &history, from).await?;
    let (chart, _) = weight::weight_chart(lang, units, &recent);
    let name = if profile.name.is_empty() {
        profile.email.clone()
    } else {
        profile.name.clone()
    };
    render(&DashboardPage {
        ctx: member.ctx("dashboard", query.done.as_deref()),
        greeting: lang.tf("dashboard.hello", &[&name]),
        tier: tier_name(lang, &registry, &tier),
        trial,
        coming,
        meters,
        summary,
        chart,
        idempotency_key: new_idempotency_key(),
        weight_field: weight::weight_field(units),
        weight_unit: units.weight_unit(),
        today: today.format("%Y-%m-%d").to_string(),
        verified: profile.email_verified || !registry.settings.require_email_verification,
    })
}

/// The words of a coming change of plan.
pub struct ComingView {
    pub headline: String,
    pub over: Vec<String>,
}

fn coming_view(
    lang: Lang,
    registry: &mitai_access::Registry,
    state: &AppState,
    profile: &crate::service::records::Profile,
    change: &access::ComingChange,
) -> ComingView {
    let tz = crate::service::profiles::timezone_of(state, profile);
    let day = lang.date(change.at.with_timezone(&tz).date_naive());
    let tier = tier_name(lang, registry, &change.tier);
    let headline = if change.trial_ends {
        lang.tf("dashboard.trial_ends_on", &[&day, &tier])
    } else {
        lang.tf("dashboard.plan_changes_on", &[&day, &tier])
    };
    let over = change
        .over
        .iter()
        .map(|o| {
            let name = crate::ui::plan::feature_name(lang, registry, &o.feature);
            let used = o.used.to_string();
            if o.limit == 0 {
                lang.tf("dashboard.off_after", &[&name, &used])
            } else {
                let period = lang.t(&format!("period.{}", o.reset_period));
                let limit = lang.tf("plan.per_period", &[&o.limit.to_string(), period]);
                lang.tf("dashboard.over_after", &[&name, &limit, &used])
            }
        })
        .collect();
    ComingView { headline, over }
}
