//! Payments in the pages: the prices and the state of a subscription on `/plan`, the forms
//! that go to Stripe's Checkout and customer portal (303), and the public `/pricing`.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use mitai_access::Registry;

use super::forms::FormData;
use super::plan::{feature_name, tier_name};
use super::{Ctx, Lang, Member, Refusal, UiResult, Visitor, render};
use crate::service::billing::{self, BillingView, PriceView};
use crate::service::{AppState, Error, ErrorCode};

/// A price as the pages offer it.
pub struct PriceRow {
    pub id: String,
    pub label: String,
    pub tier: String,
    /// "9.99 EUR".
    pub amount: String,
    /// "per month", "30 days of access, once".
    pub per: String,
    pub subscription: bool,
}

/// `9.99 EUR` (German: `9,99 EUR`).
pub fn money(lang: Lang, amount: i64, currency: &str) -> String {
    format!(
        "{} {}",
        lang.number(amount as f64 / 100.0, 2),
        currency.to_uppercase()
    )
}

/// Amounts in several currencies, `9.99 EUR, 5.00 USD` (none: `0.00 EUR`).
pub fn amounts<'a>(lang: Lang, list: impl IntoIterator<Item = (&'a str, i64)>) -> String {
    let shown: Vec<String> = list
        .into_iter()
        .map(|(currency, n)| money(lang, n, currency))
        .collect();
    if shown.is_empty() {
        money(lang, 0, "eur")
    } else {
        shown.join(", ")
    }
}

pub fn price_rows(lang: Lang, registry: &Registry, prices: &[PriceView]) -> Vec<PriceRow> {
    prices
        .iter()
        .map(|p| {
            let per = match (p.kind.as_str(), p.interval.as_deref(), p.interval_count) {
                ("one_time", _, _) => lang.tf(
                    "billing.pass",
                    &[&lang.number(p.days.unwrap_or(0) as f64, 0)],
                ),
                (_, Some(interval), Some(n)) if n > 1 => lang.tf(
                    &format!("billing.every.{interval}"),
                    &[&lang.number(n as f64, 0)],
                ),
                (_, Some(interval), _) => lang.t(&format!("billing.per.{interval}")).to_owned(),
                _ => String::new(),
            };
            PriceRow {
                id: p.id.to_string(),
                label: p.label.clone(),
                tier: tier_name(lang, registry, &p.tier),
                amount: money(lang, p.amount, &p.currency),
                per,
                subscription: p.kind == "subscription",
            }
        })
        .collect()
}

/// A payment as the pages list it.
pub struct PaymentRow {
    pub date: String,
    pub amount: String,
    pub status: String,
}

/// The subscription in words, and whether it needs the person (a failed payment).
pub fn subscription_words(
    lang: Lang,
    registry: &Registry,
    billing: &BillingView,
) -> Option<(String, bool)> {
    let s = billing.subscription.as_ref()?;
    let tz = registry.settings.usage_timezone;
    let tier = s
        .tier
        .as_deref()
        .map_or_else(String::new, |t| tier_name(lang, registry, t));
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(String::new, |t| lang.datetime(t, tz))
    };
    Some(match s.status.as_str() {
        "past_due" | "unpaid" | "incomplete" => (lang.tf("billing.failed", &[&tier]), true),
        "canceled" | "incomplete_expired" => (
            lang.tf("billing.ended", &[&tier, &when(s.access_until)]),
            false,
        ),
        _ if s.cancel_at_period_end => (
            lang.tf("billing.ends", &[&tier, &when(s.current_period_end)]),
            false,
        ),
        _ => (
            lang.tf("billing.renews", &[&tier, &when(s.current_period_end)]),
            false,
        ),
    })
}

pub fn payment_rows(lang: Lang, registry: &Registry, billing: &BillingView) -> Vec<PaymentRow> {
    let tz = registry.settings.usage_timezone;
    billing
        .payments
        .iter()
        .map(|p| PaymentRow {
            date: lang.datetime(p.created_at, tz),
            amount: money(lang, p.amount, &p.currency),
            status: lang
                .try_t(&format!("payment.{}", p.status))
                .map_or_else(|| p.status.clone(), str::to_owned),
        })
        .collect()
}

/// The billing part of `/plan` when payments are on.
pub struct PlanBilling {
    pub note: Option<String>,
    pub state: Option<String>,
    pub attention: bool,
    pub manage: bool,
    pub prices: Vec<PriceRow>,
    pub payments: Vec<PaymentRow>,
}

/// What `/plan` shows of payments; `None` while payments are off. `checkout` is the
/// `?checkout=` Stripe sends the person back with.
pub async fn plan_billing(
    state: &AppState,
    member: &Member,
    checkout: Option<&str>,
) -> Result<Option<PlanBilling>, Error> {
    if !billing::enabled(state) {
        return Ok(None);
    }
    let lang = member.lang();
    let registry = state.registry();
    let view = billing::billing_of(state, member.profile().id).await?;
    let prices = billing::public_prices(state).await?;
    let (words, attention) = subscription_words(lang, &registry, &view).unzip();
    Ok(Some(PlanBilling {
        note: match checkout {
            Some("success") => Some(lang.t("billing.checkout_success").to_owned()),
            Some("cancel") => Some(lang.t("billing.checkout_cancel").to_owned()),
            _ => None,
        },
        state: words,
        attention: attention.unwrap_or(false),
        manage: view.subscription.is_some() || !view.payments.is_empty(),
        prices: price_rows(lang, &registry, &prices),
        payments: payment_rows(lang, &registry, &view),
    }))
}

