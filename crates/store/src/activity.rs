//! The activity log and per-profile statistics.
//!
//! Every meaningful event is a row of `user_activity_log`. Logging an event also keeps the
//! profile's `user_stats` row current, in the same transaction (see [`StatsDelta`]), so
//! statistics never wait for a job and never drift from the log.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Result;

/// The action names the server logs (DESIGN §8). The store reads a few of them to keep
/// `user_stats` current; the others are stored as given.
pub mod actions {
    pub const REGISTER: &str = "register";
    pub const LOGIN: &str = "login";
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const LOGOUT: &str = "logout";
    pub const EMAIL_VERIFIED: &str = "email_verified";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const PASSWORD_RESET_REQUESTED: &str = "password_reset_requested";
    pub const INVITATION_CREATED: &str = "invitation_created";
    pub const ACCOUNT_DISABLED: &str = "account_disabled";
    pub const ACCOUNT_ENABLED: &str = "account_enabled";
    /// About nobody (the person is gone); the actor is the admin who deleted it, if one did.
    pub const ACCOUNT_DELETED: &str = "account_deleted";
    pub const FEATURE_USED: &str = "feature_used";
    pub const LIMIT_REACHED: &str = "limit_reached";
    pub const COUPON_REDEEMED: &str = "coupon_redeemed";
    pub const COUPON_FAILED: &str = "coupon_failed";
    pub const TIER_CHANGED: &str = "tier_changed";
    pub const ROLE_CHANGED: &str = "role_changed";
    pub const RESTRICTION_SET: &str = "restriction_set";
    pub const RESTRICTION_CLEARED: &str = "restriction_cleared";
    pub const SETTING_CHANGED: &str = "setting_changed";
    pub const GRANT_CREATED: &str = "grant_created";
    pub const GRANT_PAUSED: &str = "grant_paused";
    pub const GRANT_RESUMED: &str = "grant_resumed";
    pub const GRANT_EXPIRED: &str = "grant_expired";
    pub const GRANT_REVOKED: &str = "grant_revoked";
    pub const EXPORT_DOWNLOADED: &str = "export_downloaded";
    pub const TRIAL_CHANGED: &str = "trial_changed";
    // The audit trail of the registry and coupons (DESIGN §18): `details` holds `before`
    // and `after` (null for a creation's before and a deletion's after).
    pub const FEATURE_CREATED: &str = "feature_created";
    pub const FEATURE_UPDATED: &str = "feature_updated";
    pub const TIER_CREATED: &str = "tier_created";
    pub const TIER_UPDATED: &str = "tier_updated";
    /// A cell of the tier × feature matrix set or removed (`after: null`).
    pub const TIER_LIMIT_CHANGED: &str = "tier_limit_changed";
    pub const COUPON_CREATED: &str = "coupon_created";
    pub const COUPON_UPDATED: &str = "coupon_updated";
    /// A batch of coupons: one entry for the batch, with its campaign and count.
    pub const COUPONS_GENERATED: &str = "coupons_generated";
    /// A given-up message of the outbox queued again by an admin.
    pub const MAIL_RESENT: &str = "mail_resent";
    /// A Stripe price put on sale, and a change of one (DESIGN §13).
    pub const PRICE_CREATED: &str = "price_created";
    pub const PRICE_UPDATED: &str = "price_updated";
}

