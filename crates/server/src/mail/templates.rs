//! Mail templates: one folder per message under `templates/mail/<name>/` with
//! `{de,en}.{subject,txt,html}`, wrapped in the shared base of `templates/mail/_base/`.
//! All are embedded in the binary.
//!
//! Placeholders are `{{name}}`. Their values come from the message's data; in the HTML part
//! they are HTML-escaped. A few are derived:
//! - `greeting`: "Hallo Anna," / "Hello Anna," from `name` (or without a name);
//! - `link`: `<base_url>/<page>?token=<token>` for messages that carry a `token`, else the
//!   base URL itself;
//! - `access`: "until <ends_at>" or "<days> days", from `ends_at` or `days`;
//! - values that are RFC 3339 instants are shown as dates in the usage time zone
//!   (`14.03.2025` in German, `March 14, 2025` in English).
//!
//! A placeholder without a value makes rendering fail; the message is then given up (it
//! would fail the same way on every attempt).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// One message in both languages.
pub struct Template {
    pub name: &'static str,
    /// The web page its `token` link opens, if it carries one.
    pub page: Option<&'static str>,
    de: Parts,
    en: Parts,
}

struct Parts {
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

macro_rules! parts {
    ($name:literal, $lang:literal) => {
        Parts {
            subject: include_str!(concat!(
                "../../templates/mail/",
                $name,
                "/",
                $lang,
                ".subject"
            )),
            text: include_str!(concat!("../../templates/mail/", $name, "/", $lang, ".txt")),
            html: include_str!(concat!("../../templates/mail/", $name, "/", $lang, ".html")),
        }
    };
}

macro_rules! template {
    ($name:literal, $page:expr) => {
        Template {
            name: $name,
            page: $page,
            de: parts!($name, "de"),
            en: parts!($name, "en"),
        }
    };
}

/// The pages that complete an e-mailed token (the web UI serves them).
pub mod pages {
    pub const VERIFY_EMAIL: &str = "verify-email";
    pub const INVITATION: &str = "invitation";
    pub const PASSWORD_RESET: &str = "reset-password";
}

/// Every message Mitai sends. Data each one needs (besides the derived placeholders):
/// - `verify_email`: `name`, `token`
/// - `invitation`: `inviter`, `token`
/// - `password_reset`: `name`, `token`
/// - `trial_ending`: `name`, `tier`, `ends_at`
/// - `grant_expiring`: `name`, `tier`, `ends_at`
/// - `coupon_redeemed`: `name`, `code`, `tier`, and `ends_at` or `days`
/// - `weigh_in_reminder`: `name`
/// - `payment_received`: `name`, `tier`, `amount`, and `ends_at` or `days`
/// - `payment_failed`: `name`, `tier`, `amount` (links to `/plan`, where Manage billing is)
/// - `subscription_ending`: `name`, `tier`, `ends_at`
/// - `notification`: `name`, `title`, `body`, `path` (the page, as `page_link`), `times`
/// - `notification_digest`: `name`, `count`, `items` (a line each), `path`
pub static TEMPLATES: &[Template] = &[
    template!("verify_email", Some(pages::VERIFY_EMAIL)),
    template!("invitation", Some(pages::INVITATION)),
    template!("password_reset", Some(pages::PASSWORD_RESET)),
    template!("trial_ending", None),
    template!("grant_expiring", None),
    template!("coupon_redeemed", None),
    template!("weigh_in_reminder", None),
    template!("payment_received", None),
    template!("payment_failed", None),
    template!("subscription_ending", None),
    template!("notification", None),
    template!("notification_digest", None),
];

const BASE_DE: (&str, &str) = (
    include_str!("../../templates/mail/_base/de.txt"),
    include_str!("../../templates/mail/_base/de.html"),
);
const BASE_EN: (&str, &str) = (
    include_str!("../../templates/mail/_base/en.txt"),
    include_str!("../../templates/mail/_base/en.html"),
);

pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message cannot be rendered (never better on a retry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("unknown mail template {0:?}")]
    UnknownTemplate(String),
    #[error("template {template:?} needs a value for {{{{{placeholder}}}}}")]
    Missing {
        template: String,
        placeholder: String,
    },
}

