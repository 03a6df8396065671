//! `/`: the dashboard — the effective tier and the trial's days left, a usage meter per
//! enabled count feature, the latest weight with its trend, and a quick weight form.

use askama::Template;
use axum::extract::State;
use chrono::TimeDelta;
use mitai_access::EntryData;

use serde::Deserialize;

use super::charts::LineChart;
use super::forms::{Params, new_idempotency_key};
use super::plan::{FeatureRow, feature_rows, tier_name};
use super::{Ctx, Member, UiResult, render};
use crate::service::AppState;
use crate::service::{access, entries};
use mitai_access::EntryKind;

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
    latest: Option<(String, String)>,
    trend: Option<String>,
    chart: LineChart,
    idempotency_key: String,
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
    let tz = registry.settings.usage_timezone;
    let now = state.now();
    let today = now.with_timezone(&tz).date_naive();
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
    // The last 90 days of weights: the chart, the latest value and its trend.
    let weights = entries::series(
        &state,
        profile.id,
        EntryKind::Weight,
        Some(today - TimeDelta::days(90)),
        10_000,
    )
    .await?;
    let (chart, _) = super::data::weight::weight_chart(lang, &weights);
    let kg = |e: &crate::service::records::Entry| match &e.data {
        EntryData::Weight(w) => Some(w.weight_kg),
        _ => None,
    };
    let latest = weights.last().and_then(|e| {
        Some((
            lang.date(e.date),
            format!("{} kg", lang.short_number(kg(e)?, 1)),
        ))
    });
    let trend = match (weights.first().and_then(kg), weights.last().and_then(kg)) {
        (Some(first), Some(last)) if weights.len() > 1 => {
            let delta = last - first;
            let sign = if delta > 0.0 { "+" } else { "" };
            Some(lang.tf(
                "dashboard.trend",
                &[&format!("{sign}{}", lang.short_number(delta, 1))],
            ))
        }
        _ => None,
    };
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
        meters,
        latest,
        trend,
        chart,
        idempotency_key: new_idempotency_key(),
        today: today.format("%Y-%m-%d").to_string(),
        verified: profile.email_verified || !registry.settings.require_email_verification,
    })
}
