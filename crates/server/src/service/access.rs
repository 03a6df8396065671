//! Feature access for a profile: resolution, usage and exact consumption.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mitai_access::{Access, FeatureIdx, Refusal, Registry, TierIdx, consume_cap};
use mitai_store::{
    ConsumeRequest, ConsumeResult, Consumed, IdempotencyKey, NewActivity, Profile, Restriction,
    StoreError, StoredResponse, actions,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::AccessView;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::state::AppState;

/// Everything needed to resolve any feature for one profile at one instant.
pub struct AccessContext {
    pub registry: Arc<Registry>,
    pub tier: TierIdx,
    pub restrictions: Vec<Restriction>,
    pub now: DateTime<Utc>,
}

impl AccessContext {
    pub async fn load(state: &AppState, profile: &Profile) -> ApiResult<AccessContext> {
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
pub async fn access_list(
    state: &AppState,
    profile: &Profile,
) -> ApiResult<(String, Vec<AccessView>)> {
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
pub async fn access_one(
    state: &AppState,
    profile: &Profile,
    feature_id: &str,
) -> ApiResult<AccessView> {
    let ctx = AccessContext::load(state, profile).await?;
    let f = ctx
        .registry
        .feature_idx(feature_id)
        .ok_or(ApiError::NotFound)?;
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

/// Spends `amount` of a feature, exactly: the store raises usage only within the limit.
pub async fn consume(
    state: &AppState,
    profile: &Profile,
    feature_id: &str,
    amount: i64,
    idempotency_key: Option<&str>,
    ip: Option<String>,
) -> ApiResult<ConsumeAnswer> {
    let ctx = AccessContext::load(state, profile).await?;
    let f = ctx
        .registry
        .feature_idx(feature_id)
        .ok_or(ApiError::NotFound)?;
    let feature = ctx.registry.feature(f);
    let (resolved, period) = ctx.resolve(f);
    let limit_reached = |used: i64| ApiError::LimitReached {
        feature: feature.id.clone(),
        limit: resolved.limit,
        used,
        resets_at: period.resets_at,
    };
    let limit_reached_event = |used: i64| {
        let details = json!({
            "feature": feature_id, "amount": amount, "limit": resolved.limit, "used": used,
        });
        (actions::LIMIT_REACHED, details)
    };
    let cap = match consume_cap(feature.kind, resolved, amount) {
        Ok(cap) => cap,
        // Refusals decided without the database are not remembered under the key: they
        // change nothing, and a retry would be refused the same way.
        Err(Refusal::Disabled) => {
            Metrics::count(&state.metrics.consume_disabled);
            return Err(ApiError::FeatureDisabled {
                feature: feature.id.clone(),
            });
        }
        Err(Refusal::LimitReached) => {
            Metrics::count(&state.metrics.consume_limit_reached);
            let used = state
                .store
                .usage(profile.id, &[(feature_id, period.start)])
                .await?
                .first()
                .copied()
                .unwrap_or(0);
            log_use(state, profile, ctx.now, &ip, limit_reached_event(used)).await;
            return Err(limit_reached(used));
        }
    };
    let request_hash = hex::encode(Sha256::digest(format!("consume\n{feature_id}\n{amount}")));
    let request = ConsumeRequest {
        profile_id: profile.id,
        feature_id,
        period_start: period.start,
        amount,
        cap,
        now: ctx.now,
        idempotency: idempotency_key.map(|key| IdempotencyKey {
            key,
            request_hash: &request_hash,
        }),
    };
    let view =
        |used: i64| -> AccessView { Access::new(&ctx.registry, f, resolved, period, used).into() };
    let respond = |decided: Consumed| match decided {
        Consumed::Spent { used } => StoredResponse {
            status: StatusCode::OK.as_u16(),
            body: serde_json::to_value(view(used)).unwrap_or(Value::Null),
        },
        Consumed::LimitReached { used } => {
            let e = limit_reached(used);
            StoredResponse {
                status: e.status().as_u16(),
                body: e.body(),
            }
        }
    };
    let metrics = &state.metrics;
    match state.store.consume(&request, &respond).await {
        Ok(ConsumeResult::Fresh(Consumed::Spent { used })) => {
            Metrics::count(&metrics.consume_spent);
            let details = json!({ "feature": feature_id, "amount": amount, "used": used });
            log_use(
                state,
                profile,
                ctx.now,
                &ip,
                (actions::FEATURE_USED, details),
            )
            .await;
            Ok(ConsumeAnswer::Fresh(view(used)))
        }
        Ok(ConsumeResult::Fresh(Consumed::LimitReached { used })) => {
            Metrics::count(&metrics.consume_limit_reached);
            log_use(state, profile, ctx.now, &ip, limit_reached_event(used)).await;
            Err(limit_reached(used))
        }
        Ok(ConsumeResult::Replayed(stored)) => {
            Metrics::count(&metrics.consume_replayed);
            Ok(ConsumeAnswer::Replayed(stored))
        }
        Err(StoreError::IdempotencyMismatch) => Err(ApiError::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Logs a decided consumption (one insert after the decision; replays log nothing).
async fn log_use(
    state: &AppState,
    profile: &Profile,
    now: DateTime<Utc>,
    ip: &Option<String>,
    (action, details): (&str, Value),
) {
    let event = NewActivity::new(action, now)
        .by_self(profile.id)
        .details(details)
        .ip(ip.clone());
    crate::service::activity::record(state, event).await;
}

/// Checks an `Idempotency-Key` header value: 1–200 visible ASCII characters.
pub fn check_idempotency_key(value: &str) -> ApiResult<&str> {
    let ok = !value.is_empty() && value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(value)
    } else {
        Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 200 visible ASCII characters",
        ))
    }
}
