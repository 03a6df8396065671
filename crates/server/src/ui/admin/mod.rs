//! The admin pages: the overview with its charts, the tier × feature grid, features and
//! tiers, coupons, users (why each limit, personal limits, grants), the activity log,
//! settings and the mail outbox. Every page needs role `admin`: a signed-in non-admin
//! gets the 403 page, a signed-out visitor the sign-in page. The pages call the same
//! service functions as `/api/admin` (`crate::service::admin`).

mod activity_log;
mod billing;
mod coupons;
mod limits;
mod mail;
mod notifications;
mod overview;
mod registry;
mod settings;
mod users;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use super::forms::{FieldErrors, FormData};
use super::{Ctx, Lang, Member, NavItem, UiError};
use crate::service::AppState;
use crate::service::Error;

/// Every admin page (each path also listed in [`PAGES`] for the guard test), behind one
/// guard for all of them: a page that forgets to check the role is impossible.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview::page))
        .route("/admin/limits", get(limits::page).post(limits::submit))
        .route("/admin/limits/review", post(limits::review_cell))
        .route(
            "/admin/features",
            get(registry::features).post(registry::create_feature),
        )
        .route(
            "/admin/features/{id}",
            get(registry::feature).post(registry::update_feature),
        )
        .route(
            "/admin/tiers",
            get(registry::tiers).post(registry::create_tier),
        )
        .route(
            "/admin/tiers/{id}",
            get(registry::tier).post(registry::update_tier),
        )
        .route("/admin/coupons", get(coupons::list).post(coupons::create))
        .route("/admin/coupons/batch", post(coupons::batch))
        .route("/admin/coupons/campaign", post(coupons::campaign))
        .route("/admin/coupons/export.csv", get(coupons::export))
        .route(
            "/admin/coupons/{id}",
            get(coupons::detail).post(coupons::update),
        )
        .route("/admin/users", get(users::list))
        .route("/admin/users/export.csv", get(users::export))
        .route("/admin/users/{id}", get(users::detail).post(users::update))
        .route("/admin/users/{id}/grants", post(users::add_grant))
        .route(
            "/admin/users/{id}/restrictions/{feature}",
            post(users::restriction),
        )
        .route("/admin/grants/{id}/{change}", post(users::change_grant))
        .route("/admin/activity", get(activity_log::activity))
        .route("/admin/settings", get(settings::settings))
        .route("/admin/settings/{key}", post(settings::set_setting))
        .route("/admin/mail", get(mail::mail))
        .route("/admin/mail/{id}/resend", post(mail::resend))
        .route("/admin/billing", get(billing::page))
        .route("/admin/billing/prices", post(billing::add_price))
        .route("/admin/billing/prices/{id}", post(billing::set_price))
        .route("/admin/billing/events/{id}/retry", post(billing::retry))
        .route("/admin/users/{id}/billing/sync", post(billing::sync))
        .route("/admin/notifications", get(notifications::page))
        .route(
            "/admin/notifications/read-all",
            post(notifications::read_all),
        )
        .route(
            "/admin/notifications/preferences",
            post(notifications::save_preferences),
        )
        .route("/admin/notifications/{id}/read", post(notifications::read))
        .route(
            "/admin/notifications/webhooks",
            post(notifications::add_webhook),
        )
        .route(
            "/admin/notifications/webhooks/{id}/delete",
            post(notifications::delete_webhook),
        )
        .route(
            "/admin/notifications/webhooks/{id}/test",
            post(notifications::test_webhook),
        )
        .route_layer(axum::middleware::from_extractor_with_state::<Admin, _>(
            state.clone(),
        ))
}

/// The GET pages of the admin UI (with `{…}` for an id), for tests that walk them all.
pub const PAGES: &[&str] = &[
    "/admin",
    "/admin/limits",
    "/admin/features",
    "/admin/features/{feature}",
    "/admin/tiers",
    "/admin/tiers/{tier}",
    "/admin/coupons",
    "/admin/coupons/{coupon}",
    "/admin/coupons/export.csv?campaign=x",
    "/admin/users",
    "/admin/users/export.csv",
    "/admin/users/{user}",
    "/admin/activity",
    "/admin/settings",
    "/admin/mail",
    "/admin/billing",
    "/admin/notifications",
];

const ADMIN_NAV: &[(&str, &str)] = &[
    ("/admin", "admin.overview"),
    ("/admin/limits", "admin.limits"),
    ("/admin/features", "admin.features"),
    ("/admin/tiers", "admin.tiers"),
    ("/admin/coupons", "admin.coupons"),
    ("/admin/users", "admin.users"),
    ("/admin/activity", "admin.activity"),
    ("/admin/settings", "admin.settings"),
    ("/admin/mail", "admin.mail"),
    ("/admin/billing", "admin.billing"),
    ("/admin/notifications", "admin.notifications"),
];

impl Ctx {
    /// The bell's words: how many notifications are unread.
    pub fn bell_label(&self) -> String {
        match self.unread {
            0 => self.t("admin.notifications_none").to_owned(),
            n => self
                .lang
                .tf("admin.notifications_unread", &[&n.to_string()]),
        }
    }

    /// The navigation of the admin pages, `current` marked.
    pub fn admin_nav(&self, current: &str) -> Vec<NavItem> {
        ADMIN_NAV
            .iter()
            .map(|(href, key)| NavItem {
                href,
                label: self.t(key),
                current: *href == current,
            })
            .collect()
    }
}

/// A signed-in admin; anyone else gets the 403 page (or the sign-in page).
pub struct Admin(pub Member, i64);

