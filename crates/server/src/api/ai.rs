//! AI insights and the AI pipeline.

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Error, Json, Path, Query, Result};
use crate::api::idempotency::idempotency_key;
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::ai::{self, Answered};
use crate::service::field;
use crate::service::paging::{next_cursor, page_args};
use crate::service::records::{AiKind, AiResult, StoredResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mitai_access::text::Question;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(insight))
        .routes(routes!(pipeline))
        .routes(routes!(list))
        .routes(routes!(one))
}

/// One step of a pipeline run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepView {
    /// `summary`, `patterns` or `recommendations`.
    pub name: String,
    pub answer: String,
}

/// A stored answer of the AI.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InsightView {
    pub id: Uuid,
    /// `insight` or `pipeline`.
    pub kind: String,
    /// The question asked (`null`: the default question, and for pipeline runs).
    pub question: Option<String>,
    /// The answer (for a pipeline run: its last step).
    pub answer: String,
    pub model: String,
    /// The steps of a pipeline run; empty for an insight.
    pub steps: Vec<StepView>,
    pub created_at: DateTime<Utc>,
}

impl From<&AiResult> for InsightView {
    fn from(r: &AiResult) -> InsightView {
        InsightView {
            id: r.id,
            kind: r.kind.as_str().to_owned(),
            question: r.question.clone(),
            answer: r.answer.clone(),
            model: r.model.clone(),
            steps: serde_json::from_value(r.steps.clone()).unwrap_or_default(),
            created_at: r.created_at,
        }
    }
}

/// `{"insight": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InsightEnvelope {
    pub insight: InsightView,
}

/// `{"pipeline": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PipelineEnvelope {
    pub pipeline: InsightView,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsightBody {
    /// What to ask about the recent data (1–1000 characters); without it, a general
    /// insight into the progress.
    pub question: Option<String>,
}

/// The pipeline takes no options: the body is empty or `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineBody {}

fn answer(answered: Answered, envelope: impl Fn(&AiResult) -> serde_json::Value) -> Response {
    match answered {
        Answered::Created(result) => (StatusCode::CREATED, Json(envelope(&result))).into_response(),
        Answered::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
            (status, Json(stored.body)).into_response()
        }
    }
}

fn insight_json(r: &AiResult) -> serde_json::Value {
    serde_json::to_value(InsightEnvelope { insight: r.into() }).unwrap_or_default()
}

fn pipeline_json(r: &AiResult) -> serde_json::Value {
    serde_json::to_value(PipelineEnvelope { pipeline: r.into() }).unwrap_or_default()
}

/// Ask the AI about your recent data (spends 1 `ai_calls`).
///
/// The unit is reserved before the provider is called and given back when the provider
/// fails, times out or answers malformed (502 `ai_failed`). Without a configured provider:
/// 503 `ai_unavailable`, nothing spent. The answer is stored and listed by
/// `GET /api/ai/insights`.
#[utoipa::path(post, path = "/ai/insight", tag = "ai",
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body(content = Option<InsightBody>, description = "`{\"question\": \"…\"}`; the body may be omitted"),
    responses((status = 201, body = InsightEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "feature_disabled, feature_limit_reached or email_not_verified", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody),
              (status = 502, description = "ai_failed: the provider failed or timed out; nothing spent", body = ErrorBody),
              (status = 503, description = "ai_unavailable: no provider configured; nothing spent", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn insight(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response> {
    let body = body?;
    crate::http::csrf::require_body_or_bearer(&user, &body)?;
    let parsed: InsightBody = if body.iter().all(u8::is_ascii_whitespace) {
        InsightBody::default()
    } else {
        if !crate::api::error::is_json(&headers) {
            return Err(Error::not_json());
        }
        serde_json::from_slice(&body).map_err(|e| Error::field("body", e.to_string()))?
    };
    let question = field(
        "question",
        Question::parse_optional(parsed.question.as_deref().unwrap_or("")),
    )?;
    let key = idempotency_key(&headers)?;
    let respond = |r: &AiResult| StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: insight_json(r),
    };
    let answered = ai::insight(&state, &user.profile, question, key.as_ref(), ip, &respond).await?;
    Ok(answer(answered, insight_json))
}

/// Run the multi-step analysis (needs `ai_pipeline`; spends 1 `ai_calls` per step).
///
/// All steps' units are reserved before the first call; if any step fails, all are given
/// back (502 `ai_failed`).
#[utoipa::path(post, path = "/ai/pipeline", tag = "ai",
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body(content = Option<PipelineBody>, description = "`{}` or nothing (nothing only with a bearer token)"),
    responses((status = 201, body = PipelineEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "feature_disabled (ai_pipeline off), feature_limit_reached (ai_calls) or email_not_verified", body = ErrorBody),
              (status = 502, description = "ai_failed: a step failed or timed out; nothing spent", body = ErrorBody),
              (status = 503, description = "ai_unavailable: no provider configured; nothing spent", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pipeline(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response> {
    let body = body?;
    crate::http::csrf::require_body_or_bearer(&user, &body)?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        if !crate::api::error::is_json(&headers) {
            return Err(Error::not_json());
        }
        let _: PipelineBody =
            serde_json::from_slice(&body).map_err(|e| Error::field("body", e.to_string()))?;
    }
    let key = idempotency_key(&headers)?;
    let respond = |r: &AiResult| StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: pipeline_json(r),
    };
    let answered = ai::pipeline(&state, &user.profile, key.as_ref(), ip, &respond).await?;
    Ok(answer(answered, pipeline_json))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InsightListParams {
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// `insight` or `pipeline`; both when absent.
    pub kind: Option<String>,
}

/// Your stored AI answers, newest first.
#[utoipa::path(get, path = "/ai/insights", tag = "ai",
    params(InsightListParams),
    responses((status = 200, body = Page<InsightView>),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<InsightListParams>,
) -> Result<Json<Page<InsightView>>> {
    let (limit, before) = page_args(params.limit, params.cursor.as_deref())?;
    let kind = match params.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            AiKind::parse(k).ok_or_else(|| Error::field("kind", "must be insight or pipeline"))?,
        ),
    };
    let mut rows = ai::list(&state, user.profile.id, kind, before, limit + 1).await?;
    let next_cursor = next_cursor(&mut rows, limit, |r| r.id);
    Ok(Json(Page {
        items: rows.iter().map(InsightView::from).collect(),
        next_cursor,
    }))
}

/// One stored AI answer.
#[utoipa::path(get, path = "/ai/insights/{id}", tag = "ai",
    params(("id" = Uuid, Path, description = "insight id")),
    responses((status = 200, body = InsightEnvelope),
              (status = 404, description = "not_found (also another profile's)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<InsightEnvelope>> {
    let result = ai::get(&state, user.profile.id, id).await?;
    Ok(Json(InsightEnvelope {
        insight: (&result).into(),
    }))
}
