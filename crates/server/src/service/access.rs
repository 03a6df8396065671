//! Feature access for a profile: resolution, usage and exact consumption.

use mitai_access::text;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mitai_access::{Access, FeatureIdx, Refusal, Registry, TierIdx, consume_cap};
use mitai_store::{
    ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, NewActivity, Profile, Restriction,
    SpendLog, StoredResponse, actions,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::metrics::Metrics;
use crate::service::AppState;
use crate::service::{Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything needed to resolve any feature for one profile at one instant.
pub struct AccessContext {
    pub registry: Arc<Registry>,
    pub tier: TierIdx,
    pub restrictions: Vec<Restriction>,
    pub now: DateTime<Utc>,
}

impl AccessContext {
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn load(state: &AppState, profile: &Profile) -> Result<AccessContext> {
        let registry = state.registry();
        let now = state.now();
        let restrictions = state.store.restrictions(profile.id).await?;
        let grants = state.store.grants(profile.id).await?;
        let tier = crate::service::grants::effective_tier(&registry, profile, &grants, now);
        Ok(AccessContext {
            registry,
            tier,
            restrictions,
            now,
        })
    }

    pub fn effective_tier_id(&self) -> &str {
        &self.registry.tier(self.tier).id
    }

    fn resolve(&self, feature: FeatureIdx) -> (mitai_access::Resolved, mitai_access::Period) {
        let id = &self.registry.feature(feature).id;
        let rule = self
            .restrictions
            .iter()
            .find(|r| &r.feature_id == id)
            .map(Restriction::rule);
        let resolved = self
            .registry
            .resolve(feature, self.tier, rule.as_ref(), self.now);
        (resolved, self.registry.period(feature, self.now))
    }
}

/// The `<access>` view of every feature, with one usage query for all of them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn access_list(state: &AppState, profile: &Profile) -> Result<(String, Vec<AccessView>)> {
    let ctx = AccessContext::load(state, profile).await?;
    let features: Vec<FeatureIdx> = ctx.registry.feature_idxs().collect();
    let resolved: Vec<_> = features.iter().map(|&f| ctx.resolve(f)).collect();
    let buckets: Vec<(&str, DateTime<Utc>)> = features
        .iter()
        .zip(&resolved)
        .map(|(&f, (_, period))| (ctx.registry.feature(f).id.as_str(), period.start))
        .collect();
    let used = state.store.usage(profile.id, &buckets).await?;
    let views = features
        .iter()
        .zip(resolved)
        .zip(used)
        .map(|((&f, (r, p)), used)| Access::new(&ctx.registry, f, r, p, used).into())
        .collect();
    Ok((ctx.effective_tier_id().to_owned(), views))
}

/// The `<access>` view of one feature; 404 for an unknown feature.
#[tracing::instrument(level = "debug", skip_all, fields(feature = feature_id))]
pub async fn access_one(
    state: &AppState,
    profile: &Profile,
    feature_id: &str,
) -> Result<AccessView> {
    let ctx = AccessContext::load(state, profile).await?;
    let f = ctx
        .registry
        .feature_idx(feature_id)
        .ok_or(Error::NotFound)?;
    let (resolved, period) = ctx.resolve(f);
    let used = state
        .store
        .usage(profile.id, &[(feature_id, period.start)])
        .await?
        .first()
        .copied()
        .unwrap_or(0);
    Ok(Access::new(&ctx.registry, f, resolved, period, used).into())
}

/// The answer of a consume: fresh, or the stored answer of an earlier call with the key.
pub enum ConsumeAnswer {
    Fresh(AccessView),
    Replayed(StoredResponse),
}

/// The feature gate of one request that spends `amount` of a feature: the limit resolved
/// for the profile now, and everything needed to let the store enforce it atomically
/// (`request`) and to answer and log the outcome. Consume, gated writes (entries, photos,
/// exports) and AI reservations all pass through it.
pub struct Gate {
    ctx: AccessContext,
    feature: FeatureIdx,
    resolved: mitai_access::Resolved,
    period: mitai_access::Period,
    cap: Option<i64>,
    amount: i64,
    profile_id: uuid::Uuid,
    /// Names the request for idempotency keys (see [`Gate::open`]).
    fingerprint: String,
    /// Hashed from the feature, the amount and the fingerprint when a key asks for it.
    request_hash: std::sync::OnceLock<String>,
    ip: Option<String>,
}

impl Gate {
    /// Refuses a profile whose e-mail must be verified first (403 `email_not_verified`),
    /// resolves the limit and refuses what the limit alone refuses (feature off, amount
    /// larger than the whole limit) before the database is asked. `fingerprint` names the
    /// request for idempotency keys (a key reused for another fingerprint is refused).
    #[tracing::instrument(level = "debug", skip_all, fields(feature = feature_id, amount))]
    pub async fn open(
        state: &AppState,
        profile: &Profile,
        feature_id: &str,
        amount: i64,
        fingerprint: &str,
        ip: Option<String>,
    ) -> Result<Gate> {
        crate::service::accounts::require_verified(state, profile)?;
        let ctx = AccessContext::load(state, profile).await?;
        let feature = ctx
            .registry
            .feature_idx(feature_id)
            .ok_or(Error::NotFound)?;
        let (resolved, period) = ctx.resolve(feature);
        let mut gate = Gate {
            ctx,
            feature,
            resolved,
            period,
            cap: None,
            amount,
            profile_id: profile.id,
            fingerprint: fingerprint.to_owned(),
            request_hash: std::sync::OnceLock::new(),
            ip,
        };
        let kind = gate.ctx.registry.feature(feature).kind;
        match consume_cap(kind, resolved, amount) {
            Ok(cap) => gate.cap = cap,
            // Refusals decided without the database are not remembered under a key: they
            // change nothing, and a retry would be refused the same way.
            Err(Refusal::Disabled) => {
                Metrics::count(&state.metrics.consume_disabled);
                return Err(Error::FeatureDisabled {
                    feature: gate.feature_id().to_owned(),
                });
            }
            Err(Refusal::LimitReached) => {
                let used = state
                    .store
                    .usage(profile.id, &[(gate.feature_id(), period.start)])
                    .await?
                    .first()
                    .copied()
                    .unwrap_or(0);
                return Err(gate.refused(state, used).await);
            }
        }
        Ok(gate)
    }

    pub fn feature_id(&self) -> &str {
        &self.ctx.registry.feature(self.feature).id
    }

    /// Refuses (403 `feature_limit_reached`) when this period's usage leaves no room for
    /// the spend, before expensive work is done for it (decoding an image). Only a saving:
    /// the store still decides atomically when the spend is recorded.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ensure_room(&self, state: &AppState) -> Result<()> {
        let Some(cap) = self.cap else {
            return Ok(());
        };
        let used = state
            .store
            .usage(self.profile_id, &[(self.feature_id(), self.period.start)])
            .await?
            .first()
            .copied()
            .unwrap_or(0);
        if used.saturating_add(self.amount) > cap {
            return Err(self.refused(state, used).await);
        }
        Ok(())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now
    }

    /// What an idempotency key is stored with: a key reused for another request (another
    /// feature, amount or fingerprint) is refused. Hashed only for requests with a key.
    fn request_hash(&self) -> &str {
        self.request_hash.get_or_init(|| {
            hex::encode(Sha256::digest(format!(
                "{}\n{}\n{}",
                self.feature_id(),
                self.amount,
                self.fingerprint
            )))
        })
    }

    /// What the store enforces: spend `amount` in this period's bucket within the cap.
    pub fn request<'a>(&'a self, idempotency_key: Option<&'a str>) -> ConsumeRequest<'a> {
        ConsumeRequest {
            profile_id: self.profile_id,
            feature_id: self.feature_id(),
            period_start: self.period.start,
            amount: self.amount,
            cap: self.cap,
            now: self.ctx.now,
            idempotency: idempotency_key.map(|key| IdempotencyKey {
                key,
                request_hash: self.request_hash(),
            }),
            log: None,
        }
    }

    /// Like [`Gate::request`], with the `feature_used` entry written by the store with the
    /// spend itself (one round trip on PostgreSQL, the same group commit on SQLite).
    fn logged_request<'a>(
        &'a self,
        idempotency_key: Option<&'a str>,
        activity_id: uuid::Uuid,
    ) -> ConsumeRequest<'a> {
        ConsumeRequest {
            log: Some(SpendLog {
                activity_id,
                ip: self.ip.as_deref(),
            }),
            ..self.request(idempotency_key)
        }
    }

    /// The `<access>` view after spending, with `used` the bucket's usage.
    pub fn view(&self, used: i64) -> AccessView {
        Access::new(
            &self.ctx.registry,
            self.feature,
            self.resolved,
            self.period,
            used,
        )
        .into()
    }

    /// The 403 `feature_limit_reached` answer at usage `used`.
    pub fn limit_reached(&self, used: i64) -> Error {
        Error::LimitReached {
            feature: self.feature_id().to_owned(),
            limit: self.resolved.limit,
            used,
            resets_at: self.period.resets_at,
        }
    }

    /// Records a spend (metrics, `feature_used` in the activity log).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn spent(&self, state: &AppState, used: i64) {
        Metrics::count(&state.metrics.consume_spent);
        let details = json!({ "feature": self.feature_id(), "amount": self.amount, "used": used });
        self.log(state, actions::FEATURE_USED, details).await;
    }

    /// Records a refusal at usage `used` (metrics, `limit_reached`) and returns its answer.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn refused(&self, state: &AppState, used: i64) -> Error {
        Metrics::count(&state.metrics.consume_limit_reached);
        let details = json!({
            "feature": self.feature_id(), "amount": self.amount,
            "limit": self.resolved.limit, "used": used,
        });
        self.log(state, actions::LIMIT_REACHED, details).await;
        self.limit_reached(used)
    }

    /// The answer stored with an idempotency key for a decision.
    pub fn stored_answer(
        &self,
        decided: Consumed,
        spent_body: impl FnOnce(i64) -> Value,
    ) -> StoredResponse {
        match decided {
            Consumed::Spent { used } => StoredResponse {
                status: StatusCode::OK.as_u16(),
                body: spent_body(used),
            },
            Consumed::LimitReached { used } => {
                let e = self.limit_reached(used);
                StoredResponse {
                    status: e.http_status(),
                    body: e.body(),
                }
            }
        }
    }

    async fn log(&self, state: &AppState, action: &str, details: Value) {
        let event = NewActivity::new(action, self.ctx.now)
            .by_self(self.profile_id)
            .details(details)
            .ip(self.ip.clone());
        crate::service::activity_log::record(state, event).await;
    }
}

