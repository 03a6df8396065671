//! `/photos`: upload (`file`, `taken_on`, default today, `note`), a grid of thumbnails by
//! date (whole photos, never the full file; each opens full size), and two photos compared
//! side by side, overlaid or with a slider, with the date and weight of each day.

use crate::service::records::{Photo, StoredResponse};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use mitai_access::{EntryData, EntryKind};
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{FieldErrors, FormData, Params, idempotency_key, new_idempotency_key};
use super::{Ctx, Lang, Member, Refusal, UiError, UiResult, refusal, render, render_status};
use crate::http::client_ip::ClientIp;
use crate::http::upload::{UPLOAD_LIMIT, max_bytes, read_form};
use crate::imaging::THUMB_SIZE;
use crate::service::AppState;
use crate::service::Error;
use crate::service::entries;
use crate::service::photos::{self as service, Uploaded};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/photos", get(page).post(upload))
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
        .route("/photos/{id}/thumb", get(thumb))
        .route("/photos/{id}/delete", post(delete))
}

#[derive(Debug, Default, Deserialize)]
pub struct PhotosQuery {
    a: Option<String>,
    b: Option<String>,
    done: Option<String>,
}

/// A photo in the grid.
pub struct Tile {
    pub id: Uuid,
    pub date: String,
    pub note: String,
    pub alt: String,
    /// The thumbnail's size (the photo's shape, at most [`THUMB_SIZE`] on its long side).
    pub width: u32,
    pub height: u32,
}

/// One side of the comparison.
pub struct Side {
    pub id: Uuid,
    pub date: String,
    pub weight: String,
    pub alt: String,
    pub width: u32,
    pub height: u32,
}

/// A photo's size scaled to fit `size` × `size`, as its thumbnail is made.
fn fitted(photo: &Photo, size: u32) -> (u32, u32) {
    let (w, h) = (photo.width.max(1) as f64, photo.height.max(1) as f64);
    let scale = (f64::from(size) / w.max(h)).min(1.0);
    (
        ((w * scale).round() as u32).max(1),
        ((h * scale).round() as u32).max(1),
    )
}

#[derive(Template)]
#[template(path = "ui/photos.html")]
struct PhotosPage {
    ctx: Ctx,
    tiles: Vec<Tile>,
    /// Each photo as a choice for both sides: (id, date, chosen first, chosen second).
    options: Vec<(Uuid, String, bool, bool)>,
    /// The two photos compared (none or two).
    compare: Vec<Side>,
    idempotency_key: String,
    taken_on: String,
    note: String,
    errors: FieldErrors,
    refusal: Option<Refusal>,
}

/// The most photos the grid shows (newest first).
const GRID: i64 = 200;

fn day_of(photo: &Photo) -> NaiveDate {
    photo
        .taken_on
        .unwrap_or_else(|| photo.created_at.date_naive())
}

async fn view(
    state: &AppState,
    member: &Member,
    query: &PhotosQuery,
    done: Option<&str>,
) -> UiResult<PhotosPage> {
    let lang = member.lang();
    let profile = member.profile();
    let mut photos = service::list(state, profile.id, None, GRID).await?;
    photos.sort_by_key(|p| std::cmp::Reverse((day_of(p), p.id)));
    let alt = |p: &Photo| lang.tf("photos.alt", &[&lang.date(day_of(p))]);
    let tiles = photos
        .iter()
        .map(|p| {
            let (width, height) = fitted(p, THUMB_SIZE);
            Tile {
                id: p.id,
                date: lang.date(day_of(p)),
                note: p.note.clone().unwrap_or_default(),
                alt: alt(p),
                width,
                height,
            }
        })
        .collect();
    let pick = |v: &Option<String>| v.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let selected = (pick(&query.a), pick(&query.b));
    let find = |id: Option<Uuid>| id.and_then(|id| photos.iter().find(|p| p.id == id));
    let compare = match (find(selected.0), find(selected.1)) {
        (Some(a), Some(b)) => {
            let weights = weights(state, profile.id).await?;
            let units = crate::service::profiles::units_of(profile);
            let side = |p: &Photo| {
                let (width, height) = fitted(p, 2000);
                Side {
                    id: p.id,
                    date: lang.date(day_of(p)),
                    weight: nearest_weight(&weights, day_of(p))
                        .map(|w| super::data::weight::weight_text(lang, units, w))
                        .unwrap_or_else(|| lang.t("photos.no_weight").to_owned()),
                    alt: alt(p),
                    width,
                    height,
                }
            };
            vec![side(a), side(b)]
        }
        _ => Vec::new(),
    };
    Ok(PhotosPage {
        ctx: member.ctx("photos", done),
        options: photos
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let first = selected.0.map_or(i == 0, |a| a == p.id);
                let second = selected.1.map_or(i == 1, |b| b == p.id);
                (p.id, lang.date(day_of(p)), first, second)
            })
            .collect(),
        tiles,
        compare,
        idempotency_key: new_idempotency_key(),
        taken_on: crate::service::profiles::today(state, profile).to_string(),
        note: String::new(),
        errors: FieldErrors::default(),
        refusal: None,
    })
}