/// Renders `template` in `language` (`de`, else English) with `data`.
pub fn render(
    template: &str,
    language: &str,
    data: &Value,
    base_url: &str,
    tz: Tz,
) -> Result<Rendered, RenderError> {
    let t = self::template(template)
        .ok_or_else(|| RenderError::UnknownTemplate(template.to_owned()))?;
    let german = language == "de";
    let (parts, base) = if german {
        (&t.de, BASE_DE)
    } else {
        (&t.en, BASE_EN)
    };
    let vars = variables(t, german, data, base_url.trim_end_matches('/'), tz);
    let fill = |text: &str, escape: bool| -> Result<String, RenderError> {
        substitute(text, |name| {
            let value = vars.get(name).ok_or_else(|| RenderError::Missing {
                template: t.name.to_owned(),
                placeholder: name.to_owned(),
            })?;
            Ok(if escape {
                escape_html(value)
            } else {
                value.clone()
            })
        })
    };
    // One line, no control characters: it goes into a header.
    let subject: String = fill(parts.subject.trim(), false)?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = fill(parts.text.trim_end(), false)?;
    let html = fill(parts.html.trim_end(), true)?;
    let wrap = |base: &str, content: &str, escape: bool| {
        substitute(base.trim_end(), |name| match name {
            "content" => Ok(content.to_owned()),
            "subject" if escape => Ok(escape_html(&subject)),
            "subject" => Ok(subject.clone()),
            other => Err(RenderError::Missing {
                template: "_base".to_owned(),
                placeholder: other.to_owned(),
            }),
        })
    };
    Ok(Rendered {
        text: wrap(base.0, &text, false)? + "\n",
        html: wrap(base.1, &html, true)? + "\n",
        subject,
    })
}

/// A message as an admin may read it: the subject and the text, with any token (a
/// sign-in or reset link's secret) hidden and a value the data no longer holds (a sent
/// message keeps none) shown as `[name]`. `None` for an unknown template.
pub fn preview(
    template: &str,
    language: &str,
    data: &Value,
    base_url: &str,
    tz: Tz,
) -> Option<(String, String)> {
    let t = self::template(template)?;
    let german = language == "de";
    let parts = if german { &t.de } else { &t.en };
    let mut data = data.clone();
    if let Some(fields) = data.as_object_mut()
        && fields.contains_key("token")
    {
        fields.insert("token".into(), Value::String("…".into()));
    }
    let vars = variables(t, german, &data, base_url.trim_end_matches('/'), tz);
    let fill = |text: &str| {
        substitute(text, |name| {
            Ok(vars
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("[{name}]")))
        })
        .unwrap_or_else(|_| text.to_owned())
    };
    Some((fill(parts.subject.trim()), fill(parts.text.trim_end())))
}

/// The placeholder values: the data shown as text, plus the derived ones.
fn variables(
    t: &Template,
    german: bool,
    data: &Value,
    base_url: &str,
    tz: Tz,
) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = data
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| shown(v, german, tz).map(|s| (k.clone(), s)))
        .collect();
    let name = vars.get("name").map(|n| n.trim()).unwrap_or("");
    let greeting = match (german, name.is_empty()) {
        (true, true) => "Hallo,".to_owned(),
        (true, false) => format!("Hallo {name},"),
        (false, true) => "Hello,".to_owned(),
        (false, false) => format!("Hello {name},"),
    };
    vars.insert("greeting".into(), greeting);
    let link = match (t.page, vars.get("token")) {
        (Some(page), Some(token)) => {
            Some(format!("{base_url}/{page}?token={}", percent_encode(token)))
        }
        // A token message without a token has no link: rendering fails on {{link}}.
        (Some(_), None) => None,
        (None, _) => Some(format!("{base_url}/")),
    };
    if let Some(link) = link {
        vars.insert("link".into(), link);
    }
    vars.insert("plan_link".into(), format!("{base_url}/plan"));
    if let Some(path) = data.get("path").and_then(Value::as_str)
        && path.starts_with('/')
    {
        vars.insert("page_link".into(), format!("{base_url}{path}"));
    }
    let access = match (
        vars.get("ends_at"),
        data.get("days").and_then(Value::as_i64),
    ) {
        (Some(ends), _) if german => Some(format!("bis {ends}")),
        (Some(ends), _) => Some(format!("until {ends}")),
        (None, Some(1)) if german => Some("1 Tag".to_owned()),
        (None, Some(1)) => Some("1 day".to_owned()),
        (None, Some(days)) if german => Some(format!("{days} Tage")),
        (None, Some(days)) => Some(format!("{days} days")),
        (None, None) => None,
    };
    if let Some(access) = access {
        vars.insert("access".into(), access);
    }
    vars
}