/// An event to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// UUIDv7: ids order the log by time of logging.
    pub id: Uuid,
    /// The profile the event is about (`None` for global events such as a setting).
    pub profile_id: Option<Uuid>,
    /// Who did it: the profile itself, an admin, or `None` (unknown, e.g. a failed login).
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub details: Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl NewActivity {
    /// An event with a fresh id, about nobody, by nobody, without details.
    pub fn new(action: impl Into<String>, now: DateTime<Utc>) -> NewActivity {
        NewActivity {
            id: Uuid::now_v7(),
            profile_id: None,
            actor_id: None,
            action: action.into(),
            details: json!({}),
            ip: None,
            created_at: now,
        }
    }

    /// About `profile`, done by that profile itself.
    pub fn by_self(mut self, profile: Uuid) -> NewActivity {
        self.profile_id = Some(profile);
        self.actor_id = Some(profile);
        self
    }

    pub fn profile(mut self, profile: Option<Uuid>) -> NewActivity {
        self.profile_id = profile;
        self
    }

    pub fn actor(mut self, actor: Option<Uuid>) -> NewActivity {
        self.actor_id = actor;
        self
    }

    pub fn details(mut self, details: Value) -> NewActivity {
        self.details = details;
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> NewActivity {
        self.ip = ip;
        self
    }
}

/// What logging an event changes in its profile's `user_stats`:
/// - `login` counts a login and sets `last_login_at`;
/// - every event the profile did itself (actor = profile) moves `last_active_at`;
/// - `feature_used` adds `details.amount` to the total of `details.feature`;
/// - `coupon_redeemed` counts a redemption.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsDelta {
    pub logins: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub feature: Option<(String, i64)>,
    pub redemptions: i64,
}

impl StatsDelta {
    pub fn of(a: &NewActivity) -> StatsDelta {
        let Some(profile) = a.profile_id else {
            return StatsDelta::default();
        };
        let by_self = a.actor_id == Some(profile);
        let login = a.action == actions::LOGIN;
        let feature = (a.action == actions::FEATURE_USED)
            .then(|| {
                let feature = a.details.get("feature")?.as_str()?;
                let amount = a.details.get("amount")?.as_i64()?;
                Some((feature.to_owned(), amount))
            })
            .flatten();
        StatsDelta {
            logins: i64::from(login),
            last_login_at: login.then_some(a.created_at),
            last_active_at: by_self.then_some(a.created_at),
            feature,
            redemptions: i64::from(a.action == actions::COUPON_REDEEMED),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == StatsDelta::default()
    }
}

/// A logged event.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: Uuid,
    pub profile_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub details: Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which events to list; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub profile_id: Option<Uuid>,
    pub action: Option<String>,
    /// Events created at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

/// Aggregates of one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct UserStats {
    pub profile_id: Uuid,
    pub logins: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_active_at: Option<DateTime<Utc>>,
    /// `{"<feature>": units used, ever}`.
    pub feature_totals: Value,
    pub redemptions: i64,
    pub updated_at: DateTime<Utc>,
}

/// Use of one feature on one UTC day, from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureDay {
    pub day: NaiveDate,
    pub feature: String,
    /// Successful consumptions.
    pub uses: i64,
    /// Units spent by them.
    pub amount: i64,
    /// Refused consumptions (limit reached).
    pub limit_reached: i64,
}

/// The smallest time-ordered id (UUID v7) of the millisecond of `t`: every entry logged at
/// or after `t` has a greater one (the log's ids are UUID v7).
pub fn time_ordered_floor(t: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(t.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid()
}

/// Enabled profiles without grants, of one base tier, with or without a running trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierGroup {
    pub tier: String,
    /// Whether their trial runs (ends after the instant asked about).
    pub trial: bool,
    pub profiles: i64,
    /// The earliest end of a running trial among them.
    pub next_trial_end: Option<DateTime<Utc>>,
}

/// An enabled profile with at least one grant, with what its effective tier depends on
/// ([`ActivityStore::granted_profiles`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedProfile {
    pub id: Uuid,
    pub tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Every grant (every status, pauses attached), oldest first.
    pub grants: Vec<crate::coupons::Grant>,
}

/// Redemptions of one coupon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRedemptionCount {
    pub coupon_id: Uuid,
    /// The code as shown to people.
    pub code: String,
    pub campaign: Option<String>,
    pub tier_id: String,
    pub redemptions: i64,
    pub last_redeemed_at: DateTime<Utc>,
}

