//! `/weight`: the entry form, the chart of raw values with the 7-day average (30 d / 90 d
//! / 1 y / all), the entries, and the CSV import.

use crate::service::records::Entry;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, TimeDelta};
use mitai_access::body::{self, Units};
use mitai_access::trend;
use mitai_access::{EntryData, EntryKind};
use serde_json::Map;

use super::{
    Built, ListQuery, Listing, RANGES, apply, chart_entries, common, create, finish, listing,
    measure, page_of, today,
};
use crate::http::client_ip::ClientIp;
use crate::service::entries::kinds::WeightType;
use crate::service::entries::{self, WeightHistory};
use crate::service::{AppState, profiles};
use crate::ui::charts::{self, Frame, LineChart};
use crate::ui::forms::{FieldErrors, FormData, Params};
use crate::ui::{Ctx, Lang, Member, UiResult, render_status};

page_handlers!(weight_page, weight_view);

edit_handlers!(
    weight_edit_page,
    weight_edit_save,
    weight_view,
    WeightType,
    weight_body
);

fn weight_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    measure(
        form,
        "weight_kg",
        "weight_lb",
        |lb| Units::Imperial.weight_to_kg(lb),
        true,
        lang,
        &mut body,
        &mut errors,
    );
    finish(body, errors)
}

#[derive(Template)]
#[template(path = "ui/weight.html")]
struct WeightPage {
    ctx: Ctx,
    list: Listing,
    /// The weight field in the person's units: `weight_kg` or `weight_lb`, and its unit.
    weight_field: &'static str,
    weight_unit: &'static str,
    ranges: Vec<(&'static str, &'static str, bool)>,
    chart: LineChart,
    averages: Vec<(String, String, String)>,
    summary: Option<WeightSummary>,
    import_error: Option<String>,
    import_report: Option<ImportReport>,
}

/// What an import did, in words: the counts, and the refused lines by number.
pub struct ImportReport {
    pub summary: String,
    pub refused: Vec<String>,
    pub more: Option<String>,
}

impl ImportReport {
    fn of(lang: Lang, report: &super::import::Report) -> ImportReport {
        let count = |n: usize| n.to_string();
        ImportReport {
            summary: lang.tf(
                "import.report",
                &[
                    &count(report.read),
                    &count(report.added),
                    &count(report.duplicates),
                    &count(report.refused.len()),
                ],
            ),
            refused: report
                .refused
                .iter()
                .take(super::import::SHOWN_REFUSALS)
                .map(|(line, why)| lang.tf("import.line", &[&line.to_string(), why]))
                .collect(),
            more: (report.refused.len() > super::import::SHOWN_REFUSALS).then(|| {
                lang.tf(
                    "import.more",
                    &[&(report.refused.len() - super::import::SHOWN_REFUSALS).to_string()],
                )
            }),
        }
    }
}

/// The weight at a glance: the latest weigh-in with the BMI, the trend (smoothed), its rate
/// a week, the goal and when the trend reaches it at that rate, the trend's change over a
/// week, a month and since the first weigh-in, the lowest and the highest weigh-in.
pub struct WeightSummary {
    pub latest: String,
    pub latest_date: String,
    pub bmi: Option<String>,
    pub trend: String,
    pub rate: Option<String>,
    pub goal: Option<String>,
    /// When the goal is reached at this rate, or that it is not, or that it was.
    pub projection: Option<String>,
    /// (label, signed change) for a week, a month and since the start, where known.
    pub changes: Vec<(&'static str, String)>,
    pub lowest: String,
    pub highest: String,
}

/// The weight field of the forms in these units.
pub fn weight_field(units: Units) -> &'static str {
    match units {
        Units::Metric => "weight_kg",
        Units::Imperial => "weight_lb",
    }
}

/// A weight with its unit in the profile's units: `79.5 kg`, `175.3 lb`.
pub fn weight_text(lang: Lang, units: Units, kg: f64) -> String {
    format!(
        "{} {}",
        lang.number(units.weight_from_kg(kg), 1),
        units.weight_unit()
    )
}

