//! AI insights and the multi-step pipeline, spent as reserve → call → commit.
//!
//! `ai_calls` units are reserved (an exact consume) before the provider is called, so a
//! profile at its limit never reaches the provider; when the call fails, times out or
//! answers something malformed, the units are given back (`502 ai_failed`). Without a
//! configured provider nothing is reserved (`503 ai_unavailable`). The pipeline also needs
//! the boolean `ai_pipeline` feature and reserves one `ai_calls` unit per step up front: it
//! runs whole or gives everything back.

use mitai_access::text;
use mitai_store::{
    AiKind, AiResult, ConsumeResult, Consumed, GatedCreate, IdempotencyKey, Profile, Release,
    StoredResponse,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ai::{AiClient, AiError, Message};
use crate::service::AppState;
use crate::service::access::Gate;
use crate::service::{Error, ErrorCode, Result};

pub const CALLS: &str = "ai_calls";
pub const PIPELINE: &str = "ai_pipeline";

/// The steps of the pipeline: a name and what the step is asked to do. Each step sees the
/// data and the answers of the steps before it.
pub const PIPELINE_STEPS: [(&str, &str); 3] = [
    (
        "summary",
        "Summarise the measurements: the current values, the trend of each and how regular the \
         tracking is.",
    ),
    (
        "patterns",
        "From the data and the summary, name the most important patterns and anything that \
         looks implausible or worth a closer look.",
    ),
    (
        "recommendations",
        "Give three concrete, safe recommendations for the next four weeks, based on the \
         summary and the patterns.",
    ),
];

/// What an AI request did.
pub enum Answered {
    Created(AiResult),
    /// The answer of an earlier request with the same `Idempotency-Key`.
    Replayed(StoredResponse),
}

/// One question answered from the profile's recent data; spends one `ai_calls`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insight(
    state: &AppState,
    profile: &Profile,
    question: Option<text::Question>,
    idempotency_key: Option<&text::IdempotencyKey>,
    ip: Option<String>,
    respond: &(dyn for<'p> Fn(&'p AiResult) -> StoredResponse + Send + Sync),
) -> Result<Answered> {
    let idempotency_key = idempotency_key.map(text::IdempotencyKey::as_str);
    let question = question.map(String::from);
    let client = configured(state)?;
    let hash = request_hash("insight", question.as_deref());
    let key = key(idempotency_key, &hash);
    if let Some(stored) = replay(state, profile.id, key).await? {
        return Ok(Answered::Replayed(stored));
    }
    let gate = Gate::open(state, profile, CALLS, 1, "ai_insight", ip).await?;
    // Read before reserving: a failure here spends nothing.
    let data = crate::service::ai_data::recent(state, profile).await?;
    let reservation = reserve(state, gate).await?;
    let ask = question
        .clone()
        .unwrap_or_else(|| "How am I doing? Give me a short insight into my progress.".into());
    let messages = [
        Message::system(system_prompt(profile)),
        Message::user(format!("{data}\n\nQuestion: {ask}")),
    ];
    let answer = match client.chat(&messages).await {
        Ok(answer) => answer,
        Err(e) => return Err(failed(state, vec![reservation], e).await),
    };
    let result = AiResult {
        id: Uuid::now_v7(),
        profile_id: profile.id,
        kind: AiKind::Insight,
        question,
        answer,
        model: client.model().to_owned(),
        steps: json!([]),
        created_at: state.now(),
    };
    commit(state, vec![reservation], &result, key, respond).await
}

/// The multi-step analysis: needs `ai_pipeline`, spends one `ai_calls` per step.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn pipeline(
    state: &AppState,
    profile: &Profile,
    idempotency_key: Option<&text::IdempotencyKey>,
    ip: Option<String>,
    respond: &(dyn for<'p> Fn(&'p AiResult) -> StoredResponse + Send + Sync),
) -> Result<Answered> {
    let idempotency_key = idempotency_key.map(text::IdempotencyKey::as_str);
    let client = configured(state)?;
    let hash = request_hash("pipeline", None);
    let key = key(idempotency_key, &hash);
    if let Some(stored) = replay(state, profile.id, key).await? {
        return Ok(Answered::Replayed(stored));
    }
    // The switch first: a profile without the pipeline spends no calls on it.
    let switch = Gate::open(state, profile, PIPELINE, 1, "ai_pipeline", ip.clone()).await?;
    let steps = i64::try_from(PIPELINE_STEPS.len()).unwrap_or(i64::MAX);
    let data = crate::service::ai_data::recent(state, profile).await?;
    let calls = Gate::open(state, profile, CALLS, steps, "ai_pipeline", ip).await?;
    let calls = reserve(state, calls).await?;
    let reservations = match reserve(state, switch).await {
        Ok(run) => vec![calls, run],
        Err(e) => {
            calls.release(state).await;
            return Err(e);
        }
    };

    let mut messages = vec![Message::system(system_prompt(profile)), Message::user(data)];
    let mut done = Vec::with_capacity(PIPELINE_STEPS.len());
    for (name, task) in PIPELINE_STEPS {
        messages.push(Message::user(format!("Step \"{name}\": {task}")));
        match client.chat(&messages).await {
            Ok(answer) => {
                messages.push(Message::assistant(answer.clone()));
                done.push(json!({ "name": name, "answer": answer }));
            }
            Err(e) => {
                tracing::warn!(step = name, "AI pipeline step failed");
                return Err(failed(state, reservations, e).await);
            }
        }
    }
    let answer = done
        .last()
        .and_then(|s| s["answer"].as_str())
        .unwrap_or_default()
        .to_owned();
    let result = AiResult {
        id: Uuid::now_v7(),
        profile_id: profile.id,
        kind: AiKind::Pipeline,
        question: None,
        answer,
        model: client.model().to_owned(),
        steps: json!(done),
        created_at: state.now(),
    };
    commit(state, reservations, &result, key, respond).await
}

