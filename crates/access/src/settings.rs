//! Global settings (`app_settings`): the keys, their types, defaults and validation.
//!
//! Values are JSON in storage and over the API. [`validate`] turns an incoming value
//! into the canonical stored form or explains why it does not fit the key, so a bad
//! value never replaces a good one.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Value, json};

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    Open,
    InviteOnly,
    Closed,
}

/// Every known setting key, in display order.
pub const KEYS: &[&str] = &[
    "registration_mode",
    "require_email_verification",
    "default_tier",
    "trial_days",
    "trial_tier",
    "usage_timezone",
    "wellpass_grace_days",
    "billing_grace_days",
    "users_can_invite",
    "mail_from",
    "base_url",
    "photo_max_bytes",
    "reminder_lead_days",
    "notification_digest_hour",
    "activity_retention_days",
];

/// An internal setting, never shown or set by admins: the changes of `usage_timezone`,
/// oldest first, each `{"at": <instant>, "before": "<zone>"}` (the zone until `at`).
pub const USAGE_TIMEZONE_HISTORY: &str = "usage_timezone_history";

/// How many zone changes are remembered: far more than any period can span.
const ZONE_HISTORY_KEPT: usize = 50;

/// A change of `usage_timezone`: until `at` the zone was `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneChange {
    pub at: DateTime<Utc>,
    pub before: Tz,
}

/// The stored history of zone changes with one more: the zone in use now (`settings`)
/// ends at `at`.
pub fn zone_history_with(settings: &Settings, at: DateTime<Utc>) -> Value {
    let mut changes = settings.usage_timezone_history.clone();
    changes.push(ZoneChange {
        at,
        before: settings.usage_timezone,
    });
    let skip = changes.len().saturating_sub(ZONE_HISTORY_KEPT);
    Value::Array(
        changes[skip..]
            .iter()
            .map(|c| json!({ "at": c.at.to_rfc3339(), "before": c.before.name() }))
            .collect(),
    )
}

fn parse_zone_history(value: &Value) -> Vec<ZoneChange> {
    let mut changes: Vec<ZoneChange> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let at = DateTime::parse_from_rfc3339(c.get("at")?.as_str()?).ok()?;
            let before = c.get("before")?.as_str()?.parse::<Tz>().ok()?;
            Some(ZoneChange {
                at: at.with_timezone(&Utc),
                before,
            })
        })
        .collect();
    changes.sort_by_key(|c| c.at);
    changes
}

/// The typed view of all settings, with defaults for anything missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub registration_mode: RegistrationMode,
    pub require_email_verification: bool,
    pub default_tier: String,
    pub trial_days: i64,
    pub trial_tier: String,
    pub usage_timezone: Tz,
    /// Earlier zones, oldest change first (see [`USAGE_TIMEZONE_HISTORY`]).
    pub usage_timezone_history: Vec<ZoneChange>,
    pub wellpass_grace_days: i64,
    /// Days a subscription's access runs past its latest paid period (DESIGN §13).
    pub billing_grace_days: i64,
    pub users_can_invite: bool,
    pub mail_from: String,
    /// Public URL for links in e-mails; `None` means "use the server's configured URL".
    pub base_url: Option<String>,
    pub photo_max_bytes: i64,
    pub reminder_lead_days: i64,
    /// The hour (0–23, in the usage time zone) the admins' daily digest goes out.
    pub notification_digest_hour: i64,
    /// Days a `feature_used` entry is kept before it is folded into daily counts.
    pub activity_retention_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            registration_mode: RegistrationMode::Open,
            require_email_verification: true,
            default_tier: "free".into(),
            trial_days: 14,
            trial_tier: "premium".into(),
            usage_timezone: Tz::UTC,
            usage_timezone_history: Vec::new(),
            wellpass_grace_days: 3,
            billing_grace_days: 3,
            users_can_invite: false,
            mail_from: "Mitai <noreply@localhost>".into(),
            base_url: None,
            photo_max_bytes: 10 * 1024 * 1024,
            reminder_lead_days: 3,
            notification_digest_hour: 8,
            activity_retention_days: 90,
        }
    }
}

