//! Whether the window is open, by the official calendar, for the PBX's dialplan (`CURL()`)
//! and anyone else who routes calls: `GET /api/v1/calendar/open`. Public: it says only what
//! the bureau's opening hours say.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use crate::web::error::{ApiError, Text};
use crate::web::time::optional_instant;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/calendar/open", get(open))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OpenQuery {
    /// An RFC 3339 instant; default now.
    pub at: Option<String>,
    /// `json` (default) or `text` (`open` or `closed`, for a dialplan).
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenView {
    /// The window is staffed at `at`: a working day (make-up days included), inside a period.
    pub open: bool,
    /// The next start of a working period at or after `at`, in local time.
    pub next_opening: chrono::DateTime<chrono::FixedOffset>,
    /// `at`'s day comes from an official calendar (false: statutory holidays only).
    pub official: bool,
}

/// Whether the window is open at an instant, and when it next opens.
#[utoipa::path(get, path = "/api/v1/calendar/open", tag = "calendar",
    params(
        ("at" = Option<String>, Query, description = "RFC 3339; default now"),
        ("format" = Option<String>, Query, description = "json (default) or text: `open` or `closed`"),
    ),
    responses(
        (status = 200, body = OpenView, description = "JSON, or `open`/`closed` as text/plain with format=text"),
        (status = 422, description = "A malformed instant or format", body = crate::web::views::ErrorBody),
    ))]
pub async fn open(
    State(state): State<AppState>,
    Query(q): Query<OpenQuery>,
) -> Result<Response, ApiError> {
    let calendar = state.calendar.current();
    let tz = calendar.timezone();
    let at = optional_instant("at", q.at.as_deref(), tz, 0)?.unwrap_or_else(crate::clock::now);
    let open = calendar.is_working_time(at);
    match q.format.as_deref().map(str::trim).unwrap_or("json") {
        "text" => Ok(if open { "open" } else { "closed" }.into_response()),
        "json" | "" => {
            let next = calendar
                .next_opening(at)
                .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
            let official = !calendar.day(calendar.local_date(at)).provisional;
            Ok(Json(OpenView {
                open,
                next_opening: next.at.with_timezone(&tz).fixed_offset(),
                official,
            })
            .into_response())
        }
        other => Err(ApiError::invalid(
            "format",
            "invalid_input",
            Text::new(
                format!("format 的值 `{other}` 无效，可选：json、text"),
                format!("Unknown format `{other}`; use json or text"),
            ),
        )),
    }
}
