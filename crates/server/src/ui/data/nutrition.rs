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
    /// The names of an entry's cells (kcal and the macros), for narrow screens.
    columns: [&'static str; 4],
    totals: Vec<(String, String, String, String, String)>,
    chart: charts::BarChart,
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
    Ok(NutritionPage {
        columns: [
            "kcal",
            lang.t("f.protein_g"),
            lang.t("f.carbs_g"),
            lang.t("f.fat_g"),
        ],
        ctx: member.ctx("nutrition", done),
        list: listing(lang, super::units(member), today, &page, older),
        totals,
        chart: charts::bar_chart(Frame::plot(), bars, &|v, d| lang.short_number(v, d)),
    })
}
