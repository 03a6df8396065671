//! The web UI: server-rendered pages on the API's origin, over the same service functions
//! as the API (no rule is implemented twice). Pages work without JavaScript — forms post
//! and redirect (POST → 303 → GET), or re-render with the messages at their fields —
//! and htmx (vendored, `hx-boost`) only makes navigation smoother.
//!
//! One file per page group; templates in `templates/ui/`. Every page is rendered in the
//! viewer's language ([`Lang`]); every state-changing form carries a CSRF token bound to
//! the session (signed-out forms rely on the cross-origin guard, `crate::csrf`).

pub mod admin;
pub mod assets;
pub mod charts;
mod i18n;
mod messages;

mod account;
mod billing;
mod dashboard;
mod data;
mod forms;
mod insights;
mod photos;
mod plan;

use std::borrow::Borrow;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::http::auth::CurrentUser;
use crate::service::AppState;
use crate::service::Error;

pub use i18n::{Lang, parse_decimal};

/// The HTTP status a page answers a service error with: the status of its code.
pub fn status_of(e: &Error) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Scripts and styles only from this origin (no inline script or style); images from here
/// or `data:` (thumbnails are same-origin); forms post only here; never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; manifest-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; \
    base-uri 'none'";

/// Every page of the UI (the admin pages live in the admin module), and its assets.
pub fn router(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/language", post(account::set_language))
        .route("/login", get(account::login_page).post(account::login))
        .route(
            "/register",
            get(account::register_page).post(account::register),
        )
        .route(
            "/forgot-password",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            "/verify-email",
            get(account::verify_page).post(account::verify),
        )
        .route(
            "/reset-password",
            get(account::reset_page).post(account::reset),
        )
        .route("/invitation", get(account::invitation_page))
        .route("/logout", post(account::logout))
        .route("/account", get(account::account_page))
        .route("/account/profile", post(account::save_profile))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions", post(account::logout_everywhere))
        .route("/account/delete", post(account::delete_account))
        .route("/account/reminder", post(account::save_reminder))
        .route("/account/invitations", post(account::invite))
        .route("/account/verification", post(account::resend_verification))
        .route("/account/export/{kind}", post(account::export))
        .route("/", get(dashboard::page))
        .merge(data::router())
        .merge(photos::router())
        .route("/insights", get(insights::page).post(insights::ask))
        .route("/insights/pipeline", post(insights::pipeline))
        .route("/plan", get(plan::page))
        .route("/plan/redeem", post(plan::redeem))
        .route("/plan/checkout", post(billing::checkout))
        .route("/plan/billing", post(billing::manage))
        .route("/pricing", get(billing::pricing))
        .merge(admin::router(state))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error_pages,
        ));
    Router::new()
        .route("/assets/{hash}/{name}", get(assets::serve))
        .route("/manifest.webmanifest", get(assets::manifest))
        .route("/favicon.ico", get(assets::favicon))
        .merge(pages)
}

/// Who is signed in, as the layout shows them.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub name: String,
    pub email: String,
    pub is_admin: bool,
}

/// What the layout of every page needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub viewer: Option<Viewer>,
    /// The CSRF token of the session (empty when signed out).
    pub csrf: String,
    /// The path and query of this page (where the language switch comes back to).
    pub here: String,
    /// The navigation entry of this page.
    pub section: &'static str,
    /// A confirmation to show (`role="status"`), from `?done=` after a redirect.
    pub done: Option<&'static str>,
    /// Admin pages: the admin's unread notifications (the bell).
    pub unread: i64,
}

/// A link of the navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

const NAV: &[(&str, &str, &str)] = &[
    ("/", "dashboard", "nav.dashboard"),
    ("/weight", "weight", "nav.weight"),
    ("/measurements", "measurements", "nav.measurements"),
    ("/body-fat", "body-fat", "nav.body_fat"),
    ("/nutrition", "nutrition", "nav.nutrition"),
    ("/activity", "activity", "nav.activity"),
    ("/photos", "photos", "nav.photos"),
    ("/insights", "insights", "nav.insights"),
    ("/plan", "plan", "nav.plan"),
    ("/account", "account", "nav.account"),
];

impl Ctx {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn tf(&self, key: &str, args: &[&str]) -> String {
        self.lang.tf(key, args)
    }

    // Templates pass values or references, as their expressions come: these take either.

    /// A number as this language writes it, up to `decimals` places.
    pub fn num(&self, value: impl Borrow<f64>, decimals: usize) -> String {
        self.lang.short_number(*value.borrow(), decimals)
    }

    pub fn date(&self, d: impl Borrow<NaiveDate>) -> String {
        self.lang.date(*d.borrow())
    }