/// The activity log and per-profile statistics.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Logs one event and updates its profile's `user_stats` ([`StatsDelta`]) in one
    /// transaction. `MissingReference("profile")` for an unknown profile or actor.
    async fn log_activity(&self, activity: &NewActivity) -> Result<()>;

    /// Events matching `filter`, **newest first** (by id, which is UUIDv7), strictly
    /// older than the id `before` (the cursor of the previous page), at most `limit`.
    async fn activity(
        &self,
        filter: &ActivityFilter,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Activity>>;

    /// The profile's aggregates; `None` before its first counted event.
    async fn user_stats(&self, profile_id: Uuid) -> Result<Option<UserStats>>;

    /// For each instant, how many profiles were active at or after it (one pass over the
    /// profiles' statistics, however many instants).
    async fn active_profiles(&self, since: &[DateTime<Utc>]) -> Result<Vec<i64>>;

    /// The counts of active profiles last kept by
    /// [`keep_active_profiles`](Self::keep_active_profiles): when they were made, and the
    /// profiles active in the last 1, 7 and 30 days before then. `None` before the first.
    async fn kept_active_profiles(&self) -> Result<Option<(DateTime<Utc>, [i64; 3])>>;

    /// Keeps counts of active profiles made at `at` (1, 7 and 30 days), replacing the last.
    async fn keep_active_profiles(&self, at: DateTime<Utc>, counts: [i64; 3]) -> Result<()>;

    /// Per UTC day and feature since `since`: uses, units and limit_reached refusals,
    /// ordered by day, then feature — as rolled up by [`roll_up_usage`](Self::roll_up_usage)
    /// (the log itself is not read: its cost does not grow with the log).
    async fn feature_days(&self, since: DateTime<Utc>) -> Result<Vec<FeatureDay>>;

    /// Rolls up to `batch` entries of the log logged before `through` (by their
    /// time-ordered ids) and after the roll-up's mark — the last entry it read — into the
    /// daily counts [`feature_days`](Self::feature_days) reads, in one transaction (a
    /// bounded one: call again until it answers 0). The first call starts at `from` and
    /// counts the folded daily counts of the days from there on (retention may have removed
    /// their entries). Answers how many entries it read. `through` must be far enough behind
    /// the clock that no entry before it can still commit.
    async fn roll_up_usage(
        &self,
        from: DateTime<Utc>,
        through: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64>;

    /// Up to when the log is counted in the daily counts; `None` before the first roll-up.
    async fn usage_rolled_through(&self) -> Result<Option<DateTime<Utc>>>;
    /// Retention: folds up to `batch` of the oldest `feature_used` entries older than
    /// `before` into daily counts per profile and feature and removes them, in one
    /// transaction (a bounded one: call again until it answers 0). Statistics read both, so
    /// they show the same before and after. Answers how many entries were folded.
    async fn fold_activity(&self, before: DateTime<Utc>, batch: i64) -> Result<u64>;

    /// How many profiles there are, and how many of them are disabled (kept by the
    /// database's triggers in every change's transaction: one row read).
    async fn profile_counts(&self) -> Result<(i64, i64)>;

    /// Enabled profiles without grants by base tier and running trial at `now` (one
    /// statement, however many profiles).
    async fn tier_groups(&self, now: DateTime<Utc>) -> Result<Vec<TierGroup>>;

    /// A page of the enabled profiles with grants: up to `limit` of them with ids after
    /// `after` (from the first without), ordered by id, each with its grants. Three
    /// statements a page, and only a page held: a year's operator has tens of thousands,
    /// and the reads hold no snapshot between pages.
    async fn granted_profiles(
        &self,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<GrantedProfile>>;

    /// Profiles that have at least one access grant (the others' effective tier needs no
    /// grant look-up), ordered by id.
    async fn profiles_with_grants(&self) -> Result<Vec<Uuid>>;

    /// Coupons with at least one redemption, most redeemed first, at most `limit`.
    async fn coupon_redemption_counts(&self, limit: i64) -> Result<Vec<CouponRedemptionCount>>;
}