/// Spends `amount` of a feature, exactly: the store raises usage only within the limit.
#[tracing::instrument(level = "debug", skip_all, fields(feature = feature_id, amount))]
pub async fn consume(
    state: &AppState,
    profile: &Profile,
    feature_id: &str,
    amount: i64,
    idempotency_key: Option<&text::IdempotencyKey>,
    ip: Option<String>,
) -> Result<ConsumeAnswer> {
    let idempotency_key = idempotency_key.map(text::IdempotencyKey::as_str);
    let gate = Gate::open(state, profile, feature_id, amount, "consume", ip).await?;
    let respond = |decided: Consumed| {
        gate.stored_answer(decided, |used| {
            serde_json::to_value(gate.view(used)).unwrap_or(Value::Null)
        })
    };
    let request = gate.logged_request(idempotency_key, uuid::Uuid::now_v7());
    match state.store.consume(&request, &respond).await {
        Ok(ConsumeResult::Fresh(Consumed::Spent { used })) => {
            // The store wrote the `feature_used` entry with the spend.
            Metrics::count(&state.metrics.consume_spent);
            Ok(ConsumeAnswer::Fresh(gate.view(used)))
        }
        Ok(ConsumeResult::Fresh(Consumed::LimitReached { used })) => {
            Err(gate.refused(state, used).await)
        }
        Ok(ConsumeResult::Replayed(stored)) => {
            Metrics::count(&state.metrics.consume_replayed);
            Ok(ConsumeAnswer::Replayed(stored))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks an `Idempotency-Key` header value: 1–200 visible ASCII characters.
pub fn check_idempotency_key(value: &str) -> Result<&str> {
    let ok = !value.is_empty() && value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(value)
    } else {
        Err(Error::field(
            "Idempotency-Key",
            "must be 1 to 200 visible ASCII characters",
        ))
    }
}

/// What a profile may do with one feature right now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccessView {
    pub feature: String,
    /// `count` or `boolean`.
    pub kind: String,
    pub enabled: bool,
    /// `null` = unlimited, `0` = disabled, N = uses per period.
    pub limit: Option<i64>,
    pub used: i64,
    /// `null` when unlimited or boolean.
    pub remaining: Option<i64>,
    /// `never`, `daily`, `weekly`, `monthly` or `yearly`.
    pub reset_period: String,
    pub period_start: DateTime<Utc>,
    /// The next reset; `null` for `never`.
    pub resets_at: Option<DateTime<Utc>>,
    /// `feature_inactive`, `user_restriction`, `tier_limit` or `feature_default`.
    pub source: String,
}

impl From<Access> for AccessView {
    fn from(a: Access) -> AccessView {
        AccessView {
            feature: a.feature,
            kind: a.kind.as_str().to_owned(),
            enabled: a.enabled,
            limit: a.limit,
            used: a.used,
            remaining: a.remaining,
            reset_period: a.reset_period.as_str().to_owned(),
            period_start: a.period_start,
            resets_at: a.resets_at,
            source: a.source.as_str().to_owned(),
        }
    }
}

/// `{"effective_tier", "features": [<access>…]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessList {
    pub effective_tier: String,
    pub features: Vec<AccessView>,
}