/// Default JSON value of a key (what the seed migration inserts).
pub fn default_value(key: &str) -> Option<Value> {
    let d = Settings::default();
    Some(match key {
        "registration_mode" => json!("open"),
        "require_email_verification" => json!(d.require_email_verification),
        "default_tier" => json!(d.default_tier),
        "trial_days" => json!(d.trial_days),
        "trial_tier" => json!(d.trial_tier),
        "usage_timezone" => json!("UTC"),
        "wellpass_grace_days" => json!(d.wellpass_grace_days),
        "billing_grace_days" => json!(d.billing_grace_days),
        "users_can_invite" => json!(d.users_can_invite),
        "mail_from" => json!(d.mail_from),
        "base_url" => Value::Null,
        "photo_max_bytes" => json!(d.photo_max_bytes),
        "reminder_lead_days" => json!(d.reminder_lead_days),
        "notification_digest_hour" => json!(d.notification_digest_hour),
        "activity_retention_days" => json!(d.activity_retention_days),
        _ => return None,
    })
}

/// Why a value does not fit its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting")]
    UnknownKey,
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> SettingError {
    SettingError::Invalid(msg.into())
}

fn int_in(value: &Value, lo: i64, hi: i64) -> Result<Value, SettingError> {
    match value.as_i64() {
        Some(n) if (lo..=hi).contains(&n) => Ok(json!(n)),
        _ => Err(invalid(format!("must be an integer from {lo} to {hi}"))),
    }
}

fn boolean(value: &Value) -> Result<Value, SettingError> {
    value
        .as_bool()
        .map(Value::Bool)
        .ok_or_else(|| invalid("must be true or false"))
}

/// Validates `value` for `key`. `tier_exists` answers whether an active tier has that id.
/// Returns the canonical value to store.
pub fn validate(
    key: &str,
    value: &Value,
    tier_exists: impl Fn(&str) -> bool,
) -> Result<Value, SettingError> {
    match key {
        "registration_mode" => match value.as_str() {
            Some(s @ ("open" | "invite_only" | "closed")) => Ok(json!(s)),
            _ => Err(invalid("must be one of open, invite_only, closed")),
        },
        "require_email_verification" | "users_can_invite" => boolean(value),
        "default_tier" | "trial_tier" => match value.as_str() {
            Some(id) if tier_exists(id) => Ok(json!(id)),
            Some(_) => Err(invalid("must be the id of an active tier")),
            None => Err(invalid("must be a tier id (string)")),
        },
        "trial_days" => int_in(value, 0, 3650),
        "wellpass_grace_days" | "billing_grace_days" => int_in(value, 0, 31),
        "reminder_lead_days" => int_in(value, 0, 365),
        "notification_digest_hour" => int_in(value, 0, 23),
        "activity_retention_days" => int_in(value, 7, 3650),
        "photo_max_bytes" => int_in(value, 1024, 512 * 1024 * 1024),
        "usage_timezone" => match value.as_str() {
            Some(name) => name
                .parse::<Tz>()
                .map(|tz| json!(tz.name()))
                .map_err(|_| invalid("must be an IANA time-zone name such as Europe/Berlin")),
            None => Err(invalid("must be an IANA time-zone name (string)")),
        },
        "mail_from" => match value.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.len() <= 200 && s.contains('@') => Ok(json!(s)),
            _ => Err(invalid(
                "must be an address such as \"Mitai <noreply@example.org>\"",
            )),
        },
        "base_url" => match value {
            Value::Null => Ok(Value::Null),
            Value::String(s)
                if (s.starts_with("http://") || s.starts_with("https://"))
                    && s.len() <= 500
                    && !s.chars().any(char::is_whitespace) =>
            {
                Ok(json!(s.trim_end_matches('/')))
            }
            _ => Err(invalid("must be null or an http(s) URL")),
        },
        _ => Err(SettingError::UnknownKey),
    }
}

