//! A profile as its owner and admins see it, and what a person may change of their own:
//! the name, the language and the facts the tracking pages use (height, birth date, sex,
//! time zone, units, goal weight, whether rewards are shown). Values are always metric here;
//! the pages convert what a person types in imperial units before they reach this.

use chrono::{DateTime, NaiveDate, Utc};
use mitai_access::body::{self, Units};
use mitai_access::caliper::Sex;
use mitai_access::text::Name;
use mitai_store::{Profile, ProfilePatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::patch::double_option;
use super::{AppState, Error, Result, field};

/// A profile as shown to its owner and to admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
    /// The base tier.
    pub tier: String,
    /// The highest tier the profile has right now (base, trial, grants).
    pub effective_tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub email_verified: bool,
    /// `de` or `en`.
    pub language: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// Centimetres.
    pub height_cm: Option<f64>,
    #[schema(value_type = Option<String>, format = Date, example = "1980-05-17")]
    pub birth_date: Option<NaiveDate>,
    /// `male` or `female`.
    pub sex: Option<String>,
    /// An IANA time zone name; without one, the usage time zone applies.
    pub timezone: Option<String>,
    /// `metric` or `imperial`: how the pages show and take values (the API is metric).
    pub units: String,
    pub goal_weight_kg: Option<f64>,
    pub show_rewards: bool,
    /// Daily nutrition targets.
    pub kcal_target: Option<f64>,
    pub protein_target_g: Option<f64>,
    pub carbs_target_g: Option<f64>,
    pub fat_target_g: Option<f64>,
    /// The weekdays of the weigh-in reminder e-mail (`mon` … `sun`); empty: off.
    pub reminder_days: Vec<String>,
    /// Its local time of day, `HH:MM`, in the profile's time zone.
    pub reminder_time: Option<String>,
}

impl ProfileView {
    /// The view of a profile whose effective tier is `effective_tier`.
    pub fn new(profile: &Profile, effective_tier: String) -> ProfileView {
        let body = &profile.body;
        ProfileView {
            id: profile.id,
            email: profile.email.clone(),
            name: profile.name.clone(),
            role: profile.role.as_str().to_owned(),
            tier: profile.tier.clone(),
            effective_tier,
            trial_ends_at: profile.trial_ends_at,
            email_verified: profile.email_verified,
            language: profile.language.clone(),
            disabled: profile.disabled,
            created_at: profile.created_at,
            height_cm: body.height_cm,
            birth_date: body.birth_date,
            sex: body.sex.clone(),
            timezone: body.timezone.clone(),
            units: body.units.clone(),
            goal_weight_kg: body.goal_weight_kg,
            show_rewards: body.show_rewards,
            kcal_target: body.kcal_target,
            protein_target_g: body.protein_target_g,
            carbs_target_g: body.carbs_target_g,
            fat_target_g: body.fat_target_g,
            reminder_days: body::weekday_names(body.reminder_days)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            reminder_time: body.reminder_time.clone(),
        }
    }
}

/// `PATCH /api/me`: the fields named change; `null` clears an optional fact.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnProfilePatch {
    pub name: Option<String>,
    /// `de` or `en`.
    pub language: Option<String>,
    /// 50–272 cm.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub height_cm: Option<Option<f64>>,
    /// `YYYY-MM-DD`, at least ten years ago.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub birth_date: Option<Option<String>>,
    /// `male` or `female`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sex: Option<Option<String>>,
    /// An IANA name (`Europe/Berlin`).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    /// `metric` or `imperial`.
    pub units: Option<String>,
    /// 20–500 kg.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub goal_weight_kg: Option<Option<f64>>,
    pub show_rewards: Option<bool>,
    /// 500–10,000 kcal a day.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub kcal_target: Option<Option<f64>>,
    /// 0–1,000 g a day; the same for carbs and fat.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub protein_target_g: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub carbs_target_g: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub fat_target_g: Option<Option<f64>>,
    /// Weekdays of the weigh-in reminder (`["mon", "thu"]`); `[]` switches it off.
    pub reminder_days: Option<Vec<String>>,
    /// `HH:MM`, local time; `null` switches the reminder off.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub reminder_time: Option<Option<String>>,
}

/// What a person may change of their own profile, checked: each field as its kind allows.
#[derive(Debug, Default)]
pub struct OwnProfileChange {
    pub name: Option<Name>,
    /// `de` or `en`.
    pub language: Option<String>,
    pub height_cm: Option<Option<f64>>,
    pub birth_date: Option<Option<NaiveDate>>,
    pub sex: Option<Option<Sex>>,
    pub timezone: Option<Option<String>>,
    pub units: Option<Units>,
    pub goal_weight_kg: Option<Option<f64>>,
    pub show_rewards: Option<bool>,
    pub kcal_target: Option<Option<f64>>,
    pub protein_target_g: Option<Option<f64>>,
    pub carbs_target_g: Option<Option<f64>>,
    pub fat_target_g: Option<Option<f64>>,
    pub reminder_days: Option<i32>,
    pub reminder_time: Option<Option<String>>,
}

