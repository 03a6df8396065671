//! `/admin/coupons`: the list with filters and redeemed / max counts, a coupon of every
//! kind (generated or chosen code, shown once created), batches of single-use codes with
//! their CSV, and a coupon's page with its editable fields and its redemptions.

use crate::http::client_ip::ClientIp;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use uuid::Uuid;

use super::{Admin, FormState, day_end, day_start, end_day_text, optional_number};
use crate::service::AppState;
use crate::service::admin::coupons;
use crate::service::admin::coupons::{
    BatchBody, CouponPatchBody, CouponView, NewCouponBody, PageParams,
};
use crate::ui::forms::{FormData, Params, url_encode};
use crate::ui::plan::tier_name;
use crate::ui::{Ctx, UiError, UiResult, render, render_status, see_other};

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    campaign: Option<String>,
    kind: Option<String>,
    active: Option<String>,
    cursor: Option<String>,
    created: Option<String>,
    batch: Option<String>,
    n: Option<String>,
    done: Option<String>,
}

/// A coupon in the list.
pub struct Row {
    pub id: Uuid,
    pub code: String,
    pub kind: String,
    pub tier: String,
    pub campaign: String,
    pub redeemed: String,
    pub active: bool,
    pub active_text: &'static str,
}

/// A campaign (a batch) as one row.
pub struct CampaignRow {
    pub campaign: String,
    /// The list of its codes.
    pub href: String,
    pub csv: String,
    pub tier: String,
    pub kind: String,
    pub coupons: String,
    pub redeemed: String,
    /// Redeemed of all, in per cent.
    pub rate: String,
    pub active: String,
    pub any_active: bool,
}

#[derive(Template)]
#[template(path = "ui/admin/coupons.html")]
struct CouponsPage {
    ctx: Ctx,
    campaigns: Vec<CampaignRow>,
    items: Vec<Row>,
    next: Option<String>,
    filter_campaign: String,
    /// Each kind: its name, its words, whether the filter has it.
    kinds: Vec<(String, String, bool)>,
    active_choices: Vec<(&'static str, &'static str, bool)>,
    /// Each active tier: its id and its name.
    tiers: Vec<(String, String)>,
    form: FormState,
    batch: FormState,
    created: Option<String>,
    batch_done: Option<(String, String)>,
}

/// Coupons read per page (filters by kind and state apply to these).
const PAGE: i64 = 200;

async fn list_page(state: &AppState, admin: &Admin, q: &ListQuery) -> UiResult<CouponsPage> {
    let lang = admin.lang();
    let registry = state.registry();
    let campaign = q
        .campaign
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let after = q.cursor.as_deref().and_then(|c| Uuid::parse_str(c).ok());
    let (items, next) = coupons::list(state, campaign, PAGE, after).await?;
    let kind = q.kind.as_deref().filter(|k| !k.is_empty());
    let active = q.active.as_deref().filter(|a| !a.is_empty());
    let rows = items
        .into_iter()
        .filter(|c| kind.is_none_or(|k| c.kind == k))
        .filter(|c| active.is_none_or(|a| (a == "1") == c.active))
        .map(|c| Row {
            redeemed: match c.max_redemptions {
                Some(max) => format!("{} / {max}", c.redeemed_count),
                None => c.redeemed_count.to_string(),
            },
            active_text: lang.t(if c.active { "admin.yes" } else { "admin.no" }),
            active: c.active,
            tier: tier_name(lang, &registry, &c.tier),
            campaign: c.campaign.unwrap_or_default(),
            kind: kind_name(lang, &c.kind),
            code: c.code,
            id: c.id,
        })
        .collect();
    let query_of = |cursor: &str| {
        format!(
            "/admin/coupons?campaign={}&kind={}&active={}&cursor={cursor}",
            url_encode(campaign.unwrap_or("")),
            url_encode(kind.unwrap_or("")),
            url_encode(active.unwrap_or(""))
        )
    };
    let campaigns = coupons::campaigns(state)
        .await?
        .into_iter()
        .map(|c| CampaignRow {
            href: format!("/admin/coupons?campaign={}", url_encode(&c.campaign)),
            csv: format!(
                "/admin/coupons/export.csv?campaign={}",
                url_encode(&c.campaign)
            ),
            tier: tier_name(lang, &registry, &c.tier_id),
            kind: kind_name(lang, &c.kind),
            coupons: lang.number(c.coupons as f64, 0),
            redeemed: lang.number(c.redeemed as f64, 0),
            rate: if c.coupons > 0 {
                format!(
                    "{} %",
                    lang.number(c.redeemed as f64 * 100.0 / c.coupons as f64, 0)
                )
            } else {
                "–".to_owned()
            },
            active: format!(
                "{} / {}",
                lang.number(c.active as f64, 0),
                lang.number(c.coupons as f64, 0)
            ),
            any_active: c.active > 0,
            campaign: c.campaign,
        })
        .collect();
    Ok(CouponsPage {
        ctx: admin.ctx(q.done.as_deref()),
        campaigns,
        items: rows,
        next: next.as_deref().map(query_of),
        filter_campaign: campaign.unwrap_or("").to_owned(),
        kinds: ["single_use", "period", "wellpass"]
            .iter()
            .map(|k| ((*k).to_owned(), kind_name(lang, k), kind == Some(*k)))
            .collect(),
        active_choices: vec![
            ("", lang.t("admin.any"), active.is_none()),
            ("1", lang.t("admin.yes"), active == Some("1")),
            ("0", lang.t("admin.no"), active == Some("0")),
        ],
        // No plan is chosen for the admin: a coupon's plan is a decision, and the most
        // generous one is the worst default.
        tiers: registry
            .tiers()
            .iter()
            .filter(|t| t.active)
            .map(|t| (t.id.clone(), tier_name(lang, &registry, &t.id)))
            .collect(),
        form: FormState::default()
            .with("kind", "single_use")
            .with("duration_days", "30"),
        batch: FormState::default()
            .with("count", "100")
            .with("duration_days", "30"),
        created: q.created.clone().filter(|c| !c.is_empty()),
        batch_done: match (&q.n, &q.batch) {
            (Some(n), Some(b)) => Some((n.clone(), url_encode(b))),
            _ => None,
        },
    })
}

