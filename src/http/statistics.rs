//! Statistics over a period: the API (JSON), CSV and XLSX exports, and the staff page with
//! bar charts drawn as SVG on the server.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::domain::{ActionKind, Cause, Channel, Rating, Status, Tier};
use crate::storage::Statistics;
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiQuery, Staff};
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;
use crate::web::views::ErrorBody;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", get(super::reports::api))
        .route("/api/v1/evaluation", get(super::evaluation::api))
        .route("/staff/evaluation", get(super::evaluation::staff_page))
        .route(
            "/staff/evaluation/award",
            axum::routing::post(super::evaluation::award),
        )
        .route("/staff/reports", get(super::reports::staff_page))
        .route("/api/v1/statistics", get(api))
        .route("/api/v1/statistics/export", get(export))
        .route("/staff/statistics", get(staff_page))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct Period {
    /// First day, default the first of this month.
    pub from: Option<String>,
    /// Last day (inclusive), default today.
    pub to: Option<String>,
    /// For exports: csv (default) or xlsx.
    pub format: Option<String>,
}

fn period(
    state: &AppState,
    p: &Period,
) -> Result<(NaiveDate, NaiveDate, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let calendar = state.calendar.current();
    let tz = calendar.timezone();
    let today = calendar.local_date(crate::clock::now());
    let parse =
        |field: &str, raw: &Option<String>, default: NaiveDate| match raw.as_deref().map(str::trim)
        {
            None | Some("") => Ok(default),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                ApiError::invalid(
                    field,
                    "invalid_date",
                    Text::new(format!("日期格式不对：{s}"), format!("Not a date: {s}")),
                )
            }),
        };
    let from = parse("from", &p.from, today.with_day(1).unwrap_or(today))?;
    let to = parse("to", &p.to, today)?;
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|n| n.and_local_timezone(tz).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no local midnight on {d}")))
    };
    Ok((from, to, start(from)?, start(to.succ_opt().unwrap_or(to))?))
}

/// The statistics as the API sends them: each count a `[code, count]` pair.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Statistics)]
pub struct StatisticsView {
    pub total: i64,
    pub by_channel: Vec<CodeCount>,
    pub by_cause: Vec<CodeCount>,
    pub by_tier: Vec<CodeCount>,
    pub by_status: Vec<CodeCount>,
    /// Per tier: finished cases, and those finished by their deadline.
    pub on_time: Vec<OnTime>,
    /// Callback entries due in the period, reached by their deadline, reached late or not.
    pub callbacks_total: i64,
    pub callbacks_on_time: i64,
    pub ratings: Vec<CodeCount>,
    /// Staff-side causes per matter (the matter's department).
    pub staff_side_by_matter: Vec<CodeCount>,
    /// Answered on the phone and closed at once, or answered on the call back.
    pub consultations: i64,
    /// Of those, answered on the call back.
    pub answered_by_callback: i64,
    /// Calls that left no message, by how they ended.
    pub missed_calls: crate::storage::MissedCallCounts,
    /// Calls answered per hour and operator, handling time, missed calls per line.
    pub calls: crate::storage::calls::CallCounts,
}

impl From<Statistics> for StatisticsView {
    fn from(s: Statistics) -> Self {
        // Destructured whole, so that a count added to the storage is added here too.
        let Statistics {
            total,
            by_channel,
            by_cause,
            by_tier,
            by_status,
            on_time,
            callbacks_total,
            callbacks_on_time,
            ratings,
            staff_side_by_matter,
            consultations,
            answered_by_callback,
            missed_calls,
            calls,
        } = s;
        let pairs = |v: Vec<(String, i64)>| v.into_iter().map(|(c, n)| CodeCount(c, n)).collect();
        StatisticsView {
            total,
            by_channel: pairs(by_channel),
            by_cause: pairs(by_cause),
            by_tier: pairs(by_tier),
            by_status: pairs(by_status),
            on_time: on_time
                .into_iter()
                .map(|(tier, finished, in_time)| OnTime(tier, finished, in_time))
                .collect(),
            callbacks_total,
            callbacks_on_time,
            ratings: pairs(ratings),
            staff_side_by_matter: pairs(staff_side_by_matter),
            consultations,
            answered_by_callback,
            missed_calls,
            calls,
        }
    }
}

/// `[code, count]`: a channel, cause, tier, status, rating or matter code and its count.
#[derive(Debug, Serialize)]
pub struct CodeCount(String, i64);

/// `[tier, finished, finished_on_time]`.
#[derive(Debug, Serialize)]
pub struct OnTime(String, i64, i64);