/// A data value as text; `None` for null, arrays and objects.
fn shown(value: &Value, german: bool, tz: Tz) -> Option<String> {
    match value {
        Value::String(s) => Some(match DateTime::parse_from_rfc3339(s) {
            Ok(t) => {
                let local = t.with_timezone(&Utc).with_timezone(&tz);
                if german {
                    local.format("%d.%m.%Y").to_string()
                } else {
                    local.format("%B %-d, %Y").to_string()
                }
            }
            Err(_) => s.clone(),
        }),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Replaces each `{{name}}` (name: letters, digits, `_`) by `value(name)`; other braces
/// stay as they are.
fn substitute(
    text: &str,
    mut value: impl FnMut(&str) -> Result<String, RenderError>,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with("}}") {
            out.push_str(&rest[..start]);
            out.push_str(&value(&after[..name_len])?);
            rest = &after[name_len + 2..];
        } else {
            out.push_str(&rest[..start + 2]);
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn previews_hide_tokens_and_name_missing_values() {
        let data = json!({"name": "Anna", "token": "secret-123"});
        let (subject, text) =
            preview("password_reset", "en", &data, "https://m.example", Tz::UTC).unwrap();
        assert!(!subject.is_empty());
        assert!(!text.contains("secret-123"), "{text}");
        assert!(text.contains("reset-password?token="), "{text}");
        let (_, sent) = preview(
            "password_reset",
            "en",
            &json!({}),
            "https://m.example",
            Tz::UTC,
        )
        .unwrap();
        assert!(sent.contains("[link]"), "{sent}");
        assert!(preview("nope", "en", &data, "x", Tz::UTC).is_none());
    }

    use super::*;

    const BASE: &str = "https://mitai.example.org";

    fn sample(template: &str) -> Value {
        match template {
            "verify_email" | "password_reset" => json!({"name": "Anna", "token": "abc123"}),
            "invitation" => json!({"inviter": "Bob", "token": "abc123"}),
            "trial_ending" | "grant_expiring" => {
                json!({"name": "Anna", "tier": "Premium", "ends_at": "2025-03-14T23:30:00Z"})
            }
            "coupon_redeemed" => {
                json!({"name": "Anna", "code": "ABCD-EFGH", "tier": "Premium", "days": 30})
            }
            "weigh_in_reminder" => json!({"name": "Anna"}),
            "payment_received" => json!({"name": "Anna", "tier": "Premium", "amount": "9.99 EUR",
                "ends_at": "2025-04-14T00:00:00Z"}),
            "payment_failed" => json!({"name": "Anna", "tier": "Premium", "amount": "9.99 EUR"}),
            "subscription_ending" => {
                json!({"name": "Anna", "tier": "Premium", "ends_at": "2025-04-14T00:00:00Z"})
            }
            "notification" => json!({"name": "Anna", "title": "Payment failed: a@b.org",
                "body": "A payment failed.", "path": "/admin/billing", "times": "Happened once."}),
            "notification_digest" => {
                json!({"name": "Anna", "count": 2, "path": "/admin/notifications",
                "items": "• New person: a@b.org: a@b.org signed up (open).\n• Coupon used up: X"})
            }
            other => panic!("no sample for {other}"),
        }
    }

    #[test]
    fn every_template_renders_in_both_languages_without_leftovers() {
        for t in TEMPLATES {
            for lang in ["de", "en"] {
                let r = render(t.name, lang, &sample(t.name), BASE, Tz::UTC)
                    .unwrap_or_else(|e| panic!("{} {lang}: {e}", t.name));
                for part in [&r.subject, &r.text, &r.html] {
                    assert!(!part.contains("{{"), "{} {lang}: {part}", t.name);
                    assert!(!part.contains("}}"), "{} {lang}: {part}", t.name);
                }
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'));
                assert!(r.html.starts_with("<!DOCTYPE html>"));
                assert!(r.html.contains(&format!("<html lang=\"{lang}\">")));
                assert!(r.text.contains(BASE), "{} {lang}: a link", t.name);
            }
        }
    }

    #[test]
    fn token_links_point_at_their_page() {
        let r = render(
            "verify_email",
            "en",
            &json!({"name": "Anna", "token": "t/ok+1"}),
            "http://localhost:8080/",
            Tz::UTC,
        )
        .unwrap();
        let link = "http://localhost:8080/verify-email?token=t%2Fok%2B1";
        assert!(r.text.contains(link), "{}", r.text);
        assert!(r.html.contains(&format!("href=\"{link}\"")));
        assert!(r.text.starts_with("Hello Anna,"));
        let r = render(
            "password_reset",
            "de",
            &sample("password_reset"),
            BASE,
            Tz::UTC,
        )
        .unwrap();
        assert!(
            r.text
                .contains("https://mitai.example.org/reset-password?token=abc123")
        );
        assert_eq!(r.subject, "Passwort zurücksetzen");
        let r = render("invitation", "de", &sample("invitation"), BASE, Tz::UTC).unwrap();
        assert!(
            r.text
                .contains("https://mitai.example.org/invitation?token=abc123")
        );
        assert_eq!(r.subject, "Bob lädt dich zu Mitai ein");
    }

    #[test]
    fn html_escapes_values_and_text_does_not() {
        let data = json!({"inviter": "<b>Tom & \"Jerry\"</b>", "token": "x"});
        let r = render("invitation", "en", &data, BASE, Tz::UTC).unwrap();
        assert!(
            r.html
                .contains("&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;")
        );
        assert!(!r.html.contains("<b>Tom"));
        assert!(r.text.contains("<b>Tom & \"Jerry\"</b> invites you"));
        assert!(
            r.html.contains("<title>&lt;b&gt;Tom"),
            "the subject is escaped too"
        );
    }

    #[test]
    fn dates_are_local_and_per_language() {
        let data = sample("trial_ending");
        let de = render("trial_ending", "de", &data, BASE, Tz::Europe__Berlin).unwrap();
        // 23:30 UTC is already the next day in Berlin.
        assert_eq!(de.subject, "Deine Testphase endet am 15.03.2025");
        let en = render("trial_ending", "en", &data, BASE, Tz::UTC).unwrap();
        assert_eq!(en.subject, "Your trial ends on March 14, 2025");
        let coupon = render(
            "coupon_redeemed",
            "de",
            &sample("coupon_redeemed"),
            BASE,
            Tz::UTC,
        )
        .unwrap();
        assert!(coupon.text.contains("Zugang zu Premium erhalten (30 Tage)"));
    }

    #[test]
    fn missing_values_and_unknown_templates_fail() {
        let e = render("verify_email", "en", &json!({"name": "A"}), BASE, Tz::UTC).unwrap_err();
        assert_eq!(
            e,
            RenderError::Missing {
                template: "verify_email".into(),
                placeholder: "link".into()
            }
        );
        let e = render("trial_ending", "de", &json!({}), BASE, Tz::UTC).unwrap_err();
        assert!(matches!(e, RenderError::Missing { .. }), "{e}");
        assert_eq!(
            render("nope", "en", &json!({}), BASE, Tz::UTC).unwrap_err(),
            RenderError::UnknownTemplate("nope".into())
        );
        // Without a name the greeting has none.
        let r = render("verify_email", "de", &json!({"token": "t"}), BASE, Tz::UTC).unwrap();
        assert!(r.text.starts_with("Hallo,\n"));
    }

    #[test]
    fn substitute_leaves_other_braces() {
        let out = substitute("a {{x}} {{ y }} {b} {{}} {{x}", |n| Ok(format!("<{n}>"))).unwrap();
        assert_eq!(out, "a <x> {{ y }} {b} {{}} {{x}");
    }
}
