//! `/nutrition`: meals (kcal and macros), daily totals and their chart.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use chrono::{NaiveDate, TimeDelta};
use mitai_access::{EntryData, EntryKind};
use serde_json::Map;

use super::{
    Built, ListQuery, Listing, chart_entries, common, finish, listing, number, page_of, today,
};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::entries::kinds::NutritionType;
use crate::service::profiles::{self, OwnProfileChange, OwnProfilePatch};
use crate::ui::charts::{self, Frame};
use crate::ui::forms::{FieldErrors, FormData, Params};
use crate::ui::{Ctx, Lang, Member, UiResult, render_status};

page_handlers!(
    nutrition_page,
    nutrition_create,
    nutrition_view,
    NutritionType,
    nutrition_body
);

edit_handlers!(
    nutrition_edit_page,
    nutrition_edit_save,
    nutrition_view,
    NutritionType,
    nutrition_body
);

fn nutrition_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    for field in ["kcal", "protein_g", "carbs_g", "fat_g"] {
        number(form, field, true, lang, &mut body, &mut errors);
    }
    finish(body, errors)
}

#[derive(Template)]
#[template(path = "ui/nutrition.html")]
struct NutritionPage {
    ctx: Ctx,
    list: Listing,
    /// Today's totals against the daily targets, one per target set.
    progress: Vec<TargetProgress>,
    /// The targets form: (field, label, unit, value as typed or stored).
    targets: Vec<(&'static str, &'static str, &'static str, String)>,
    target_errors: FieldErrors,
    /// The names of an entry's cells (kcal and the macros), for narrow screens.
    columns: [&'static str; 4],
    totals: Vec<(String, String, String, String, String)>,
    chart: charts::BarChart,
}

/// Today's total of one quantity against its daily target.
pub struct TargetProgress {
    pub label: &'static str,
    pub value: f64,
    /// The meter's end: half again the target, so that going over shows.
    pub max: f64,
    pub low: f64,
    pub high: f64,
    pub target: f64,
    /// "1,450 of 2,100 kcal (69 %)".
    pub text: String,
}

/// The four targets: the profile's field, the label's key and the unit.
const TARGETS: [(&str, &str, &str); 4] = [
    ("kcal_target", "f.kcal", "kcal"),
    ("protein_target_g", "f.protein_g", "g"),
    ("carbs_target_g", "f.carbs_g", "g"),
    ("fat_target_g", "f.fat_g", "g"),
];

fn target_values(profile: &crate::service::records::Profile) -> [Option<f64>; 4] {
    let b = &profile.body;
    [
        b.kcal_target,
        b.protein_target_g,
        b.carbs_target_g,
        b.fat_target_g,
    ]
}

async fn nutrition_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<NutritionPage> {
    let lang = member.lang();
    let today = today(state, member);
    let kind = EntryKind::Nutrition;
    let (page, older) = page_of(state, member.profile(), kind, query.cursor.as_deref()).await?;
    let recent = chart_entries(
        state,
        member.profile(),
        kind,
        Some(today - TimeDelta::days(29)),
    )
    .await?;
    // Daily totals of the last 30 days: kcal, protein, carbs, fat.
    let mut days: BTreeMap<NaiveDate, [f64; 4]> = BTreeMap::new();
    for e in &recent {
        if let EntryData::Nutrition(n) = &e.data {
            let day = days.entry(e.date).or_default();
            day[0] += n.kcal;
            day[1] += n.protein_g;
            day[2] += n.carbs_g;
            day[3] += n.fat_g;
        }
    }
    let totals = days
        .iter()
        .rev()
        .map(|(d, t)| {
            (
                lang.date(*d),
                lang.short_number(t[0], 0),
                lang.short_number(t[1], 1),
                lang.short_number(t[2], 1),
                lang.short_number(t[3], 1),
            )
        })
        .collect();
    let bars = days
        .iter()
        .map(|(d, t)| (lang.short_date(*d), t[0]))
        .collect();
    let eaten = days.get(&today).copied().unwrap_or_default();
    let goals = target_values(member.profile());
    let progress = TARGETS
        .iter()
        .zip(goals)
        .zip(eaten)
        .filter_map(|(((_, key, unit), goal), value)| {
            let target = goal.filter(|t| *t > 0.0)?;
            let decimals = usize::from(*unit != "kcal");
            Some(TargetProgress {
                label: lang.t(key),
                value,
                max: target * 1.5,
                low: target * 0.9,
                high: target * 1.1,
                target,
                text: lang.tf(
                    "nutrition.of_target",
                    &[
                        &lang.number(value, decimals),
                        &lang.number(target, decimals),
                        unit,
                        &lang.number(100.0 * value / target, 0),
                    ],
                ),
            })
        })
        .collect();
    let targets = TARGETS
        .iter()
        .zip(goals)
        .map(|((field, key, unit), goal)| {
            (
                *field,
                lang.t(key),
                *unit,
                goal.map_or(String::new(), |g| lang.short_number(g, 1)),
            )
        })
        .collect();
    Ok(NutritionPage {
        columns: [
            "kcal",
            lang.t("f.protein_g"),
            lang.t("f.carbs_g"),
            lang.t("f.fat_g"),
        ],
        ctx: member.ctx("nutrition", done),
        list: listing(lang, super::units(member), today, &page, older),
        progress,
        targets,
        target_errors: FieldErrors::default(),
        totals,
        chart: charts::bar_chart(Frame::plot(), bars, &|v, d| lang.short_number(v, d)),
    })
}

/// `POST /nutrition/targets`: the daily targets (`kcal_target`, `protein_target_g`,
/// `carbs_target_g`, `fat_target_g`); an empty field clears its target.
pub(super) async fn nutrition_targets(
    State(state): State<AppState>,
    member: Member,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let mut errors = FieldErrors::default();
    let mut values: [Option<Option<f64>>; 4] = [None; 4];
    for ((field, _, _), value) in TARGETS.iter().zip(values.iter_mut()) {
        let text = form.get(field);
        *value = if text.is_empty() {
            Some(None)
        } else {
            match crate::ui::parse_decimal(text) {
                Some(v) => Some(Some(v)),
                None => {
                    errors.add(field, lang.t("field.number"));
                    None
                }
            }
        };
    }
    let patch = OwnProfilePatch {
        kcal_target: values[0],
        protein_target_g: values[1],
        carbs_target_g: values[2],
        fat_target_g: values[3],
        ..OwnProfilePatch::default()
    };
    let checked = if errors.is_empty() {
        match OwnProfileChange::check(patch, state.now().date_naive()) {
            Ok(change) => Some(change),
            Err(crate::service::Error::Invalid { fields, .. }) => {
                errors = FieldErrors::from_api(lang, &fields);
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    if let Some(change) = checked {
        profiles::change_own_profile(&state, member.profile(), change).await?;
        return Ok(crate::ui::see_other("/nutrition?done=saved"));
    }
    let mut page = nutrition_view(&state, &member, &ListQuery::default(), None).await?;
    for (field, _, _, value) in &mut page.targets {
        *value = form.get(field).to_owned();
    }
    page.target_errors = errors;
    render_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page)
}
