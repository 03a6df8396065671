//! `/insights`: ask the AI about the recent data (the answer shown as text), and the
//! multi-step analysis — disabled, with the reason, when `ai_pipeline` is off; the page
//! says so when no AI provider is configured.

use crate::service::records::{AiResult, StoredResponse};
use askama::Template;
use axum::extract::State;
use mitai_access::text::{Question, TextError};

use super::forms::{FieldErrors, FormData, new_idempotency_key};
use super::{Ctx, Member, Refusal, UiResult, refusal, render, render_status};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::{Error, ErrorCode};
use crate::service::{access, ai};

/// An answer as the page shows it.
pub struct Shown {
    pub when: String,
    pub question: String,
    pub answer: String,
    pub steps: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "ui/insights.html")]
struct InsightsPage {
    ctx: Ctx,
    configured: bool,
    pipeline_on: bool,
    pipeline_reason: String,
    calls_left: String,
    recent: Vec<Shown>,
    question: String,
    /// Why the question was refused (at the field).
    question_error: Option<String>,
    idempotency_key: String,
    refusal: Option<Refusal>,
}

fn shown(state: &AppState, lang: super::Lang, r: &AiResult) -> Shown {
    let tz = state.registry().settings.usage_timezone;
    let steps = r
        .steps
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    let name = s["name"].as_str().unwrap_or_default();
                    let title = lang
                        .try_t(&format!("insights.step.{name}"))
                        .map_or_else(|| name.to_owned(), str::to_owned);
                    (title, s["answer"].as_str().unwrap_or_default().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    Shown {
        when: lang.datetime(r.created_at, tz),
        question: r.question.clone().unwrap_or_default(),
        answer: r.answer.clone(),
        steps,
    }
}

async fn view(state: &AppState, member: &Member) -> UiResult<InsightsPage> {
    let lang = member.lang();
    let profile = member.profile();
    let (_, views) = access::access_list(state, profile).await?;
    let find = |id: &str| views.iter().find(|v| v.feature == id);
    let calls = find("ai_calls");
    let pipeline = find("ai_pipeline");
    let pipeline_on = pipeline.is_some_and(|p| p.enabled);
    let pipeline_reason = if pipeline_on {
        String::new()
    } else {
        lang.t("insights.pipeline_off").to_owned()
    };
    let recent = ai::list(state, profile.id, None, None, 10).await?;
    Ok(InsightsPage {
        ctx: member.ctx("insights", None),
        configured: state.ai.is_some(),
        pipeline_on,
        pipeline_reason,
        calls_left: match calls {
            Some(c) if !c.enabled => lang.t("plan.off").to_owned(),
            Some(c) => c.remaining.map_or_else(
                || lang.t("plan.unlimited").to_owned(),
                |r| lang.number(r as f64, 0),
            ),
            None => String::new(),
        },
        recent: recent.iter().map(|r| shown(state, lang, r)).collect(),
        question: String::new(),
        question_error: None,
        idempotency_key: new_idempotency_key(),
        refusal: None,
    })
}

pub async fn page(State(state): State<AppState>, member: Member) -> UiResult {
    render(&view(&state, &member).await?)
}

fn respond(r: &AiResult) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: serde_json::json!({"id": r.id}),
    }
}

/// The page again with the question refused at its field (422; nothing was spent).
async fn invalid_question(
    state: &AppState,
    member: &Member,
    question: &str,
    why: &TextError,
) -> UiResult {
    let mut page = view(state, member).await?;
    page.question = question.to_owned();
    page.question_error = Some(FieldErrors::reason(member.lang(), why));
    render_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// Shows a refusal of an AI request on the page (nothing was spent).
async fn refused(state: &AppState, member: &Member, e: Error, question: String) -> UiResult {
    let lang = member.lang();
    let mut page = view(state, member).await?;
    page.question = question;
    let text = match e.code() {
        ErrorCode::AiUnavailable => lang.t("insights.unavailable").to_owned(),
        ErrorCode::AiFailed => lang.t("insights.failed").to_owned(),
        _ => match refusal(state, lang, &e) {
            Some(r) => {
                page.refusal = Some(r);
                return render_status(super::status_of(&e), &page);
            }
            None => match e {
                Error::Invalid { fields, .. } => {
                    fields.values().cloned().collect::<Vec<_>>().join("; ")
                }
                e => return Err(e.into()),
            },
        },
    };
    page.refusal = Some(Refusal {
        text,
        plan_link: false,
        plan_label: lang.t("refusal.plan_link"),
    });
    // A provider that failed is the gateway's fault, not the visitor's: the page itself is
    // fine, so it answers as a page.
    render_status(axum::http::StatusCode::OK, &page)
}

pub async fn ask(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let question = form.get("question").to_owned();
    let asked = match Question::parse_optional(form.raw("question")) {
        Ok(asked) => asked,
        Err(why) => return invalid_question(&state, &member, &question, &why).await,
    };
    let key = form.idempotency_key()?;
    match ai::insight(&state, member.profile(), asked, key.as_ref(), ip, &respond).await {
        Ok(_) => Ok(super::see_other("/insights")),
        Err(e) => refused(&state, &member, e, question).await,
    }
}

pub async fn pipeline(
    State(state): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> UiResult {
    form.check_csrf(&member.user)?;
    let key = form.idempotency_key()?;
    match ai::pipeline(&state, member.profile(), key.as_ref(), ip, &respond).await {
        Ok(_) => Ok(super::see_other("/insights")),
        Err(e) => refused(&state, &member, e, String::new()).await,
    }
}