/// A change of plan coming soon that leaves the person with less: when, whether it is the
/// trial's end, the tier from then, and each feature whose new limit is below what this
/// period has used already (`limit` 0: off from then).
#[derive(Debug, Clone, PartialEq)]
pub struct ComingChange {
    pub at: DateTime<Utc>,
    pub trial_ends: bool,
    pub tier: String,
    pub over: Vec<OverAfter>,
}

/// A feature the coming change leaves the person over.
#[derive(Debug, Clone, PartialEq)]
pub struct OverAfter {
    pub feature: String,
    pub limit: i64,
    pub used: i64,
    /// `daily`, `weekly`, `monthly`, `yearly` or `never`.
    pub reset_period: String,
}

/// The first drop to a lower tier within the reminder lead (`reminder_lead_days`): the
/// trial ending, a grant ending or pausing. `views` is the person's access now; a feature
/// whose period resets before the change is not over then.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn coming_change(
    state: &AppState,
    profile: &Profile,
    views: &[AccessView],
) -> Result<Option<ComingChange>> {
    let registry = state.registry();
    let now = state.now();
    let lead = chrono::TimeDelta::days(registry.settings.reminder_lead_days.max(1));
    let grants = state.store.grants(profile.id).await?;
    let timeline = crate::service::grants::profile_timeline(&registry, profile, &grants, now);
    let current = registry.tier(timeline.effective_tier(&registry)).rank;
    let Some((at, after)) = timeline
        .changes_within(now, now + lead)
        .into_iter()
        .map(|t| (t, timeline.effective_tier_at(&registry, t)))
        .find(|(_, tier)| registry.tier(*tier).rank < current)
    else {
        return Ok(None);
    };
    let restrictions = state.store.restrictions(profile.id).await?;
    let mut over = Vec::new();
    for view in views.iter().filter(|v| v.enabled && v.kind == "count") {
        let Some(feature) = registry.feature_idx(&view.feature) else {
            continue;
        };
        if view.resets_at.is_some_and(|r| r <= at) {
            continue;
        }
        let rule = restrictions
            .iter()
            .find(|r| r.feature_id == view.feature)
            .map(Restriction::rule);
        let limit = registry.resolve(feature, after, rule.as_ref(), at).limit;
        if let Some(limit) = limit
            && view.used > limit
        {
            over.push(OverAfter {
                feature: view.feature.clone(),
                limit,
                used: view.used,
                reset_period: view.reset_period.clone(),
            });
        }
    }
    Ok(Some(ComingChange {
        at,
        trial_ends: profile.trial_ends_at == Some(at),
        tier: registry.tier(after).id.clone(),
        over,
    }))
}
