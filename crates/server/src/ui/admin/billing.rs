//! `/admin/billing`: the prices on sale (add a Stripe price, switch one on or off), the
//! subscriptions with their monthly revenue, and Stripe's webhook events with a retry
//! button; the figures of payments at the top.

use askama::Template;
use axum::extract::{Path, State};

use super::{Admin, FormState};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::billing::{self, NewPrice, PricePatch};
use crate::ui::billing::{PriceRow, amounts, money, price_rows};
use crate::ui::forms::{FormData, Params};
use crate::ui::plan::tier_name;
use crate::ui::{Ctx, UiError, UiResult, render, render_status, see_other};

#[derive(Debug, Default, serde::Deserialize)]
pub struct BillingQuery {
    done: Option<String>,
    status: Option<String>,
}

pub struct SubscriptionRow {
    pub email: String,
    pub profile: String,
    pub status: String,
    pub tier: String,
    pub period_end: String,
    pub monthly: String,
    pub ending: bool,
}

pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub failed: bool,
    pub error: String,
    pub received: String,
    pub attempts: i64,
}

#[derive(Template)]
#[template(path = "ui/admin/billing.html")]
struct BillingPage {
    ctx: Ctx,
    payments: bool,
    paying: String,
    monthly: String,
    revenue: String,
    prices: Vec<(PriceRow, bool)>,
    tiers: Vec<(String, String)>,
    form: FormState,
    subscriptions: Vec<SubscriptionRow>,
    statuses: Vec<(&'static str, &'static str, bool)>,
    events: Vec<EventRow>,
}

async fn page_of(
    state: &AppState,
    admin: &Admin,
    q: &BillingQuery,
    form: FormState,
) -> Result<BillingPage, UiError> {
    let lang = admin.lang();
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let figures = billing::figures(state).await?;
    let sums = |list: &[(String, i64)]| amounts(lang, list.iter().map(|(c, n)| (c.as_str(), *n)));
    let all = billing::all_prices(state).await?;
    let rows = price_rows(lang, &registry, &all);
    let prices = rows.into_iter().zip(all.iter().map(|p| p.active)).collect();
    let monthly_of = |stripe_price: Option<&str>| {
        all.iter()
            .find(|p| Some(p.stripe_price_id.as_str()) == stripe_price)
            .map(|p| {
                let per_month = billing::monthly_amount(
                    p.amount,
                    p.interval.as_deref(),
                    p.interval_count.unwrap_or(1),
                );
                money(lang, per_month, &p.currency)
            })
            .unwrap_or_default()
    };
    let subscriptions = billing::admin_subscriptions(state)
        .await?
        .into_iter()
        .map(|s| {
            let stripe_price = all
                .iter()
                .find(|p| Some(p.id) == s.price_id)
                .map(|p| p.stripe_price_id.clone());
            SubscriptionRow {
                email: s.email.unwrap_or_default(),
                profile: s.profile_id.map(|p| p.to_string()).unwrap_or_default(),
                status: lang
                    .try_t(&format!("subscription.{}", s.status))
                    .map_or_else(|| s.status.clone(), str::to_owned),
                tier: s
                    .tier
                    .as_deref()
                    .map_or_else(String::new, |t| tier_name(lang, &registry, t)),
                period_end: s
                    .ended_at
                    .or(s.current_period_end)
                    .map(|t| lang.datetime(t, tz))
                    .unwrap_or_default(),
                monthly: if s.ended_at.is_none() {
                    monthly_of(stripe_price.as_deref())
                } else {
                    String::new()
                },
                ending: s.cancel_at_period_end || s.ended_at.is_some(),
            }
        })
        .collect();
    let status = q
        .status
        .clone()
        .filter(|s| ["pending", "processed", "ignored", "failed"].contains(&s.as_str()));
    let events = billing::events(state, status.as_deref())
        .await?
        .into_iter()
        .map(|e| EventRow {
            failed: e.status == "failed",
            status: lang
                .try_t(&format!("event_status.{}", e.status))
                .map_or_else(|| e.status.clone(), str::to_owned),
            id: e.id,
            kind: e.kind,
            error: e.error.unwrap_or_default(),
            received: lang.datetime(e.received_at, tz),
            attempts: e.attempts,
        })
        .collect();
    let current = status.as_deref().unwrap_or("");
    let mut tiers: Vec<&mitai_access::registry::Tier> =
        registry.tiers().iter().filter(|t| t.active).collect();
    tiers.sort_by_key(|t| t.rank);
    Ok(BillingPage {
        ctx: admin.ctx(q.done.as_deref()),
        payments: billing::enabled(state),
        paying: lang.number(figures.paying_subscribers as f64, 0),
        monthly: sums(&figures.monthly_recurring),
        revenue: sums(&figures.revenue_since),
        prices,
        tiers: tiers
            .iter()
            .map(|t| (t.id.clone(), tier_name(lang, &registry, &t.id)))
            .collect(),
        form,
        subscriptions,
        statuses: [
            ("", "admin.all"),
            ("failed", "event_status.failed"),
            ("processed", "event_status.processed"),
            ("ignored", "event_status.ignored"),
            ("pending", "event_status.pending"),
        ]
        .iter()
        .map(|(v, key)| (*v, lang.t(key), *v == current))
        .collect(),
        events,
    })
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<BillingQuery>,
) -> UiResult {
    render(&page_of(&state, &admin, &q, FormState::default()).await?)
}

/// `POST /admin/billing/prices` (`stripe_price_id`, `tier`, `days`): a Stripe price on sale.
pub async fn add_price(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let mut typed = FormState::from_form(&form);
    let days = match typed.value("days") {
        "" => None,
        n => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                typed.errors.0.insert(
                    "days".into(),
                    admin.lang().t("billing.days_number").to_owned(),
                );
                let page = page_of(&state, &admin, &BillingQuery::default(), typed).await?;
                return render_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        },
    };
    let new = NewPrice {
        stripe_price_id: typed.value("stripe_price_id").to_owned(),
        tier: typed.value("tier").to_owned(),
        days,
    };
    match billing::create_price(&state, admin.profile(), ip, &new).await {
        Ok(_) => Ok(see_other("/admin/billing?done=price_added")),
        Err(e) => {
            let status = crate::ui::status_of(&e);
            typed.refused(admin.lang(), e)?;
            let page = page_of(&state, &admin, &BillingQuery::default(), typed).await?;
            render_status(status, &page)
        }
    }
}

/// `POST /admin/billing/prices/{id}` (`active`: `true` or `false`): on or off sale.
pub async fn set_price(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    let patch = PricePatch {
        active: Some(form.get("active") == "true"),
        ..PricePatch::default()
    };
    billing::update_price(&state, admin.profile(), ip, id, &patch).await?;
    Ok(see_other("/admin/billing?done=price_changed"))
}

/// `POST /admin/billing/events/{id}/retry`: the event applied again now.
pub async fn retry(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    billing::retry_event(&state, &id).await?;
    Ok(see_other("/admin/billing?done=event_retried#events"))
}

/// `POST /admin/users/{id}/billing/sync`: the person's subscriptions re-read from Stripe.
pub async fn sync(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    billing::sync_profile(&state, id).await?;
    Ok(see_other(&format!(
        "/admin/users/{id}?done=billing_synced#billing"
    )))
}