impl FromRequestParts<AppState> for Admin {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let member = Member::from_request_parts(parts, state).await?;
        if member.profile().role == crate::service::records::Role::Admin {
            // The bell: a failure to count is no reason to refuse the page.
            let unread = crate::service::notifications::unread(state, member.profile().id)
                .await
                .unwrap_or(0);
            Ok(Admin(member, unread))
        } else {
            Err(UiError::Forbidden)
        }
    }
}

impl Admin {
    pub fn ctx(&self, done: Option<&str>) -> Ctx {
        Ctx {
            unread: self.1,
            ..self.0.ctx("admin", done)
        }
    }

    pub fn lang(&self) -> Lang {
        self.0.lang()
    }

    pub fn profile(&self) -> &crate::service::records::Profile {
        self.0.profile()
    }

    pub fn check(&self, form: &FormData) -> Result<(), UiError> {
        form.check_csrf(&self.0.user)
    }
}

/// A form as typed, and what was wrong with it: refilled on the page again.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    pub values: BTreeMap<String, String>,
    pub errors: FieldErrors,
    /// A refusal that belongs to no field (a conflict, a missing tier, …).
    pub general: Option<String>,
}

impl FormState {
    pub fn from_form(form: &FormData) -> FormState {
        FormState {
            values: form
                .0
                .iter()
                .filter(|(k, _)| k != "_csrf")
                .map(|(k, v)| (k.clone(), v.trim().to_owned()))
                .collect(),
            ..FormState::default()
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> FormState {
        self.values.insert(name.to_owned(), value.into());
        self
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name)
    }

    /// The options of a select (`all` comma-separated), the current value selected.
    pub fn choices(&self, name: &str, all: &str) -> Vec<Choice> {
        let current = self.value(name);
        all.split(',')
            .map(|v| Choice {
                value: v.to_owned(),
                selected: v == current,
            })
            .collect()
    }

    /// Takes a service's refusal: field messages at their fields, anything else as the
    /// form's general message. Errors that are no refusal are given back.
    pub fn refused(&mut self, lang: Lang, e: Error) -> Result<(), UiError> {
        match e {
            Error::Invalid { fields, .. } => {
                self.errors = FieldErrors::from_api(lang, &fields);
                Ok(())
            }
            Error::Internal(_) => Err(UiError::Service(e)),
            Error::NotFound => Err(UiError::NotFound),
            e if crate::ui::status_of(&e).is_client_error() => {
                self.general = Some(e.to_string());
                Ok(())
            }
            e => Err(UiError::Service(e)),
        }
    }
}

/// An option of a select.
pub struct Choice {
    pub value: String,
    pub selected: bool,
}

/// The ids of the active tiers, comma-separated (for [`FormState::choices`]).
pub fn tier_ids(state: &AppState) -> String {
    state
        .registry()
        .tiers()
        .iter()
        .map(|t| t.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A typed limit that is no whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotALimit;

/// A limit as typed: empty = unlimited (`None`), else a whole number.
pub fn parse_limit(text: &str) -> Result<Option<i64>, NotALimit> {
    let t = text.trim();
    if t.is_empty() || t == "∞" {
        return Ok(None);
    }
    t.parse::<i64>().map(Some).map_err(|_| NotALimit)
}

/// A limit as shown in a form: empty for unlimited.
pub fn limit_text(limit: Option<i64>) -> String {
    limit.map(|n| n.to_string()).unwrap_or_default()
}

/// An optional whole number field; a bad one is a message at the field.
pub fn optional_number<T: std::str::FromStr>(
    form: &FormData,
    name: &str,
    lang: Lang,
    errors: &mut FieldErrors,
) -> Option<T> {
    let text = form.get(name);
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.add(name, lang.t("field.whole_number"));
            None
        }
    }
}

/// A day typed in a date field: the instant its day starts in `tz` (`from` fields).
pub fn day_start(
    form: &FormData,
    name: &str,
    tz: Tz,
    lang: Lang,
    errors: &mut FieldErrors,
) -> Option<DateTime<Utc>> {
    day(form, name, lang, errors).map(|d| local_midnight(d, tz))
}

/// A day typed in a date field: the instant its day ends in `tz` (`until` fields).
pub fn day_end(
    form: &FormData,
    name: &str,
    tz: Tz,
    lang: Lang,
    errors: &mut FieldErrors,
) -> Option<DateTime<Utc>> {
    day(form, name, lang, errors).map(|d| local_midnight(d + TimeDelta::days(1), tz))
}

fn day(form: &FormData, name: &str, lang: Lang, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let text = form.get(name);
    if text.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(name, lang.t("field.date"));
            None
        }
    }
}

fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
}

/// The day a `from` instant stands for, for a date field.
pub fn start_day_text(t: Option<DateTime<Utc>>, tz: Tz) -> String {
    t.map(|t| t.with_timezone(&tz).date_naive().to_string())
        .unwrap_or_default()
}

/// The day an `until` instant stands for (the day before the midnight it is).
pub fn end_day_text(t: Option<DateTime<Utc>>, tz: Tz) -> String {
    t.map(|t| {
        (t - TimeDelta::microseconds(1))
            .with_timezone(&tz)
            .date_naive()
            .to_string()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_of_until_fields_round_trip() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let form = FormData(vec![("until".into(), "2026-03-29".into())]);
        let mut errors = FieldErrors::default();
        let end = day_end(&form, "until", tz, Lang::En, &mut errors).unwrap();
        assert_eq!(
            end.to_rfc3339(),
            "2026-03-29T22:00:00+00:00",
            "midnight after DST starts"
        );
        assert_eq!(end_day_text(Some(end), tz), "2026-03-29");
        assert!(errors.is_empty());
        assert_eq!(parse_limit(""), Ok(None));
        assert_eq!(parse_limit("12"), Ok(Some(12)));
        assert!(parse_limit("x").is_err());
    }
}
