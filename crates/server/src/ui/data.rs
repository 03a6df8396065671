//! The tracked data in the browser: `/weight`, `/measurements`, `/body-fat`, `/nutrition`
//! and `/activity` — an entry form with messages at the fields, the entries newest first
//! with a delete button each, and a chart. Creates go through the API's service (the
//! feature gate and the idempotency of spends); a form carries a fresh idempotency key
//! each time it is rendered, so the same button pressed twice creates one entry.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate, TimeDelta};
use mitai_access::caliper::{Method, Sex, sites};
use mitai_access::{EntryData, EntryKind};
use mitai_store::{Entry, Profile};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::charts::{self, Frame, LineChart};
use super::forms::{FieldErrors, FormData, Params, new_idempotency_key};
use super::{Ctx, Lang, Member, Refusal, UiError, UiResult, parse_decimal, refusal, render_status};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::Error;
use crate::service::entries::kinds::{
    ActivityType, CaliperType, CircumferenceType, EntryType, NutritionType, WeightType,
};
use crate::service::entries::{self as service, CreateAnswer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/weight", get(weight_page).post(weight_create))
        .route("/weight/import", post(weight_import))
        .route("/weight/{id}/delete", post(delete::<WeightType>))
        .route(
            "/measurements",
            get(measurements_page).post(measurements_create),
        )
        .route(
            "/measurements/{id}/delete",
            post(delete::<CircumferenceType>),
        )
        .route("/body-fat", get(body_fat_page).post(body_fat_create))
        .route("/body-fat/{id}/delete", post(delete::<CaliperType>))
        .route("/nutrition", get(nutrition_page).post(nutrition_create))
        .route("/nutrition/{id}/delete", post(delete::<NutritionType>))
        .route("/activity", get(activity_page).post(activity_create))
        .route("/activity/{id}/delete", post(delete::<ActivityType>))
}

/// The most entries a chart reads (one query); older ones are left out of the chart.
const CHART_MAX: i64 = 10_000;
/// Entries listed per page.
const PAGE: i64 = 50;

/// The page path of an entry kind.
fn path_of(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Weight => "/weight",
        EntryKind::Circumference => "/measurements",
        EntryKind::Caliper => "/body-fat",
        EntryKind::Nutrition => "/nutrition",
        EntryKind::Activity => "/activity",
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    range: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    method: Option<String>,
    sex: Option<String>,
}

/// The chart ranges of the weight page.
const RANGES: [(&str, Option<i64>); 4] = [
    ("30d", Some(30)),
    ("90d", Some(90)),
    ("1y", Some(365)),
    ("all", None),
];

/// An entry as a row of a page's table: its id, date and formatted cells.
pub struct Row {
    pub id: Uuid,
    pub date: String,
    pub cells: Vec<String>,
    pub note: String,
}

/// What every data page shows besides its own parts.
pub struct Listing {
    pub rows: Vec<Row>,
    /// `?cursor=` of the next (older) page.
    pub older: Option<String>,
    pub idempotency_key: String,
    pub today: String,
    pub values: BTreeMap<String, String>,
    pub errors: FieldErrors,
    pub refusal: Option<Refusal>,
}

impl Listing {
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}

/// One page of entries, newest first, from `cursor` on.
async fn page_of(
    state: &AppState,
    profile: &Profile,
    kind: EntryKind,
    cursor: Option<&str>,
) -> UiResult<(Vec<Entry>, Option<String>)> {
    Ok(service::page_of_kind(state, profile.id, kind, cursor, PAGE).await?)
}

/// The entries of a chart: dated on or after `from` (all without it), oldest first.
async fn chart_entries(
    state: &AppState,
    profile: &Profile,
    kind: EntryKind,
    from: Option<NaiveDate>,
) -> UiResult<Vec<Entry>> {
    Ok(service::series(state, profile.id, kind, from, CHART_MAX).await?)
}

