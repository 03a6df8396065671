//! The web pages that e-mailed links open (`<base>/verify-email?token=…`,
//! `<base>/invitation?token=…`, `<base>/reset-password?token=…`): minimal server-rendered
//! HTML, German or English by `Accept-Language`, without external assets. A small inline
//! script completes the action through the JSON API (relative URLs, so a base path
//! works). The pages are not part of the API, so not of the OpenAPI document.
//!
//! Verifying runs when the page loads; invitation and reset pages show a form. Links that
//! cannot be used any more (invitation, reset) answer 400 with a page saying so.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mitai_store::TokenKind;
use serde::Deserialize;

use crate::auth;
use crate::error::ApiResult;
use crate::mail::templates::{escape_html, pages};
use crate::state::AppState;

const BASE: &str = include_str!("../../templates/pages/_base.html");
const VERIFY: &str = include_str!("../../templates/pages/verify_email.html");
const RESET: &str = include_str!("../../templates/pages/reset_password.html");
const INVITATION: &str = include_str!("../../templates/pages/invitation.html");
const INVALID: &str = include_str!("../../templates/pages/invalid.html");

/// Scripts and styles are inline; nothing is loaded from elsewhere, the API is reached on
/// this origin only, and forms are never submitted natively (no password in a URL).
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
    connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// `(placeholder, German, English)`.
type Texts = &'static [(&'static str, &'static str, &'static str)];

const COMMON: Texts = &[
    (
        "noscript",
        "Diese Seite braucht JavaScript.",
        "This page needs JavaScript.",
    ),
    (
        "failed",
        "Das hat nicht geklappt. Bitte versuche es später noch einmal.",
        "That did not work. Please try again later.",
    ),
    (
        "mismatch",
        "Die Passwörter stimmen nicht überein.",
        "The passwords do not match.",
    ),
    (
        "password",
        "Passwort (8–128 Zeichen)",
        "Password (8–128 characters)",
    ),
    ("repeat", "Passwort wiederholen", "Repeat the password"),
];

const VERIFY_TEXTS: Texts = &[
    (
        "title",
        "E-Mail-Adresse bestätigen",
        "Confirm your e-mail address",
    ),
    ("working", "Einen Moment …", "One moment …"),
    (
        "done",
        "Danke! Deine E-Mail-Adresse ist bestätigt.",
        "Thank you! Your e-mail address is confirmed.",
    ),
    (
        "invalid",
        "Dieser Link ist ungültig oder abgelaufen. In Mitai kannst du einen neuen anfordern.",
        "This link is not valid or has expired. You can ask for a new one in Mitai.",
    ),
];

const RESET_TEXTS: Texts = &[
    ("title", "Neues Passwort", "Choose a new password"),
    ("submit", "Passwort setzen", "Set password"),
    (
        "weak",
        "Das Passwort muss 8 bis 128 Zeichen lang sein.",
        "The password must be 8 to 128 characters long.",
    ),
    (
        "done",
        "Dein Passwort ist geändert; alle bisherigen Sitzungen sind beendet. Du kannst dich jetzt anmelden.",
        "Your password is changed and all earlier sessions have ended. You can sign in now.",
    ),
    (
        "invalid",
        "Dieser Link ist ungültig oder abgelaufen. Fordere einen neuen an.",
        "This link is not valid or has expired. Ask for a new one.",
    ),
];

const INVITATION_TEXTS: Texts = &[
    ("title", "Einladung zu Mitai", "Invitation to Mitai"),
    (
        "intro",
        "Du bist zu Mitai eingeladen. Lege hier dein Konto an.",
        "You are invited to Mitai. Create your account here.",
    ),
    ("email_label", "E-Mail-Adresse", "E-mail address"),
    ("name_label", "Name (optional)", "Name (optional)"),
    ("submit", "Konto anlegen", "Create account"),
    (
        "weak",
        "Bitte prüfe deine Angaben: Das Passwort braucht 8 bis 128 Zeichen, der Name höchstens 100.",
        "Please check your entries: the password needs 8 to 128 characters, the name at most 100.",
    ),
    (
        "done",
        "Dein Konto ist angelegt. Du kannst dich jetzt anmelden.",
        "Your account is ready. You can sign in now.",
    ),
    (
        "invalid",
        "Diese Einladung ist ungültig oder abgelaufen.",
        "This invitation is not valid or has expired.",
    ),
    (
        "taken",
        "Für diese E-Mail-Adresse gibt es schon ein Konto.",
        "An account with this e-mail address exists already.",
    ),
    (
        "closed",
        "Die Registrierung ist geschlossen.",
        "Registration is closed.",
    ),
];

/// The routes of the pages (plain axum routes, outside the OpenAPI document).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/{}", pages::VERIFY_EMAIL), get(verify_email))
        .route(&format!("/{}", pages::INVITATION), get(invitation))
        .route(&format!("/{}", pages::PASSWORD_RESET), get(reset_password))
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    token: Option<String>,
}

/// The token of the link; a query that does not parse has none.
fn token_of(query: Result<Query<PageQuery>, impl std::fmt::Debug>) -> String {
    query
        .ok()
        .and_then(|Query(q)| q.token)
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .unwrap_or_default()
}