/// A coupon kind in words.
pub fn kind_name(lang: crate::ui::Lang, kind: &str) -> String {
    lang.try_t(&format!("value.{kind}"))
        .map_or_else(|| kind.to_owned(), str::to_owned)
}

pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Params(query): Params<ListQuery>,
) -> UiResult {
    render(&list_page(&state, &admin, &query).await?)
}

pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let mut typed = FormState::from_form(&form);
    let errors = &mut typed.errors;
    let duration_days = optional_number(&form, "duration_days", lang, errors);
    let max_redemptions = optional_number(&form, "max_redemptions", lang, errors);
    let valid_from = day_start(&form, "valid_from", tz, lang, errors);
    let valid_until = day_end(&form, "valid_until", tz, lang, errors);
    let period_ends_at = day_end(&form, "period_ends_at", tz, lang, errors);
    let text = |name: &str| Some(form.get(name).to_owned()).filter(|v| !v.is_empty());
    if typed.errors.is_empty() {
        let kind = form.get("kind");
        let body = NewCouponBody {
            code: text("code"),
            kind: kind.to_owned(),
            tier: form.get("tier").to_owned(),
            // Each kind takes its own fields; the others' (hidden by the form) are ignored.
            duration_days: duration_days.filter(|_| kind == "single_use"),
            valid_from,
            valid_until,
            period_ends_at: period_ends_at.filter(|_| kind == "period"),
            max_redemptions: max_redemptions.filter(|_| kind != "single_use"),
            campaign: text("campaign"),
            note: text("note"),
        };
        match coupons::create(&state, admin.profile(), ip, body).await {
            Ok(c) => {
                return Ok(see_other(&format!(
                    "/admin/coupons?created={}",
                    url_encode(&c.code)
                )));
            }
            Err(e) => typed.refused(lang, e)?,
        }
    }
    let mut page = list_page(&state, &admin, &ListQuery::default()).await?;
    page.form = typed;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

