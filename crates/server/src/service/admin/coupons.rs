//! Admin coupons: create (one or a batch), list, change, redemptions, CSV export.

use mitai_store::coupons::{CouponKind, CouponPatch};
use mitai_store::{Profile, StoreError, actions};
use serde_json::{Value, json};

use crate::service::activity_log;
use uuid::Uuid;

use mitai_access::text::{Campaign, rules};

use super::check_instant;
use crate::service::field;

use crate::service::AppState;
use crate::service::coupons::{self, CouponSpec};
use crate::service::export::csv;
use crate::service::paging::{next_cursor, page_args};
use crate::service::patch::double_option;
use crate::service::{Error, Result};
use chrono::DateTime;
use chrono::Utc;
use mitai_store::coupons::Coupon;
use serde::Deserialize;
use serde::Serialize;
use utoipa::IntoParams;
use utoipa::ToSchema;

/// A page of coupons (`limit` of them after `after`), optionally of one campaign, and
/// the next cursor. Refuses a campaign over 500 characters.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    campaign: Option<&str>,
    limit: i64,
    after: Option<Uuid>,
) -> Result<(Vec<CouponView>, Option<String>)> {
    let campaign = coupons::optional::<rules::Campaign>("campaign", campaign)?;
    let mut items = state
        .store
        .list_coupons(campaign.as_deref(), after, limit + 1)
        .await?;
    let next_cursor = next_cursor(&mut items, limit, |c| c.id);
    Ok((items.iter().map(CouponView::from).collect(), next_cursor))
}

/// Creates a coupon (generating a code when none is given). Refuses bad instants, kind
/// or other values by the coupon rules (422) and a code in use (409 `code_taken`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    body: NewCouponBody,
) -> Result<CouponView> {
    for (field, instant) in [
        ("valid_from", body.valid_from),
        ("valid_until", body.valid_until),
        ("period_ends_at", body.period_ends_at),
    ] {
        if let Some(instant) = instant {
            check_instant(field, instant)?;
        }
    }
    let spec = CouponSpec {
        code: body.code,
        kind: parse_kind(&body.kind)?,
        tier: body.tier,
        duration_days: body.duration_days,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        period_ends_at: body.period_ends_at,
        max_redemptions: body.max_redemptions,
        campaign: body.campaign,
        note: body.note,
    };
    let coupon = coupons::build_coupon(state, spec, admin.id)?;
    coupons::store_coupons(state, std::slice::from_ref(&coupon)).await?;
    let view = CouponView::from(&coupon);
    let subject = json!({ "coupon_id": view.id, "code": view.code });
    let (action, after) = (actions::COUPON_CREATED, audited(&view));
    activity_log::audit(state, admin, ip, None, action, subject, Value::Null, after).await;
    Ok(view)
}

/// Creates `count` single-use coupons with generated codes, all or none, and names the
/// campaign's CSV export. Refuses another kind, a bad `valid_until`, a count outside
/// 1–10000 and an empty campaign (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn batch(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    body: BatchBody,
) -> Result<Batch> {
    if parse_kind(&body.kind)? != CouponKind::SingleUse {
        return Err(Error::field("kind", "batches are single_use"));
    }
    if let Some(until) = body.valid_until {
        check_instant("valid_until", until)?;
    }
    if !(1..=10_000).contains(&body.count) {
        return Err(Error::field("count", "must be from 1 to 10000"));
    }
    let campaign: String = field("campaign", Campaign::parse(&body.campaign))?.into();
    let spec = CouponSpec {
        code: None,
        kind: CouponKind::SingleUse,
        tier: body.tier,
        duration_days: Some(body.duration_days),
        valid_from: None,
        valid_until: body.valid_until,
        period_ends_at: None,
        max_redemptions: None,
        campaign: Some(campaign.clone()),
        note: body.note,
    };
    let created = coupons::create_batch(state, spec, body.count as usize, admin.id).await?;
    if let Some(first) = created.first() {
        let view = CouponView::from(first);
        let subject = json!({ "campaign": campaign, "count": created.len() });
        let mut after = audited(&view);
        if let Some(fields) = after.as_object_mut() {
            fields.remove("code");
            fields.insert("count".into(), json!(created.len()));
        }
        let action = actions::COUPONS_GENERATED;
        activity_log::audit(state, admin, ip, None, action, subject, Value::Null, after).await;
    }
    let csv = format!(
        "/api/admin/coupons/export.csv?campaign={}",
        url_escape(&campaign)
    );
    Ok(Batch {
        items: created.iter().map(CouponView::from).collect(),
        csv,
    })
}