/// The words of a refusal of buying or of the portal.
pub fn billing_refusal(lang: Lang, e: &Error) -> Refusal {
    let key = match e.code() {
        ErrorCode::SubscriptionActive => "billing.refused_running",
        ErrorCode::NoBillingAccount => "billing.refused_no_account",
        ErrorCode::BillingUnavailable => "billing.refused_off",
        ErrorCode::EmailNotVerified => "billing.refused_unverified",
        ErrorCode::NotFound => "billing.refused_no_price",
        _ => "billing.refused_failed",
    };
    Refusal {
        text: lang.t(key).to_owned(),
        plan_link: false,
        plan_label: lang.t("refusal.plan_link"),
    }
}

/// The origins a billing form may go on to (Stripe's Checkout and portal), for the page's
/// `form-action`: the 303 after the form goes there.
fn stripe_origins(state: &AppState) -> Option<String> {
    let base = &state.config.stripe.as_ref()?.api_base;
    if base == "https://api.stripe.com" {
        return Some("https://checkout.stripe.com https://billing.stripe.com".into());
    }
    // Elsewhere (a stand-in): the API's own origin.
    let (scheme, rest) = base.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

/// A page whose forms go on to Stripe: its `form-action` allows Stripe's pages too.
pub fn allowing_stripe(state: &AppState, mut response: Response) -> Response {
    let Some(origins) = stripe_origins(state) else {
        return response;
    };
    let csp = super::CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origins}"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `POST /plan/checkout` (`price_id`): 303 to Stripe's Checkout, or `/plan` with the
/// refusal.
pub async fn checkout(State(state): State<AppState>, member: Member, form: FormData) -> UiResult {
    form.check_csrf(&member.user)?;
    let price = uuid::Uuid::parse_str(form.get("price_id").trim()).ok();
    let result = match price {
        Some(price) => billing::checkout(&state, member.profile(), price).await,
        None => Err(Error::NotFound),
    };
    match result {
        Ok(url) => Ok(super::see_other(&url)),
        Err(e) => super::plan::with_billing_refusal(&state, &member, &e).await,
    }
}

/// `POST /plan/billing`: 303 to Stripe's customer portal.
pub async fn manage(State(state): State<AppState>, member: Member, form: FormData) -> UiResult {
    form.check_csrf(&member.user)?;
    match billing::portal(&state, member.profile()).await {
        Ok(url) => Ok(super::see_other(&url)),
        Err(e) => super::plan::with_billing_refusal(&state, &member, &e).await,
    }
}

/// One tier on `/pricing`: what it includes and its prices.
pub struct TierColumn {
    pub name: String,
    pub description: String,
    pub includes: Vec<(String, String)>,
    pub prices: Vec<PriceRow>,
}

#[derive(Template)]
#[template(path = "ui/pricing.html")]
struct PricingPage {
    ctx: Ctx,
    tiers: Vec<TierColumn>,
    signed_in: bool,
    payments: bool,
}

/// `GET /pricing`: the tiers side by side (from the matrix) with their prices; signed out,
/// buying first signs in.
pub async fn pricing(State(state): State<AppState>, visitor: Visitor) -> UiResult {
    let lang = visitor.lang;
    let registry = state.registry();
    let prices = billing::public_prices(&state).await?;
    let mut tiers: Vec<&mitai_access::registry::Tier> =
        registry.tiers().iter().filter(|t| t.active).collect();
    tiers.sort_by_key(|t| (t.rank, t.sort_order));
    let columns = tiers
        .into_iter()
        .map(|t| {
            let tier = registry.tier_idx(&t.id);
            let includes = registry
                .feature_idxs()
                .filter(|&f| registry.feature(f).active)
                .filter_map(|f| {
                    let feature = registry.feature(f);
                    let limit = tier
                        .and_then(|t| registry.tier_limit(t, f))
                        .unwrap_or(feature.default_limit);
                    let words = match limit {
                        Some(0) => return None,
                        None if feature.kind == mitai_access::FeatureKind::Boolean => {
                            lang.t("plan.on").to_owned()
                        }
                        Some(_) if feature.kind == mitai_access::FeatureKind::Boolean => {
                            lang.t("plan.on").to_owned()
                        }
                        None => lang.t("plan.unlimited").to_owned(),
                        Some(n) => lang.tf(
                            "plan.per_period",
                            &[
                                &lang.number(n as f64, 0),
                                lang.t(&format!("period.{}", feature.reset_period.as_str())),
                            ],
                        ),
                    };
                    Some((feature_name(lang, &registry, &feature.id), words))
                })
                .collect();
            let own: Vec<PriceView> = prices.iter().filter(|p| p.tier == t.id).cloned().collect();
            TierColumn {
                name: tier_name(lang, &registry, &t.id),
                description: t.description.clone(),
                includes,
                prices: price_rows(lang, &registry, &own),
            }
        })
        .collect();
    let page = PricingPage {
        ctx: visitor.ctx("pricing", None),
        tiers: columns,
        signed_in: visitor.user.is_some(),
        payments: billing::enabled(&state),
    };
    Ok(allowing_stripe(&state, render(&page)?))
}
