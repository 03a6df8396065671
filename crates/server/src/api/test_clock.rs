//! The test clock (only with `MITAI_TEST_CLOCK=1`): move "now" forward, run jobs.

use axum::extract::State;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::error::ErrorBody;
use crate::api::error::{Error, Json, Result};
use crate::service::AppState;
use crate::service::jobs::{self, JobReport};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockBody {
    /// Seconds to move forward (≥ 0).
    pub advance_seconds: Option<i64>,
    /// An instant to move to (not before the current one).
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockAnswer {
    pub now: DateTime<Utc>,
}

/// Move the server's clock forward.
#[utoipa::path(post, path = "/clock", tag = "test", request_body = ClockBody,
    responses((status = 200, body = ClockAnswer),
              (status = 422, description = "invalid_input", body = ErrorBody)))]
pub async fn clock(
    State(state): State<AppState>,
    Json(body): Json<ClockBody>,
) -> Result<Json<ClockAnswer>> {
    let delta = match (body.advance_seconds, body.now) {
        (Some(secs), None) if (0..=100 * 366 * 86_400).contains(&secs) => TimeDelta::seconds(secs),
        (Some(_), None) => {
            return Err(Error::field(
                "advance_seconds",
                "must be from 0 to 100 years in seconds",
            ));
        }
        (None, Some(target)) => {
            let delta = target - state.now();
            if delta < TimeDelta::zero() {
                return Err(Error::field("now", "the clock only moves forward"));
            }
            if delta > TimeDelta::days(100 * 366) {
                return Err(Error::field("now", "at most 100 years ahead"));
            }
            delta
        }
        _ => {
            return Err(Error::field(
                "body",
                "give exactly one of advance_seconds and now",
            ));
        }
    };
    state.clock.advance(delta);
    Ok(Json(ClockAnswer { now: state.now() }))
}

/// Run all due jobs now.
#[utoipa::path(post, path = "/jobs/run", tag = "test", responses((status = 200, body = JobReport)))]
pub async fn run_jobs(State(state): State<AppState>) -> Json<JobReport> {
    Json(jobs::run_due(&state).await)
}