/// A campaign's coupons as CSV: the file name (`coupons-<campaign>.csv`, made safe) and
/// the text. Refuses a campaign over 500 characters.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn export_csv(state: &AppState, campaign: &str) -> Result<(String, String)> {
    let campaign: String = field("campaign", Campaign::parse(campaign))?.into();
    let campaign = campaign.as_str();
    let mut out = csv::line(
        [
            "code",
            "kind",
            "tier",
            "duration_days",
            "valid_until",
            "redeemed_count",
            "active",
        ]
        .iter(),
    );
    let mut after = None;
    loop {
        let page = state.store.list_coupons(Some(campaign), after, 500).await?;
        for c in &page {
            out.push_str(&csv::line(
                [
                    c.display_code.clone(),
                    c.kind.as_str().to_owned(),
                    c.tier_id.clone(),
                    c.duration_days.map(|d| d.to_string()).unwrap_or_default(),
                    c.valid_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    c.redeemed_count.to_string(),
                    c.active.to_string(),
                ]
                .iter(),
            ));
        }
        match page.last() {
            Some(last) if page.len() == 500 => after = Some(last.id),
            _ => break,
        }
    }
    let name: String = campaign
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    Ok((format!("coupons-{name}.csv"), out))
}

/// One coupon; 404 if there is none.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(state: &AppState, id: Uuid) -> Result<CouponView> {
    let coupon = state.store.coupon(id).await?.ok_or(Error::NotFound)?;
    Ok(CouponView::from(&coupon))
}

