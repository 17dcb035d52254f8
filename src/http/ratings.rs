//! Ratings over the API: staff record a rating given by phone or at the counter; leaders see
//! the bad ratings awaiting follow-up and record what was done.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use crate::domain::{ActionKind, Rating};
use crate::ratings::RatingError;
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiJson, ApiPath, Staff};
use crate::web::views::{local, ErrorBody};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases/{number}/rating", post(record))
        .route("/api/v1/cases/{number}/rating/follow-up", post(follow_up))
        .route("/api/v1/ratings/follow-ups", get(follow_ups))
}

impl From<RatingError> for ApiError {
    fn from(e: RatingError) -> Self {
        match e {
            RatingError::NotFinished => ApiError::new(
                StatusCode::CONFLICT,
                "not_finished",
                Text::new("案件办结后才能评价", "Only a finished case can be rated"),
            ),
            RatingError::AlreadyRated => ApiError::new(
                StatusCode::CONFLICT,
                "already_rated",
                Text::new("该案件已经评价过", "This case has already been rated"),
            ),
            RatingError::Store(e) => e.into(),
            RatingError::Calendar(e) => ApiError::internal(anyhow::Error::new(e)),
        }
    }
}

pub fn parse_rating(raw: &str) -> Result<Rating, ApiError> {
    raw.trim().parse().map_err(|_| {
        ApiError::invalid(
            "level",
            "unknown_rating",
            Text::new(
                format!("评价等级无效，可选：{}", Rating::codes()),
                format!("Unknown rating; use one of: {}", Rating::codes()),
            ),
        )
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// very_satisfied, satisfied, basically_satisfied, dissatisfied or very_dissatisfied
    #[schema(example = "satisfied")]
    pub level: String,
    pub comment: Option<String>,
}

/// Record the rating a citizen gave by phone or at the counter (once per case).
#[utoipa::path(post, path = "/api/v1/cases/{number}/rating", tag = "oversight", operation_id = "record_rating", request_body = RatingRequest,
    params(("number" = String, Path, description = "Case number")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "The case is not finished, or already rated", body = ErrorBody),
        (status = 422, description = "An unknown rating level, or a malformed case number", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn record(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<RatingRequest>,
) -> Result<StatusCode, ApiError> {
    staff.require(ActionKind::AddNote)?;
    let level = parse_rating(&body.level)?;
    let case = state.cases.load(&number).await?;
    let comment = body
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    state
        .ratings
        .rate(
            &case,
            level,
            comment,
            "staff",
            staff.0.by(),
            crate::clock::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpView {
    pub case_number: String,
    pub level: Rating,
    pub comment: Option<String>,
    pub source: String,
    pub rated_at: chrono::DateTime<chrono::FixedOffset>,
    /// Verify by then...
    pub verify_due: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// ...and rectify by then.
    pub rectify_due: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub overdue: bool,
}

/// Bad ratings awaiting follow-up (duty leaders and administrators).
#[utoipa::path(get, path = "/api/v1/ratings/follow-ups", tag = "oversight", operation_id = "rating_follow_ups",
    responses((status = 200, body = Vec<FollowUpView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn follow_ups(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<FollowUpView>>, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let tz = state.calendar.current().timezone();
    let now = crate::clock::now();
    Ok(Json(
        state
            .store
            .open_bad_ratings()
            .await?
            .into_iter()
            .map(|r| FollowUpView {
                overdue: r.rectify_due.is_some_and(|d| d < now),
                case_number: r.case_number,
                level: r.level,
                comment: r.comment,
                source: r.source,
                rated_at: local(r.created_at, tz),
                verify_due: r.verify_due.map(|t| local(t, tz)),
                rectify_due: r.rectify_due.map(|t| local(t, tz)),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// What was verified and rectified.
    pub outcome: String,
}

/// Record the follow-up of a bad rating.
#[utoipa::path(post, path = "/api/v1/cases/{number}/rating/follow-up", tag = "oversight", operation_id = "follow_up_rating", request_body = FollowUpRequest,
    params(("number" = String, Path, description = "Case number")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "The case has no bad rating awaiting follow-up", body = ErrorBody),
        (status = 422, description = "No outcome, or a malformed case number", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn follow_up(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<FollowUpRequest>,
) -> Result<StatusCode, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let case = state.cases.load(&number).await?;
    record_follow_up(&state, &case, &body.outcome, staff.0.by()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records the follow-up of a case's bad rating: 422 without an outcome, 409 when none
/// awaits it. The API and the case page share it.
pub(crate) async fn record_follow_up(
    state: &AppState,
    case: &crate::domain::Case,
    outcome: &str,
    by: crate::domain::By<'_>,
) -> Result<(), ApiError> {
    let outcome = outcome.trim();
    if outcome.is_empty() {
        return Err(ApiError::invalid(
            "outcome",
            "required",
            Text::new(
                "请填写核实和整改情况",
                "Say what was verified and rectified",
            ),
        ));
    }
    match state
        .store
        .follow_up_rating(case.id, outcome, by, crate::clock::now())
        .await?
    {
        true => Ok(()),
        false => Err(ApiError::new(
            StatusCode::CONFLICT,
            "nothing_to_follow_up",
            Text::new(
                "该案件没有待跟进的差评",
                "This case has no bad rating awaiting follow-up",
            ),
        )),
    }
}
