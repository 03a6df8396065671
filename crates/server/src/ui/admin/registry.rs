//! `/admin/features` and `/admin/tiers`: the registry — list, create, edit. A feature's
//! `active` box is the global kill switch (and the page says so).

use crate::http::client_ip::ClientIp;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{Admin, FormState, limit_text, optional_number, parse_limit};
use crate::service::AppState;
use crate::service::admin::features::{FeaturePatch, NewFeatureBody};
use crate::service::admin::tiers::{NewTierBody, TierPatch};
use crate::service::admin::{features, tiers};
use crate::ui::forms::{FieldErrors, FormData, Params};
use crate::ui::{Ctx, Lang, UiResult, render, render_status, see_other};

#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// A feature in the list.
pub struct FeatureRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub period: String,
    pub default_limit: String,
    pub active: bool,
    pub active_text: &'static str,
}

#[derive(Template)]
#[template(path = "ui/admin/features.html")]
struct FeaturesPage {
    ctx: Ctx,
    items: Vec<FeatureRow>,
    form: FormState,
    editing: bool,
    action: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/admin/feature_form.html")]
struct FeatureEdit {
    ctx: Ctx,
    form: FormState,
    editing: bool,
    action: String,
    error: Option<String>,
}

/// A page with only the edit form: wrapped in the layout by a small template.
#[derive(Template)]
#[template(path = "ui/admin/edit.html")]
struct EditPage {
    ctx: Ctx,
    title: String,
    current: &'static str,
    body: String,
}

fn yes_no(lang: Lang, yes: bool) -> &'static str {
    lang.t(if yes { "admin.yes" } else { "admin.no" })
}

fn feature_rows(state: &AppState, lang: Lang) -> Vec<FeatureRow> {
    let registry = state.registry();
    features::list(state)
        .into_iter()
        .map(|f| FeatureRow {
            default_limit: match (f.kind.as_str(), f.default_limit) {
                ("boolean", Some(0)) => lang.t("admin.off").to_owned(),
                ("boolean", _) => lang.t("admin.on").to_owned(),
                (_, limit) => limit.map_or_else(|| "∞".into(), |n| n.to_string()),
            },
            period: if f.kind == "boolean" {
                "–".to_owned()
            } else {
                lang.t(&format!("value.{}", f.reset_period)).to_owned()
            },
            active_text: yes_no(lang, f.active),
            active: f.active,
            kind: crate::ui::admin::coupons::kind_name(lang, &f.kind),
            // The same name as on the limits grid and the user pages.
            name: crate::ui::plan::feature_name(lang, &registry, &f.id),
            id: f.id,
        })
        .collect()
}

fn new_feature_form() -> FormState {
    FormState::default()
        .with("kind", "count")
        .with("reset_period", "monthly")
        .with("default_limit", "0")
        .with("sort_order", "100")
        .with("active", "1")
        .with("category", "data")
}

fn features_page(
    state: &AppState,
    admin: &Admin,
    form: FormState,
    done: Option<&str>,
) -> FeaturesPage {
    FeaturesPage {
        ctx: admin.ctx(done),
        items: feature_rows(state, admin.lang()),
        error: form.general.clone(),
        form,
        editing: false,
        action: "/admin/features".into(),
    }
}

pub async fn features(
    State(state): State<AppState>,
    admin: Admin,
    Params(query): Params<DoneQuery>,
) -> UiResult {
    render(&features_page(
        &state,
        &admin,
        new_feature_form(),
        query.done.as_deref(),
    ))
}

/// The fields of a feature form that are numbers or a limit; messages at the bad ones.
fn feature_numbers(
    form: &FormData,
    lang: Lang,
    errors: &mut FieldErrors,
) -> (Option<Option<i64>>, Option<i32>) {
    let default_limit = match parse_limit(form.get("default_limit")) {
        Ok(l) => Some(l),
        Err(_) => {
            errors.add("default_limit", lang.t("field.whole_number"));
            None
        }
    };
    (
        default_limit,
        optional_number(form, "sort_order", lang, errors),
    )
}

