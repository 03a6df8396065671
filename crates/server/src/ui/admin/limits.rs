//! `/admin/limits`: the tier × feature grid. One input per cell named
//! `limit.<tier>.<feature>` (empty = unlimited, `0` = off) and a `default.<tier>.<feature>`
//! box to fall back to the feature's default. Without JavaScript the grid is one form:
//! sending it lists the changes with the profiles each affects, and a second button saves
//! them. With JavaScript a changed cell shows that list for itself at once (htmx), with
//! its own save button. Bad values are shown at their cells and nothing is saved.

use crate::http::client_ip::ClientIp;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use super::{Admin, limit_text, parse_limit};
use crate::service::AppState;
use crate::service::admin::limits;
use crate::ui::forms::{FormData, Params};
use crate::ui::plan::{feature_name, tier_name};
use crate::ui::{Ctx, Lang, UiResult, render, render_status, see_other};

/// What a cell should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// The feature's default (no cell).
    Default,
    /// This limit (`None` = unlimited).
    Limit(Option<i64>),
}

/// One cell of the grid as shown.
pub struct CellView {
    pub id: String,
    pub name: String,
    pub default_name: String,
    pub tier_name: String,
    pub value: String,
    pub is_default: bool,
    pub error: Option<String>,
    /// A boolean feature: edited as on or off, not as a count.
    pub boolean: bool,
}

/// One feature's row.
pub struct RowView {
    pub name: String,
    pub detail: String,
    pub cells: Vec<CellView>,
}

/// A change waiting to be saved, with its impact.
pub struct Pending {
    pub tier_name: String,
    pub feature_name: String,
    pub from: String,
    pub to: String,
    pub impact: String,
    /// The field and value that save it.
    pub field: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "ui/admin/limits.html")]
struct LimitsPage {
    ctx: Ctx,
    tiers: Vec<String>,
    rows: Vec<RowView>,
    pending: Vec<Pending>,
    has_errors: bool,
}

#[derive(Template)]
#[template(path = "ui/admin/limits_pending.html")]
struct PendingPart {
    ctx: Ctx,
    pending: Vec<Pending>,
}

