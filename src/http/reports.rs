//! The conduct bulletin (行风建设通报) of a week or a month: `GET /api/v1/reports?period=`
//! as JSON, CSV or XLSX, and `/staff/reports` for leaders (printable on A4).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::statistics::StatisticsView;
use super::AppState;
use crate::bulletin::{compile, rows, to_csv, to_xlsx, Report};
use crate::domain::bulletin::Period;
use crate::domain::ActionKind;
use crate::storage::bulletins::BulletinCounts;
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiQuery, Staff};
use crate::web::html::{download, page, unknown_format, Tr};
use crate::web::session::StaffUser;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct ReportQuery {
    /// A month (`2026-11`) or an ISO week (`2026-W48`); default: last month.
    pub period: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// A bulletin as the API gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulletinView {
    pub period: String,
    pub title: String,
    pub first_day: chrono::NaiveDate,
    pub last_day: chrono::NaiveDate,
    pub statistics: StatisticsView,
    pub counts: BulletinCounts,
    pub average_minutes_to_arrive: Option<i64>,
}

/// The period asked for (a week, a month, a year), or last month: the bulletin's and the
/// evaluation's.
pub(super) fn period_of(state: &AppState, raw: Option<&str>) -> Result<Period, ApiError> {
    let calendar = state.calendar.current();
    let today = calendar.local_date(crate::clock::now());
    let raw = match raw.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => p.to_owned(),
        None => {
            let last = today
                .with_day(1)
                .expect("day 1")
                .pred_opt()
                .expect("a day before");
            last.format("%Y-%m").to_string()
        }
    };
    Period::parse(&raw, today).map_err(|e| {
        ApiError::invalid(
            "period",
            "invalid_period",
            Text::new(
                format!("期间 `{raw}` 无效：请写月份如 2026-11、周如 2026-W48 或年份如 2026，且不能是尚未开始的期间"),
                e,
            ),
        )
    })
}

use chrono::Datelike;

async fn report(state: &AppState, period: Period) -> Result<Report, ApiError> {
    let tz = state.calendar.current().timezone();
    Ok(compile(state.store.as_ref(), tz, period).await?)
}

/// The bulletin of a week or a month: volumes by channel, on-time rate per tier, cases per
/// counter and department with their staff-side causes, ratings per counter, callback
/// timeliness, summons and how fast they were answered, accountability outcomes (counts
/// only), common problems and reforms.
#[utoipa::path(
    get, path = "/api/v1/reports", tag = "oversight", params(ReportQuery),
    responses(
        (status = 200, description = "The bulletin: JSON, or CSV (UTF-8 with BOM) or an XLSX workbook by `format`", content(
            (BulletinView = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 403, body = crate::web::views::ErrorBody), (status = 422, body = crate::web::views::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let period = period_of(&state, q.period.as_deref())?;
    let format = q
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("json");
    if !["json", "csv", "xlsx"].contains(&format) {
        return Err(unknown_format(format).with_field("format"));
    }
    let report = report(&state, period).await?;
    let name = format!("行风建设通报-{}", report.period.code);
    Ok(match format {
        "csv" => {
            let body = to_csv(&rows(&report, &state.rules)).map_err(ApiError::internal)?;
            download(
                "text/csv; charset=utf-8",
                &format!("bulletin-{}.csv", report.period.code),
                body,
            )
        }
        "xlsx" => {
            let body = to_xlsx(&name, &rows(&report, &state.rules)).map_err(ApiError::internal)?;
            download(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("bulletin-{}.xlsx", report.period.code),
                body,
            )
        }
        _ => Json(BulletinView {
            title: report.period.title_zh(),
            first_day: report.period.first,
            last_day: report.period.last,
            average_minutes_to_arrive: report.average_minutes_to_arrive(),
            period: report.period.code.clone(),
            statistics: report.statistics.clone().into(),
            counts: report.counts.clone(),
        })
        .into_response(),
    })
}

#[derive(Template)]
#[template(path = "staff/report.html", config = "src/templates/askama.toml")]
struct ReportPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    period: String,
    title: String,
    /// Sections, each with its rows (item, count, of which or rate, note).
    sections: Vec<(String, Vec<[String; 4]>)>,
    error: Option<String>,
}

pub async fn staff_page(
    State(state): State<AppState>,
    user: StaffUser,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Oversee) {
        return r;
    }
    let t = user.tr();
    let result = async {
        let period = match period_of(&state, q.period.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                return Ok(page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &ReportPage {
                        t,
                        user: &user,
                        nav: "reports",
                        back: "/staff/reports".into(),
                        period: q.period.clone().unwrap_or_default(),
                        title: String::new(),
                        sections: Vec::new(),
                        error: Some(e.message(t.en)),
                    },
                ))
            }
        };
        let report = report(&state, period).await?;
        let mut sections: Vec<(String, Vec<[String; 4]>)> = Vec::new();
        for [section, item, n, of, note] in rows(&report, &state.rules) {
            match sections.last_mut() {
                Some((s, rows)) if *s == section => rows.push([item, n, of, note]),
                _ => sections.push((section, vec![[item, n, of, note]])),
            }
        }
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &ReportPage {
                t,
                user: &user,
                nav: "reports",
                back: format!("/staff/reports?period={}", report.period.code),
                period: report.period.code.clone(),
                title: report.period.title_zh(),
                sections,
                error: None,
            },
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