impl Settings {
    /// Builds the typed settings from stored key/value pairs. A stored value that does
    /// not fit (which validation prevents) falls back to the default for that key.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Settings {
        let mut s = Settings::default();
        for (key, value) in pairs {
            match key {
                "registration_mode" => {
                    s.registration_mode = match value.as_str() {
                        Some("invite_only") => RegistrationMode::InviteOnly,
                        Some("closed") => RegistrationMode::Closed,
                        _ => RegistrationMode::Open,
                    }
                }
                "require_email_verification" => {
                    s.require_email_verification =
                        value.as_bool().unwrap_or(s.require_email_verification)
                }
                "users_can_invite" => {
                    s.users_can_invite = value.as_bool().unwrap_or(s.users_can_invite)
                }
                "default_tier" => {
                    if let Some(v) = value.as_str() {
                        s.default_tier = v.to_owned();
                    }
                }
                "trial_tier" => {
                    if let Some(v) = value.as_str() {
                        s.trial_tier = v.to_owned();
                    }
                }
                "trial_days" => s.trial_days = value.as_i64().unwrap_or(s.trial_days),
                "wellpass_grace_days" => {
                    s.wellpass_grace_days = value.as_i64().unwrap_or(s.wellpass_grace_days)
                }
                "activity_retention_days" => {
                    s.activity_retention_days = value.as_i64().unwrap_or(s.activity_retention_days)
                }
                "notification_digest_hour" => {
                    s.notification_digest_hour =
                        value.as_i64().unwrap_or(s.notification_digest_hour)
                }
                "billing_grace_days" => {
                    s.billing_grace_days = value.as_i64().unwrap_or(s.billing_grace_days)
                }
                "reminder_lead_days" => {
                    s.reminder_lead_days = value.as_i64().unwrap_or(s.reminder_lead_days)
                }
                "photo_max_bytes" => {
                    s.photo_max_bytes = value.as_i64().unwrap_or(s.photo_max_bytes)
                }
                "usage_timezone" => {
                    if let Some(tz) = value.as_str().and_then(|v| v.parse::<Tz>().ok()) {
                        s.usage_timezone = tz;
                    }
                }
                USAGE_TIMEZONE_HISTORY => s.usage_timezone_history = parse_zone_history(value),
                "mail_from" => {
                    if let Some(v) = value.as_str() {
                        s.mail_from = v.to_owned();
                    }
                }
                "base_url" => s.base_url = value.as_str().map(str::to_owned),
                _ => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_tier(id: &str) -> bool {
        id == "free" || id == "premium"
    }

    #[test]
    fn every_key_has_a_valid_default() {
        for key in KEYS {
            let value = default_value(key).expect("default");
            assert_eq!(validate(key, &value, any_tier), Ok(value.clone()), "{key}");
        }
        let defaults: Vec<(String, Value)> = KEYS
            .iter()
            .map(|k| (k.to_string(), default_value(k).unwrap()))
            .collect();
        let parsed = Settings::from_pairs(defaults.iter().map(|(k, v)| (k.as_str(), v)));
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(validate("usage_timezone", &json!("Mars/Olympus"), any_tier).is_err());
        assert!(validate("usage_timezone", &json!(3), any_tier).is_err());
        assert!(validate("trial_days", &json!(-1), any_tier).is_err());
        assert!(validate("trial_days", &json!("14"), any_tier).is_err());
        assert!(validate("trial_days", &json!(1.5), any_tier).is_err());
        assert!(validate("default_tier", &json!("gold"), any_tier).is_err());
        assert!(validate("registration_mode", &json!("OPEN"), any_tier).is_err());
        assert!(validate("base_url", &json!("ftp://x"), any_tier).is_err());
        assert_eq!(
            validate("nope", &json!(1), any_tier),
            Err(SettingError::UnknownKey)
        );
    }

    #[test]
    fn values_are_canonicalised() {
        assert_eq!(
            validate("usage_timezone", &json!("Europe/Berlin"), any_tier),
            Ok(json!("Europe/Berlin"))
        );
        assert_eq!(
            validate("base_url", &json!("https://mitai.example/"), any_tier),
            Ok(json!("https://mitai.example"))
        );
    }
}
