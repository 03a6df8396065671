//! Coupons, redemptions, access grants and their pauses, and rate-limit counters.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::SqlStore;
use super::mail::enqueue_mail_in;
use crate::coupons::{
    CampaignSummary, Coupon, CouponKind, CouponPatch, Grant, GrantChange, GrantPause, GrantSpan,
    NewGrant, Redeem, RedeemOutcome, Redemption,
};
use crate::spend::log_activity_in;
use crate::sql::{Executor, Row, Tx, corrupt, on_constraint, on_constraint_of, query};
use crate::{Result, StoreError};

const COUPON_COLUMNS: &str = "id, code, display_code, kind, tier_id, duration_days, \
    valid_from, valid_until, period_ends_at, max_redemptions, redeemed_count, active, \
    campaign, note, created_by, created_at";

pub(super) const GRANT_SELECT: &str = "SELECT g.id, g.profile_id, g.tier_id, g.source, g.coupon_id, \
    c.display_code AS coupon_code, g.kind, g.starts_at, g.ends_at, g.duration_seconds, \
    g.created_by, g.created_at, g.revoked_at, g.revoked_by \
    FROM access_grants g LEFT JOIN coupons c ON c.id = g.coupon_id";

pub(super) const PAUSE_COLUMNS: &str =
    "p.id, p.grant_id, p.paused_at, p.paused_by, p.reason, p.resumed_at, p.resumed_by";

