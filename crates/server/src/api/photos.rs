//! Progress photos: upload (multipart), list, metadata, download, delete.

use crate::api::error::ErrorBody;
use crate::api::error::{Error, ErrorCode, Json, Path, Query, Result};
use crate::api::{ListParams, Page};
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::http::upload::{FORM_OVERHEAD, UPLOAD_BODY_LIMIT, read_form, too_large};
use crate::service::AppState;
use crate::service::paging::{next_cursor, page_args};
use crate::service::photos::{self, Uploaded};
use crate::service::records::{Photo, StoredResponse};
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio::io::AsyncReadExt as _;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The routes, with the raised body limit on the upload.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, list))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
        .routes(routes!(one, delete))
        .routes(routes!(file))
}

/// A stored photo (its metadata; the bytes are at `url`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhotoView {
    pub id: Uuid,
    /// `image/jpeg`, `image/png` or `image/webp`, decided by content.
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// Size of the stored file (after metadata was removed).
    pub bytes: i64,
    pub taken_on: Option<NaiveDate>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Where the owner downloads the file.
    pub url: String,
}

impl From<&Photo> for PhotoView {
    fn from(p: &Photo) -> PhotoView {
        PhotoView {
            id: p.id,
            content_type: p.kind.content_type().to_owned(),
            width: p.width,
            height: p.height,
            bytes: p.bytes,
            taken_on: p.taken_on,
            note: p.note.clone(),
            created_at: p.created_at,
            url: format!("/api/photos/{}/file", p.id),
        }
    }
}

/// `{"photo": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhotoEnvelope {
    pub photo: PhotoView,
}

/// The multipart form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; read field by field.
pub struct PhotoUpload {
    /// The image: JPEG, PNG or WebP (decided by its content, not its name or type).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The day the photo was taken (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, format = Date)]
    taken_on: Option<String>,
    /// Up to 1000 characters.
    note: Option<String>,
}

/// Upload a progress photo (spends 1 `photos`).
///
/// The type is decided by the content: JPEG, PNG and WebP that really decode are accepted;
/// anything else answers 415 `unsupported_media_type`, and a file that starts like an image
/// but does not decode answers 422 `invalid_input`. Location and all other metadata (EXIF,
/// XMP, comments, ICC) are removed before the photo is stored; the EXIF orientation is
/// applied to the pixels. Files over the `photo_max_bytes` setting answer 413
/// `payload_too_large`. A refused upload stores nothing and spends nothing.
#[utoipa::path(post, path = "/photos", tag = "photos",
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = PhotoEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "feature_disabled, feature_limit_reached or email_not_verified", body = ErrorBody),
              (status = 413, description = "payload_too_large", body = ErrorBody),
              (status = 415, description = "unsupported_media_type: not JPEG, PNG or WebP, or not a multipart form", body = ErrorBody),
              (status = 422, description = "invalid_input: a field is missing or wrong, or the image does not decode", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let key = crate::api::idempotency::idempotency_key(&headers)?;
    let max = usize::try_from(state.registry().settings.photo_max_bytes).unwrap_or(usize::MAX);
    // A body declared too large is refused before it is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max.saturating_add(FORM_OVERHEAD)) {
        return Err(too_large(max));
    }
    let form = form.map_err(|_| {
        Error::refused(
            ErrorCode::UnsupportedMediaType,
            "send the photo as multipart/form-data with a field `file`",
        )
    })?;
    let (upload, _) = read_form(form, max, &[]).await?;
    let respond = |p: &Photo| StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: serde_json::to_value(PhotoEnvelope { photo: p.into() })
            .unwrap_or(serde_json::Value::Null),
    };
    match photos::create(&state, &user.profile, upload, key.as_ref(), ip, &respond).await? {
        Uploaded::Created(photo) => Ok((
            StatusCode::CREATED,
            Json(PhotoEnvelope {
                photo: (&photo).into(),
            }),
        )
            .into_response()),
        Uploaded::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
            Ok((status, Json(stored.body)).into_response())
        }
    }
}

/// The profile's photos, newest first.
#[utoipa::path(get, path = "/photos", tag = "photos",
    params(("limit" = Option<i64>, Query, description = "1–500, default 50"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before")),
    responses((status = 200, body = Page<PhotoView>),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<PhotoView>>> {
    let (limit, before) = page_args(params.limit, params.cursor.as_deref())?;
    let mut rows = photos::list(&state, user.profile.id, before, limit + 1).await?;
    let next_cursor = next_cursor(&mut rows, limit, |p| p.id);
    Ok(Json(Page {
        items: rows.iter().map(PhotoView::from).collect(),
        next_cursor,
    }))
}

/// One photo's metadata.
#[utoipa::path(get, path = "/photos/{id}", tag = "photos",
    params(("id" = Uuid, Path, description = "photo id")),
    responses((status = 200, body = PhotoEnvelope),
              (status = 404, description = "not_found (also another profile's photo)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<PhotoEnvelope>> {
    let photo = photos::get(&state, user.profile.id, id).await?;
    Ok(Json(PhotoEnvelope {
        photo: (&photo).into(),
    }))
}

/// The photo's file, to its owner only.
#[utoipa::path(get, path = "/photos/{id}/file", tag = "photos",
    params(("id" = Uuid, Path, description = "photo id")),
    responses((status = 200, description = "the image, in the type it was stored as",
               content((crate::api::FileBytes = "image/jpeg"), (crate::api::FileBytes = "image/png"), (crate::api::FileBytes = "image/webp"))),
              (status = 404, description = "not_found (also another profile's photo)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let (photo, file) = photos::open(&state, user.profile.id, id).await?;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(photo.kind.content_type()),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(photo.bytes)),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!(
                "inline; filename=\"{}.{}\"",
                photo.id,
                photo.kind.extension()
            ))
            .map_err(anyhow::Error::new)?,
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&format!("\"{}\"", photo.sha256)).map_err(anyhow::Error::new)?,
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=86400"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    Ok((headers, Body::from_stream(chunks(file))).into_response())
}

/// A file as a stream of 64 KiB chunks; a read error ends the stream with that error.
fn chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<axum::body::Bytes>> + Send {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf.into()), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Delete a photo and its file. Spent usage stays spent.
#[utoipa::path(delete, path = "/photos/{id}", tag = "photos",
    params(("id" = Uuid, Path, description = "photo id")),
    responses((status = 204, description = "deleted"),
              (status = 404, description = "not_found (also another profile's photo)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    photos::delete(&state, user.profile.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
