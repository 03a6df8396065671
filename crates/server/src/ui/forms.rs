//! Form handling shared by the pages: the posted fields, the CSRF check, messages at the
//! fields, safe `next` paths, and the idempotency key that makes a double submission
//! create one entry.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request};
use mitai_access::text::{IdempotencyKey, TextError};

use super::{Lang, UiError};
use crate::http::auth::CurrentUser;
use crate::service::Error;

/// The query of a page; a query that does not parse is an empty one (a page never fails
/// on a mangled link).
pub struct Params<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = axum::extract::Query::<T>::from_request_parts(parts, state).await;
        Ok(Params(
            query.map(|axum::extract::Query(q)| q).unwrap_or_default(),
        ))
    }
}

/// The fields of a posted `application/x-www-form-urlencoded` form, in order.
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = UiError;

    /// A form as browsers send it: `application/x-www-form-urlencoded`, UTF-8. A form that
    /// is not (bytes that are not UTF-8 text after decoding, say) is refused whole (400).
    async fn from_request(req: Request, state: &S) -> Result<Self, UiError> {
        let unreadable = || {
            UiError::Service(Error::refused(
                crate::service::ErrorCode::BadRequest,
                "the form could not be read",
            ))
        };
        let urlencoded = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !urlencoded {
            return Err(unreadable());
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| unreadable())?;
        parse_urlencoded(&body).map(FormData).ok_or_else(unreadable)
    }
}

/// The fields of an `application/x-www-form-urlencoded` body, in order; `None` when a name
/// or value is not UTF-8 text once decoded.
fn parse_urlencoded(body: &[u8]) -> Option<Vec<(String, String)>> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Percent-decodes one part of a form (`+` is a space).
fn decode(part: &[u8]) -> Option<String> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        match part[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < part.len() => match (hex(part[i + 1]), hex(part[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl FormData {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The first value of `name`, untrimmed (passwords).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Refuses (403 page) a form without the CSRF token of `user`'s session.
    pub fn check_csrf(&self, user: &CurrentUser) -> Result<(), UiError> {
        let expected = super::csrf_token(&user.token_hash);
        let given = self.get("_csrf");
        // Constant-time enough for a 32-character token compared once per request.
        if given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        {
            Ok(())
        } else {
            Err(UiError::Forbidden)
        }
    }

    /// The idempotency key the form was rendered with (one per rendering); none when the
    /// form has none, refused (422) when it is not a key.
    pub fn idempotency_key(&self) -> Result<Option<IdempotencyKey>, UiError> {
        idempotency_key(self.raw("idempotency_key"))
    }
}

/// The idempotency key of a form's field: none when empty, refused (422) when not a key.
pub fn idempotency_key(raw: &str) -> Result<Option<IdempotencyKey>, UiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::service::field(
        "idempotency_key",
        IdempotencyKey::parse(raw),
    )?))
}

/// A new idempotency key for a form about to be rendered.
pub fn new_idempotency_key() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Messages at the fields of a form, in the page's language.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Why a typed text was refused, in the page's language.
    pub fn reason(lang: Lang, why: &TextError) -> String {
        match why {
            TextError::Missing => lang.t("field.required").to_owned(),
            TextError::TooLong { max } => lang.tf("field.too_long_n", &[&max.to_string()]),
            TextError::Nul | TextError::Control => lang.t("field.control").to_owned(),
        }
    }

    /// The messages of a 422 `invalid_input` from a service, translated where a message
    /// of the UI fits the field's complaint (else the API's own words).
    pub fn from_api(lang: Lang, fields: &BTreeMap<String, String>) -> FieldErrors {
        let mut out = FieldErrors::default();
        for (field, why) in fields {
            // `sites.chest` → `chest`; the form names fields as the API does.
            let name = field.rsplit('.').next().unwrap_or(field);
            out.add(name, translate_reason(lang, why));
        }
        out
    }
}

/// The UI's words for the validation reasons of the API (they are English sentences).
fn translate_reason(lang: Lang, why: &str) -> String {
    let key = if why.starts_with("must be from") || why.contains("between") {
        Some(("field.range", range_of(why)))
    } else if why.starts_with("must be a date") {
        Some(("field.date", None))
    } else if why.contains("must be an e-mail") {
        Some(("field.email", None))
    } else if why.contains("8 to 128") {
        Some(("field.password", None))
    } else if why.contains("at most") && why.contains("characters") {
        Some(("field.too_long", None))
    } else if why.contains("future") || why.contains("tomorrow") {
        Some(("field.future", None))
    } else if why.contains("control characters") || why.contains("NUL") {
        Some(("field.control", None))
    } else if why == "must not be empty" {
        Some(("field.required", None))
    } else {
        None
    };
    match key {
        Some((key, Some((lo, hi)))) => lang.tf(key, &[&lo, &hi]),
        Some((key, None)) if key != "field.range" => lang.t(key).to_owned(),
        _ if lang == Lang::En => why.to_owned(),
        _ => format!("{} ({why})", lang.t("field.invalid")),
    }
}

/// `("20", "500")` from "must be from 20 to 500".
fn range_of(why: &str) -> Option<(String, String)> {
    let rest = why.split("from ").nth(1)?;
    let (lo, hi) = rest.split_once(" to ")?;
    let hi = hi.split_whitespace().next()?.trim_end_matches('.');
    Some((lo.trim().to_owned(), hi.to_owned()))
}

/// A `next` path to come back to after signing in: only a path on this site
/// (`/weight?range=90d`), never another origin (`//evil.example`, `https://…`).
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
        && next.len() <= 500;
    if ok { next } else { "/" }
}

/// Percent-encodes a query value.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/weight?range=90d"), "/weight?range=90d");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "weight",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
        assert_eq!(url_encode("/weight?a=b&c"), "/weight%3Fa%3Db%26c");
    }

    #[test]
    fn forms_are_utf8_text() {
        assert_eq!(
            parse_urlencoded(b"a=1&b=x+y%20z&c=%C3%A4&d&e=100%"),
            Some(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "ä".into()),
                ("d".into(), String::new()),
                ("e".into(), "100%".into()),
            ])
        );
        assert_eq!(parse_urlencoded(b"a=%FF%FE"), None);
        assert_eq!(parse_urlencoded(b"%FF=1"), None);
        assert_eq!(
            parse_urlencoded(b"a=%00"),
            Some(vec![("a".into(), "\0".into())])
        );
    }

    #[test]
    fn api_reasons_are_translated() {
        assert_eq!(
            translate_reason(Lang::De, "must be from 20 to 500"),
            "Erlaubt sind Werte von 20 bis 500."
        );
        assert_eq!(translate_reason(Lang::En, "something odd"), "something odd");
    }
}