const INSERT_COUPON: &str = concatcp!(
    "INSERT INTO coupons (",
    COUPON_COLUMNS,
    ") VALUES \
     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);

const COUPON_BY_ID: &str = concatcp!("SELECT ", COUPON_COLUMNS, " FROM coupons WHERE id = $1");

const COUPON_BY_CODE: &str = concatcp!("SELECT ", COUPON_COLUMNS, " FROM coupons WHERE code = $1");

const LIST_COUPONS: &str = concatcp!(
    "SELECT ",
    COUPON_COLUMNS,
    " FROM coupons \
     WHERE ($1 IS NULL OR campaign = $1) AND ($2 IS NULL OR id > $2) \
     ORDER BY id LIMIT $3"
);

/// Every campaign with its coupons counted, the newest campaign first.
const CAMPAIGNS: &str = "SELECT campaign, COUNT(*) AS coupons, \
        SUM(CASE WHEN active THEN 1 ELSE 0 END) AS active, \
        SUM(CASE WHEN redeemed_count > 0 THEN 1 ELSE 0 END) AS redeemed, \
        MIN(tier_id) AS tier_id, MIN(kind) AS kind, MAX(created_at) AS last_created_at \
     FROM coupons WHERE campaign IS NOT NULL \
     GROUP BY campaign ORDER BY MAX(created_at) DESC, campaign LIMIT $1";

/// A campaign's coupons switched off (or on) at once.
const SET_CAMPAIGN_ACTIVE: &str =
    "UPDATE coupons SET active = $2 WHERE campaign = $1 AND active <> $2";

/// Each optional field: a flag saying "set it" and the new value.
const UPDATE_COUPON: &str = concatcp!(
    "UPDATE coupons SET \
        active = COALESCE($2, active), \
        valid_from = CASE WHEN $3 THEN $4 ELSE valid_from END, \
        valid_until = CASE WHEN $5 THEN $6 ELSE valid_until END, \
        max_redemptions = CASE WHEN $7 THEN $8 ELSE max_redemptions END, \
        campaign = CASE WHEN $9 THEN $10 ELSE campaign END, \
        note = CASE WHEN $11 THEN $12 ELSE note END \
     WHERE id = $1 RETURNING ",
    COUPON_COLUMNS
);

const REDEMPTIONS: &str = "SELECT r.id, r.coupon_id, r.profile_id, p.email, \
    r.access_grant_id, r.redeemed_at, r.period_key FROM coupon_redemptions r \
    JOIN profiles p ON p.id = r.profile_id \
    WHERE r.coupon_id = $1 AND ($2 IS NULL OR r.id > $2) ORDER BY r.id LIMIT $3";

/// Takes a slot: one conditional update, so the counter never passes the cap however many
/// redeem at once.
const TAKE_SLOT: &str = "UPDATE coupons SET redeemed_count = redeemed_count + 1 \
    WHERE id = $1 AND active \
      AND (valid_from IS NULL OR valid_from <= $2) \
      AND (valid_until IS NULL OR valid_until >= $2) \
      AND (max_redemptions IS NULL OR redeemed_count < max_redemptions) \
    RETURNING id";

const INSERT_REDEMPTION: &str = "INSERT INTO coupon_redemptions (id, coupon_id, profile_id, \
    access_grant_id, redeemed_at, period_key) VALUES ($1, $2, $3, $4, $5, $6)";

const INSERT_GRANT: &str = "INSERT INTO access_grants (id, profile_id, tier_id, source, \
    coupon_id, kind, starts_at, ends_at, duration_seconds, created_by, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

const GRANT_BY_ID: &str = concatcp!(GRANT_SELECT, " WHERE g.id = $1");

const GRANTS_OF_PROFILE: &str = concatcp!(
    GRANT_SELECT,
    " WHERE g.profile_id = $1 ORDER BY g.created_at, g.id"
);

const PAUSES_OF_GRANT: &str = concatcp!(
    "SELECT ",
    PAUSE_COLUMNS,
    " FROM grant_pauses p WHERE p.grant_id = $1 ORDER BY p.paused_at, p.id"
);

const PAUSES_OF_PROFILE: &str = concatcp!(
    "SELECT ",
    PAUSE_COLUMNS,
    " FROM grant_pauses p JOIN access_grants g ON g.id = p.grant_id \
     WHERE g.profile_id = $1 ORDER BY p.paused_at, p.id"
);

/// At most one open pause per grant (partial unique index).
pub(super) const PAUSE: &str = "INSERT INTO grant_pauses (id, grant_id, paused_at, paused_by, reason) \
    VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (grant_id) WHERE resumed_at IS NULL DO NOTHING";

pub(super) const RESUME: &str = "UPDATE grant_pauses SET resumed_at = $2, resumed_by = $3 \
    WHERE grant_id = $1 AND resumed_at IS NULL";

pub(super) const REVOKE: &str = "UPDATE access_grants SET revoked_at = $2, revoked_by = $3 \
    WHERE id = $1 AND revoked_at IS NULL";

const RATE_LIMIT_HIT: &str = "INSERT INTO rate_limits (bucket, window_start, hits) \
    VALUES ($1, $2, 1) \
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
    RETURNING hits";

const RATE_LIMIT_TAKE: &str = "INSERT INTO rate_limits (bucket, window_start, hits) \
    VALUES ($1, $2, 1) \
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
    WHERE rate_limits.hits < $3 \
    RETURNING hits";

const RATE_LIMIT_REFUND: &str = "UPDATE rate_limits SET hits = hits - 1 \
    WHERE bucket = $1 AND window_start = $2 AND hits > 0";

const RATE_LIMIT_COUNT: &str =
    "SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2";

fn coupon_from(row: &Row) -> Result<Coupon> {
    let kind: String = row.get("kind")?;
    Ok(Coupon {
        id: row.get("id")?,
        code: row.get("code")?,
        display_code: row.get("display_code")?,
        kind: CouponKind::parse(&kind).ok_or_else(|| corrupt("coupon kind", &kind))?,
        tier_id: row.get("tier_id")?,
        duration_days: row.get("duration_days")?,
        valid_from: row.get("valid_from")?,
        valid_until: row.get("valid_until")?,
        period_ends_at: row.get("period_ends_at")?,
        max_redemptions: row.get("max_redemptions")?,
        redeemed_count: row.get("redeemed_count")?,
        active: row.get("active")?,
        campaign: row.get("campaign")?,
        note: row.get("note")?,
        created_by: row.get("created_by")?,
        created_at: row.get("created_at")?,
    })
}

pub(super) fn grant_from(row: &Row) -> Result<Grant> {
    let kind: String = row.get("kind")?;
    let span = match kind.as_str() {
        "fixed" => GrantSpan::Fixed {
            starts_at: row
                .get::<Option<DateTime<Utc>>>("starts_at")?
                .ok_or_else(|| corrupt("fixed grant without start", &kind))?,
            ends_at: row
                .get::<Option<DateTime<Utc>>>("ends_at")?
                .ok_or_else(|| corrupt("fixed grant without end", &kind))?,
        },
        "duration" => GrantSpan::Duration {
            seconds: row
                .get::<Option<i64>>("duration_seconds")?
                .ok_or_else(|| corrupt("duration grant without seconds", &kind))?,
        },
        other => return Err(corrupt("grant kind", other)),
    };
    Ok(Grant {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        tier_id: row.get("tier_id")?,
        source: row.get("source")?,
        coupon_id: row.get("coupon_id")?,
        coupon_code: row.get("coupon_code")?,
        span,
        created_by: row.get("created_by")?,
        created_at: row.get("created_at")?,
        revoked_at: row.get("revoked_at")?,
        revoked_by: row.get("revoked_by")?,
        pauses: Vec::new(),
    })
}

/// A pause and the grant it belongs to.
pub(super) fn pause_from(row: &Row) -> Result<(Uuid, GrantPause)> {
    Ok((
        row.get("grant_id")?,
        GrantPause {
            id: row.get("id")?,
            paused_at: row.get("paused_at")?,
            paused_by: row.get("paused_by")?,
            reason: row.get("reason")?,
            resumed_at: row.get("resumed_at")?,
            resumed_by: row.get("resumed_by")?,
        },
    ))
}

fn redemption_from(row: &Row) -> Result<Redemption> {
    Ok(Redemption {
        id: row.get("id")?,
        coupon_id: row.get("coupon_id")?,
        profile_id: row.get("profile_id")?,
        profile_email: row.get("email")?,
        access_grant_id: row.get("access_grant_id")?,
        redeemed_at: row.get("redeemed_at")?,
        period_key: row.get("period_key")?,
    })
}

/// Attaches pauses to their grants.
pub(super) fn with_pauses(mut grants: Vec<Grant>, pauses: Vec<(Uuid, GrantPause)>) -> Vec<Grant> {
    let index: HashMap<Uuid, usize> = grants.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
    for (grant_id, pause) in pauses {
        if let Some(&i) = index.get(&grant_id) {
            grants[i].pauses.push(pause);
        }
    }
    grants
}

pub(super) async fn insert_grant<'e>(on: impl Executor<'e>, g: &NewGrant) -> Result<()> {
    let (kind, starts_at, ends_at, seconds) = match g.span {
        GrantSpan::Fixed { starts_at, ends_at } => ("fixed", Some(starts_at), Some(ends_at), None),
        GrantSpan::Duration { seconds } => ("duration", None, None, Some(seconds)),
    };
    query(INSERT_GRANT)
        .bind(g.id)
        .bind(g.profile_id)
        .bind(&g.tier_id)
        .bind(&g.source)
        .bind(g.coupon_id)
        .bind(kind)
        .bind(starts_at)
        .bind(ends_at)
        .bind(seconds)
        .bind(g.created_by)
        .bind(g.created_at)
        .execute(on)
        .await
        .map_err(|e| on_constraint(e, "profile or tier"))?;
    Ok(())
}

