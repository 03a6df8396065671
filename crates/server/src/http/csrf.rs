//! Cross-site request forgery: a browser sends the session cookie with requests that
//! another site starts, so requests that change state or spend are refused when the
//! browser says they come from elsewhere.
//!
//! The rule (for every request without a bearer token — a bearer token is never sent by
//! a browser on its own): a request that is not a plain read (`POST`, `PUT`, `PATCH`,
//! `DELETE`, and the `GET`s that spend, the exports) is refused with 403 `forbidden` when
//! `Sec-Fetch-Site` is anything but `same-origin` or `none` (typed by the user), or —
//! for browsers that do not send it — when `Origin` is not this server's origin. Requests
//! without either header do not come from a modern browser's cross-site request (every
//! one of them sends `Origin` on a `POST`), and pass. Forms of the web UI are covered by
//! the same rule, login included (no login CSRF).
//!
//! Spending `POST`s that take no body (consume, the AI routes) additionally need a body
//! or a bearer token ([`require_body_or_bearer`]), so that even a browser that sends
//! neither header cannot be made to spend with an empty cross-site request.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};

use crate::http::auth::CurrentUser;
use crate::service::AppState;
use crate::service::{Error, ErrorCode, Result};

/// Whether the request carries `Authorization: Bearer …`.
pub fn has_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
}

/// Whether a request changes state or spends (so must not come from another site).
fn changes_state(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path.starts_with("/api/export/")
}

/// The origin (`scheme://host[:port]`) of a URL such as the base URL.
fn origin_of(url: &str) -> &str {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let host_len = rest.find('/').unwrap_or(rest.len());
    &url[..scheme.len() + 3 + host_len]
}

/// Whether the browser says the request comes from another site or origin.
pub fn is_cross_origin(headers: &HeaderMap, base_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(origin_of(base_url)) {
        return false;
    }
    // Served under another name than the base URL (a LAN address, a second domain): the
    // origin must then name the host the request was sent to.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let named = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    !(named.is_some_and(|h| !host.is_empty() && h.eq_ignore_ascii_case(host)))
}

/// Whether the request is a cross-origin request that changes state without a bearer token
/// (see the module docs): it must be refused, and nothing done.
pub fn refused(state: &AppState, request: &Request) -> bool {
    let headers = request.headers();
    !has_bearer(headers)
        && changes_state(request.method(), request.uri().path())
        && is_cross_origin(headers, &state.config.base_url)
}

/// A spending `POST` without a body is accepted only with a bearer token.
pub fn require_body_or_bearer(user: &CurrentUser, body: &[u8]) -> Result<()> {
    if user.via_cookie && body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::refused(
            ErrorCode::Forbidden,
            "signed in by cookie, send a JSON body (for example {}) or use a bearer token",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        h
    }

    const BASE: &str = "https://mitai.example.org";

    #[test]
    fn fetch_metadata_decides_first() {
        for (site, cross) in [
            ("same-origin", false),
            ("none", false),
            ("same-site", true),
            ("cross-site", true),
        ] {
            let h = headers(&[("sec-fetch-site", site), ("origin", BASE)]);
            assert_eq!(is_cross_origin(&h, BASE), cross, "{site}");
        }
    }

    #[test]
    fn origin_must_be_ours() {
        assert!(!is_cross_origin(&headers(&[("origin", BASE)]), BASE));
        assert!(!is_cross_origin(
            &headers(&[("origin", "https://mitai.example.org/")]),
            "https://mitai.example.org/app"
        ));
        assert!(is_cross_origin(
            &headers(&[("origin", "https://evil.example")]),
            BASE
        ));
        assert!(is_cross_origin(&headers(&[("origin", "null")]), BASE));
        // Another name for this server: the Host it was sent to.
        let lan = headers(&[
            ("origin", "http://192.168.1.5:8080"),
            ("host", "192.168.1.5:8080"),
        ]);
        assert!(!is_cross_origin(&lan, BASE));
        let spoof = headers(&[
            ("origin", "http://evil.example"),
            ("host", "192.168.1.5:8080"),
        ]);
        assert!(is_cross_origin(&spoof, BASE));
        // No browser headers at all: not a browser's cross-site request.
        assert!(!is_cross_origin(&HeaderMap::new(), BASE));
    }

    #[test]
    fn what_changes_state() {
        assert!(changes_state(&Method::POST, "/api/weight"));
        assert!(changes_state(&Method::DELETE, "/weight/1"));
        assert!(changes_state(&Method::GET, "/api/export/csv"));
        assert!(!changes_state(&Method::GET, "/api/weight"));
        assert!(!changes_state(&Method::HEAD, "/"));
    }
}
