//! The UI's static files, embedded in the binary and served under URLs that carry a hash
//! of their content (`/assets/<hash>/app.css`), so browsers may keep them for a year and a
//! new build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    url: LazyLock<String>,
}

impl Asset {
    /// Its URL (path), with the hash of its content.
    pub fn url(&'static self) -> &'static str {
        &self.url
    }

    fn hash(&self) -> &str {
        self.url.split('/').nth(2).unwrap_or("")
    }
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/", $name)),
            url: LazyLock::new(|| {
                let digest = Sha256::digest(include_bytes!(concat!("../../assets/", $name)));
                format!("/assets/{}/{}", &hex::encode(digest)[..12], $name)
            }),
        }
    };
}

/// The style sheet (light and dark).
pub static CSS: Asset = asset!("app.css", "text/css; charset=utf-8");
/// htmx 2 (vendored; see `assets/README.md`).
pub static HTMX: Asset = asset!("htmx.min.js", "text/javascript; charset=utf-8");

/// The app's icon (drawn by `assets/make_icons.py`), and as PNGs for home screens.
pub static ICON: Asset = asset!("icon.svg", "image/svg+xml");
pub static ICON_192: Asset = asset!("icon-192.png", "image/png");
pub static ICON_512: Asset = asset!("icon-512.png", "image/png");

static ALL: [&Asset; 5] = [&CSS, &HTMX, &ICON, &ICON_192, &ICON_512];

/// `GET /manifest.webmanifest`: what a phone needs to put the app on its home screen.
pub async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "Mitai",
        "short_name": "Mitai",
        "description": "Weight, measurements, body fat, nutrition, activity and photos.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f6f4a",
        "icons": [
            {"src": ICON.url(), "sizes": "any", "type": "image/svg+xml"},
            {"src": ICON_192.url(), "sizes": "192x192", "type": "image/png"},
            {"src": ICON_512.url(), "sizes": "512x512", "type": "image/png"},
            {"src": ICON_512.url(), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
    });
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/manifest+json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// `GET /favicon.ico`, which browsers ask for on their own: the small PNG (browsers read
/// the content, not the name).
pub async fn favicon() -> Response {
    let mut response = ICON_192.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// `GET /assets/{hash}/{name}`: the file, cached for a year; 404 for an unknown name or
/// an old hash.
pub async fn serve(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ALL.iter().find(|a| a.name == name && a.hash() == hash) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_content_hash() {
        let url = CSS.url();
        assert!(
            url.starts_with("/assets/") && url.ends_with("/app.css"),
            "{url}"
        );
        assert_eq!(CSS.hash().len(), 12);
        assert_ne!(CSS.hash(), HTMX.hash());
    }
}