fn listing(lang: Lang, today: NaiveDate, entries: &[Entry], older: Option<String>) -> Listing {
    Listing {
        rows: entries.iter().map(|e| row(lang, e)).collect(),
        older,
        idempotency_key: new_idempotency_key(),
        today: today.format("%Y-%m-%d").to_string(),
        values: BTreeMap::new(),
        errors: FieldErrors::default(),
        refusal: None,
    }
}

fn row(lang: Lang, e: &Entry) -> Row {
    let n = |v: f64, d: usize| lang.short_number(v, d);
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| n(v, 1));
    let cells = match &e.data {
        EntryData::Weight(w) => vec![n(w.weight_kg, 1)],
        EntryData::Circumference(c) => [
            c.neck_cm, c.chest_cm, c.waist_cm, c.hip_cm, c.thigh_cm, c.arm_cm, c.calf_cm,
        ]
        .into_iter()
        .map(opt)
        .collect(),
        EntryData::Caliper(c) => vec![
            c.method.as_str().to_uppercase(),
            n(c.body_fat_pct, 1),
            c.sites
                .values()
                .map(|v| n(*v, 1))
                .collect::<Vec<_>>()
                .join(" · "),
        ],
        EntryData::Nutrition(x) => vec![
            n(x.kcal, 0),
            n(x.protein_g, 1),
            n(x.carbs_g, 1),
            n(x.fat_g, 1),
        ],
        EntryData::Activity(a) => vec![a.kind.clone(), a.minutes.to_string(), opt(a.kcal)],
    };
    Row {
        id: e.id,
        date: lang.date(e.date),
        cells,
        note: e.note.clone().unwrap_or_default(),
    }
}

fn today(state: &AppState) -> NaiveDate {
    let tz = state.registry().settings.usage_timezone;
    state.now().with_timezone(&tz).date_naive()
}

// --- creating -----------------------------------------------------------------------------

/// The JSON body of a create from the form, or the messages of fields that are not numbers.
type Built = Result<Value, FieldErrors>;

/// A number field (decimal comma allowed); `required` ones must be there.
fn number(
    form: &FormData,
    name: &str,
    required: bool,
    lang: Lang,
    body: &mut Map<String, Value>,
    errors: &mut FieldErrors,
) {
    let text = form.get(name);
    if text.is_empty() {
        if required {
            errors.add(name, lang.t("field.required"));
        }
        return;
    }
    match parse_decimal(text) {
        Some(v) => {
            body.insert(name.to_owned(), json!(v));
        }
        None => errors.add(name, lang.t("field.number")),
    }
}

fn common(form: &FormData, body: &mut Map<String, Value>) {
    body.insert("date".into(), json!(form.get("date")));
    let note = form.get("note");
    if !note.is_empty() {
        body.insert("note".into(), json!(note));
    }
}

fn finish(body: Map<String, Value>, errors: FieldErrors) -> Built {
    if errors.is_empty() {
        Ok(Value::Object(body))
    } else {
        Err(errors)
    }
}

fn weight_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    number(form, "weight_kg", true, lang, &mut body, &mut errors);
    finish(body, errors)
}

const SITES_CM: [&str; 7] = ["neck", "chest", "waist", "hip", "thigh", "arm", "calf"];

fn circumference_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    for site in SITES_CM {
        number(form, site, false, lang, &mut body, &mut errors);
    }
    if errors.is_empty() && !SITES_CM.iter().any(|s| body.contains_key(*s)) {
        errors.add("neck", lang.t("measurements.one_site"));
    }
    finish(body, errors)
}

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

fn nutrition_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    for field in ["kcal", "protein_g", "carbs_g", "fat_g"] {
        number(form, field, true, lang, &mut body, &mut errors);
    }
    finish(body, errors)
}

fn activity_body(form: &FormData, lang: Lang) -> Built {
    let (mut body, mut errors) = (Map::new(), FieldErrors::default());
    common(form, &mut body);
    body.insert("kind".into(), json!(form.get("kind")));
    match form.get("minutes").parse::<i64>() {
        Ok(m) => {
            body.insert("minutes".into(), json!(m));
        }
        Err(_) => errors.add("minutes", lang.t("field.whole_number")),
    }
    number(form, "kcal", false, lang, &mut body, &mut errors);
    finish(body, errors)
}