/// A change of weight with its sign: `−0.4 kg`, `+1.2 kg`, `±0 kg`.
fn signed_weight(lang: Lang, units: Units, kg: f64) -> String {
    let v = units.weight_from_kg(kg);
    let text = lang.number(v.abs(), 1);
    let zero = lang.number(0.0, 1);
    let sign = if text == zero {
        "±"
    } else if v < 0.0 {
        "−"
    } else {
        "+"
    };
    format!("{sign}{text} {}", units.weight_unit())
}

/// The summary of a profile's weights (oldest first), or `None` without any.
pub fn weight_summary(
    lang: Lang,
    units: Units,
    profile: &crate::service::records::Profile,
    history: &WeightHistory,
    today: NaiveDate,
) -> Option<WeightSummary> {
    let overview = history.overview.as_ref()?;
    let points: Vec<(NaiveDate, f64)> = history
        .recent
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Weight(w) => Some((e.date, w.weight_kg)),
            _ => None,
        })
        .collect();
    let latest_date = points.iter().map(|p| p.0).max()?;
    let on_latest: Vec<f64> = points
        .iter()
        .filter(|p| p.0 == latest_date)
        .map(|p| p.1)
        .collect();
    let latest = on_latest.iter().sum::<f64>() / on_latest.len() as f64;
    let smoothed = trend::smoothed(&points);
    let (_, current) = *smoothed.last()?;
    let rate = trend::rate_per_week(&smoothed);
    let goal = profile.body.goal_weight_kg;
    let projection = match (goal, rate) {
        (Some(goal), _) if (goal - current).abs() < 0.05 => {
            Some(lang.t("weight.reached").to_owned())
        }
        (Some(goal), Some(rate)) => Some(match trend::projected_date(current, rate, goal, today) {
            Some(day) => lang.tf("weight.reach", &[&lang.date(day)]),
            None => lang.t("weight.reach_never").to_owned(),
        }),
        _ => None,
    };
    let mut changes = Vec::new();
    for (label, days) in [("weight.change_week", 7), ("weight.change_month", 30)] {
        if let Some(change) = trend::change_over(&smoothed, days) {
            changes.push((lang.t(label), signed_weight(lang, units, change)));
        }
    }
    if overview.first_date < latest_date {
        changes.push((
            lang.t("weight.change_start"),
            signed_weight(lang, units, current - overview.first_kg),
        ));
    }
    Some(WeightSummary {
        latest: weight_text(lang, units, latest),
        latest_date: lang.date(latest_date),
        bmi: profile
            .body
            .height_cm
            .and_then(|h| body::bmi(latest, h))
            .map(|b| lang.number(b, 1)),
        trend: weight_text(lang, units, current),
        rate: rate.map(|r| lang.tf("weight.rate", &[&signed_weight(lang, units, r)])),
        goal: goal.map(|g| weight_text(lang, units, g)),
        projection,
        changes,
        lowest: weight_text(lang, units, overview.lowest_kg),
        highest: weight_text(lang, units, overview.highest_kg),
    })
}

async fn weight_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<WeightPage> {
    let lang = member.lang();
    let today = today(state, member);
    let range = RANGES
        .iter()
        .find(|(r, _)| Some(*r) == query.range.as_deref())
        .unwrap_or(&RANGES[1]);
    let from = range.1.map(|days| today - TimeDelta::days(days));
    let (page, older) = page_of(
        state,
        member.profile(),
        EntryKind::Weight,
        query.cursor.as_deref(),
    )
    .await?;
    let history = entries::weight_history(state, member.profile().id).await?;
    let units = profiles::units_of(member.profile());
    let summary = weight_summary(lang, units, member.profile(), &history, today);
    let shown = chart_weights(state, member.profile(), &history, from).await?;
    let (chart, averages) = weight_chart(lang, units, &shown);
    Ok(WeightPage {
        ctx: member.ctx("weight", done),
        list: listing(lang, units, today, &page, older),
        weight_field: weight_field(units),
        weight_unit: units.weight_unit(),
        ranges: RANGES
            .iter()
            .map(|(r, _)| (*r, lang.t(&format!("range.{r}")), *r == range.0))
            .collect(),
        chart,
        averages,
        summary,
        import_error: None,
        import_report: None,
    })
}

