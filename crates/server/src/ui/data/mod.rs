//! The tracked data in the browser: `/weight`, `/measurements`, `/body-fat`, `/nutrition`
//! and `/activity` — an entry form with messages at the fields, the entries newest first
//! with a delete button each, and a chart. Creates go through the API's service (the
//! feature gate and the idempotency of spends); a form carries a fresh idempotency key
//! each time it is rendered, so the same button pressed twice creates one entry.

use super::{Lang, Member, Refusal, UiError, UiResult, parse_decimal, refusal};
use crate::service::AppState;
use crate::service::Error;
use crate::service::entries::kinds::{
    ActivityType, CaliperType, CircumferenceType, EntryType, NutritionType, WeightType,
};
use crate::service::entries::{self as service, CreateAnswer};
use crate::service::records::{Entry, Profile};
use crate::ui::forms::{FieldErrors, FormData, new_idempotency_key};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use mitai_access::body::Units;
use mitai_access::{EntryData, EntryKind};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/weight",
            get(weight::weight_page).post(weight::weight_create),
        )
        .route("/weight/import", post(weight::weight_import))
        .route("/weight/{id}/delete", post(delete::<WeightType>))
        .route(
            "/weight/{id}/edit",
            get(weight::weight_edit_page).post(weight::weight_edit_save),
        )
        .route(
            "/measurements",
            get(measurements::measurements_page).post(measurements::measurements_create),
        )
        .route(
            "/measurements/{id}/delete",
            post(delete::<CircumferenceType>),
        )
        .route(
            "/measurements/{id}/edit",
            get(measurements::measurements_edit_page).post(measurements::measurements_edit_save),
        )
        .route(
            "/body-fat",
            get(body_fat::body_fat_page).post(body_fat::body_fat_create),
        )
        .route("/body-fat/{id}/delete", post(delete::<CaliperType>))
        .route(
            "/body-fat/{id}/edit",
            get(body_fat::body_fat_edit_page).post(body_fat::body_fat_edit_save),
        )
        .route(
            "/nutrition",
            get(nutrition::nutrition_page).post(nutrition::nutrition_create),
        )
        .route("/nutrition/{id}/delete", post(delete::<NutritionType>))
        .route("/nutrition/targets", post(nutrition::nutrition_targets))
        .route(
            "/nutrition/{id}/edit",
            get(nutrition::nutrition_edit_page).post(nutrition::nutrition_edit_save),
        )
        .route(
            "/activity",
            get(activity::activity_page).post(activity::activity_create),
        )
        .route("/activity/{id}/delete", post(delete::<ActivityType>))
        .route(
            "/activity/{id}/edit",
            get(activity::activity_edit_page).post(activity::activity_edit_save),
        )
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
    /// The entry the form changes (`None`: the form adds one).
    pub editing: Option<Uuid>,
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

fn listing(
    lang: Lang,
    units: Units,
    today: NaiveDate,
    entries: &[Entry],
    older: Option<String>,
) -> Listing {
    Listing {
        editing: None,
        rows: entries.iter().map(|e| row(lang, units, e)).collect(),
        older,
        idempotency_key: new_idempotency_key(),
        today: today.format("%Y-%m-%d").to_string(),
        values: BTreeMap::new(),
        errors: FieldErrors::default(),
        refusal: None,
    }
}

