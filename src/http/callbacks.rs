//! The next-morning callback list over HTTP, for the morning shift's page and for softphone
//! integrations: the day's list, claiming an entry, recording attempts, generation by hand,
//! and the exports (CSV, XLSX, an A4 print view). Phone numbers appear in full here, to
//! signed-in staff only; every export is written to the audit trail with who made it.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::callbacks::export::{to_csv, to_xlsx};
use crate::callbacks::{AttemptInput, CallbackError, DayList, ListEntry};
use crate::domain::callback_result::CallDetails;
use crate::domain::{ActionKind, Outcome};
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::web::views::ErrorBody;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/callbacks", get(day_list))
        .route("/api/v1/callbacks/generate", post(generate))
        .route("/api/v1/callbacks/export", get(export))
        .route("/api/v1/callbacks/print", get(print))
        .route("/api/v1/callbacks/{id}/claim", post(claim))
        .route("/api/v1/callbacks/{id}/attempts", post(attempt))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// A working day, 2026-10-08; today when absent.
    pub date: Option<String>,
    /// For exports: csv (default) or xlsx.
    pub format: Option<String>,
}

fn parse_date(raw: Option<&str>, state: &AppState) -> Result<NaiveDate, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(state.calendar.current().local_date(crate::clock::now())),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid(
                "date",
                "invalid_date",
                Text::new(
                    format!("日期格式不对，应类似 2026-10-08（收到：{s}）"),
                    format!("Not a date: use 2026-10-08 (got `{s}`)"),
                ),
            )
        }),
    }
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::NotWorkingDay(d) => ApiError::invalid(
                "date",
                "not_a_working_day",
                Text::new(
                    format!("{d} 不是工作日，没有回访清单"),
                    format!("{d} is not a working day: it has no callback list"),
                ),
            ),
            CallbackError::NotFound => ApiError::not_found("回访条目", "callback entry"),
            CallbackError::Finished => ApiError::new(
                StatusCode::CONFLICT,
                "callback_finished",
                Text::new("该回访已经结束", "This callback is already finished"),
            ),
            CallbackError::HeldBy(by, until) => ApiError::new(
                StatusCode::CONFLICT,
                "callback_claimed",
                Text::new(
                    format!("{by} 正在联系此人（至 {}）", until.format("%H:%M")),
                    format!("{by} is calling this person (until {})", until.format("%H:%M")),
                ),
            ),
            CallbackError::TooSoon(next) => ApiError::new(
                StatusCode::CONFLICT,
                "too_soon",
                Text::new(
                    format!(
                        "两次回拨至少间隔一段时间，{} 以后才能再拨（值班领导可注明理由提前重拨）",
                        next.format("%-m月%-d日 %H:%M")
                    ),
                    format!(
                        "Calls to one person are spaced out: the next try is allowed from {} (a duty leader may override it, with a reason)",
                        next.format("%d %b %H:%M")
                    ),
                ),
            ),
            CallbackError::Missing(field) => {
                let (zh, en) = match field {
                    "answer" => ("请填写向来电人答复的内容", "Say what the caller was told"),
                    "matter" => ("请选择来电人反映的事项类别", "Choose the caller's matter"),
                    _ => ("请简要写明来电人的诉求", "Summarise what the caller wants"),
                };
                ApiError::invalid(field, "required", Text::new(zh, en))
            }
            CallbackError::UnknownMatter(code) => ApiError::invalid(
                "matter",
                "unknown_matter",
                Text::new(
                    format!("事项类别 `{code}` 未配置"),
                    format!("`{code}` is not a configured matter"),
                ),
            ),
            CallbackError::OverrideNeedsReason => ApiError::invalid(
                "override_reason",
                "required",
                Text::new("提前重拨须注明理由", "An override needs a reason"),
            ),
            CallbackError::OverrideNotAllowed => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                Text::new(
                    "只有值班领导可以提前重拨",
                    "Only a duty leader may override the waiting time",
                ),
            ),
            CallbackError::Store(e) => e.into(),
            CallbackError::Calendar(e) => ApiError::internal(anyhow::Error::new(e)),
        }
    }
}

