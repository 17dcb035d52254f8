//! The notification outbox as leaders see it: what is waiting, what was sent, and the dead
//! letters with their reasons. Recipients are shown masked.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::domain::phone::mask_middle;
use crate::domain::ActionKind;
use crate::notify::recipient_domain;
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiQuery, Staff};
use crate::web::views::{local, ErrorBody};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/outbox", get(list_outbox))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// pending, sent or dead; all when absent.
    pub status: Option<String>,
    /// At most this many, newest first: 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: i64,
    #[schema(example = "website_confirmation")]
    pub topic: String,
    pub case_id: Option<i64>,
    /// Masked: `w******e@qq.com`.
    pub recipient: String,
    /// pending, sent or dead
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<FixedOffset>,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub sent_at: Option<DateTime<FixedOffset>>,
}

/// The notification outbox (duty leaders and administrators).
#[utoipa::path(
    get, path = "/api/v1/outbox", tag = "oversight",
    params(OutboxParams),
    responses((status = 200, body = Vec<OutboxView>), (status = 422, description = "An unknown status, or a limit out of range", body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_outbox(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(params): ApiQuery<OutboxParams>,
) -> Result<Json<Vec<OutboxView>>, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let status = params.status.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = status {
        if !matches!(s, "pending" | "sent" | "dead") {
            return Err(ApiError::invalid(
                "status",
                "invalid_status",
                Text::new(
                    "状态无效，可选：pending, sent, dead",
                    "Unknown status; use pending, sent or dead",
                ),
            ));
        }
    }
    let limit = match params.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(_) => {
            return Err(ApiError::invalid(
                "limit",
                "invalid_limit",
                Text::new(
                    "条数须在 1 到 1000 之间",
                    "limit must be between 1 and 1000",
                ),
            ))
        }
    };
    let tz = state.calendar.current().timezone();
    let rows = state.store.outbox_list(status, limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| {
                let local_part = r.recipient.split('@').next().unwrap_or("");
                OutboxView {
                    id: r.id,
                    topic: r.topic,
                    case_id: r.case_id,
                    recipient: format!(
                        "{}@{}",
                        mask_middle(local_part, 1, 1),
                        recipient_domain(&r.recipient)
                    ),
                    status: r.status,
                    attempts: r.attempts,
                    next_attempt_at: local(r.next_attempt_at, tz),
                    last_error: r.last_error,
                    created_at: local(r.created_at, tz),
                    sent_at: r.sent_at.map(|t| local(t, tz)),
                }
            })
            .collect(),
    ))
}
