//! The evaluation (流动红旗, 服务之星, 绩效评估) of a period: counters, departments and staff
//! ranked by the configured weights, shown beside the figures; `GET /api/v1/evaluation`
//! (JSON or CSV) and `/staff/evaluation` for leaders, who award the red flag and the star.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::domain::directory::EntryKind;
use crate::domain::evaluation::{rank, Ranked, AWARDS};
use crate::domain::ActionKind;
use crate::storage::evaluation::Award;
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiQuery, Staff};
use crate::web::html::{download, page, unknown_format, Tr};
use crate::web::session::StaffUser;

pub const PLACE_FIGURES: [&str; 5] = [
    "没办成的案件",
    "其中窗口人员原因",
    "好评",
    "差评",
    "按时办结",
];
pub const STAFF_FIGURES: [&str; 5] = ["承办案件", "按时办结", "好评", "差评", "回访联系上"];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct EvaluationQuery {
    /// A month (`2026-11`), an ISO week (`2026-W48`) or a year (`2026`); default: last month.
    pub period: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationView {
    pub period: String,
    /// What each figure is, in order, and its weight.
    pub place_figures: Vec<String>,
    pub place_weights: Vec<f64>,
    pub staff_figures: Vec<String>,
    pub staff_weights: Vec<f64>,
    pub counters: Vec<Ranked>,
    pub departments: Vec<Ranked>,
    pub staff: Vec<Ranked>,
    pub awards: Vec<Award>,
}

/// A period (a year too: the yearly appraisal), its bounds, and whether it is over.
fn period_of(
    state: &AppState,
    raw: Option<&str>,
) -> Result<
    (
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        bool,
    ),
    ApiError,
> {
    let period = super::reports::period_of(state, raw)?;
    let calendar = state.calendar.current();
    let (tz, today) = (
        calendar.timezone(),
        calendar.local_date(crate::clock::now()),
    );
    let end = period.last.succ_opt().unwrap_or(period.last);
    Ok((
        period.code.clone(),
        crate::bulletin::day_start(tz, period.first),
        crate::bulletin::day_start(tz, end),
        period.over(today),
    ))
}

async fn evaluate(state: &AppState, raw: Option<&str>) -> Result<EvaluationView, ApiError> {
    let (period, from, to, _) = period_of(state, raw)?;
    let mut figures = state.store.evaluation_figures(from, to).await?;
    // Places with nothing against them are candidates too (the likeliest red flags).
    for e in state
        .directory
        .entries()
        .await?
        .iter()
        .filter(|e| !e.retired)
    {
        let list = match e.kind {
            EntryKind::Counter => &mut figures.counters,
            EntryKind::Department => &mut figures.departments,
        };
        if !list.iter().any(|(code, _)| *code == e.code) {
            list.push((e.code.clone(), vec![0; 5]));
        }
    }
    let w = &state.evaluation;
    let named = |items: Vec<(String, Vec<i64>)>,
                 kind: EntryKind,
                 names: &[crate::domain::directory::DirectoryEntry]| {
        items
            .into_iter()
            .map(|(code, f)| {
                let name = names
                    .iter()
                    .find(|e| e.kind == kind && e.code == code)
                    .map_or(code.clone(), |e| e.name.clone());
                (name, f)
            })
            .collect::<Vec<_>>()
    };
    let names = state.directory.entries().await?;
    Ok(EvaluationView {
        awards: state.store.awards(&period).await?,
        period,
        place_figures: PLACE_FIGURES.iter().map(|s| (*s).to_owned()).collect(),
        place_weights: w.place.to_vec(),
        staff_figures: STAFF_FIGURES.iter().map(|s| (*s).to_owned()).collect(),
        staff_weights: w.staff.to_vec(),
        counters: rank(
            named(figures.counters, EntryKind::Counter, &names),
            &w.place,
        ),
        departments: rank(
            named(figures.departments, EntryKind::Department, &names),
            &w.place,
        ),
        staff: rank(figures.staff, &w.staff),
    })
}

/// The evaluation of a period: counters, departments and staff ranked by the configured
/// weights (shown with the figures), and the awards made for it.
#[utoipa::path(
    get, path = "/api/v1/evaluation", tag = "oversight", params(EvaluationQuery),
    responses(
        (status = 200, description = "JSON, or CSV by `format`", content(
            (EvaluationView = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, body = crate::web::views::ErrorBody), (status = 422, body = crate::web::views::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<EvaluationQuery>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::Oversee)?;
    let format = q
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("json");
    if !["json", "csv"].contains(&format) {
        return Err(unknown_format(format).with_field("format"));
    }
    let view = evaluate(&state, q.period.as_deref()).await?;
    if format == "json" {
        return Ok(Json(view).into_response());
    }
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let mut write =
            |kind: &str, figures: &[String], weights: &[f64], rows: &[Ranked]| -> csv::Result<()> {
                let mut header = vec!["类别".to_owned(), "名次".to_owned(), "对象".to_owned()];
                header.extend(
                    figures
                        .iter()
                        .zip(weights)
                        .map(|(f, w)| format!("{f}（权重 {w}）")),
                );
                header.push("得分".into());
                w.write_record(&header)?;
                for (i, r) in rows.iter().enumerate() {
                    let mut row = vec![kind.to_owned(), (i + 1).to_string(), r.subject.clone()];
                    row.extend(r.figures.iter().map(i64::to_string));
                    row.push(r.score.to_string());
                    w.write_record(&row)?;
                }
                Ok(())
            };
        let fail = |e: csv::Error| ApiError::internal(anyhow::Error::new(e));
        write(
            "窗口",
            &view.place_figures,
            &view.place_weights,
            &view.counters,
        )
        .map_err(fail)?;
        write(
            "科室",
            &view.place_figures,
            &view.place_weights,
            &view.departments,
        )
        .map_err(fail)?;
        write(
            "工作人员",
            &view.staff_figures,
            &view.staff_weights,
            &view.staff,
        )
        .map_err(fail)?;
        w.flush()
            .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
    }
    Ok(download(
        "text/csv; charset=utf-8",
        &format!("evaluation-{}.csv", view.period),
        out,
    ))
}

#[derive(Template)]
#[template(path = "staff/evaluation.html", config = "src/templates/askama.toml")]
struct EvaluationPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    view: Option<EvaluationView>,
    period: String,
    error: Option<String>,
    awards: &'static [(&'static str, &'static str)],
    /// Counters, departments, staff: title, kind, rows, figure names, weights.
    sections: Vec<(String, &'static str, Vec<Ranked>, Vec<String>, Vec<f64>)>,
}

pub async fn staff_page(
    State(state): State<AppState>,
    user: StaffUser,
    axum::extract::Query(q): axum::extract::Query<EvaluationQuery>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Oversee) {
        return r;
    }
    let t = user.tr();
    let (status, view, error) = match evaluate(&state, q.period.as_deref()).await {
        Ok(v) => (StatusCode::OK, Some(v), None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            (e.status(), None, Some(e.message(t.en)))
        }
        Err(e) => return e.into_response(),
    };
    let period = view
        .as_ref()
        .map_or(q.period.clone().unwrap_or_default(), |v| v.period.clone());
    let sections = match &view {
        Some(v) => vec![
            (
                t.t("窗口", "Counters").to_owned(),
                "counter",
                v.counters.clone(),
                v.place_figures.clone(),
                v.place_weights.clone(),
            ),
            (
                t.t("科室", "Departments").to_owned(),
                "department",
                v.departments.clone(),
                v.place_figures.clone(),
                v.place_weights.clone(),
            ),
            (
                t.t("工作人员", "Staff").to_owned(),
                "staff",
                v.staff.clone(),
                v.staff_figures.clone(),
                v.staff_weights.clone(),
            ),
        ],
        None => Vec::new(),
    };
    page(
        status,
        &EvaluationPage {
            t,
            user: &user,
            nav: "evaluation",
            back: format!("/staff/evaluation?period={period}"),
            view,
            period,
            error,
            awards: &AWARDS,
            sections,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AwardForm {
    csrf: String,
    period: String,
    award: String,
    subject: String,
    reason: String,
}

/// A leader awards the red flag or the star, from the candidates; on the audit trail.
pub async fn award(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<AwardForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Oversee))
    {
        return r;
    }
    let result = async {
        let (period, _, _, ended) = period_of(&state, Some(&form.period))?;
        if !ended {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "period_not_over",
                Text::new(
                    "期间尚未结束，结束后再评定",
                    "The period is not over yet: award it after",
                ),
            ));
        }
        let view = evaluate(&state, Some(&period)).await?;
        let candidates: Vec<&str> = match form.award.as_str() {
            "red_flag" => view
                .counters
                .iter()
                .chain(&view.departments)
                .map(|r| r.subject.as_str())
                .collect(),
            "service_star" => view.staff.iter().map(|r| r.subject.as_str()).collect(),
            _ => Vec::new(),
        };
        if !candidates.contains(&form.subject.trim()) {
            return Err(ApiError::invalid(
                "subject",
                "not_a_candidate",
                Text::new("只能评定名单中的对象", "Award one of the candidates listed"),
            ));
        }
        if view
            .awards
            .iter()
            .any(|a| a.award == form.award && a.subject == form.subject.trim())
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "awarded_already",
                Text::new("本期已评定过该对象", "Already awarded for this period"),
            ));
        }
        if !AWARDS.iter().any(|(code, _)| *code == form.award) || form.subject.trim().is_empty() {
            return Err(ApiError::invalid(
                "award",
                "invalid_award",
                Text::new("请选择奖项和对象", "Choose an award and whom it goes to"),
            ));
        }
        let reason = crate::domain::citizen::plain_text(form.reason.trim(), 500).map_err(|_| {
            ApiError::invalid(
                "reason",
                "invalid_input",
                Text::new(
                    "请写明评选理由（不超过500字）",
                    "Say why (at most 500 characters)",
                ),
            )
        })?;
        let award = Award {
            period: period.clone(),
            award: form.award.clone(),
            subject: form.subject.trim().to_owned(),
            reason,
            awarded_by: user.actor().name,
            awarded_at: crate::clock::now(),
        };
        state.store.record_award(&award).await?;
        state
            .store
            .audit(
                user.actor().by(),
                "award",
                &format!("{}:{}", award.award, award.subject),
                Some(&period),
                crate::clock::now(),
            )
            .await?;
        Ok(Redirect::to(&format!("/staff/evaluation?period={period}#awards")).into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