async fn weights(state: &AppState, profile_id: Uuid) -> UiResult<Vec<(NaiveDate, f64)>> {
    let entries = entries::series(state, profile_id, EntryKind::Weight, None, 10_000).await?;
    Ok(entries
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Weight(w) => Some((e.date, w.weight_kg)),
            _ => None,
        })
        .collect())
}

/// The weight of that day, or of the nearest day within a week.
fn nearest_weight(weights: &[(NaiveDate, f64)], day: NaiveDate) -> Option<f64> {
    weights
        .iter()
        .map(|(d, w)| ((*d - day).num_days().abs(), *w))
        .filter(|(gap, _)| *gap <= 7)
        .min_by_key(|(gap, _)| *gap)
        .map(|(_, w)| w)
}

async fn page(
    State(state): State<AppState>,
    member: Member,
    Params(query): Params<PhotosQuery>,
) -> UiResult {
    render(&view(&state, &member, &query, query.done.as_deref()).await?)
}

async fn upload(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> UiResult {
    let lang = member.lang();
    let Ok(multipart) = multipart else {
        return Err(UiError::Service(Error::not_json()));
    };
    let read = read_form(multipart, max_bytes(&state), &["_csrf", "idempotency_key"]).await;
    let mut page = view(&state, &member, &PhotosQuery::default(), None).await?;
    let (upload, extras) = match read {
        Ok(read) => read,
        Err(e) => return refused(&state, lang, &mut page, e),
    };
    let csrf = extras.get("_csrf").cloned().unwrap_or_default();
    FormData(vec![("_csrf".into(), csrf)]).check_csrf(&member.user)?;
    page.taken_on = upload.taken_on.map(|d| d.to_string()).unwrap_or_default();
    page.note = upload
        .note
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let key = idempotency_key(extras.get("idempotency_key").map_or("", String::as_str))?;
    let respond = |p: &Photo| StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: serde_json::json!({"photo": {"id": p.id}}),
    };
    match service::create(&state, member.profile(), upload, key.as_ref(), ip, &respond).await {
        Ok(Uploaded::Created(_) | Uploaded::Replayed(_)) => {
            Ok(super::see_other("/photos?done=photo_added"))
        }
        Err(e) => refused(&state, lang, &mut page, e),
    }
}

/// The page again with the refusal of an upload at its field (or as the gate's refusal).
fn refused(state: &AppState, lang: Lang, page: &mut PhotosPage, e: Error) -> UiResult {
    let status = super::status_of(&e);
    match &e {
        Error::Invalid { fields, .. } => page.errors = FieldErrors::from_api(lang, fields),
        _ if matches!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
        ) =>
        {
            let key = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "photos.too_large"
            } else {
                "photos.not_image"
            };
            page.errors.add("file", lang.t(key));
        }
        _ => match refusal(state, lang, &e) {
            Some(r) => page.refusal = Some(r),
            None => return Err(e.into()),
        },
    }
    render_status(status, &*page)
}

/// `GET /photos/{id}/thumb`: the thumbnail, cached privately (it never changes).
async fn thumb(State(state): State<AppState>, member: Member, Path(id): Path<String>) -> UiResult {
    let id = Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    let bytes = service::thumbnail(&state, member.profile().id, id).await?;
    let mut response: Response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let id = Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    match service::delete(&state, member.profile().id, id).await {
        Ok(_) | Err(Error::NotFound) => Ok(super::see_other("/photos?done=photo_deleted")),
        Err(e) => Err(e.into()),
    }
}