/// The profile's stored AI result; 404 for another profile's.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(state: &AppState, profile_id: Uuid, id: Uuid) -> Result<AiResult> {
    state
        .store
        .ai_result(profile_id, id)
        .await?
        .ok_or(Error::NotFound)
}

/// A page of the profile's AI results, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    profile_id: Uuid,
    kind: Option<AiKind>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AiResult>> {
    Ok(state
        .store
        .list_ai_results(profile_id, kind, before, limit)
        .await?)
}

fn configured(state: &AppState) -> Result<&AiClient> {
    state.ai.as_ref().ok_or_else(|| {
        Error::refused(
            ErrorCode::AiUnavailable,
            "no AI provider is configured on this server",
        )
    })
}

fn request_hash(what: &str, question: Option<&str>) -> String {
    hex::encode(Sha256::digest(format!(
        "ai\n{what}\n{}",
        question.unwrap_or_default()
    )))
}

fn key<'a>(key: Option<&'a str>, hash: &'a str) -> Option<IdempotencyKey<'a>> {
    key.map(|key| IdempotencyKey {
        key,
        request_hash: hash,
    })
}

async fn replay(
    state: &AppState,
    profile_id: Uuid,
    key: Option<IdempotencyKey<'_>>,
) -> Result<Option<StoredResponse>> {
    let Some(key) = key else {
        return Ok(None);
    };
    state
        .store
        .stored_response(profile_id, key)
        .await
        .map_err(Error::from)
}

/// Units spent ahead of work that may fail.
struct Reservation {
    gate: Gate,
    used: i64,
}

/// Spends the gate's units now, before the call; 403 when the limit is reached. Nothing
/// is logged as used until [`Reservation::commit`].
async fn reserve(state: &AppState, gate: Gate) -> Result<Reservation> {
    let respond = |decided: Consumed| gate.stored_answer(decided, |_| serde_json::Value::Null);
    match state.store.consume(&gate.request(None), &respond).await? {
        ConsumeResult::Fresh(Consumed::Spent { used }) => Ok(Reservation { gate, used }),
        ConsumeResult::Fresh(Consumed::LimitReached { used }) => {
            Err(gate.refused(state, used).await)
        }
        ConsumeResult::Replayed(_) => Err(anyhow::anyhow!("a replay without a key").into()),
    }
}

impl Reservation {
    /// The work succeeded: the units stay spent (`feature_used` is logged).
    async fn commit(self, state: &AppState) {
        self.gate.spent(state, self.used).await;
    }

    /// The work failed: gives the units back, never below zero. A failure to give them
    /// back is logged; the request fails for its own reason.
    async fn release(self, state: &AppState) {
        let spent = self.gate.request(None);
        let release = Release {
            profile_id: spent.profile_id,
            feature_id: spent.feature_id,
            period_start: spent.period_start,
            amount: spent.amount,
            now: state.now(),
        };
        if let Err(e) = state.store.release_usage(&release).await {
            tracing::error!(error = %e, feature = spent.feature_id, "reserved usage not released");
        }
    }
}

/// Gives back what was reserved and answers 502 `ai_failed`.
async fn failed(state: &AppState, reservations: Vec<Reservation>, e: AiError) -> Error {
    tracing::warn!(error = %e, "AI call failed; reservation released");
    for r in reservations {
        r.release(state).await;
    }
    Error::refused(
        ErrorCode::AiFailed,
        "the AI provider failed or did not answer in time; nothing was spent",
    )
}

/// Stores the answer: the reservations stay spent. If the answer cannot be stored (or an
/// identical request already stored one), they are given back.
async fn commit(
    state: &AppState,
    reservations: Vec<Reservation>,
    result: &AiResult,
    key: Option<IdempotencyKey<'_>>,
    respond: &(dyn for<'p> Fn(&'p AiResult) -> StoredResponse + Send + Sync),
) -> Result<Answered> {
    match state.store.create_ai_result(result, key, respond).await {
        Ok(GatedCreate::Created(result)) => {
            for r in reservations {
                r.commit(state).await;
            }
            Ok(Answered::Created(result))
        }
        Ok(GatedCreate::Replayed(stored)) => {
            for r in reservations {
                r.release(state).await;
            }
            Ok(Answered::Replayed(stored))
        }
        Ok(GatedCreate::LimitReached { .. }) => {
            Err(anyhow::anyhow!("AI results are not capped").into())
        }
        Err(e) => {
            for r in reservations {
                r.release(state).await;
            }
            Err(Error::from(e))
        }
    }
}

fn system_prompt(profile: &Profile) -> String {
    let language = if profile.language == "de" {
        "German"
    } else {
        "English"
    };
    format!(
        "You are the assistant of Mitai, a body-tracking app. You look at a person's own \
         measurements (weight, circumferences, skinfold body fat, nutrition, activity) and \
         answer in {language}, briefly (at most 200 words), concretely and kindly. You are \
         not a doctor: give no diagnosis and suggest seeing a professional when something \
         looks worrying. If there is too little data, say so."
    )
}
