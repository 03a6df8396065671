//! Coupons, redemptions and access grants.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// What kind of coupon, and so what its redemption grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponKind {
    /// One profile, once ever: a duration grant of `duration_days`.
    SingleUse,
    /// Many profiles, each once: a fixed grant until `period_ends_at`.
    Period,
    /// Corporate-benefit members, each once per calendar month: a fixed grant until the
    /// end of the month plus the grace days.
    Wellpass,
}

impl CouponKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CouponKind::SingleUse => "single_use",
            CouponKind::Period => "period",
            CouponKind::Wellpass => "wellpass",
        }
    }

    pub fn parse(s: &str) -> Option<CouponKind> {
        match s {
            "single_use" => Some(CouponKind::SingleUse),
            "period" => Some(CouponKind::Period),
            "wellpass" => Some(CouponKind::Wellpass),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub id: Uuid,
    /// The normalised code (upper case, no spaces or dashes): what redemption compares.
    pub code: String,
    /// The code as shown (generated codes in groups of four).
    pub display_code: String,
    pub kind: CouponKind,
    pub tier_id: String,
    pub duration_days: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub period_ends_at: Option<DateTime<Utc>>,
    pub max_redemptions: Option<i32>,
    pub redeemed_count: i32,
    pub active: bool,
    pub campaign: Option<String>,
    pub note: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A change to a coupon; `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CouponPatch {
    pub active: Option<bool>,
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_until: Option<Option<DateTime<Utc>>>,
    pub max_redemptions: Option<Option<i32>>,
    pub campaign: Option<Option<String>>,
    pub note: Option<Option<String>>,
}

/// How a grant gives access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSpan {
    /// Runs whenever the window covers the instant.
    Fixed {
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// Holds access time, spent only while it runs.
    Duration { seconds: i64 },
}

/// An admin pause of a grant; `resumed_at` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPause {
    pub id: Uuid,
    pub paused_at: DateTime<Utc>,
    pub paused_by: Option<Uuid>,
    pub reason: String,
    pub resumed_at: Option<DateTime<Utc>>,
    pub resumed_by: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub tier_id: String,
    /// `coupon` or `admin`.
    pub source: String,
    pub coupon_id: Option<Uuid>,
    /// The display code of the coupon it came from.
    pub coupon_code: Option<String>,
    pub span: GrantSpan,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    /// In time order.
    pub pauses: Vec<GrantPause>,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub tier_id: String,
    pub source: String,
    pub coupon_id: Option<Uuid>,
    pub span: GrantSpan,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// One redemption of a coupon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub id: Uuid,
    pub coupon_id: Uuid,
    pub profile_id: Uuid,
    pub profile_email: String,
    pub access_grant_id: Option<Uuid>,
    pub redeemed_at: DateTime<Utc>,
    /// `""` for single-use and period coupons; `YYYY-MM` for Wellpass.
    pub period_key: String,
}

/// A redemption to record, with the grant it creates, and the activity entry and the
/// confirmation e-mail that commit with it (or not at all).
#[derive(Debug, Clone)]
pub struct Redeem {
    pub redemption_id: Uuid,
    pub coupon_id: Uuid,
    pub period_key: String,
    pub grant: NewGrant,
    pub now: DateTime<Utc>,
    pub activity: Option<crate::NewActivity>,
    pub mail: Option<crate::NewMail>,
}

/// What a redemption attempt came to. Decided atomically: the coupon's counter and the
/// redemption's uniqueness are enforced by the database, never by a prior read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    Redeemed(Box<Grant>),
    /// No such coupon, or deactivated (the caller answers both the same way).
    Invalid,
    /// Outside its redeemable window.
    Expired,
    /// `max_redemptions` reached.
    Exhausted,
    /// This profile redeemed it already (this month, for Wellpass).
    AlreadyRedeemed,
}

/// The result of an admin action on a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantChange {
    Done,
    NotFound,
    /// The grant is revoked; nothing can change it any more.
    Revoked,
    /// Pause of a paused grant, resume of a running one.
    NoChange,
}

/// Coupons, redemptions and access grants.
/// A campaign (a batch, or coupons an admin grouped) at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSummary {
    pub campaign: String,
    pub coupons: i64,
    /// Coupons still active.
    pub active: i64,
    /// Coupons redeemed at least once.
    pub redeemed: i64,
    /// One of its plans and kinds (a batch has one of each).
    pub tier_id: String,
    pub kind: String,
    pub last_created_at: DateTime<Utc>,
}

#[async_trait]
pub trait CouponStore: Send + Sync {
    /// Inserts coupons in one transaction: all or none. `Conflict("code")` if a code exists.
    async fn create_coupons(&self, coupons: &[Coupon]) -> Result<()>;
    async fn coupon(&self, id: Uuid) -> Result<Option<Coupon>>;
    /// By normalised code.
    async fn coupon_by_code(&self, code: &str) -> Result<Option<Coupon>>;
    /// Coupons ordered by id, optionally of one campaign, after `after`, at most `limit`.
    async fn list_coupons(
        &self,
        campaign: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Coupon>>;
    /// Every campaign (coupons with a campaign) with its counts, newest first, at most
    /// `limit`: a batch is one campaign.
    async fn campaigns(&self, limit: i64) -> Result<Vec<CampaignSummary>>;
    /// Switches every coupon of `campaign` on or off; how many changed.
    async fn set_campaign_active(&self, campaign: &str, active: bool) -> Result<u64>;
    /// `None` if no such coupon.
    async fn update_coupon(&self, id: Uuid, patch: &CouponPatch) -> Result<Option<Coupon>>;
    /// Redemptions of a coupon, ordered by id.
    async fn redemptions(
        &self,
        coupon_id: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Redemption>>;
    /// Redeems atomically: raises the coupon's counter only while it is active, inside its
    /// window and below `max_redemptions`; records the redemption (unique per coupon,
    /// profile and period key) and creates the grant, all in one transaction.
    async fn redeem(&self, redeem: &Redeem) -> Result<RedeemOutcome>;

    async fn create_grant(&self, grant: &NewGrant) -> Result<Grant>;
    async fn grant(&self, id: Uuid) -> Result<Option<Grant>>;
    /// All grants of a profile with their pauses, ordered by creation.
    async fn grants(&self, profile_id: Uuid) -> Result<Vec<Grant>>;
    /// The grants (with pauses) of many profiles at once, ordered by profile, then
    /// creation: two queries per 500 profiles, for pages that show many profiles.
    async fn grants_of(&self, profile_ids: &[Uuid]) -> Result<Vec<Grant>>;
    async fn pause_grant(
        &self,
        id: Uuid,
        by: Option<Uuid>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantChange>;
    async fn resume_grant(
        &self,
        id: Uuid,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<GrantChange>;
    async fn revoke_grant(
        &self,
        id: Uuid,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<GrantChange>;

    /// Counts one attempt in a fixed window (`bucket`, `window_start`) and returns the
    /// count including it. Used for rate limits; atomic across instances.
    async fn rate_limit_hit(&self, bucket: &str, window_start: DateTime<Utc>) -> Result<i64>;
    /// The count of a window without adding to it.
    async fn rate_limit_count(&self, bucket: &str, window_start: DateTime<Utc>) -> Result<i64>;
    /// Reserves one attempt in a window that holds fewer than `max`: raises the count and
    /// answers `true`, or changes nothing and answers `false` when `max` are counted
    /// already. One statement, so N attempts at once never reserve more than `max`.
    async fn rate_limit_take(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        max: i64,
    ) -> Result<bool>;
    /// Gives a reserved attempt back (an attempt that the policy does not count, such as a
    /// successful login). Never below zero.
    async fn rate_limit_refund(&self, bucket: &str, window_start: DateTime<Utc>) -> Result<()>;
}