/// A fixed-length array of a code then counts. Written by hand: utoipa would describe the
/// tuple with `prefixItems`, which is right for OpenAPI 3.1 but which schemathesis (4.32)
/// cannot validate responses against, so the statistics could not be checked at all.
fn code_then_counts(description: &str, len: usize) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Integer])),
        )
        .min_items(Some(len))
        .max_items(Some(len))
        .description(Some(description))
        .into()
}

impl utoipa::PartialSchema for CodeCount {
    fn schema() -> RefOr<Schema> {
        code_then_counts("`[code, count]`", 2)
    }
}

impl ToSchema for CodeCount {}

impl utoipa::PartialSchema for OnTime {
    fn schema() -> RefOr<Schema> {
        code_then_counts("`[tier, finished, finished_on_time]`", 3)
    }
}

impl ToSchema for OnTime {}

/// Case counts by channel, cause, tier and outcome; on-time rates; callbacks; ratings.
#[utoipa::path(get, path = "/api/v1/statistics", tag = "oversight", operation_id = "statistics", params(Period),
    responses((status = 200, body = StatisticsView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn api(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(p): ApiQuery<Period>,
) -> Result<Json<StatisticsView>, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let (_, _, from, to) = period(&state, &p)?;
    Ok(Json(state.store.statistics(from, to).await?.into()))
}

fn label(section: &str, code: &str) -> String {
    let known = match section {
        "channel" => code.parse::<Channel>().map(|c| c.label_zh()).ok(),
        "cause" => code.parse::<Cause>().map(|c| c.label_zh()).ok(),
        "tier" | "on_time" => code.parse::<Tier>().map(|c| c.label_zh()).ok(),
        "status" => code.parse::<Status>().map(|c| c.label_zh()).ok(),
        "rating" => code.parse::<Rating>().map(|c| c.label_zh()).ok(),
        _ => None,
    };
    known.map(str::to_owned).unwrap_or_else(|| code.to_owned())
}

/// Every table as rows of section, item, count (and on-time count where there is one).
fn rows(s: &Statistics) -> Vec<[String; 4]> {
    let mut out = vec![[
        "合计".into(),
        "受理案件".into(),
        s.total.to_string(),
        String::new(),
    ]];
    for (section, name, items) in [
        ("channel", "渠道", &s.by_channel),
        ("cause", "原因", &s.by_cause),
        ("tier", "层级", &s.by_tier),
        ("status", "状态", &s.by_status),
        ("rating", "评价", &s.ratings),
        ("matter", "窗口人员原因（按事项）", &s.staff_side_by_matter),
    ] {
        for (code, n) in items {
            out.push([
                name.into(),
                label(section, code),
                n.to_string(),
                String::new(),
            ]);
        }
    }
    for (tier, finished, on_time) in &s.on_time {
        out.push([
            "按时办结".into(),
            label("tier", tier),
            finished.to_string(),
            on_time.to_string(),
        ]);
    }
    out.push([
        "回访".into(),
        "应回访".into(),
        s.callbacks_total.to_string(),
        s.callbacks_on_time.to_string(),
    ]);
    out.push([
        "咨询".into(),
        "电话中已解答".into(),
        s.consultations.to_string(),
        String::new(),
    ]);
    out
}

/// The statistics as CSV (UTF-8 with BOM) or XLSX.
#[utoipa::path(get, path = "/api/v1/statistics/export", tag = "oversight", operation_id = "export_statistics", params(Period),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM) or an XLSX workbook, by `format`", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 403, body = ErrorBody), (status = 422, description = "A malformed date or an unknown format", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(p): ApiQuery<Period>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let (from_day, to_day, from, to) = period(&state, &p)?;
    let stats = state.store.statistics(from, to).await?;
    let header_row = ["类别", "项目", "数量", "按时数量"];
    let table = rows(&stats);
    let format = p.format.as_deref().map(str::trim).filter(|f| !f.is_empty());
    let (body, content_type, ext) = match format.unwrap_or("csv") {
        "xlsx" => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            let fail = |e: rust_xlsxwriter::XlsxError| ApiError::internal(anyhow::Error::new(e));
            sheet
                .write_string(0, 0, format!("{from_day} 至 {to_day} 统计"))
                .map_err(fail)?;
            for (c, h) in header_row.iter().enumerate() {
                sheet.write_string(1, c as u16, *h).map_err(fail)?;
            }
            for (r, row) in table.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    match v.parse::<f64>() {
                        Ok(n) if c >= 2 => sheet
                            .write_number(r as u32 + 2, c as u16, n)
                            .map_err(fail)?,
                        _ => sheet
                            .write_string(r as u32 + 2, c as u16, v)
                            .map_err(fail)?,
                    };
                }
            }
            (
                book.save_to_buffer().map_err(fail)?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            )
        }
        "csv" => {
            let mut out = b"\xEF\xBB\xBF".to_vec();
            {
                let mut w = csv::Writer::from_writer(&mut out);
                let fail = |e: csv::Error| ApiError::internal(anyhow::Error::new(e));
                w.write_record(header_row).map_err(fail)?;
                for row in &table {
                    w.write_record(row).map_err(fail)?;
                }
                w.flush()
                    .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
            }
            (out, "text/csv; charset=utf-8", "csv")
        }
        other => return Err(crate::web::html::unknown_format(other)),
    };
    state
        .store
        .audit(
            staff.0.by(),
            "export_statistics",
            &format!("{from_day}..{to_day}"),
            Some(ext),
            crate::clock::now(),
        )
        .await?;
    Ok(crate::web::html::download(
        content_type,
        &format!("statistics-{from_day}-{to_day}.{ext}"),
        body,
    ))
}