/// The day's callback list (or, before its opening, what is pending for it).
#[utoipa::path(
    get, path = "/api/v1/callbacks", tag = "callbacks",
    params(DayParams),
    responses(
        (status = 200, description = "The list: progress, entries in calling order, unknown numbers", body = DayList),
        (status = 403, body = ErrorBody),
        (status = 422, description = "A malformed date, or a day that is not a working day", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn day_list(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(params): ApiQuery<DayParams>,
) -> Result<Json<DayList>, ApiError> {
    staff.require(ActionKind::WorkCallbacks)?;
    let date = parse_date(params.date.as_deref(), &state)?;
    Ok(Json(state.callbacks.day(date, crate::clock::now()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// The working day, 2026-10-08.
    pub date: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Generated {
    pub date: NaiveDate,
    /// Entries this call created (0 when the list already existed).
    pub created: usize,
}

/// Generate a day's list by hand (idempotent; the job does it at each opening).
#[utoipa::path(
    post, path = "/api/v1/callbacks/generate", tag = "callbacks",
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "How many entries were created", body = Generated),
        (status = 403, body = ErrorBody),
        (status = 422, description = "A malformed date, or a day that is not a working day", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn generate(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<GenerateRequest>,
) -> Result<Json<Generated>, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let date = parse_date(Some(&body.date), &state)?;
    let created = state
        .callbacks
        .generate_day(date, staff.0.by(), crate::clock::now())
        .await?;
    Ok(Json(Generated { date, created }))
}

/// Claim an entry, so that two people never call the same person (the claim expires).
#[utoipa::path(
    post, path = "/api/v1/callbacks/{id}/claim", tag = "callbacks",
    params(("id" = i64, Path, description = "Entry id")),
    responses(
        (status = 200, description = "The entry, claimed", body = ListEntry),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Someone else holds it, or it is finished", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn claim(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ListEntry>, ApiError> {
    staff.require(ActionKind::WorkCallbacks)?;
    Ok(Json(
        state
            .callbacks
            .claim(id, staff.0.by(), crate::clock::now())
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptRequest {
    /// reached_resolved, reached_continues, no_answer, busy or wrong_number
    #[schema(example = "no_answer")]
    pub outcome: String,
    pub note: Option<String>,
    /// reached_resolved: what the caller was told (required). Every case of the entry that is
    /// only a message closes as a consultation answered by callback; missed calls become
    /// such cases.
    pub answer: Option<String>,
    /// reached_continues: the caller's matter (a configured code) and what they want
    /// (required). The entry's messages take them, owned by the caller-back, due in their
    /// tier's working days from now; missed calls become such cases.
    pub matter: Option<String>,
    pub summary: Option<String>,
    /// reached_resolved: other cases of the entry (a website message, a case being worked)
    /// the answer settles too, by number.
    #[serde(default)]
    pub close: Vec<String>,
    /// A duty leader's reason to try again before the waiting time is up.
    pub override_reason: Option<String>,
}

/// Record a callback attempt. Its outcome is the next step of the entry's cases: answered
/// (closed as consultations), continuing (the caller's matter and summary, owned by the
/// caller-back), or, after the last failed try, unreachable.
#[utoipa::path(
    post, path = "/api/v1/callbacks/{id}/attempts", tag = "callbacks",
    params(("id" = i64, Path, description = "Entry id")),
    request_body = AttemptRequest,
    responses(
        (status = 200, description = "The entry after the attempt", body = ListEntry),
        (status = 404, body = ErrorBody),
        (status = 403, description = "Not a caller-back; or an override by someone not a duty leader", body = ErrorBody),
        (status = 409, description = "Someone else holds it, it is finished, or the next try is not allowed yet (the answer says when)", body = ErrorBody),
        (status = 422, description = "An unknown outcome or matter, a missing answer, matter or summary, or a text too long", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn attempt(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AttemptRequest>,
) -> Result<Json<ListEntry>, ApiError> {
    staff.require(ActionKind::WorkCallbacks)?;
    let outcome: Outcome = body.outcome.trim().parse().map_err(|_| {
        ApiError::invalid(
            "outcome",
            "unknown_outcome",
            Text::new(
                format!("回访结果无效，可选：{}", Outcome::codes()),
                format!("Unknown outcome; use one of: {}", Outcome::codes()),
            ),
        )
    })?;
    let limit = state.rules.description_max_chars;
    let text = |field: &'static str, value: &Option<String>| -> Result<Option<String>, ApiError> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => crate::domain::citizen::plain_text(v, limit)
                .map(Some)
                .map_err(|_| {
                    ApiError::invalid(
                        field,
                        "invalid_text",
                        Text::new(
                            "内容太长或含有无法显示的字符",
                            "Too long, or has control characters",
                        ),
                    )
                }),
        }
    };
    let input = AttemptInput {
        outcome,
        note: text("note", &body.note)?,
        details: CallDetails {
            answer: text("answer", &body.answer)?,
            matter: text("matter", &body.matter)?,
            summary: text("summary", &body.summary)?,
            also_close: body.close.iter().map(|n| n.trim().to_uppercase()).collect(),
        },
        override_reason: text("override_reason", &body.override_reason)?,
    };
    Ok(Json(
        state
            .callbacks
            .attempt(id, &staff.0, input, crate::clock::now())
            .await?,
    ))
}

/// The list as CSV (UTF-8 with BOM) or XLSX; the export is audited.
#[utoipa::path(
    get, path = "/api/v1/callbacks/export", tag = "callbacks", operation_id = "export_callbacks",
    params(DayParams),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM) or an XLSX workbook, by `format`", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 403, body = ErrorBody),
        (status = 422, description = "A malformed date, a day that is not a working day, or an unknown format", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(params): ApiQuery<DayParams>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::WorkCallbacks)?;
    let date = parse_date(params.date.as_deref(), &state)?;
    let now = crate::clock::now();
    let list = state.callbacks.day(date, now).await?;
    let format = params
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("csv");
    let (body, content_type, extension) = match format {
        "csv" => (
            to_csv(&list).map_err(ApiError::internal)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        "xlsx" => (
            to_xlsx(&list, &staff.0.name).map_err(ApiError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        other => return Err(crate::web::html::unknown_format(other)),
    };
    state
        .store
        .audit(
            staff.0.by(),
            "export_callbacks",
            &date.to_string(),
            Some(extension),
            now,
        )
        .await?;
    let filename = format!("callbacks-{date}.{extension}");
    Ok(crate::web::html::download(content_type, &filename, body))
}

#[derive(Template)]
#[template(
    path = "staff/callbacks_print.html",
    config = "src/templates/askama.toml"
)]
struct PrintPage<'a> {
    list: &'a DayList,
    produced_by: &'a str,
    produced_at: String,
}

impl PrintPage<'_> {
    fn all(&self) -> impl Iterator<Item = (usize, &ListEntry)> {
        self.list
            .entries
            .iter()
            .chain(&self.list.daytime)
            .chain(&self.list.unknown_numbers)
            .enumerate()
            .map(|(i, e)| (i + 1, e))
    }
}

/// The list as an A4 page to print; the print is audited.
#[utoipa::path(
    get, path = "/api/v1/callbacks/print", tag = "callbacks", operation_id = "print_callbacks",
    params(DayParams),
    responses(
        (status = 200, description = "An HTML page laid out for A4", content_type = "text/html"),
        (status = 403, body = ErrorBody),
        (status = 422, description = "A malformed date, or a day that is not a working day", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn print(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(params): ApiQuery<DayParams>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::WorkCallbacks)?;
    let date = parse_date(params.date.as_deref(), &state)?;
    let now = crate::clock::now();
    let list = state.callbacks.day(date, now).await?;
    state
        .store
        .audit(
            staff.0.by(),
            "export_callbacks",
            &date.to_string(),
            Some("print"),
            now,
        )
        .await?;
    let tz = state.calendar.current().timezone();
    let html = PrintPage {
        list: &list,
        produced_by: &staff.0.name,
        produced_at: now.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
    }
    .render()
    .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}