/// German when the client prefers it over English, else English.
fn language(headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for range in accept.split(',') {
        let tag = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag == "de" || tag.starts_with("de-") {
            return Lang::De;
        }
        if tag == "en" || tag.starts_with("en-") {
            return Lang::En;
        }
    }
    Lang::En
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    De,
    En,
}

/// Fills the placeholders of `body` from `texts` (escaped) and `values` (already HTML),
/// then wraps it in the base page.
fn render(lang: Lang, body: &str, texts: &[Texts], values: &[(&str, String)]) -> String {
    let mut filled: Vec<(&str, String)> = texts
        .iter()
        .flat_map(|t| t.iter())
        .map(|(key, de, en)| {
            let text = if lang == Lang::De { de } else { en };
            (*key, escape_html(text))
        })
        .collect();
    let lang_code = if lang == Lang::De { "de" } else { "en" };
    filled.push(("lang", lang_code.to_owned()));
    // Values (which may hold anything) go in after the texts, so none is taken for a
    // placeholder.
    filled.extend(values.iter().cloned());
    let fill = |template: &str| {
        filled
            .iter()
            .fold(template.to_owned(), |out, (key, value)| {
                out.replace(&format!("{{{{{key}}}}}"), value)
            })
    };
    // The body goes in last, so nothing in it is taken for a placeholder of the base.
    fill(BASE).replace("{{body}}", &fill(body))
}

fn html(status: StatusCode, page: String) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (status, headers, page).into_response()
}

/// `<base>/verify-email?token=…`: verifies on load.
async fn verify_email(headers: HeaderMap) -> Response {
    let lang = language(&headers);
    html(
        StatusCode::OK,
        render(lang, VERIFY, &[COMMON, VERIFY_TEXTS], &[]),
    )
}

/// `<base>/reset-password?token=…`: a form for the new password, if the link works.
async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let lang = language(&headers);
    let token = token_of(query);
    let usable = !token.is_empty()
        && state
            .store
            .account_token(
                &auth::token_hash(&token),
                TokenKind::PasswordReset,
                state.now(),
            )
            .await?
            .is_some();
    Ok(if usable {
        html(
            StatusCode::OK,
            render(lang, RESET, &[COMMON, RESET_TEXTS], &[]),
        )
    } else {
        html(
            StatusCode::BAD_REQUEST,
            render(lang, INVALID, &[COMMON, RESET_TEXTS], &[]),
        )
    })
}

/// `<base>/invitation?token=…`: the registration form for the invited address, if the
/// invitation works.
async fn invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let lang = language(&headers);
    let token = token_of(query);
    let found = if token.is_empty() {
        None
    } else {
        state
            .store
            .invitation(&auth::token_hash(&token), state.now())
            .await?
    };
    Ok(match found {
        Some(invitation) => {
            let email = [("email", escape_html(&invitation.email))];
            let page = render(lang, INVITATION, &[COMMON, INVITATION_TEXTS], &email);
            html(StatusCode::OK, page)
        }
        None => html(
            StatusCode::BAD_REQUEST,
            render(lang, INVALID, &[COMMON, INVITATION_TEXTS], &[]),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_fills_every_placeholder_in_both_languages() {
        let email = [("email", escape_html("a&b@example.org"))];
        for lang in [Lang::De, Lang::En] {
            for page in [
                render(lang, VERIFY, &[COMMON, VERIFY_TEXTS], &[]),
                render(lang, RESET, &[COMMON, RESET_TEXTS], &[]),
                render(lang, INVITATION, &[COMMON, INVITATION_TEXTS], &email),
                render(lang, INVALID, &[COMMON, INVITATION_TEXTS], &[]),
                render(lang, INVALID, &[COMMON, RESET_TEXTS], &[]),
            ] {
                assert!(!page.contains("{{"), "{page}");
                assert!(page.starts_with("<!doctype html>"));
            }
        }
        let page = render(Lang::De, INVITATION, &[COMMON, INVITATION_TEXTS], &email);
        assert!(page.contains("<html lang=\"de\">"));
        assert!(page.contains("value=\"a&amp;b@example.org\""));
    }

    #[test]
    fn the_body_is_not_read_for_base_placeholders() {
        let tricky = [("email", escape_html("{{title}}{{lang}}@example.org"))];
        let page = render(Lang::En, INVITATION, &[COMMON, INVITATION_TEXTS], &tricky);
        assert!(page.contains("value=\"{{title}}{{lang}}@example.org\""));
    }

    #[test]
    fn accept_language_picks_german_or_english() {
        let lang = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_LANGUAGE, value.parse().unwrap());
            language(&headers)
        };
        assert_eq!(lang("de-DE,de;q=0.9,en;q=0.8"), Lang::De);
        assert_eq!(lang("fr-CH, en;q=0.8, de;q=0.7"), Lang::En);
        assert_eq!(lang("fr"), Lang::En);
        assert_eq!(language(&HeaderMap::new()), Lang::En);
    }
}