/// Whether the profile of `r` has redeemed its coupon for its period key.
async fn redeemed_already(tx: &mut Tx, r: &Redeem) -> Result<bool> {
    let seen = query(
        "SELECT 1 FROM coupon_redemptions \
         WHERE coupon_id = $1 AND profile_id = $2 AND period_key = $3",
    )
    .bind(r.coupon_id)
    .bind(r.grant.profile_id)
    .bind(&r.period_key)
    .fetch_optional(tx)
    .await?;
    Ok(seen.is_some())
}

/// Whether a grant exists and is revoked: `None` if it does not exist.
async fn grant_revoked<'e>(on: impl Executor<'e>, grant_id: Uuid) -> Result<Option<bool>> {
    let row = query("SELECT revoked_at FROM access_grants WHERE id = $1")
        .bind(grant_id)
        .fetch_optional(on)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(
            row.get::<Option<DateTime<Utc>>>("revoked_at")?.is_some(),
        )),
    }
}

/// The refusal of a redemption that found no slot, read from the coupon (in the
/// transaction that looked for one).
async fn refusal(tx: &mut Tx, r: &Redeem) -> Result<RedeemOutcome> {
    // A race with this profile's own redemption (a double submit) may have taken the last
    // slot after the first check; answer as if it came first. The update waited for that
    // transaction, so this read sees it.
    if redeemed_already(tx, r).await? {
        return Ok(RedeemOutcome::AlreadyRedeemed);
    }
    let row = query(
        "SELECT active, valid_from, valid_until, max_redemptions, redeemed_count \
         FROM coupons WHERE id = $1",
    )
    .bind(r.coupon_id)
    .fetch_optional(tx)
    .await?;
    let Some(row) = row else {
        return Ok(RedeemOutcome::Invalid);
    };
    if !row.get::<bool>("active")? {
        return Ok(RedeemOutcome::Invalid);
    }
    let from: Option<DateTime<Utc>> = row.get("valid_from")?;
    let until: Option<DateTime<Utc>> = row.get("valid_until")?;
    if from.is_some_and(|f| r.now < f) || until.is_some_and(|u| r.now > u) {
        return Ok(RedeemOutcome::Expired);
    }
    Ok(RedeemOutcome::Exhausted)
}