    /// `part` as a percentage of `whole` with one decimal (`"37.5%"`), for a chart label.
    pub fn pct(&self, part: impl Borrow<f64>, whole: impl Borrow<f64>) -> String {
        let whole = *whole.borrow();
        let share = if whole > 0.0 {
            *part.borrow() / whole * 100.0
        } else {
            0.0
        };
        format!("{}%", charts::fmt1(share.clamp(0.0, 100.0)))
    }

    /// A chart coordinate with one decimal.
    pub fn f1(&self, v: impl Borrow<f64>) -> String {
        charts::fmt1(*v.borrow())
    }

    pub fn css(&self) -> &'static str {
        assets::CSS.url()
    }

    pub fn script(&self) -> &'static str {
        assets::HTMX.url()
    }

    pub fn icon(&self) -> &'static str {
        assets::ICON.url()
    }

    pub fn touch_icon(&self) -> &'static str {
        assets::ICON_192.url()
    }

    pub fn nav(&self) -> Vec<NavItem> {
        NAV.iter()
            .map(|(href, section, key)| NavItem {
                href,
                label: self.t(key),
                current: *section == self.section,
            })
            .collect()
    }

    pub fn is_admin(&self) -> bool {
        self.viewer.as_ref().is_some_and(|v| v.is_admin)
    }
}

/// Why a gated form was refused, in plain words: which limit and when it resets, or that
/// the feature is off, or that the e-mail must be verified first — with a link to `/plan`.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub text: String,
    pub plan_link: bool,
    pub plan_label: &'static str,
}

/// The refusal of a gate (or a rate limit) as the page shows it; `None` for other errors.
pub fn refusal(state: &AppState, lang: Lang, e: &Error) -> Option<Refusal> {
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let name = |id: &str| plan::feature_name(lang, &registry, id);
    let (text, plan_link) = match e {
        Error::LimitReached {
            feature,
            limit,
            used,
            resets_at,
        } => {
            // Usage may be over the limit (a limit lowered, a trial ended): say so, with the
            // same number the meter shows.
            let over = limit.is_some_and(|l| *used > l);
            let limit = limit.map_or_else(|| "∞".to_owned(), |n| lang.number(n as f64, 0));
            let used = lang.number(*used as f64, 0);
            let feature = name(feature);
            let text = match (resets_at, over) {
                (Some(t), false) => {
                    lang.tf("refusal.limit", &[&feature, &limit, &lang.datetime(*t, tz)])
                }
                (None, false) => lang.tf("refusal.limit_never", &[&feature, &limit]),
                (Some(t), true) => lang.tf(
                    "refusal.over",
                    &[&feature, &used, &limit, &lang.datetime(*t, tz)],
                ),
                (None, true) => lang.tf("refusal.over_never", &[&feature, &used, &limit]),
            };
            (text, true)
        }
        Error::FeatureDisabled { feature } => {
            (lang.tf("refusal.disabled", &[&name(feature)]), true)
        }
        Error::RateLimited { retry_after_secs } => (
            lang.tf(
                "refusal.rate_limited",
                &[&retry_after_secs.div_ceil(60).max(1).to_string()],
            ),
            false,
        ),
        Error::Forbidden => (lang.t("refusal.forbidden").to_owned(), false),
        e if e.code() == crate::service::ErrorCode::EmailNotVerified => {
            (lang.t("refusal.unverified").to_owned(), false)
        }
        _ => return None,
    };
    Some(Refusal {
        text,
        plan_link,
        plan_label: lang.t("refusal.plan_link"),
    })
}

/// The CSRF token of a session: derived from its token hash, so it needs no storage and
/// changes with every session.
pub fn csrf_token(token_hash: &str) -> String {
    hex::encode(&Sha256::digest(format!("mitai-ui-csrf\n{token_hash}"))[..16])
}

/// A request's visitor: maybe signed in (by the session cookie), in a language.
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub lang: Lang,
    pub here: String,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let user =
            <CurrentUser as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map_err(UiError::Service)?;
        let lang = Lang::of_request(
            user.as_ref().map(|u| u.profile.language.as_str()),
            &parts.headers,
        );
        let here = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        Ok(Visitor { user, lang, here })
    }
}

impl Visitor {
    /// The layout context of a page in `section`.
    pub fn ctx(&self, section: &'static str, done: Option<&str>) -> Ctx {
        Ctx {
            lang: self.lang,
            viewer: self.user.as_ref().map(|u| Viewer {
                name: u.profile.name.clone(),
                email: u.profile.email.clone(),
                is_admin: u.profile.role == crate::service::records::Role::Admin,
            }),
            csrf: self
                .user
                .as_ref()
                .map(|u| csrf_token(&u.token_hash))
                .unwrap_or_default(),
            here: self.here.clone(),
            section,
            done: done
                .and_then(messages::done_message)
                .map(|key| self.lang.t(key)),
            unread: 0,
        }
    }
}