fn optional_text(form: &FormData, name: &str) -> Option<String> {
    let v = form.get(name);
    (!v.is_empty()).then(|| v.to_owned())
}

pub async fn create_feature(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let mut state_form = FormState::from_form(&form);
    let (default_limit, sort_order) = feature_numbers(&form, lang, &mut state_form.errors);
    if state_form.errors.is_empty() {
        let body = NewFeatureBody {
            id: form.get("id").to_owned(),
            name: form.get("name").to_owned(),
            description: optional_text(&form, "description"),
            category: optional_text(&form, "category"),
            kind: form.get("kind").to_owned(),
            unit: optional_text(&form, "unit"),
            reset_period: form.get("reset_period").to_owned(),
            default_limit,
            active: Some(form.get("active") == "1"),
            sort_order,
        };
        match features::create(&state, admin.profile(), ip, body).await {
            Ok(f) => return Ok(see_other(&format!("/admin/features/{}?done=saved", f.id))),
            Err(e) => state_form.refused(lang, e)?,
        }
    }
    let page = features_page(&state, &admin, state_form, None);
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

fn feature_form_of(state: &AppState, id: &str) -> UiResult<FormState> {
    let f = features::get(state, id)?;
    Ok(FormState::default()
        .with("id", f.id)
        .with("name", f.name)
        .with("description", f.description)
        .with("category", f.category)
        .with("kind", f.kind)
        .with("unit", f.unit.unwrap_or_default())
        .with("reset_period", f.reset_period)
        .with("default_limit", limit_text(f.default_limit))
        .with("sort_order", f.sort_order.to_string())
        .with("active", if f.active { "1" } else { "0" }))
}

fn feature_edit(
    state: &AppState,
    admin: &Admin,
    id: &str,
    form: FormState,
    done: Option<&str>,
) -> UiResult<EditPage> {
    let _ = state;
    let edit = FeatureEdit {
        ctx: admin.ctx(done),
        error: form.general.clone(),
        form,
        editing: true,
        action: format!("/admin/features/{id}"),
    };
    Ok(EditPage {
        ctx: admin.ctx(done),
        title: id.to_owned(),
        current: "/admin/features",
        body: edit.render()?,
    })
}

pub async fn feature(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Params(query): Params<DoneQuery>,
) -> UiResult {
    let form = feature_form_of(&state, &id)?;
    render(&feature_edit(
        &state,
        &admin,
        &id,
        form,
        query.done.as_deref(),
    )?)
}

pub async fn update_feature(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    features::get(&state, &id)?;
    let mut state_form = FormState::from_form(&form).with("id", id.clone());
    if form.get("active") != "1" {
        state_form = state_form.with("active", "0");
    }
    let (default_limit, sort_order) = feature_numbers(&form, lang, &mut state_form.errors);
    if state_form.errors.is_empty() {
        let unit = form.get("unit");
        let patch = FeaturePatch {
            name: Some(form.get("name").to_owned()),
            description: Some(form.get("description").to_owned()),
            category: Some(form.get("category").to_owned()),
            kind: Some(form.get("kind").to_owned()),
            unit: Some((!unit.is_empty()).then(|| unit.to_owned())),
            reset_period: Some(form.get("reset_period").to_owned()),
            default_limit,
            active: Some(form.get("active") == "1"),
            sort_order,
        };
        match features::update(&state, admin.profile(), ip, &id, patch).await {
            Ok(_) => return Ok(see_other(&format!("/admin/features/{id}?done=saved"))),
            Err(e) => state_form.refused(lang, e)?,
        }
    }
    let page = feature_edit(&state, &admin, &id, state_form, None)?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

// --- tiers --------------------------------------------------------------------------------

/// A tier in the list.
pub struct TierRow {
    pub id: String,
    pub name: String,
    pub rank: i32,
    pub active: bool,
    pub active_text: &'static str,
}

#[derive(Template)]
#[template(path = "ui/admin/tiers.html")]
struct TiersPage {
    ctx: Ctx,
    items: Vec<TierRow>,
    form: FormState,
    editing: bool,
    action: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/admin/tier_form.html")]
struct TierEdit {
    ctx: Ctx,
    form: FormState,
    editing: bool,
    action: String,
    error: Option<String>,
}

fn tiers_page(state: &AppState, admin: &Admin, form: FormState, done: Option<&str>) -> TiersPage {
    let lang = admin.lang();
    TiersPage {
        ctx: admin.ctx(done),
        items: tiers::list(state)
            .into_iter()
            .map(|t| TierRow {
                active_text: yes_no(lang, t.active),
                active: t.active,
                rank: t.rank,
                name: t.name,
                id: t.id,
            })
            .collect(),
        error: form.general.clone(),
        form,
        editing: false,
        action: "/admin/tiers".into(),
    }
}

pub async fn tiers(
    State(state): State<AppState>,
    admin: Admin,
    Params(query): Params<DoneQuery>,
) -> UiResult {
    let form = FormState::default()
        .with("rank", "15")
        .with("sort_order", "100")
        .with("active", "1");
    render(&tiers_page(&state, &admin, form, query.done.as_deref()))
}

pub async fn create_tier(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let mut state_form = FormState::from_form(&form);
    let rank: Option<i32> = optional_number(&form, "rank", lang, &mut state_form.errors);
    let sort_order = optional_number(&form, "sort_order", lang, &mut state_form.errors);
    if rank.is_none() && state_form.errors.get("rank").is_none() {
        state_form.errors.add("rank", lang.t("field.required"));
    }
    if let (Some(rank), true) = (rank, state_form.errors.is_empty()) {
        let body = NewTierBody {
            id: form.get("id").to_owned(),
            name: form.get("name").to_owned(),
            description: optional_text(&form, "description"),
            rank,
            active: Some(form.get("active") == "1"),
            sort_order,
        };
        match tiers::create(&state, admin.profile(), ip, body).await {
            Ok(t) => return Ok(see_other(&format!("/admin/tiers/{}?done=saved", t.id))),
            Err(e) => state_form.refused(lang, e)?,
        }
    }
    let page = tiers_page(&state, &admin, state_form, None);
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

fn tier_edit(admin: &Admin, id: &str, form: FormState, done: Option<&str>) -> UiResult<EditPage> {
    let edit = TierEdit {
        ctx: admin.ctx(done),
        error: form.general.clone(),
        form,
        editing: true,
        action: format!("/admin/tiers/{id}"),
    };
    Ok(EditPage {
        ctx: admin.ctx(done),
        title: id.to_owned(),
        current: "/admin/tiers",
        body: edit.render()?,
    })
}

pub async fn tier(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Params(query): Params<DoneQuery>,
) -> UiResult {
    let t = tiers::get(&state, &id)?;
    let form = FormState::default()
        .with("id", t.id)
        .with("name", t.name)
        .with("description", t.description)
        .with("rank", t.rank.to_string())
        .with("sort_order", t.sort_order.to_string())
        .with("active", if t.active { "1" } else { "0" });
    render(&tier_edit(&admin, &id, form, query.done.as_deref())?)
}

pub async fn update_tier(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    tiers::get(&state, &id)?;
    let mut state_form = FormState::from_form(&form).with("id", id.clone());
    if form.get("active") != "1" {
        state_form = state_form.with("active", "0");
    }
    let rank = optional_number(&form, "rank", lang, &mut state_form.errors);
    let sort_order = optional_number(&form, "sort_order", lang, &mut state_form.errors);
    if state_form.errors.is_empty() {
        let patch = TierPatch {
            name: Some(form.get("name").to_owned()),
            description: Some(form.get("description").to_owned()),
            rank,
            active: Some(form.get("active") == "1"),
            sort_order,
        };
        match tiers::update(&state, admin.profile(), ip, &id, patch).await {
            Ok(_) => return Ok(see_other(&format!("/admin/tiers/{id}?done=saved"))),
            Err(e) => state_form.refused(lang, e)?,
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &tier_edit(&admin, &id, state_form, None)?,
    )
}