impl OwnProfileChange {
    /// Checks a patch field by field; the first bad field answers 422 naming it. `today`
    /// bounds the birth date.
    pub fn check(patch: OwnProfilePatch, today: NaiveDate) -> Result<OwnProfileChange> {
        let name = match patch.name {
            Some(name) => Some(field("name", Name::parse_or_empty(&name))?),
            None => None,
        };
        if let Some(language) = &patch.language
            && !matches!(language.as_str(), "de" | "en")
        {
            return Err(Error::field("language", "must be de or en"));
        }
        let birth_date = match patch.birth_date {
            Some(Some(text)) => {
                let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| Error::field("birth_date", "must be a date YYYY-MM-DD"))?;
                Some(Some(field("birth_date", body::birth_date(date, today))?))
            }
            Some(None) => Some(None),
            None => None,
        };
        let sex = match patch.sex {
            Some(Some(text)) => {
                Some(Some(Sex::parse(text.trim()).ok_or_else(|| {
                    Error::field("sex", "must be male or female")
                })?))
            }
            Some(None) => Some(None),
            None => None,
        };
        let timezone = match patch.timezone {
            Some(Some(text)) => Some(Some(
                field("timezone", body::timezone(&text))?.name().to_owned(),
            )),
            Some(None) => Some(None),
            None => None,
        };
        Ok(OwnProfileChange {
            name,
            language: patch.language,
            height_cm: checked(patch.height_cm, "height_cm", body::height_cm)?,
            birth_date,
            sex,
            timezone,
            units: patch
                .units
                .map(|u| field("units", Units::parse(&u)))
                .transpose()?,
            goal_weight_kg: checked(patch.goal_weight_kg, "goal_weight_kg", body::goal_weight_kg)?,
            show_rewards: patch.show_rewards,
            kcal_target: checked(patch.kcal_target, "kcal_target", body::kcal_target)?,
            protein_target_g: checked(
                patch.protein_target_g,
                "protein_target_g",
                body::grams_target,
            )?,
            carbs_target_g: checked(patch.carbs_target_g, "carbs_target_g", body::grams_target)?,
            fat_target_g: checked(patch.fat_target_g, "fat_target_g", body::grams_target)?,
            reminder_days: patch
                .reminder_days
                .map(|days| field("reminder_days", body::weekdays(&days)))
                .transpose()?,
            reminder_time: match patch.reminder_time {
                Some(Some(text)) => Some(Some(field("reminder_time", body::time_of_day(&text))?)),
                other => other,
            },
        })
    }
}

/// An optional number checked by `rule` when one is given.
fn checked(
    value: Option<Option<f64>>,
    name: &str,
    rule: fn(f64) -> std::result::Result<f64, body::Refused>,
) -> Result<Option<Option<f64>>> {
    match value {
        Some(Some(v)) => Ok(Some(Some(field(name, rule(v))?))),
        other => Ok(other),
    }
}

/// Changes what the signed-in person changed of their own profile.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn change_own_profile(
    state: &AppState,
    profile: &Profile,
    change: OwnProfileChange,
) -> Result<Profile> {
    if let Some(language) = &change.language
        && !matches!(language.as_str(), "de" | "en")
    {
        return Err(Error::field("language", "must be de or en"));
    }
    let patch = ProfilePatch {
        name: change.name.map(String::from),
        language: change.language,
        height_cm: change.height_cm,
        birth_date: change.birth_date,
        sex: change.sex.map(|s| s.map(|s| s.as_str().to_owned())),
        timezone: change.timezone,
        units: change.units.map(|u| u.as_str().to_owned()),
        goal_weight_kg: change.goal_weight_kg,
        show_rewards: change.show_rewards,
        kcal_target: change.kcal_target,
        protein_target_g: change.protein_target_g,
        carbs_target_g: change.carbs_target_g,
        fat_target_g: change.fat_target_g,
        reminder_days: change.reminder_days,
        reminder_time: change.reminder_time,
        ..Default::default()
    };
    state
        .store
        .update_profile(profile.id, &patch, state.now())
        .await?
        .ok_or(Error::Unauthenticated)
}

/// The person's time zone if they gave one, else the instance's.
pub fn timezone_of(state: &AppState, profile: &Profile) -> chrono_tz::Tz {
    profile
        .body
        .timezone
        .as_deref()
        .and_then(|tz| tz.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(state.registry().settings.usage_timezone)
}

/// Today where the person lives.
pub fn today(state: &AppState, profile: &Profile) -> chrono::NaiveDate {
    state
        .now()
        .with_timezone(&timezone_of(state, profile))
        .date_naive()
}

/// The units a profile reads and types values in.
pub fn units_of(profile: &Profile) -> Units {
    Units::parse(&profile.body.units).unwrap_or_default()
}