/// The weigh-ins of a chart from `from` on (all without it), oldest first: from the
/// history already read when it reaches back that far, else read.
pub async fn chart_weights(
    state: &AppState,
    profile: &crate::service::records::Profile,
    history: &WeightHistory,
    from: Option<NaiveDate>,
) -> UiResult<Vec<Entry>> {
    if history.covers(from) {
        return Ok(history
            .recent
            .iter()
            .filter(|e| from.is_none_or(|from| e.date >= from))
            .cloned()
            .collect());
    }
    chart_entries(state, profile, EntryKind::Weight, from).await
}

/// The weight chart (raw values and the 7-day moving average) and its numbers as rows of
/// (date, weight, average).
pub fn weight_chart(
    lang: Lang,
    units: Units,
    entries: &[Entry],
) -> (LineChart, Vec<(String, String, String)>) {
    let weighed: Vec<(NaiveDate, f64)> = entries
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Weight(w) => Some((e.date, units.weight_from_kg(w.weight_kg))),
            _ => None,
        })
        .collect();
    // Two weigh-ins on one day are both kept; the chart shows their mean, as the trend does.
    let points = mitai_access::trend::daily_means(&weighed);
    let average = charts::moving_average(&points, 7);
    let table = points
        .iter()
        .rev()
        .take(60)
        .map(|(d, v)| {
            let avg = average
                .iter()
                .find(|(ad, _)| ad == d)
                .map_or(String::new(), |(_, a)| lang.number(*a, 1));
            (lang.date(*d), lang.number(*v, 1), avg)
        })
        .collect();
    let chart = charts::line_chart(
        Frame::plot(),
        vec![
            ("raw".into(), lang.t("weight.raw").into(), points),
            ("avg".into(), lang.t("weight.average").into(), average),
        ],
        &|v, d| lang.number(v, d),
        &|d| lang.short_date(d),
    );
    (chart, table)
}

pub(super) async fn weight_create(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    let outcome = create::<WeightType>(&state, &member, ip, &form, weight_body).await?;
    let mut page = weight_view(&state, &member, &ListQuery::default(), None).await?;
    match apply(outcome, &mut page.list, &form) {
        None => Ok(crate::ui::see_other(&format!(
            "{}?done=entry_added",
            form_origin(&form, "/weight")
        ))),
        Some(status) => render_status(status, &page),
    }
}

/// Where a form came from (the dashboard's quick form posts here too): `from` if it is a
/// known page, else the default.
fn form_origin<'a>(form: &FormData, default: &'a str) -> &'a str {
    match form.get("from") {
        "/" => "/",
        _ => default,
    }
}

/// `POST /weight/import`: a CSV of `date,weight_kg[,note]` (a header line is allowed),
/// created as single creates would be, in one transaction that spends one `weight` per
/// line — refused whole when it would pass the limit. The first bad line is named.
pub(super) async fn weight_import(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> UiResult {
    let lang = member.lang();
    let mut csrf = String::new();
    let mut file = Vec::new();
    if let Ok(mut multipart) = multipart {
        while let Ok(Some(field)) = multipart.next_field().await {
            match field.name() {
                Some("_csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") => file = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
                _ => {}
            }
        }
    }
    FormData(vec![("_csrf".into(), csrf)]).check_csrf(&member.user)?;
    let outcome = super::import::weights(&state, member.profile(), &file, ip, lang).await?;
    let mut page = weight_view(&state, &member, &ListQuery::default(), None).await?;
    match outcome {
        super::import::Imported::Done(report) => {
            let status = if report.added == 0 && !report.refused.is_empty() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            page.import_report = Some(ImportReport::of(lang, &report));
            render_status(status, &page)
        }
        super::import::Imported::Refused(message, status) => {
            page.import_error = Some(message);
            render_status(status, &page)
        }
    }
}
