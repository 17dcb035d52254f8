//! The hotline channel over HTTP: calls logged by operators, the voicemail quarantine, and
//! recordings for staff to play.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::cases::{created, parse_instant};
use super::error::{ApiError, Text};
use super::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use super::views::{CaseView, ErrorBody, LogCallRequest, QuarantineView};
use super::AppState;
use crate::clock::now;
use crate::domain::citizen::plain_text;
use crate::domain::registration::{register, RegistrationForm};
use crate::domain::{ActionKind, Channel};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hotline/calls", post(log_call))
        .route("/api/v1/hotline/quarantine", get(list_quarantine))
        .route("/api/v1/recordings/{id}", get(play_recording))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuarantineParams {
    /// `true` to include entries a later pass resolved.
    pub all: Option<bool>,
}

/// What could not be ingested, with the reason and the original path.
#[utoipa::path(
    get, path = "/api/v1/hotline/quarantine", tag = "hotline",
    params(QuarantineParams),
    responses((status = 200, body = Vec<QuarantineView>), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_quarantine(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(params): ApiQuery<QuarantineParams>,
) -> Result<Json<Vec<QuarantineView>>, ApiError> {
    staff.require(ActionKind::Read)?;
    let tz = state.calendar.current().timezone();
    let items = state
        .store
        .quarantine_list(params.all.unwrap_or(false))
        .await?;
    Ok(Json(
        items
            .into_iter()
            .map(|q| QuarantineView::new(q, tz))
            .collect(),
    ))
}

/// A recording as audio/wav, with HTTP Range support for seeking. Every access is written
/// on the case's timeline.
#[utoipa::path(
    get, path = "/api/v1/recordings/{id}", tag = "hotline",
    params(("id" = i64, Path, description = "Recording id")),
    responses(
        (status = 200, description = "The whole recording", content_type = "audio/wav"),
        (status = 206, description = "A byte range"),
        (status = 404, body = ErrorBody),
        (status = 410, description = "Deleted under the retention rules", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn play_recording(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<i64>,
    request: Request,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::Read)?;
    let recording = state
        .store
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::not_found("该录音", "recording"))?;
    if recording.purged_at.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "purged",
            Text::new(
                "该录音已按保存期限删除",
                "This recording was deleted under the retention rules",
            ),
        ));
    }
    let path = state.ingestor.audio().path_of(&recording.sha256);
    if !path.is_file() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "recording {id} is missing from the audio folder"
        )));
    }
    // A player seeking sends a series of ranges; the one from the start is the access.
    let range = request.headers().get(header::RANGE);
    if range.is_none_or(|r| r.as_bytes().starts_with(b"bytes=0-")) {
        let note = format!("recording #{id}");
        state
            .store
            .record_access(
                recording.case_id,
                &staff.0.name,
                crate::domain::EventKind::PlayRecording,
                &note,
                now(),
            )
            .await?;
    }
    let mut response = ServeFile::new(&path)
        .oneshot(request)
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?
        .map(Body::new);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    Ok(response)
}

pub(super) fn hotline_channel(raw: &str) -> Result<Channel, ApiError> {
    match raw.trim() {
        "complaint" | "complaint_hotline" | "3105883" => Ok(Channel::ComplaintHotline),
        "business" | "business_hotline" | "6912333" => Ok(Channel::BusinessHotline),
        other => Err(ApiError::invalid(
            "hotline",
            "unknown_hotline",
            Text::new(
                format!("热线 `{other}` 无效，可选：complaint（投诉热线）或 business（业务热线）"),
                format!("Unknown hotline `{other}`; use complaint or business"),
            ),
        )),
    }
}

/// Log a call on either hotline while talking.
#[utoipa::path(
    post, path = "/api/v1/hotline/calls", tag = "hotline",
    request_body = LogCallRequest,
    responses(
        (status = 201, description = "Registered (closed at once when answered)", body = CaseView),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn log_call(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<LogCallRequest>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::LogCall)?;
    let case = log_call_as(&state, &staff.0.name, body).await?;
    Ok(created(&case, state.calendar.current().timezone(), now()))
}

/// Logs a call for `actor`: the API and the operators' page alike.
pub(crate) async fn log_call_as(
    state: &AppState,
    actor: &str,
    body: LogCallRequest,
) -> Result<crate::domain::Case, ApiError> {
    let channel = hotline_channel(&body.hotline)?;
    let answered = match body.outcome.trim() {
        "answered" => true,
        "follow_up" => false,
        other => {
            return Err(ApiError::invalid(
                "outcome",
                "unknown_outcome",
                Text::new(
                    format!("处理结果 `{other}` 无效，可选：answered（电话中已解答）或 follow_up（需后续办理）"),
                    format!("Unknown outcome `{other}`; use answered or follow_up"),
                ),
            ))
        }
    };
    let answer = match body
        .answer
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        Some(a) => Some(
            plain_text(a, state.rules.description_max_chars).map_err(|e| {
                ApiError::invalid(
                    "answer",
                    "invalid_input",
                    Text::new("解答内容过长或含有无法显示的字符", format!("answer {e}")),
                )
            })?,
        ),
        None => None,
    };
    let calendar = state.calendar.current();
    let received_at = body
        .received_at
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_instant("received_at", s, calendar.timezone()))
        .transpose()?;
    let form = RegistrationForm {
        channel: channel.as_str().to_owned(),
        citizen_name: body.caller_name,
        phone: body.caller_number,
        id_card: None,
        matter: body.matter,
        description: body.summary,
        received_at,
    };
    let now = now();
    let mut submission = register(form, &state.rules, actor, now).map_err(|errors| {
        // The form's field names are the generic ones; say them as this request does.
        let renamed = errors
            .into_iter()
            .map(|mut e| {
                e.field = match e.field {
                    "phone" => "caller_number",
                    "citizen_name" => "caller_name",
                    "description" => "summary",
                    other => other,
                };
                e
            })
            .collect();
        ApiError::fields(renamed)
    })?;
    if answered {
        submission.answer = Some(answer.unwrap_or_else(|| "电话中已解答".to_owned()));
    }
    let case = super::cases::registered_case(state.intake.submit(submission, now).await?)?;
    tracing::info!(case = %case.number, channel = %case.channel, answered, "hotline call logged");
    Ok(case)
}