fn row(lang: Lang, units: Units, e: &Entry) -> Row {
    let n = |v: f64, d: usize| lang.short_number(v, d);
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| n(v, 1));
    let cells = match &e.data {
        EntryData::Weight(w) => vec![lang.number(units.weight_from_kg(w.weight_kg), 1)],
        EntryData::Circumference(c) => [
            c.neck_cm, c.chest_cm, c.waist_cm, c.hip_cm, c.thigh_cm, c.arm_cm, c.calf_cm,
        ]
        .into_iter()
        .map(|cm| cm.map_or(String::new(), |cm| lang.number(units.length_from_cm(cm), 1)))
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

fn today(state: &AppState, member: &Member) -> NaiveDate {
    crate::service::profiles::today(state, member.profile())
}

fn units(member: &Member) -> Units {
    crate::service::profiles::units_of(member.profile())
}

// --- units ----------------------------------------------------------------------------------

/// The metric fields of the API that a form names by the person's units: `weight_kg` is
/// `weight_lb` in imperial units, a circumference site (`waist`) is `waist_in`.
fn form_name(kind: EntryKind, units: Units, api: &str) -> Option<String> {
    match (units, kind) {
        (Units::Metric, _) => None,
        (Units::Imperial, EntryKind::Weight) if api == "weight_kg" => Some("weight_lb".into()),
        (Units::Imperial, EntryKind::Circumference) if measurements::SITES_CM.contains(&api) => {
            Some(format!("{api}_in"))
        }
        _ => None,
    }
}

/// A measurement typed in either unit: the metric field `api` (kg, cm) or, if the form
/// has it, its imperial twin (`imperial`, lb or in), stored metric as `api`.
#[allow(clippy::too_many_arguments)]
fn measure(
    form: &FormData,
    api: &str,
    imperial: &str,
    to_metric: fn(f64) -> f64,
    required: bool,
    lang: Lang,
    body: &mut Map<String, Value>,
    errors: &mut FieldErrors,
) {
    if !form.0.iter().any(|(k, _)| k == imperial) {
        return number(form, api, required, lang, body, errors);
    }
    let mut typed = Map::new();
    number(form, imperial, required, lang, &mut typed, errors);
    if let Some(v) = typed.get(imperial).and_then(Value::as_f64) {
        // Kept to a ten-thousandth: no 79.99999999 kg, and 176.4 lb reads back as 176.4.
        let metric = (to_metric(v) * 10_000.0).round() / 10_000.0;
        body.insert(api.to_owned(), json!(metric));
    }
}

/// The API's refusals at the fields the form has: a metric field's message goes to its
/// imperial twin when the form used that one, its range in the form's unit.
fn errors_at_form_fields(
    lang: Lang,
    kind: EntryKind,
    fields: &BTreeMap<String, String>,
    form: &FormData,
) -> FieldErrors {
    let mut moved = BTreeMap::new();
    for (field, why) in fields {
        let api = field.rsplit('.').next().unwrap_or(field);
        let twin = form_name(kind, Units::Imperial, api)
            .filter(|twin| form.0.iter().any(|(k, _)| k == twin));
        match twin {
            Some(twin) => {
                let (convert, unit): (fn(f64) -> f64, &str) = match kind {
                    EntryKind::Weight => (|v| Units::Imperial.weight_from_kg(v), "lb"),
                    _ => (|v| Units::Imperial.length_from_cm(v), "in"),
                };
                moved.insert(twin, rescaled(why, convert, unit));
            }
            None => {
                moved.insert(field.clone(), why.clone());
            }
        }
    }
    FieldErrors::from_api(lang, &moved)
}

/// "must be from 20 to 500 kg" with both numbers converted (one decimal) and named in
/// `unit`.
fn rescaled(why: &str, convert: impl Fn(f64) -> f64, unit: &str) -> String {
    let Some(rest) = why.strip_prefix("must be from ") else {
        return why.to_owned();
    };
    let Some((lo, hi)) = rest.split_once(" to ") else {
        return why.to_owned();
    };
    let hi = hi
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    match (lo.trim().parse::<f64>(), hi.parse::<f64>()) {
        (Ok(lo), Ok(hi)) => format!(
            "must be from {:.1} to {:.1} {unit}",
            convert(lo),
            convert(hi)
        ),
        _ => why.to_owned(),
    }
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
        Err(Error::Invalid { fields, .. }) => Ok(Outcome::Invalid(errors_at_form_fields(
            lang,
            T::KIND,
            &fields,
            form,
        ))),
        Err(e) => match refusal(state, lang, &e) {
            Some(r) => Ok(Outcome::Refused(r, crate::ui::status_of(&e))),
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

// --- editing ------------------------------------------------------------------------------

/// The profile's entry of this type named by a path's id; 404 for anything else.
async fn owned_entry<T: EntryType>(state: &AppState, member: &Member, id: &str) -> UiResult<Entry> {
    let id = Uuid::parse_str(id).map_err(|_| UiError::NotFound)?;
    match service::get::<T>(state, member.profile(), id).await {
        Ok(entry) => Ok(entry),
        Err(Error::NotFound) => Err(UiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// A number as a form shows it: whole numbers without decimals, others with the
/// language's decimal mark.
fn form_number(lang: Lang, v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        lang.short_number(v, 2)
    }
}

/// The form values of an entry: its API body (what would create it), a caliper's sites
/// as fields of their own.
fn values_of<T: EntryType>(lang: Lang, units: Units, entry: &Entry) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let Ok(Value::Object(body)) = serde_json::to_value(T::input_of(entry)) else {
        return values;
    };
    let mut put = |name: &str, value: &Value| {
        let (name, text) = match (value, form_name(T::KIND, units, name)) {
            (Value::String(s), _) => (name.to_owned(), s.clone()),
            (Value::Number(n), None) => (
                name.to_owned(),
                n.as_f64().map_or(String::new(), |v| form_number(lang, v)),
            ),
            (Value::Number(n), Some(twin)) => {
                let v = n.as_f64().unwrap_or_default();
                let converted = match T::KIND {
                    EntryKind::Weight => units.weight_from_kg(v),
                    _ => units.length_from_cm(v),
                };
                (twin, lang.short_number(converted, 1))
            }
            _ => return,
        };
        values.insert(name, text);
    };
    for (name, value) in &body {
        match value {
            Value::Object(inner) => inner.iter().for_each(|(k, v)| put(k, v)),
            v => put(name, v),
        }
    }
    values
}

/// Puts a data page into editing `entry`: the form filled in with it, saving changes it.
fn start_editing<T: EntryType>(lang: Lang, units: Units, list: &mut Listing, entry: &Entry) {
    list.editing = Some(entry.id);
    list.values = values_of::<T>(lang, units, entry);
}

/// What saving an edit did.
enum EditOutcome {
    Saved,
    Invalid(FieldErrors),
    Conflict,
}

/// Saves the edit form of `entry`: the form's fields replace the entry's (an empty
/// optional field clears it). Spends nothing.
async fn save_edit<T: EntryType>(
    state: &AppState,
    member: &Member,
    entry: &Entry,
    form: &FormData,
    build: fn(&FormData, Lang) -> Built,
) -> UiResult<EditOutcome> {
    form.check_csrf(&member.user)?;
    let lang = member.lang();
    let mut body = match build(form, lang) {
        Ok(Value::Object(body)) => body,
        Ok(_) => Map::new(),
        Err(errors) => return Ok(EditOutcome::Invalid(errors)),
    };
    // What the form left empty is cleared, not kept.
    if let Ok(Value::Object(before)) = serde_json::to_value(T::input_of(entry)) {
        for name in before.keys() {
            body.entry(name.clone()).or_insert(Value::Null);
        }
    }
    match service::update::<T>(state, member.profile(), entry.id, Value::Object(body)).await {
        Ok(_) => Ok(EditOutcome::Saved),
        Err(Error::Invalid { fields, .. }) => Ok(EditOutcome::Invalid(errors_at_form_fields(
            lang,
            T::KIND,
            &fields,
            form,
        ))),
        Err(Error::NotFound) => Err(UiError::NotFound),
        Err(e) if e.code() == crate::service::ErrorCode::Conflict => Ok(EditOutcome::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// The page again after a refused edit: the form as it was sent, the messages at its
/// fields. `None` when saved.
fn apply_edit(
    saved: EditOutcome,
    lang: Lang,
    list: &mut Listing,
    entry: &Entry,
    form: &FormData,
) -> Option<StatusCode> {
    let status = match saved {
        EditOutcome::Saved => return None,
        EditOutcome::Invalid(errors) => {
            list.errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        EditOutcome::Conflict => {
            list.errors.add("date", lang.t("entries.conflict"));
            StatusCode::CONFLICT
        }
    };
    list.editing = Some(entry.id);
    list.values.clear();
    for (name, value) in &form.0 {
        if !name.starts_with('_') && name != "idempotency_key" {
            list.values.insert(name.clone(), value.clone());
        }
    }
    Some(status)
}

/// The edit page of an entry (`GET /<page>/{id}/edit`) and its save
/// (`POST /<page>/{id}/edit`): the data page with its form filled in with the entry;
/// saved → 303 to the page, refused → the form again with the messages.
macro_rules! edit_handlers {
    ($edit_page:ident, $edit_save:ident, $view:ident, $type:ty, $body:ident, $query:expr) => {
        pub(super) async fn $edit_page(
            State(state): State<AppState>,
            member: Member,
            axum::extract::Path(id): axum::extract::Path<String>,
        ) -> UiResult {
            let entry = super::owned_entry::<$type>(&state, &member, &id).await?;
            let query: fn(&crate::service::records::Entry) -> super::ListQuery = $query;
            let mut page = $view(&state, &member, &query(&entry), None).await?;
            super::start_editing::<$type>(
                member.lang(),
                super::units(&member),
                &mut page.list,
                &entry,
            );
            crate::ui::render(&page)
        }

        pub(super) async fn $edit_save(
            State(state): State<AppState>,
            member: Member,
            axum::extract::Path(id): axum::extract::Path<String>,
            form: FormData,
        ) -> UiResult {
            let entry = super::owned_entry::<$type>(&state, &member, &id).await?;
            let saved = super::save_edit::<$type>(&state, &member, &entry, &form, $body).await?;
            let query: fn(&crate::service::records::Entry) -> super::ListQuery = $query;
            let mut page = $view(&state, &member, &query(&entry), None).await?;
            match super::apply_edit(saved, member.lang(), &mut page.list, &entry, &form) {
                None => Ok(crate::ui::see_other(&format!(
                    "{}?done=entry_saved",
                    super::path_of(<$type as super::EntryType>::KIND)
                ))),
                Some(status) => render_status(status, &page),
            }
        }
    };
    ($edit_page:ident, $edit_save:ident, $view:ident, $type:ty, $body:ident) => {
        edit_handlers!($edit_page, $edit_save, $view, $type, $body, |_| {
            super::ListQuery::default()
        });
    };
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
    Ok(crate::ui::see_other(&format!(
        "{}?done=entry_deleted",
        path_of(T::KIND)
    )))
}

/// The GET handler of a data page (`$page`) and, with a type, its create handler
/// (`$create`): create through the gate, then 303 to the page, or the page again with what
/// went wrong.
macro_rules! page_handlers {
    ($page:ident, $view:ident) => {
        pub(super) async fn $page(
            State(state): State<AppState>,
            member: Member,
            Params(query): Params<super::ListQuery>,
        ) -> UiResult {
            crate::ui::render(&$view(&state, &member, &query, query.done.as_deref()).await?)
        }
    };
    ($page:ident, $create:ident, $view:ident, $type:ty, $body:ident) => {
        page_handlers!($page, $view);

        pub(super) async fn $create(
            State(state): State<AppState>,
            member: Member,
            ClientIp(ip): ClientIp,
            form: FormData,
        ) -> UiResult {
            let outcome = super::create::<$type>(&state, &member, ip, &form, $body).await?;
            let mut page = $view(&state, &member, &super::ListQuery::default(), None).await?;
            match super::apply(outcome, &mut page.list, &form) {
                None => Ok(crate::ui::see_other(&format!(
                    "{}?done=entry_added",
                    super::path_of(<$type as super::EntryType>::KIND)
                ))),
                Some(status) => render_status(status, &page),
            }
        }
    };
}

// --- weight -------------------------------------------------------------------------------

// --- measurements -------------------------------------------------------------------------

// --- body fat -----------------------------------------------------------------------------

// --- nutrition ----------------------------------------------------------------------------

// --- activity -----------------------------------------------------------------------------

// The pages (after `page_handlers!`, which they use).
mod activity;
mod body_fat;
mod import;
pub(super) mod measurements;
mod nutrition;
pub(super) mod weight;