pub async fn batch(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let mut typed = FormState::from_form(&form);
    let errors = &mut typed.errors;
    let count = optional_number(&form, "count", lang, errors);
    let duration_days = optional_number(&form, "duration_days", lang, errors);
    let valid_until = day_end(&form, "valid_until", tz, lang, errors);
    for (field, value) in [
        ("count", count.is_some()),
        ("duration_days", duration_days.is_some()),
    ] {
        if !value && typed.errors.get(field).is_none() {
            typed.errors.add(field, lang.t("field.required"));
        }
    }
    if let (Some(count), Some(duration_days), true) =
        (count, duration_days, typed.errors.is_empty())
    {
        let campaign = form.get("campaign").to_owned();
        let body = BatchBody {
            count,
            kind: "single_use".into(),
            tier: form.get("tier").to_owned(),
            duration_days,
            campaign: campaign.clone(),
            valid_until,
            note: None,
        };
        match coupons::batch(&state, admin.profile(), ip, body).await {
            Ok(batch) => {
                return Ok(see_other(&format!(
                    "/admin/coupons?campaign={0}&batch={0}&n={1}",
                    url_encode(&campaign),
                    batch.items.len()
                )));
            }
            Err(e) => typed.refused(lang, e)?,
        }
    }
    let mut page = list_page(&state, &admin, &ListQuery::default()).await?;
    page.batch = typed;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ExportQuery {
    campaign: Option<String>,
}

/// `GET /admin/coupons/export.csv?campaign=`: the campaign's codes as a CSV download.
pub async fn export(
    State(state): State<AppState>,
    _admin: Admin,
    Params(query): Params<ExportQuery>,
) -> UiResult {
    let campaign = query.campaign.unwrap_or_default();
    let (name, csv) = coupons::export_csv(&state, &campaign).await?;
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Template)]
#[template(path = "ui/admin/coupon.html")]
struct CouponPage {
    ctx: Ctx,
    id: Uuid,
    code: String,
    facts: Vec<(&'static str, String)>,
    form: FormState,
    redemptions: Vec<(Uuid, String, String, String)>,
}

async fn coupon_page(
    state: &AppState,
    admin: &Admin,
    c: CouponView,
    form: Option<FormState>,
    done: Option<&str>,
) -> UiResult<CouponPage> {
    let lang = admin.lang();
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| lang.datetime(t, tz)).unwrap_or_default()
    };
    let (redemptions, _) = coupons::redemptions(
        state,
        c.id,
        &PageParams {
            limit: Some(500),
            cursor: None,
        },
    )
    .await?;
    let form = form.unwrap_or_else(|| {
        FormState::default()
            .with("active", if c.active { "1" } else { "0" })
            .with("valid_until", end_day_text(c.valid_until, tz))
            .with("note", c.note.clone().unwrap_or_default())
    });
    Ok(CouponPage {
        ctx: admin.ctx(done),
        id: c.id,
        facts: vec![
            (lang.t("admin.kind"), c.kind.clone()),
            (lang.t("admin.tier"), tier_name(lang, &registry, &c.tier)),
            (
                lang.t("admin.duration_days"),
                c.duration_days.map(|d| d.to_string()).unwrap_or_default(),
            ),
            (lang.t("admin.valid_from"), when(c.valid_from)),
            (lang.t("admin.valid_until"), when(c.valid_until)),
            (lang.t("admin.period_ends_at"), when(c.period_ends_at)),
            (
                lang.t("admin.redeemed"),
                match c.max_redemptions {
                    Some(max) => format!("{} / {max}", c.redeemed_count),
                    None => c.redeemed_count.to_string(),
                },
            ),
            (
                lang.t("admin.campaign"),
                c.campaign.clone().unwrap_or_default(),
            ),
        ],
        code: c.code,
        form,
        redemptions: redemptions
            .into_iter()
            .map(|r| {
                (
                    r.profile_id,
                    r.email,
                    lang.datetime(r.redeemed_at, tz),
                    r.period,
                )
            })
            .collect(),
    })
}

fn coupon_id(id: &str) -> UiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| UiError::NotFound)
}

pub async fn detail(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Params(query): Params<ListQuery>,
) -> UiResult {
    let c = coupons::get(&state, coupon_id(&id)?).await?;
    render(&coupon_page(&state, &admin, c, None, query.done.as_deref()).await?)
}

pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = coupon_id(&id)?;
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let mut typed = FormState::from_form(&form);
    if form.get("active") != "1" {
        typed = typed.with("active", "0");
    }
    let valid_until = day_end(&form, "valid_until", tz, lang, &mut typed.errors);
    if typed.errors.is_empty() {
        let note = form.get("note");
        let patch = CouponPatchBody {
            active: Some(form.get("active") == "1"),
            valid_from: None,
            valid_until: Some(valid_until),
            max_redemptions: None,
            campaign: None,
            note: Some((!note.is_empty()).then(|| note.to_owned())),
        };
        match coupons::update(&state, admin.profile(), ip, id, patch).await {
            Ok(_) => return Ok(see_other(&format!("/admin/coupons/{id}?done=coupon_saved"))),
            Err(e) => typed.refused(lang, e)?,
        }
    }
    let c = coupons::get(&state, id).await?;
    let page = coupon_page(&state, &admin, c, Some(typed), None).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /admin/coupons/campaign`: every coupon of `campaign` switched off (`active=0`)
/// or on (`active=1`).
pub async fn campaign(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let active = form.get("active") == "1";
    match coupons::set_campaign_active(&state, admin.profile(), ip, form.get("campaign"), active)
        .await
    {
        Ok(_) => Ok(see_other("/admin/coupons?done=coupon_saved")),
        Err(crate::service::Error::Invalid { .. }) => Ok(see_other("/admin/coupons")),
        Err(e) => Err(e.into()),
    }
}