/// The pauses of grants, for the grants of one profile or one grant (`sql`, with `$1`).
async fn pauses<'e>(on: impl Executor<'e>, sql: &str, id: Uuid) -> Result<Vec<(Uuid, GrantPause)>> {
    query(sql)
        .bind(id)
        .fetch_all(on)
        .await?
        .iter()
        .map(pause_from)
        .collect()
}

/// `$1, $2, …, $n`.
fn parameters(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl crate::CouponStore for SqlStore {
    async fn create_coupons(&self, coupons: &[Coupon]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for c in coupons {
            query(INSERT_COUPON)
                .bind(c.id)
                .bind(&c.code)
                .bind(&c.display_code)
                .bind(c.kind.as_str())
                .bind(&c.tier_id)
                .bind(c.duration_days)
                .bind(c.valid_from)
                .bind(c.valid_until)
                .bind(c.period_ends_at)
                .bind(c.max_redemptions)
                .bind(c.redeemed_count)
                .bind(c.active)
                .bind(&c.campaign)
                .bind(&c.note)
                .bind(c.created_by)
                .bind(c.created_at)
                .execute(&mut tx)
                .await
                .map_err(|e| on_constraint_of(e, "code", "tier"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn coupon(&self, cid: Uuid) -> Result<Option<Coupon>> {
        query(COUPON_BY_ID)
            .bind(cid)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(coupon_from)
            .transpose()
    }

    async fn coupon_by_code(&self, code: &str) -> Result<Option<Coupon>> {
        query(COUPON_BY_CODE)
            .bind(code)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(coupon_from)
            .transpose()
    }

    async fn list_coupons(
        &self,
        campaign: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Coupon>> {
        query(LIST_COUPONS)
            .bind(campaign)
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(coupon_from)
            .collect()
    }

    async fn campaigns(&self, limit: i64) -> Result<Vec<CampaignSummary>> {
        query(CAMPAIGNS)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(CampaignSummary {
                    campaign: row.get("campaign")?,
                    coupons: row.get("coupons")?,
                    active: row.get("active")?,
                    redeemed: row.get("redeemed")?,
                    tier_id: row.get("tier_id")?,
                    kind: row.get("kind")?,
                    last_created_at: row.get("last_created_at")?,
                })
            })
            .collect()
    }

    async fn set_campaign_active(&self, campaign: &str, active: bool) -> Result<u64> {
        Ok(query(SET_CAMPAIGN_ACTIVE)
            .bind(campaign)
            .bind(active)
            .execute(self.writer())
            .await?)
    }

    async fn update_coupon(&self, cid: Uuid, p: &CouponPatch) -> Result<Option<Coupon>> {
        query(UPDATE_COUPON)
            .bind(cid)
            .bind(p.active)
            .bind(p.valid_from.is_some())
            .bind(p.valid_from.flatten())
            .bind(p.valid_until.is_some())
            .bind(p.valid_until.flatten())
            .bind(p.max_redemptions.is_some())
            .bind(p.max_redemptions.flatten())
            .bind(p.campaign.is_some())
            .bind(p.campaign.clone().flatten())
            .bind(p.note.is_some())
            .bind(p.note.clone().flatten())
            .fetch_optional(self.writer())
            .await
            .map_err(|e| on_constraint(e, "max_redemptions below redeemed count"))?
            .as_ref()
            .map(coupon_from)
            .transpose()
    }

    async fn redemptions(
        &self,
        coupon_id: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Redemption>> {
        query(REDEMPTIONS)
            .bind(coupon_id)
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(redemption_from)
            .collect()
    }

    async fn redeem(&self, r: &Redeem) -> Result<RedeemOutcome> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        if redeemed_already(&mut tx, r).await? {
            tx.rollback().await?;
            return Ok(RedeemOutcome::AlreadyRedeemed);
        }
        let took = query(TAKE_SLOT)
            .bind(r.coupon_id)
            .bind(r.now)
            .fetch_optional(&mut tx)
            .await?;
        if took.is_none() {
            let refused = refusal(&mut tx, r).await?;
            tx.rollback().await?;
            return Ok(refused);
        }
        insert_grant(&mut tx, &r.grant).await?;
        let recorded = query(INSERT_REDEMPTION)
            .bind(r.redemption_id)
            .bind(r.coupon_id)
            .bind(r.grant.profile_id)
            .bind(r.grant.id)
            .bind(r.now)
            .bind(&r.period_key)
            .execute(&mut tx)
            .await;
        match recorded.map_err(|e| on_constraint(e, "redemption")) {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                // The same profile won a race with itself; this attempt changes nothing.
                tx.rollback().await?;
                return Ok(RedeemOutcome::AlreadyRedeemed);
            }
            Err(e) => return Err(e),
        }
        let grant = query(GRANT_BY_ID)
            .bind(r.grant.id)
            .fetch_one(&mut tx)
            .await?;
        let grant = grant_from(&grant)?;
        if let Some(activity) = &r.activity {
            log_activity_in(&mut tx, activity).await?;
        }
        if let Some(mail) = &r.mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(RedeemOutcome::Redeemed(Box::new(grant)))
    }

    async fn create_grant(&self, g: &NewGrant) -> Result<Grant> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        insert_grant(&mut tx, g).await?;
        let row = query(GRANT_BY_ID).bind(g.id).fetch_one(&mut tx).await?;
        tx.commit().await?;
        grant_from(&row)
    }

    async fn grant(&self, gid: Uuid) -> Result<Option<Grant>> {
        let Some(row) = query(GRANT_BY_ID)
            .bind(gid)
            .fetch_optional(self.reader())
            .await?
        else {
            return Ok(None);
        };
        let grant = grant_from(&row)?;
        let pauses = pauses(self.reader(), PAUSES_OF_GRANT, gid).await?;
        Ok(with_pauses(vec![grant], pauses).pop())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn grants(&self, profile_id: Uuid) -> Result<Vec<Grant>> {
        if let Some(cached) = self.cache.grants(profile_id) {
            return Ok(cached);
        }
        let generation = self.cache.generation();
        let grants = query(GRANTS_OF_PROFILE)
            .bind(profile_id)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(grant_from)
            .collect::<Result<Vec<_>>>()?;
        if grants.is_empty() {
            self.cache.put_grants(profile_id, &grants, generation);
            return Ok(grants);
        }
        let pauses = pauses(self.reader(), PAUSES_OF_PROFILE, profile_id).await?;
        let grants = with_pauses(grants, pauses);
        self.cache.put_grants(profile_id, &grants, generation);
        Ok(grants)
    }

    async fn grants_of(&self, profile_ids: &[Uuid]) -> Result<Vec<Grant>> {
        let mut out = Vec::new();
        for chunk in profile_ids.chunks(500) {
            let list = parameters(chunk.len());
            let grants_sql = format!(
                "{GRANT_SELECT} WHERE g.profile_id IN ({list}) \
                 ORDER BY g.profile_id, g.created_at, g.id"
            );
            let mut statement = query(&grants_sql);
            for pid in chunk {
                statement = statement.bind(*pid);
            }
            let grants = statement
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(grant_from)
                .collect::<Result<Vec<_>>>()?;
            if grants.is_empty() {
                continue;
            }
            let pauses_sql = format!(
                "SELECT {PAUSE_COLUMNS} FROM grant_pauses p \
                 JOIN access_grants g ON g.id = p.grant_id \
                 WHERE g.profile_id IN ({list}) ORDER BY p.paused_at, p.id"
            );
            let mut statement = query(&pauses_sql);
            for pid in chunk {
                statement = statement.bind(*pid);
            }
            let pauses = statement
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(pause_from)
                .collect::<Result<Vec<_>>>()?;
            out.extend(with_pauses(grants, pauses));
        }
        Ok(out)
    }

    async fn pause_grant(
        &self,
        gid: Uuid,
        by: Option<Uuid>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantChange> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        match grant_revoked(&mut tx, gid).await? {
            None => return Ok(GrantChange::NotFound),
            Some(true) => return Ok(GrantChange::Revoked),
            Some(false) => {}
        }
        let done = query(PAUSE)
            .bind(Uuid::now_v7())
            .bind(gid)
            .bind(now)
            .bind(by)
            .bind(reason)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(if done == 1 {
            GrantChange::Done
        } else {
            GrantChange::NoChange
        })
    }

    async fn resume_grant(
        &self,
        gid: Uuid,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<GrantChange> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        match grant_revoked(&mut tx, gid).await? {
            None => return Ok(GrantChange::NotFound),
            Some(true) => return Ok(GrantChange::Revoked),
            Some(false) => {}
        }
        let done = query(RESUME)
            .bind(gid)
            .bind(now)
            .bind(by)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(if done == 1 {
            GrantChange::Done
        } else {
            GrantChange::NoChange
        })
    }

    async fn revoke_grant(
        &self,
        gid: Uuid,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<GrantChange> {
        let _changed = self.cache.on_change();
        let done = query(REVOKE)
            .bind(gid)
            .bind(now)
            .bind(by)
            .execute(self.writer())
            .await?;
        if done == 1 {
            return Ok(GrantChange::Done);
        }
        Ok(match grant_revoked(self.reader(), gid).await? {
            None => GrantChange::NotFound,
            Some(_) => GrantChange::Revoked,
        })
    }

    async fn rate_limit_hit(&self, bucket: &str, window_start: DateTime<Utc>) -> Result<i64> {
        query(RATE_LIMIT_HIT)
            .bind(bucket)
            .bind(window_start)
            .fetch_one(self.writer())
            .await?
            .get(0)
    }

    async fn rate_limit_take(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        max: i64,
    ) -> Result<bool> {
        if max <= 0 {
            return Ok(false);
        }
        let taken = query(RATE_LIMIT_TAKE)
            .bind(bucket)
            .bind(window_start)
            .bind(max)
            .fetch_optional(self.writer())
            .await?;
        Ok(taken.is_some())
    }

    async fn rate_limit_refund(&self, bucket: &str, window_start: DateTime<Utc>) -> Result<()> {
        query(RATE_LIMIT_REFUND)
            .bind(bucket)
            .bind(window_start)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn rate_limit_count(&self, bucket: &str, window_start: DateTime<Utc>) -> Result<i64> {
        let row = query(RATE_LIMIT_COUNT)
            .bind(bucket)
            .bind(window_start)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|row| row.get(0)).transpose()?.unwrap_or(0))
    }
}
