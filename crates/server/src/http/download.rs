//! Downloads: a started export sent as an attachment (the API's and the account page's).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::service::export::{self, Format};
use crate::service::{Error, Result};

/// The answer that sends a started download as an attachment (the API's and the UI's).
pub fn attachment(download: export::Download, format: Format) -> Result<Response> {
    let disposition = format!("attachment; filename=\"{}\"", download.file_name);
    let mut response = download.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| Error::Internal(e.into()))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