/// A signed-in visitor; a signed-out one is sent to `/login?next=<this page>`.
pub struct Member {
    pub user: CurrentUser,
    pub visitor: Visitor,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let mut visitor = Visitor::from_request_parts(parts, state).await?;
        match visitor.user.clone() {
            Some(user) => {
                visitor.user = Some(user.clone());
                Ok(Member { user, visitor })
            }
            None => Err(UiError::SignIn(visitor.here)),
        }
    }
}

impl Member {
    pub fn ctx(&self, section: &'static str, done: Option<&str>) -> Ctx {
        self.visitor.ctx(section, done)
    }

    pub fn lang(&self) -> Lang {
        self.visitor.lang
    }

    pub fn profile(&self) -> &crate::service::records::Profile {
        &self.user.profile
    }
}

/// Why a page could not be shown: the visitor must sign in first, or an error page.
#[derive(Debug)]
pub enum UiError {
    /// Redirect to the sign-in page, coming back to this path afterwards.
    SignIn(String),
    /// 403 page (signed in, not allowed; or a form without its CSRF token).
    Forbidden,
    /// 404 page.
    NotFound,
    /// Anything else from the services: rendered as the page of its status, without
    /// details (internal causes are logged).
    Service(Error),
}

impl From<Error> for UiError {
    fn from(e: Error) -> UiError {
        match e {
            Error::Unauthenticated => UiError::SignIn("/".into()),
            Error::Forbidden => UiError::Forbidden,
            Error::NotFound => UiError::NotFound,
            e => UiError::Service(e),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> UiError {
        UiError::Service(Error::Internal(anyhow::anyhow!("template: {e}")))
    }
}

/// Marks a response to be replaced by the error page of its status ([`error_pages`]).
#[derive(Debug, Clone, Copy)]
struct ErrorPage;

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = match self {
            UiError::SignIn(next) => {
                return Redirect::to(&format!("/login?next={}", forms::url_encode(&next)))
                    .into_response();
            }
            UiError::Forbidden => StatusCode::FORBIDDEN,
            UiError::NotFound => StatusCode::NOT_FOUND,
            UiError::Service(e) => {
                let status = status_of(&e);
                // Logs an internal cause with the request's id.
                drop(e.into_response());
                status
            }
        };
        let mut response = status.into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let wait = axum::http::HeaderValue::from(crate::api::error::RETRY_AFTER_OUTAGE);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait);
        }
        response.extensions_mut().insert(ErrorPage);
        response
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorTemplate {
    ctx: Ctx,
    status: u16,
    title: &'static str,
    text: &'static str,
}

/// Middleware: answers marked with [`ErrorPage`] become the error page of their status, in
/// the visitor's language and the common layout.
async fn error_pages(visitor: Result<Visitor, UiError>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<ErrorPage>().is_none() {
        return response;
    }
    let visitor = visitor.unwrap_or(Visitor {
        user: None,
        lang: Lang::En,
        here: "/".into(),
    });
    error_page(&visitor, response.status())
}

/// The error page of `status` (404, 403, anything else as 500-like "went wrong").
pub fn error_page(visitor: &Visitor, status: StatusCode) -> Response {
    let (title, text) = match status {
        StatusCode::NOT_FOUND => ("error.not_found", "error.not_found_text"),
        StatusCode::FORBIDDEN => ("error.forbidden", "error.forbidden_text"),
        StatusCode::TOO_MANY_REQUESTS => ("error.rate_limited", "error.rate_limited_text"),
        s if s.is_client_error() => ("error.bad_request", "error.bad_request_text"),
        _ => ("error.internal", "error.internal_text"),
    };
    let lang = visitor.lang;
    let template = ErrorTemplate {
        ctx: visitor.ctx("", None),
        status: status.as_u16(),
        title: lang.t(title),
        text: lang.t(text),
    };
    match template.render() {
        Ok(body) => html(status, body),
        Err(_) => (status, lang.t(title)).into_response(),
    }
}

/// The 404 page for a path that names no page (the app's fallback outside `/api`).
pub async fn not_found(visitor: Result<Visitor, UiError>) -> Response {
    let visitor = visitor.unwrap_or(Visitor {
        user: None,
        lang: Lang::En,
        here: "/".into(),
    });
    error_page(&visitor, StatusCode::NOT_FOUND)
}

/// An HTML answer with the headers every page carries.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // Pages show personal data: never stored by the browser or a proxy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Renders a page template with status 200.
pub fn render(template: &impl Template) -> UiResult {
    Ok(html(StatusCode::OK, template.render()?))
}

/// Renders a page template with another status (422 for a form with errors).
pub fn render_status(status: StatusCode, template: &impl Template) -> UiResult {
    Ok(html(status, template.render()?))
}

/// 303 to `path` (after a form post).
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}
