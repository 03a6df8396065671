//! `/body-fat`: skinfold measurements (Jackson–Pollock 3 or 7 sites), body-fat % and fat
//! and lean mass from the nearest weight, and the chart over time.

use askama::Template;
use axum::extract::State;
use chrono::NaiveDate;
use mitai_access::caliper::{Method, Sex, sites};
use mitai_access::{EntryData, EntryKind};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    Built, ListQuery, Listing, apply, chart_entries, common, create, finish, listing, number,
    page_of, today,
};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::entries::kinds::CaliperType;
use crate::ui::charts::{self, Frame, LineChart};
use crate::ui::forms::{FieldErrors, FormData, Params};
use crate::ui::{Ctx, Lang, Member, UiResult, render_status};

page_handlers!(body_fat_page, body_fat_view);

edit_handlers!(
    body_fat_edit_page,
    body_fat_edit_save,
    body_fat_view,
    CaliperType,
    caliper_body,
    |entry| match &entry.data {
        EntryData::Caliper(c) => ListQuery {
            method: Some(c.method.as_str().to_owned()),
            sex: Some(c.sex.as_str().to_owned()),
            ..ListQuery::default()
        },
        _ => ListQuery::default(),
    }
);

fn caliper_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    body.insert("method".into(), json!(form.get("method")));
    body.insert("sex".into(), json!(form.get("sex")));
    match form.get("age").parse::<i64>() {
        Ok(age) => {
            body.insert("age".into(), json!(age));
        }
        Err(_) => errors.add("age", lang.t("field.whole_number")),
    }
    let mut measured = Map::new();
    if let (Some(method), Some(sex)) = (
        Method::parse(form.get("method")),
        Sex::parse(form.get("sex")),
    ) {
        for site in sites(method, sex) {
            let mut one = Map::new();
            number(form, site.as_str(), true, lang, &mut one, &mut errors);
            measured.extend(one);
        }
    }
    body.insert("sites".into(), Value::Object(measured));
    finish(body, errors)
}

#[derive(Template)]
#[template(path = "ui/body_fat.html")]
struct BodyFatPage {
    ctx: Ctx,
    list: Listing,
    method: &'static str,
    sex: &'static str,
    sites: Vec<(&'static str, &'static str)>,
    results: Vec<BodyFatResult>,
    chart: LineChart,
}

/// A caliper entry's result with fat and lean mass from the weight nearest its day.
pub struct BodyFatResult {
    pub id: Uuid,
    pub date: String,
    pub method: String,
    pub body_fat: String,
    pub fat_kg: String,
    pub lean_kg: String,
    pub weight: String,
}

async fn body_fat_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<BodyFatPage> {
    let lang = member.lang();
    let method = Method::parse(query.method.as_deref().unwrap_or("jp3")).unwrap_or(Method::Jp3);
    // The sex and age of the profile fill the form in (the query's sex, from the method
    // switch, wins).
    let body = &member.profile().body;
    let sex = query
        .sex
        .as_deref()
        .or(body.sex.as_deref())
        .and_then(Sex::parse)
        .unwrap_or(Sex::Male);
    let age = body
        .birth_date
        .map(|born| mitai_access::body::age(born, today(state, member)));
    let (page, older) = page_of(
        state,
        member.profile(),
        EntryKind::Caliper,
        query.cursor.as_deref(),
    )
    .await?;
    let all = chart_entries(state, member.profile(), EntryKind::Caliper, None).await?;
    let weights = chart_entries(state, member.profile(), EntryKind::Weight, None).await?;
    let weight_points: Vec<(NaiveDate, f64)> = weights
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Weight(w) => Some((e.date, w.weight_kg)),
            _ => None,
        })
        .collect();
    let units = super::units(member);
    let results = page
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Caliper(c) => {
                let weight = nearest(&weight_points, e.date);
                let (fat, lean, w) = match weight {
                    Some(w) => {
                        let fat = w * c.body_fat_pct / 100.0;
                        let mass = |kg| super::weight::weight_text(lang, units, kg);
                        (mass(fat), mass(w - fat), mass(w))
                    }
                    None => (String::new(), String::new(), String::new()),
                };
                Some(BodyFatResult {
                    id: e.id,
                    date: lang.date(e.date),
                    method: c.method.as_str().to_uppercase(),
                    body_fat: format!("{} %", lang.short_number(c.body_fat_pct, 1)),
                    fat_kg: fat,
                    lean_kg: lean,
                    weight: w,
                })
            }
            _ => None,
        })
        .collect();
    let points: Vec<(NaiveDate, f64)> = all
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Caliper(c) => Some((e.date, c.body_fat_pct)),
            _ => None,
        })
        .collect();
    let mut list = listing(
        lang,
        super::units(member),
        today(state, member),
        &page,
        older,
    );
    list.values
        .insert("method".into(), method.as_str().to_owned());
    list.values.insert("sex".into(), sex.as_str().to_owned());
    if let Some(age) = age {
        list.values.insert("age".into(), age.to_string());
    }
    Ok(BodyFatPage {
        ctx: member.ctx("body-fat", done),
        list,
        method: method.as_str(),
        sex: sex.as_str(),
        sites: sites(method, sex)
            .iter()
            .map(|s| (s.as_str(), lang.t(&format!("site.{}", s.as_str()))))
            .collect(),
        results,
        chart: charts::line_chart(
            Frame::plot(),
            vec![("raw".into(), lang.t("body_fat.pct").into(), points)],
            &|v, d| format!("{} %", lang.number(v, d)),
            &|d| lang.short_date(d),
        ),
    })
}

/// The weight of the day nearest to `day` (the earlier one on a tie).
fn nearest(points: &[(NaiveDate, f64)], day: NaiveDate) -> Option<f64> {
    points
        .iter()
        .min_by_key(|(d, _)| ((*d - day).num_days().abs(), *d > day))
        .map(|(_, w)| *w)
}

pub(super) async fn body_fat_create(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    let outcome = create::<CaliperType>(&state, &member, ip, &form, caliper_body).await?;
    let query = ListQuery {
        method: Some(form.get("method").to_owned()),
        sex: Some(form.get("sex").to_owned()),
        ..ListQuery::default()
    };
    let mut page = body_fat_view(&state, &member, &query, None).await?;
    match apply(outcome, &mut page.list, &form) {
        None => Ok(crate::ui::see_other(&format!(
            "/body-fat?done=entry_added&method={}&sex={}",
            page.method, page.sex
        ))),
        Some(status) => render_status(status, &page),
    }
}
