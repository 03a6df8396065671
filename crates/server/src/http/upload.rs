//! Photo uploads: the `multipart/form-data` form of the API's `POST /api/photos` and of the
//! photos page, read field by field within limits, into the service's [`Upload`].

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use chrono::NaiveDate;
use mitai_access::text::Note;

use crate::service::photos::Upload;
use crate::service::{AppState, Error, ErrorCode, Result};

/// The body limit of an upload: the largest `photo_max_bytes` the setting accepts plus room
/// for the form around the file. The setting in force is enforced while reading.
pub(crate) const UPLOAD_BODY_LIMIT: usize = 512 * 1024 * 1024 + FORM_OVERHEAD;

/// What the multipart form may add to the file (boundaries, headers, `taken_on`, `note`).
pub(crate) const FORM_OVERHEAD: usize = 64 * 1024;

pub(crate) fn too_large(max: usize) -> Error {
    Error::refused(
        ErrorCode::PayloadTooLarge,
        format!("the photo is larger than {max} bytes"),
    )
}

fn form_error(e: MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::refused(ErrorCode::PayloadTooLarge, "the request body is too large")
    } else {
        Error::field(
            "body",
            format!("not a valid multipart form: {}", e.body_text()),
        )
    }
}

/// Reads the form field by field, each within its limit: the file up to `max` bytes (413
/// beyond), the text fields up to a few KiB (422 beyond). Fields named in `extra` (the web
/// UI's `_csrf`, say) are read as short texts and returned; any other field is refused.
pub(crate) async fn read_form(
    mut form: Multipart,
    max: usize,
    extra: &[&str],
) -> Result<(Upload, std::collections::BTreeMap<String, String>)> {
    let mut upload = Upload::default();
    let mut extras = std::collections::BTreeMap::new();
    let mut has_file = false;
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if has_file => return Err(Error::field("file", "send one file")),
            "file" => {
                upload.file = read_field(field, max)
                    .await?
                    .ok_or_else(|| too_large(max))?;
                has_file = true;
            }
            "taken_on" => {
                let text = read_text(field, "taken_on", 64).await?;
                let text = text.trim();
                if !text.is_empty() {
                    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map_err(|_| Error::field("taken_on", "must be a date YYYY-MM-DD"))?;
                    upload.taken_on = Some(date);
                }
            }
            "note" => {
                // Four bytes a character at most: a longer field is too long as text.
                let text = read_text(field, "note", 4 * 1000 + 64).await?;
                upload.note = crate::service::field("note", Note::parse_optional(&text))?;
            }
            other if extra.contains(&other) => {
                let text = read_text(field, other, 256).await?;
                extras.insert(other.to_owned(), text);
            }
            other => {
                return Err(Error::field(
                    if other.is_empty() { "body" } else { other },
                    "unknown field (expected file, taken_on, note)",
                ));
            }
        }
    }
    if !has_file {
        return Err(Error::field("file", "is required"));
    }
    Ok((upload, extras))
}

/// The most a photo may be: the `photo_max_bytes` setting.
pub(crate) fn max_bytes(state: &AppState) -> usize {
    usize::try_from(state.registry().settings.photo_max_bytes).unwrap_or(usize::MAX)
}

/// The body limit a route that takes an upload needs.
pub(crate) const UPLOAD_LIMIT: usize = UPLOAD_BODY_LIMIT;

/// A field's bytes, or `None` when it holds more than `max`.
async fn read_field(mut field: Field<'_>, max: usize) -> Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        if bytes.len() + chunk.len() > max {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

async fn read_text(field: Field<'_>, name: &str, max: usize) -> Result<String> {
    let bytes = read_field(field, max)
        .await?
        .ok_or_else(|| Error::field(name, "is too long"))?;
    String::from_utf8(bytes).map_err(|_| Error::field(name, "must be UTF-8 text"))
}
