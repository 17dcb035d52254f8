//! The voicemail quarantine (what could not be taken in, with its reason) and recordings
//! for staff to play, with HTTP ranges for seeking; every play is on the case's timeline.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::super::Hotline;
use crate::clock::now;
use crate::domain::ActionKind;
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiPath, ApiQuery, Staff};
use crate::web::views::{ErrorBody, QuarantineView};

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
    State(hotline): State<Hotline>,
    staff: Staff,
    ApiQuery(params): ApiQuery<QuarantineParams>,
) -> Result<Json<Vec<QuarantineView>>, ApiError> {
    staff.require(ActionKind::Read)?;
    let tz = hotline.calendar.current().timezone();
    let items = hotline
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

/// How long one play lasts on the timeline: more requests for the same recording by the same
/// person within it (seeking, replaying a passage) are that play.
const PLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

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
    State(hotline): State<Hotline>,
    staff: Staff,
    ApiPath(id): ApiPath<i64>,
    request: Request,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::Read)?;
    let recording = hotline
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
    let path = hotline.ingestor.audio().path_of(&recording.sha256);
    if !path.is_file() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "recording {id} is missing from the audio folder"
        )));
    }
    // A player fetches a recording in ranges, from anywhere, as it seeks; each person's
    // listening is one play on the timeline per recording and window, whatever was asked for.
    let now = now();
    hotline
        .store
        .record_access_once(
            recording.case_id,
            staff.0.by(),
            crate::domain::EventKind::PlayRecording,
            &format!("recording #{id}"),
            now - PLAY_WINDOW,
            now,
        )
        .await?;
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