/// One bar chart, drawn on the server.
pub struct Chart {
    pub title: String,
    pub bars: Vec<(String, i64, u32)>,
    pub height: u32,
}

fn chart(title: &str, section: &str, items: &[(String, i64)]) -> Chart {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    Chart {
        title: title.to_owned(),
        bars: items
            .iter()
            .map(|(code, n)| {
                (
                    label(section, code),
                    *n,
                    ((*n as f64 / max as f64) * 300.0).round() as u32,
                )
            })
            .collect(),
        height: 26 * items.len().max(1) as u32 + 10,
    }
}

#[derive(Template)]
#[template(path = "staff/statistics.html", config = "src/templates/askama.toml")]
struct StatsPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    from: String,
    to: String,
    stats: Statistics,
    charts: Vec<Chart>,
    on_time: Vec<(String, i64, i64, String)>,
    callback_rate: String,
    /// Answered calls by the hour they started in.
    hours: Chart,
    /// Per line: its name, calls, answered, missed, and the missed-call rate.
    lines: Vec<(String, i64, i64, i64, String)>,
}

fn percent(part: i64, whole: i64) -> String {
    match whole {
        0 => "—".into(),
        w => format!("{:.1}%", part as f64 * 100.0 / w as f64),
    }
}

pub async fn staff_page(
    State(state): State<AppState>,
    user: StaffUser,
    axum::extract::Query(p): axum::extract::Query<Period>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Oversee) {
        return r;
    }
    let result = async {
        let (from_day, to_day, from, to) = period(&state, &p)?;
        let stats = state.store.statistics(from, to).await?;
        let charts = vec![
            chart("按渠道", "channel", &stats.by_channel),
            chart("按原因", "cause", &stats.by_cause),
            chart("按层级", "tier", &stats.by_tier),
            chart("按办理结果", "status", &stats.by_status),
            chart("群众评价", "rating", &stats.ratings),
            chart(
                "窗口人员原因（按事项）",
                "matter",
                &stats.staff_side_by_matter,
            ),
        ];
        let on_time = stats
            .on_time
            .iter()
            .map(|(tier, finished, on_time)| {
                (
                    label("tier", tier),
                    *finished,
                    *on_time,
                    percent(*on_time, *finished),
                )
            })
            .collect();
        let callback_rate = percent(stats.callbacks_on_time, stats.callbacks_total);
        let by_hour: Vec<(String, i64)> = stats
            .calls
            .answered_by_hour
            .iter()
            .map(|h| (format!("{:02}:00", h.hour), h.answered))
            .collect();
        let mut hours = chart("按小时接听来电", "", &by_hour);
        hours
            .bars
            .iter_mut()
            .zip(&by_hour)
            .for_each(|(bar, (hour, _))| bar.0 = hour.clone());
        let lines = stats
            .calls
            .by_line
            .iter()
            .map(|l| {
                (
                    label("channel", &l.line),
                    l.calls,
                    l.answered,
                    l.missed,
                    percent(l.missed, l.calls),
                )
            })
            .collect();
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &StatsPage {
                t: user.tr(),
                user: &user,
                nav: "statistics",
                back: "/staff/statistics".into(),
                from: from_day.to_string(),
                to: to_day.to_string(),
                stats,
                charts,
                on_time,
                callback_rate,
                hours,
                lines,
            },
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