/// What a create did, for the page to answer: created (→ 303), or the form again with
/// messages at the fields or the refusal of the gate.
enum Outcome {
    Created,
    Invalid(FieldErrors),
    Refused(Refusal, StatusCode),
}

async fn create<T: EntryType>(
    state: &AppState,
    member: &Member,
    ip: Option<String>,
    form: &FormData,
    build: fn(&FormData, Lang) -> Built,
) -> UiResult<Outcome> {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let body = match build(form, lang) {
        Ok(body) => body,
        Err(errors) => return Ok(Outcome::Invalid(errors)),
    };
    let key = form.idempotency_key()?;
    match service::create::<T>(state, member.profile(), body, key.as_ref(), ip).await {
        // A replay is the answer of the same form sent before: it was created then.
        Ok(CreateAnswer::Created(_) | CreateAnswer::Replayed(_)) => Ok(Outcome::Created),
        Err(Error::Invalid { fields, .. }) => {
            Ok(Outcome::Invalid(FieldErrors::from_api(lang, &fields)))
        }
        Err(e) => match refusal(state, lang, &e) {
            Some(r) => Ok(Outcome::Refused(r, super::status_of(&e))),
            None => Err(e.into()),
        },
    }
}

/// Applies an outcome to a listing about to be rendered again; `None` when created.
fn apply(outcome: Outcome, listing: &mut Listing, form: &FormData) -> Option<StatusCode> {
    let status = match outcome {
        Outcome::Created => return None,
        Outcome::Invalid(errors) => {
            listing.errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Outcome::Refused(r, status) => {
            listing.refusal = Some(r);
            status
        }
    };
    // The form refilled with what was typed.
    for (name, value) in &form.0 {
        if !name.starts_with('_') && name != "idempotency_key" {
            listing.values.insert(name.clone(), value.clone());
        }
    }
    Some(status)
}

async fn delete<T: EntryType>(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let id = Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    match service::delete::<T>(&state, member.profile(), id).await {
        // Already gone (a second click): the same page.
        Ok(()) | Err(Error::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(super::see_other(&format!(
        "{}?done=entry_deleted",
        path_of(T::KIND)
    )))
}

/// The GET handler of a data page (`$page`) and, with a type, its create handler
/// (`$create`): create through the gate, then 303 to the page, or the page again with what
/// went wrong.
macro_rules! page_handlers {
    ($page:ident, $view:ident) => {
        async fn $page(
            State(state): State<AppState>,
            member: Member,
            Params(query): Params<ListQuery>,
        ) -> UiResult {
            super::render(&$view(&state, &member, &query, query.done.as_deref()).await?)
        }
    };
    ($page:ident, $create:ident, $view:ident, $type:ty, $body:ident) => {
        page_handlers!($page, $view);

        async fn $create(
            State(state): State<AppState>,
            member: Member,
            ClientIp(ip): ClientIp,
            form: FormData,
        ) -> UiResult {
            let outcome = create::<$type>(&state, &member, ip, &form, $body).await?;
            let mut page = $view(&state, &member, &ListQuery::default(), None).await?;
            match apply(outcome, &mut page.list, &form) {
                None => Ok(super::see_other(&format!(
                    "{}?done=entry_added",
                    path_of(<$type as EntryType>::KIND)
                ))),
                Some(status) => render_status(status, &page),
            }
        }
    };
}

page_handlers!(weight_page, weight_view);
page_handlers!(body_fat_page, body_fat_view);
page_handlers!(
    measurements_page,
    measurements_create,
    measurements_view,
    CircumferenceType,
    circumference_body
);
page_handlers!(
    nutrition_page,
    nutrition_create,
    nutrition_view,
    NutritionType,
    nutrition_body
);
page_handlers!(
    activity_page,
    activity_create,
    activity_view,
    ActivityType,
    activity_body
);

// --- weight -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/weight.html")]
struct WeightPage {
    ctx: Ctx,
    list: Listing,
    ranges: Vec<(&'static str, &'static str, bool)>,
    chart: LineChart,
    averages: Vec<(String, String, String)>,
    import_error: Option<String>,
}

async fn weight_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<WeightPage> {
    let lang = member.lang();
    let today = today(state);
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
    let entries = chart_entries(state, member.profile(), EntryKind::Weight, from).await?;
    let (chart, averages) = weight_chart(lang, &entries);
    Ok(WeightPage {
        ctx: member.ctx("weight", done),
        list: listing(lang, today, &page, older),
        ranges: RANGES
            .iter()
            .map(|(r, _)| (*r, lang.t(&format!("range.{r}")), *r == range.0))
            .collect(),
        chart,
        averages,
        import_error: None,
    })
}

/// The weight chart (raw values and the 7-day moving average) and its numbers as rows of
/// (date, weight, average).
pub fn weight_chart(lang: Lang, entries: &[Entry]) -> (LineChart, Vec<(String, String, String)>) {
    let points: Vec<(NaiveDate, f64)> = entries
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Weight(w) => Some((e.date, w.weight_kg)),
            _ => None,
        })
        .collect();
    let average = charts::moving_average(&points, 7);
    let table = points
        .iter()
        .rev()
        .take(60)
        .map(|(d, v)| {
            let avg = average
                .iter()
                .find(|(ad, _)| ad == d)
                .map_or(String::new(), |(_, a)| lang.short_number(*a, 1));
            (lang.date(*d), lang.short_number(*v, 1), avg)
        })
        .collect();
    let chart = charts::line_chart(
        Frame::default(),
        vec![("raw".into(), points), ("avg".into(), average)],
        &|v| lang.short_number(v, 1),
        &|d| lang.short_date(d),
    );
    (chart, table)
}

async fn weight_create(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    let outcome = create::<WeightType>(&state, &member, ip, &form, weight_body).await?;
    let mut page = weight_view(&state, &member, &ListQuery::default(), None).await?;
    match apply(outcome, &mut page.list, &form) {
        None => Ok(super::see_other(&format!(
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
async fn weight_import(
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
    match outcome {
        super::import::Imported::Done(n) => {
            Ok(super::see_other(&format!("/weight?done=imported&n={n}")))
        }
        super::import::Imported::Refused(message, status) => {
            let mut page = weight_view(&state, &member, &ListQuery::default(), None).await?;
            page.import_error = Some(message);
            render_status(status, &page)
        }
    }
}

// --- measurements -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/measurements.html")]
struct MeasurementsPage {
    ctx: Ctx,
    list: Listing,
    sites: Vec<(&'static str, &'static str)>,
    charts: Vec<SiteChart>,
}

pub struct SiteChart {
    pub label: &'static str,
    pub chart: LineChart,
    pub latest: String,
    pub change: String,
}

async fn measurements_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<MeasurementsPage> {
    let lang = member.lang();
    let kind = EntryKind::Circumference;
    let (page, older) = page_of(state, member.profile(), kind, query.cursor.as_deref()).await?;
    let entries = chart_entries(state, member.profile(), kind, None).await?;
    let mut site_charts = Vec::new();
    for site in SITES_CM {
        let points: Vec<(NaiveDate, f64)> = entries
            .iter()
            .filter_map(|e| match &e.data {
                EntryData::Circumference(c) => site_value(c, site).map(|v| (e.date, v)),
                _ => None,
            })
            .collect();
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        let delta = last.1 - first.1;
        let change = if points.len() < 2 {
            String::new()
        } else {
            let sign = if delta > 0.0 { "+" } else { "" };
            format!("{sign}{} cm", lang.short_number(delta, 1))
        };
        site_charts.push(SiteChart {
            label: lang.t(&format!("site.{site}")),
            latest: format!("{} cm", lang.short_number(last.1, 1)),
            change,
            chart: charts::line_chart(
                Frame::small(),
                vec![("raw".into(), points)],
                &|v| lang.short_number(v, 0),
                &|d| lang.short_date(d),
            ),
        });
    }
    Ok(MeasurementsPage {
        ctx: member.ctx("measurements", done),
        list: listing(lang, today(state), &page, older),
        sites: SITES_CM
            .iter()
            .map(|s| (*s, lang.t(&format!("site.{s}"))))
            .collect(),
        charts: site_charts,
    })
}

fn site_value(c: &mitai_access::entries::Circumference, site: &str) -> Option<f64> {
    match site {
        "neck" => c.neck_cm,
        "chest" => c.chest_cm,
        "waist" => c.waist_cm,
        "hip" => c.hip_cm,
        "thigh" => c.thigh_cm,
        "arm" => c.arm_cm,
        "calf" => c.calf_cm,
        _ => None,
    }
}

// --- body fat -----------------------------------------------------------------------------

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
    let sex = Sex::parse(query.sex.as_deref().unwrap_or("male")).unwrap_or(Sex::Male);
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
    let results = page
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Caliper(c) => {
                let weight = nearest(&weight_points, e.date);
                let (fat, lean, w) = match weight {
                    Some(w) => {
                        let fat = w * c.body_fat_pct / 100.0;
                        (
                            format!("{} kg", lang.short_number(fat, 1)),
                            format!("{} kg", lang.short_number(w - fat, 1)),
                            format!("{} kg", lang.short_number(w, 1)),
                        )
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
    let mut list = listing(lang, today(state), &page, older);
    list.values
        .insert("method".into(), method.as_str().to_owned());
    list.values.insert("sex".into(), sex.as_str().to_owned());
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
            Frame::default(),
            vec![("raw".into(), points)],
            &|v| format!("{} %", lang.short_number(v, 0)),
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

async fn body_fat_create(
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
        None => Ok(super::see_other(&format!(
            "/body-fat?done=entry_added&method={}&sex={}",
            page.method, page.sex
        ))),
        Some(status) => render_status(status, &page),
    }
}

// --- nutrition ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/nutrition.html")]
struct NutritionPage {
    ctx: Ctx,
    list: Listing,
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
    let today = today(state);
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
        ctx: member.ctx("nutrition", done),
        list: listing(lang, today, &page, older),
        totals,
        chart: charts::bar_chart(Frame::default(), bars, &|v| lang.short_number(v, 0)),
    })
}

// --- activity -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ui/activity.html")]
struct ActivityPage {
    ctx: Ctx,
    list: Listing,
    weeks: Vec<(String, String)>,
    chart: charts::BarChart,
}

async fn activity_view(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
    done: Option<&str>,
) -> UiResult<ActivityPage> {
    let lang = member.lang();
    let today = today(state);
    let kind = EntryKind::Activity;
    let (page, older) = page_of(state, member.profile(), kind, query.cursor.as_deref()).await?;
    // Minutes per ISO week, the last 12 weeks.
    let first_week = charts::week_start(today) - TimeDelta::weeks(11);
    let recent = chart_entries(state, member.profile(), kind, Some(first_week)).await?;
    let mut weeks: BTreeMap<NaiveDate, f64> = (0..12)
        .map(|i| (first_week + TimeDelta::weeks(i), 0.0))
        .collect();
    for e in &recent {
        if let EntryData::Activity(a) = &e.data {
            #[allow(clippy::cast_precision_loss)] // minutes of a week
            let minutes = a.minutes as f64;
            *weeks.entry(charts::week_start(e.date)).or_default() += minutes;
        }
    }
    let label = |d: &NaiveDate| lang.tf("activity.week_of", &[&d.iso_week().week().to_string()]);
    Ok(ActivityPage {
        ctx: member.ctx("activity", done),
        list: listing(lang, today, &page, older),
        weeks: weeks
            .iter()
            .rev()
            .map(|(d, m)| {
                (
                    format!("{} ({})", label(d), lang.short_date(*d)),
                    lang.short_number(*m, 0),
                )
            })
            .collect(),
        chart: charts::bar_chart(
            Frame::default(),
            weeks.iter().map(|(d, m)| (label(d), *m)).collect(),
            &|v| lang.short_number(v, 0),
        ),
    })
}