/// Changes a coupon's activity, window, cap, campaign or note. Refuses an unknown
/// coupon (404), bad instants, a cap on a single-use coupon or below the redemptions so
/// far, a window ending before it starts and long texts (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
    body: CouponPatchBody,
) -> Result<CouponView> {
    let coupon = state.store.coupon(id).await?.ok_or(Error::NotFound)?;
    for (field, instant) in [
        ("valid_from", body.valid_from),
        ("valid_until", body.valid_until),
    ] {
        if let Some(Some(instant)) = instant {
            check_instant(field, instant)?;
        }
    }
    if let Some(max) = body.max_redemptions {
        if coupon.kind == CouponKind::SingleUse {
            return Err(Error::field(
                "max_redemptions",
                "a single_use coupon is redeemed once",
            ));
        }
        if max.is_some_and(|m| m < coupon.redeemed_count.max(1) || m > 10_000_000) {
            return Err(Error::field(
                "max_redemptions",
                "must be at least the redemptions so far (and at most 10000000)",
            ));
        }
    }
    let from = body.valid_from.unwrap_or(coupon.valid_from);
    let until = body.valid_until.unwrap_or(coupon.valid_until);
    if let (Some(from), Some(until)) = (from, until)
        && until <= from
    {
        return Err(Error::field("valid_until", "must be after valid_from"));
    }
    // `null` (or blank) clears a text; a text is checked by its kind.
    let campaign = match &body.campaign {
        Some(value) => Some(coupons::optional::<rules::Campaign>(
            "campaign",
            value.as_deref(),
        )?),
        None => None,
    };
    let note = match &body.note {
        Some(value) => Some(coupons::optional::<rules::CouponNote>(
            "note",
            value.as_deref(),
        )?),
        None => None,
    };
    let patch = CouponPatch {
        active: body.active,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        max_redemptions: body.max_redemptions,
        campaign,
        note,
    };
    match state.store.update_coupon(id, &patch).await {
        Ok(Some(c)) => {
            let view = CouponView::from(&c);
            let subject = json!({ "coupon_id": view.id, "code": view.code });
            let before = audited(&CouponView::from(&coupon));
            let (action, after) = (actions::COUPON_UPDATED, audited(&view));
            activity_log::audit(state, admin, ip, None, action, subject, before, after).await;
            Ok(view)
        }
        Ok(None) => Err(Error::NotFound),
        // A redemption raced the lowered cap; the database kept the invariant.
        Err(StoreError::Conflict(_)) | Err(StoreError::Database(_))
            if patch.max_redemptions.is_some() =>
        {
            Err(Error::field(
                "max_redemptions",
                "must be at least the redemptions so far",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The campaigns (batches) at a glance, newest first: at most 200.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn campaigns(state: &AppState) -> Result<Vec<mitai_store::coupons::CampaignSummary>> {
    Ok(state.store.campaigns(200).await?)
}

/// Switches every coupon of a campaign on or off and logs `coupon_updated` about the
/// campaign with how many changed. Refuses an empty or long campaign (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_campaign_active(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    campaign: &str,
    active: bool,
) -> Result<u64> {
    let campaign: String = field("campaign", Campaign::parse(campaign))?.into();
    let changed = state.store.set_campaign_active(&campaign, active).await?;
    if changed > 0 {
        let subject = json!({ "campaign": campaign, "count": changed });
        let (before, after) = (json!({ "active": !active }), json!({ "active": active }));
        let action = actions::COUPON_UPDATED;
        activity_log::audit(state, admin, ip, None, action, subject, before, after).await;
    }
    Ok(changed)
}

/// A coupon as the audit trail keeps it: what an admin sets, not the running count.
fn audited(view: &CouponView) -> Value {
    let mut value = json!(view);
    if let Some(fields) = value.as_object_mut() {
        for running in ["id", "redeemed_count", "created_at", "created_by"] {
            fields.remove(running);
        }
    }
    value
}

/// A page of a coupon's redemptions (who, when, which grant) and the next cursor.
/// Refuses an unknown coupon (404), then bad paging (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn redemptions(
    state: &AppState,
    id: Uuid,
    params: &PageParams,
) -> Result<(Vec<RedemptionView>, Option<String>)> {
    state.store.coupon(id).await?.ok_or(Error::NotFound)?;
    let (limit, after) = page_args(params.limit, params.cursor.as_deref())?;
    let mut rows = state.store.redemptions(id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut rows, limit, |r| r.id);
    let items = rows
        .into_iter()
        .map(|r| RedemptionView {
            id: r.id,
            profile_id: r.profile_id,
            email: r.profile_email,
            grant_id: r.access_grant_id,
            redeemed_at: r.redeemed_at,
            period: r.period_key,
        })
        .collect();
    Ok((items, next_cursor))
}

fn parse_kind(kind: &str) -> Result<CouponKind> {
    CouponKind::parse(kind)
        .ok_or_else(|| Error::field("kind", "must be single_use, period or wellpass"))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CouponView {
    pub id: Uuid,
    /// The code as shown; redemption ignores case, spaces and dashes.
    pub code: String,
    /// `single_use`, `period` or `wellpass`.
    pub kind: String,
    pub tier: String,
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

impl From<&Coupon> for CouponView {
    fn from(c: &Coupon) -> CouponView {
        CouponView {
            id: c.id,
            code: c.display_code.clone(),
            kind: c.kind.as_str().to_owned(),
            tier: c.tier_id.clone(),
            duration_days: c.duration_days,
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            period_ends_at: c.period_ends_at,
            max_redemptions: c.max_redemptions,
            redeemed_count: c.redeemed_count,
            active: c.active,
            campaign: c.campaign.clone(),
            note: c.note.clone(),
            created_by: c.created_by,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCouponBody {
    /// Without a code, one is generated (12 characters, 60 random bits).
    pub code: Option<String>,
    pub kind: String,
    pub tier: String,
    /// single_use: the length of the access it gives.
    pub duration_days: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// period: when the access it gives ends.
    pub period_ends_at: Option<DateTime<Utc>>,
    pub max_redemptions: Option<i32>,
    pub campaign: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// 1 to 10000.
    pub count: i64,
    /// Only `single_use`.
    pub kind: String,
    pub tier: String,
    pub duration_days: i32,
    pub campaign: String,
    pub valid_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Batch {
    pub items: Vec<CouponView>,
    /// Where the batch can be downloaded as CSV.
    pub csv: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponPatchBody {
    /// `false` deactivates: redemption then answers `invalid_coupon`.
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub max_redemptions: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub campaign: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionView {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub email: String,
    pub grant_id: Option<Uuid>,
    pub redeemed_at: DateTime<Utc>,
    /// `YYYY-MM` for Wellpass coupons.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub period: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
