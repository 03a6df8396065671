//! Records the store reads and writes. Registry types (features, tiers, limits) are the
//! `access` crate's own; these are the rest.

use chrono::{DateTime, NaiveDate, Utc};
use mitai_access::{Feature, Limit, Tier, TierLimit};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The base tier, set by an admin or at registration.
    pub tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub email_verified: bool,
    pub invited_by: Option<Uuid>,
    pub language: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The person's own facts (see `mitai_access::body`), stored metric.
    pub body: Body,
}

/// A person's own facts: all optional but the units and the rewards switch.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub height_cm: Option<f64>,
    pub birth_date: Option<NaiveDate>,
    /// `male` or `female`.
    pub sex: Option<String>,
    /// An IANA time zone name.
    pub timezone: Option<String>,
    /// `metric` or `imperial`.
    pub units: String,
    pub goal_weight_kg: Option<f64>,
    pub show_rewards: bool,
    /// Daily nutrition targets: kcal and grams of each macro.
    pub kcal_target: Option<f64>,
    pub protein_target_g: Option<f64>,
    pub carbs_target_g: Option<f64>,
    pub fat_target_g: Option<f64>,
    /// The weekdays of the weigh-in reminder: a bit per day, Monday = 1 … Sunday = 64; 0
    /// = off.
    pub reminder_days: i32,
    /// The reminder's local time of day, `HH:MM`.
    pub reminder_time: Option<String>,
}

impl Default for Body {
    fn default() -> Body {
        Body {
            height_cm: None,
            birth_date: None,
            sex: None,
            timezone: None,
            units: "metric".into(),
            goal_weight_kg: None,
            show_rewards: true,
            kcal_target: None,
            protein_target_g: None,
            carbs_target_g: None,
            fat_target_g: None,
            reminder_days: 0,
            reminder_time: None,
        }
    }
}

/// What creating a profile needs. `email_norm` is derived by the store.
#[derive(Debug, Clone)]
pub struct NewProfile {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub role: Role,
    pub tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub email_verified: bool,
    pub invited_by: Option<Uuid>,
    pub language: String,
    pub created_at: DateTime<Utc>,
}

/// The one normal form of an e-mail address used for uniqueness and look-up.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The admin list's filters of profiles; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileFilter {
    /// In the e-mail or name, case-insensitive, literal.
    pub query: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// A trial that ends in `(after, until]`.
    pub trial_ending: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Refused at a limit (a `limit_reached` entry) at or after this instant.
    pub refused_since: Option<DateTime<Utc>>,
}

/// The order of [`ProfileFilter`]ed lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProfileOrder {
    /// By id: by creation (UUIDv7).
    #[default]
    Oldest,
    Newest,
    /// By normalised e-mail.
    Email,
}

/// A partial update of a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub tier: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the trial.
    pub trial_ends_at: Option<Option<DateTime<Utc>>>,
    pub language: Option<String>,
    /// `Some(true)` marks the e-mail verified (an admin vouches for it).
    pub email_verified: Option<bool>,
    /// `Some(None)` clears the fact; the same for the other optional facts below.
    pub height_cm: Option<Option<f64>>,
    pub birth_date: Option<Option<NaiveDate>>,
    pub sex: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub units: Option<String>,
    pub goal_weight_kg: Option<Option<f64>>,
    pub show_rewards: Option<bool>,
    pub kcal_target: Option<Option<f64>>,
    pub protein_target_g: Option<Option<f64>>,
    pub carbs_target_g: Option<Option<f64>>,
    pub fat_target_g: Option<Option<f64>>,
    pub reminder_days: Option<i32>,
    pub reminder_time: Option<Option<String>>,
}

impl ProfilePatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.tier.is_none()
            && self.role.is_none()
            && self.disabled.is_none()
            && self.trial_ends_at.is_none()
            && self.language.is_none()
            && self.email_verified.is_none()
            && self.height_cm.is_none()
            && self.birth_date.is_none()
            && self.sex.is_none()
            && self.timezone.is_none()
            && self.units.is_none()
            && self.goal_weight_kg.is_none()
            && self.show_rewards.is_none()
            && self.kcal_target.is_none()
            && self.protein_target_g.is_none()
            && self.carbs_target_g.is_none()
            && self.fat_target_g.is_none()
            && self.reminder_days.is_none()
            && self.reminder_time.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub profile_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

/// A per-user override of one feature's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub profile_id: Uuid,
    pub feature_id: String,
    pub limit: Limit,
    pub reason: String,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Restriction {
    pub fn rule(&self) -> mitai_access::RestrictionRule {
        mitai_access::RestrictionRule {
            limit: self.limit,
            valid_until: self.valid_until,
        }
    }
}

/// One stored setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: Value,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

/// Everything the in-memory registry is built from, read in one go.
#[derive(Debug, Clone)]
pub struct RegistrySnapshot {
    pub features: Vec<Feature>,
    pub tiers: Vec<Tier>,
    pub limits: Vec<TierLimit>,
    pub settings: Vec<Setting>,
}

/// A request to spend `amount` of a feature in one usage bucket.
#[derive(Debug, Clone)]
pub struct ConsumeRequest<'a> {
    pub profile_id: Uuid,
    pub feature_id: &'a str,
    pub period_start: DateTime<Utc>,
    pub amount: i64,
    /// The most `used` may reach; `None` = no cap (usage is still counted).
    pub cap: Option<i64>,
    pub now: DateTime<Utc>,
    pub idempotency: Option<IdempotencyKey<'a>>,
    /// With `Some`, [`UsageStore::consume`](crate::UsageStore::consume) writes the
    /// `feature_used` entry of a spend (and the profile's statistics) in the same statement
    /// or transaction as the spend: both commit, or neither.
    pub log: Option<SpendLog<'a>>,
}

/// The activity entry of a spend: `feature_used` by the profile itself, with details
/// `{"feature", "amount", "used"}`.
#[derive(Debug, Clone, Copy)]
pub struct SpendLog<'a> {
    pub activity_id: Uuid,
    pub ip: Option<&'a str>,
}

impl ConsumeRequest<'_> {
    /// The `feature_used` entry of this request once spent, with `used` the bucket's
    /// usage afterwards; `None` when the request does not ask for one.
    pub fn spend_activity(&self, used: i64) -> Option<crate::NewActivity> {
        let log = self.log?;
        let mut entry = crate::NewActivity::new(crate::actions::FEATURE_USED, self.now)
            .by_self(self.profile_id)
            .details(serde_json::json!({
                "feature": self.feature_id, "amount": self.amount, "used": used,
            }))
            .ip(log.ip.map(str::to_owned));
        entry.id = log.activity_id;
        Some(entry)
    }
}

/// An `Idempotency-Key` with a fingerprint of the request it was first used for.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// The decision of one consume, taken atomically by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// Spent; `used` is the usage of the bucket afterwards.
    Spent { used: i64 },
    /// Refused whole; `used` is the unchanged usage of the bucket.
    LimitReached { used: i64 },
}

/// A response remembered for an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConsumeResult {
    /// This call decided.
    Fresh(Consumed),
    /// An earlier call with the same key decided; this is its answer.
    Replayed(StoredResponse),
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub idempotency_keys: u64,
    /// Expired account tokens (verification, password reset) and invitations.
    pub tokens: u64,
    /// Rate-limit windows that began more than a day ago (every window is shorter).
    pub rate_limits: u64,
}