/// A one-line fragment: a message for the htmx target.
#[derive(Template)]
#[template(path = "ui/admin/message.html")]
struct MessagePart {
    class: &'static str,
    alert: bool,
    text: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn current(state: &AppState, tier: &str, feature: &str) -> Wanted {
    let registry = state.registry();
    match (registry.tier_idx(tier), registry.feature_idx(feature)) {
        (Some(t), Some(f)) => match registry.tier_limit(t, f) {
            Some(limit) => Wanted::Limit(limit),
            None => Wanted::Default,
        },
        _ => Wanted::Default,
    }
}

fn describe(lang: Lang, state: &AppState, feature: &str, wanted: Wanted) -> String {
    let limit = |l: Option<i64>| match l {
        None => lang.t("admin.unlimited").to_owned(),
        Some(0) => lang.t("admin.off").to_owned(),
        Some(n) => lang.number(n as f64, 0),
    };
    match wanted {
        Wanted::Limit(l) => limit(l),
        Wanted::Default => {
            let registry = state.registry();
            let default = registry
                .feature_by_id(feature)
                .map_or(Some(0), |f| f.default_limit);
            lang.tf("admin.default_value", &[&limit(default)])
        }
    }
}

/// How many profiles a change affects, counted in words ("1 profile", "2 profiles").
fn impact(lang: Lang, affected: i64, keep: i64) -> String {
    let mut text = match affected {
        0 => lang.t("admin.impact_none").to_owned(),
        1 => lang.t("admin.impact_one").to_owned(),
        n => lang.tf("admin.impact_many", &[&lang.number(n as f64, 0)]),
    };
    match keep {
        0 => {}
        1 => text.push_str(&format!(" {}", lang.t("admin.impact_keep_one"))),
        n => text.push_str(&format!(
            " {}",
            lang.tf("admin.impact_keep_many", &[&lang.number(n as f64, 0)])
        )),
    }
    text
}

/// The grid, with the values of `form` (and their errors) where given.
fn grid(
    state: &AppState,
    lang: Lang,
    typed: &std::collections::BTreeMap<String, (String, bool, Option<String>)>,
) -> (Vec<String>, Vec<RowView>) {
    let registry = state.registry();
    let tiers: Vec<_> = registry.tiers().iter().collect();
    let rows = registry
        .features()
        .iter()
        .map(|f| {
            let boolean = f.kind == mitai_access::FeatureKind::Boolean;
            let period = if boolean {
                lang.t("admin.on_off")
            } else {
                lang.t(&format!("admin.per_{}", f.reset_period.as_str()))
            };
            let mut detail = format!("{} · {}", f.id, period);
            if !f.active {
                detail.push_str(" · ");
                detail.push_str(lang.t("admin.off"));
            }
            RowView {
                name: feature_name(lang, &registry, &f.id),
                detail,
                cells: tiers
                    .iter()
                    .map(|t| {
                        let key = format!("{}.{}", t.id, f.id);
                        let (value, is_default, error) =
                            typed.get(&key).cloned().unwrap_or_else(|| {
                                match current(state, &t.id, &f.id) {
                                    Wanted::Default => (String::new(), true, None),
                                    Wanted::Limit(l) => (limit_text(l), false, None),
                                }
                            });
                        CellView {
                            id: format!("c-{}-{}", t.id, f.id),
                            name: format!("limit.{key}"),
                            default_name: format!("default.{key}"),
                            tier_name: tier_name(lang, &registry, &t.id),
                            value,
                            is_default,
                            error,
                            boolean,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let names = tiers
        .iter()
        .map(|t| tier_name(lang, &registry, &t.id))
        .collect();
    (names, rows)
}

/// The cells a form names, as wanted — or the message of a value that is no limit.
fn read(
    state: &AppState,
    lang: Lang,
    form: &FormData,
) -> Vec<(String, String, Result<Wanted, String>, String)> {
    let registry = state.registry();
    let mut out = Vec::new();
    for t in registry.tiers() {
        for f in registry.features() {
            let key = format!("{}.{}", t.id, f.id);
            let value_field = format!("limit.{key}");
            let named = form.0.iter().any(|(k, _)| *k == value_field);
            let default = form.get(&format!("default.{key}")) == "1";
            if !named && !default {
                continue;
            }
            let text = form.get(&value_field).to_owned();
            let wanted = if default {
                Ok(Wanted::Default)
            } else {
                match parse_limit(&text) {
                    Ok(Some(n)) if n < 0 => Err(lang.t("field.whole_number").to_owned()),
                    Ok(l) => Ok(Wanted::Limit(l)),
                    Err(_) => Err(lang.t("field.whole_number").to_owned()),
                }
            };
            out.push((t.id.clone(), f.id.clone(), wanted, text));
        }
    }
    out
}

/// The changes among `cells`, each with its impact.
async fn pending_of(
    state: &AppState,
    lang: Lang,
    cells: &[(String, String, Result<Wanted, String>, String)],
) -> UiResult<Vec<Pending>> {
    let registry = state.registry();
    let mut pending = Vec::new();
    for (tier, feature, wanted, text) in cells {
        let Ok(wanted) = wanted else { continue };
        let was = current(state, tier, feature);
        if *wanted == was {
            continue;
        }
        let (affected, keep) = limits::impact(state, tier, feature).await?;
        let (field, value) = match wanted {
            Wanted::Default => (format!("default.{tier}.{feature}"), "1".to_owned()),
            Wanted::Limit(_) => (format!("limit.{tier}.{feature}"), text.clone()),
        };
        pending.push(Pending {
            tier_name: tier_name(lang, &registry, tier),
            feature_name: feature_name(lang, &registry, feature),
            from: describe(lang, state, feature, was),
            to: describe(lang, state, feature, *wanted),
            impact: impact(lang, affected, keep),
            field,
            value,
        });
    }
    Ok(pending)
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    Params(query): Params<DoneQuery>,
) -> UiResult {
    let (tiers, rows) = grid(&state, admin.lang(), &Default::default());
    render(&LimitsPage {
        ctx: admin.ctx(query.done.as_deref()),
        tiers,
        rows,
        pending: Vec::new(),
        has_errors: false,
    })
}

/// `POST /admin/limits`: `step=review` lists the changes and their impact; `step=apply`
/// saves them (through the same service as `PUT /api/admin/tier-limits/…`).
pub async fn submit(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let cells = read(&state, lang, &form);
    let errors: std::collections::BTreeMap<String, (String, bool, Option<String>)> = cells
        .iter()
        .map(|(t, f, wanted, text)| {
            let key = format!("{t}.{f}");
            let is_default = *wanted == Ok(Wanted::Default);
            (key, (text.clone(), is_default, wanted.clone().err()))
        })
        .collect();
    let has_errors = cells.iter().any(|c| c.2.is_err());
    if form.get("step") == "apply" && !has_errors {
        for (tier, feature, wanted, _) in &cells {
            match wanted {
                Ok(Wanted::Default) if current(&state, tier, feature) != Wanted::Default => {
                    limits::reset(&state, admin.profile(), ip.clone(), tier, feature).await?;
                }
                Ok(Wanted::Limit(l)) if current(&state, tier, feature) != Wanted::Limit(*l) => {
                    limits::set(&state, admin.profile(), ip.clone(), tier, feature, *l).await?;
                }
                _ => {}
            }
        }
        return Ok(see_other("/admin/limits?done=saved"));
    }
    let pending = if has_errors {
        Vec::new()
    } else {
        pending_of(&state, lang, &cells).await?
    };
    let (tiers, rows) = grid(&state, lang, &errors);
    let page = LimitsPage {
        ctx: admin.ctx(None),
        tiers,
        rows,
        pending,
        has_errors,
    };
    let status = if has_errors {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(status, &page)
}

/// `POST /admin/limits/review` (htmx, one cell): the change of that cell with its impact
/// and a button to save it, as a fragment for the page.
pub async fn review_cell(State(state): State<AppState>, admin: Admin, form: FormData) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let cells = read(&state, lang, &form);
    if let Some((_, _, Err(why), _)) = cells.iter().find(|c| c.2.is_err()) {
        return render(&MessagePart {
            class: "alert",
            alert: true,
            text: why.clone(),
        });
    }
    let pending = pending_of(&state, lang, &cells).await?;
    if pending.is_empty() {
        return render(&MessagePart {
            class: "muted",
            alert: false,
            text: lang.t("admin.no_changes").to_owned(),
        });
    }
    let part = PendingPart {
        ctx: admin.ctx(None),
        pending,
    };
    render(&part)
}
