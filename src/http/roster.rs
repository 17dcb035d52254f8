//! The duty roster (值班制度): who is the duty leader on each date. Leaders and administrators
//! set it one date at a time or import a CSV of `date,username`; anyone can read it, with a
//! warning for working days in the next two weeks that have no duty leader.

use axum::extract::rejection::StringRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::domain::{ActionKind, Role};
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::web::views::ErrorBody;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/roster", get(show))
        .route("/api/v1/roster/import", post(import))
        .route("/api/v1/roster/{date}", put(set))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RosterParams {
    /// First date, default today.
    pub from: Option<String>,
    /// Last date, default four weeks on.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntry {
    pub date: NaiveDate,
    pub username: String,
    /// Absent when the username has no account (the import refuses those; a later removal
    /// shows here).
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterView {
    pub entries: Vec<RosterEntry>,
    /// Working days of the next two weeks without a duty leader.
    pub gaps: Vec<NaiveDate>,
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            field,
            "invalid_date",
            Text::new(
                format!("日期格式不对，应类似 2026-12-01（收到：{raw}）"),
                format!("Not a date: use 2026-12-01 (got `{raw}`)"),
            ),
        )
    })
}

/// The roster, and the working days ahead with nobody on duty.
#[utoipa::path(get, path = "/api/v1/roster", tag = "oversight", operation_id = "show_roster", params(RosterParams),
    responses((status = 200, body = RosterView), (status = 422, description = "A malformed date", body = ErrorBody)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(p): ApiQuery<RosterParams>,
) -> Result<Json<RosterView>, ApiError> {
    staff.require(ActionKind::Read)?;
    let calendar = state.calendar.current();
    let today = calendar.local_date(crate::clock::now());
    // An empty parameter (a form's blank field) means the default, as elsewhere.
    let given = |raw: &Option<String>| raw.clone().filter(|d| !d.trim().is_empty());
    let from = given(&p.from)
        .as_deref()
        .map(|d| date("from", d))
        .transpose()?
        .unwrap_or(today);
    let to = given(&p.to)
        .as_deref()
        .map(|d| date("to", d))
        .transpose()?
        .unwrap_or(from + chrono::Days::new(28));
    let entries = state
        .store
        .roster(from, to)
        .await?
        .into_iter()
        .map(|(date, username, name)| RosterEntry {
            date,
            username,
            name,
        })
        .collect();
    let gaps = crate::oversight::roster_gaps(state.store.as_ref(), &calendar, today, 14).await?;
    Ok(Json(RosterView { entries, gaps }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDuty {
    #[schema(example = "zhao")]
    pub username: String,
}

async fn check_leader(state: &AppState, username: &str) -> Result<(), String> {
    match state.store.user_by_username(username).await {
        Ok(Some(u)) if u.disabled => Err(format!("{username} is disabled")),
        Ok(Some(u)) if u.roles.contains(&Role::DutyLeader) || u.roles.contains(&Role::Admin) => {
            Ok(())
        }
        Ok(Some(_)) => Err(format!("{username} does not have the duty_leader role")),
        Ok(None) => Err(format!("there is no user {username}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Set the duty leader of a date (duty leaders and administrators).
#[utoipa::path(put, path = "/api/v1/roster/{date}", tag = "oversight", operation_id = "set_duty", request_body = SetDuty,
    params(("date" = String, Path, description = "2026-12-01")),
    responses(
        (status = 204, description = "Set"),
        (status = 422, description = "A malformed date, or the account may not lead", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<SetDuty>,
) -> Result<StatusCode, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let day = date("date", &raw)?;
    set_checked(&state, staff.0.by(), day, body.username.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts a duty leader on a date, after checking the account may lead; audited.
pub(crate) async fn set_checked(
    state: &AppState,
    actor: crate::domain::By<'_>,
    day: NaiveDate,
    username: &str,
) -> Result<(), ApiError> {
    check_leader(state, username).await.map_err(|e| {
        ApiError::invalid(
            "username",
            "not_a_duty_leader",
            Text::new(format!("不能排班：{e}"), e),
        )
    })?;
    let now = crate::clock::now();
    state.store.set_duty(day, username, now).await?;
    state
        .store
        .audit(actor, "set_duty", &day.to_string(), Some(username), now)
        .await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
}

/// Import a CSV of `date,username` lines (a header line is skipped). All or nothing: any bad
/// line refuses the file, naming each.
#[utoipa::path(post, path = "/api/v1/roster/import", tag = "oversight", operation_id = "import_roster", request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, body = ImportResult),
        (status = 400, description = "The body is not UTF-8 text", body = ErrorBody),
        (status = 422, description = "No date,username line, or bad lines (each named); nothing is imported", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn import(
    State(state): State<AppState>,
    staff: Staff,
    body: Result<String, StringRejection>,
) -> Result<Json<ImportResult>, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let body = body.map_err(|rejection| match rejection {
        StringRejection::InvalidUtf8(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_encoding",
            Text::new(
                "值班表须为 UTF-8 编码的 CSV 文本",
                "The roster must be CSV text in UTF-8",
            ),
        ),
        other => crate::web::extract::unreadable_body(other.status(), other.body_text()),
    })?;
    let imported = import_checked(&state, staff.0.by(), &body).await?;
    Ok(Json(ImportResult { imported }))
}

/// Imports `date,username` lines, all or nothing; audited.
pub(crate) async fn import_checked(
    state: &AppState,
    actor: crate::domain::By<'_>,
    body: &str,
) -> Result<usize, ApiError> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let Ok(record) = record else {
            problems.push(format!("line {line}: not CSV"));
            continue;
        };
        let (Some(d), Some(u)) = (record.get(0), record.get(1)) else {
            problems.push(format!("line {line}: expected date,username"));
            continue;
        };
        if line == 1 && d.eq_ignore_ascii_case("date") {
            continue;
        }
        match (
            NaiveDate::parse_from_str(d, "%Y-%m-%d"),
            check_leader(state, u).await,
        ) {
            (Ok(day), Ok(())) => rows.push((day, u.to_owned())),
            (Err(_), _) => {
                problems.push(format!("line {line}: `{d}` is not a date like 2026-12-01"))
            }
            (_, Err(e)) => problems.push(format!("line {line}: {e}")),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        // An empty upload is a mistake (the wrong file, a form field misnamed), not a roster.
        return Err(ApiError::invalid(
            "body",
            "empty_roster",
            Text::new(
                "值班表中没有排班行（每行：日期,用户名，如 2026-12-01,zhao）",
                "The roster has no lines of date,username (2026-12-01,zhao)",
            ),
        ));
    }
    if !problems.is_empty() {
        let joined = problems.join("; ");
        return Err(ApiError::invalid(
            "body",
            "invalid_roster",
            Text::new(
                format!("值班表有误，未导入：{joined}"),
                format!("The roster was not imported: {joined}"),
            ),
        ));
    }
    let now = crate::clock::now();
    for (day, username) in &rows {
        state.store.set_duty(*day, username, now).await?;
    }
    state
        .store
        .audit(
            actor,
            "import_roster",
            &format!("{} dates", rows.len()),
            None,
            now,
        )
        .await?;
    Ok(rows.len())
}
