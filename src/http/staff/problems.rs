//! The register of common problems (共性问题 → 制度创新), `/staff/problems`: every problem with
//! its linked cases and status; a leader opens one, moves it through the research room to a
//! reform (document number, date, summary) or closes it without one; its page shows its cases
//! month by month and whether they stopped after the reform. Linking a case is a case action
//! (`/staff/cases/{number}/problem`, `POST /api/v1/cases/{number}/problem`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

use crate::domain::problem::{before_and_after, check, ProblemForm, ProblemStatus};
use crate::domain::ActionKind;
use crate::http::AppState;
use crate::storage::problems::{ProblemCase, ProblemRecord};
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiJson, ApiPath, Staff};
use crate::web::html::{page, when, Tr};
use crate::web::session::StaffUser;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProblemFields {
    csrf: String,
    title: String,
    fault: String,
    status: String,
    reform_document: String,
    reform_date: String,
    reform_summary: String,
}

impl ProblemFields {
    fn form(&self) -> ProblemForm {
        ProblemForm {
            title: self.title.clone(),
            fault: self.fault.clone(),
            status: self.status.clone(),
            reform_document: self.reform_document.clone(),
            reform_date: self.reform_date.clone(),
            reform_summary: self.reform_summary.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "staff/problems.html", config = "src/templates/askama.toml")]
struct ListPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    problems: Vec<ProblemRecord>,
    form: ProblemFields,
    errors: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "staff/problem.html", config = "src/templates/askama.toml")]
struct ProblemPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    problem: ProblemRecord,
    cases: Vec<(ProblemCase, String)>,
    /// Cases by the month they were received: (month, count, bar width).
    months: Vec<(String, i64, u32)>,
    /// Cases received before and after the reform's date.
    around: Option<(usize, usize)>,
    form: ProblemFields,
    errors: Vec<(&'static str, String)>,
    statuses: &'static [ProblemStatus],
}

trait Errors {
    fn errors(&self) -> &[(&'static str, String)];
    fn error(&self, field: &str) -> Option<&str> {
        self.errors()
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

impl Errors for ListPage<'_> {
    fn errors(&self) -> &[(&'static str, String)] {
        &self.errors
    }
}

impl Errors for ProblemPage<'_> {
    fn errors(&self) -> &[(&'static str, String)] {
        &self.errors
    }
}

fn field_errors(errors: Vec<crate::domain::FieldError>, t: Tr) -> Vec<(&'static str, String)> {
    errors
        .into_iter()
        .map(|e| (e.field, t.t(&e.zh, &e.en).to_owned()))
        .collect()
}

async fn list(
    state: &AppState,
    user: &StaffUser,
    status: StatusCode,
    form: ProblemFields,
    errors: Vec<(&'static str, String)>,
) -> Result<Response, ApiError> {
    Ok(page(
        status,
        &ListPage {
            t: user.tr(),
            user,
            nav: "problems",
            back: "/staff/problems".into(),
            problems: state.store.problems().await?,
            form,
            errors,
        },
    ))
}

pub async fn show_list(State(state): State<AppState>, user: StaffUser) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    list(
        &state,
        &user,
        StatusCode::OK,
        ProblemFields::default(),
        Vec::new(),
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// A leader opens a problem.
pub async fn create(
    State(state): State<AppState>,
    user: StaffUser,
    Form(fields): Form<ProblemFields>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&fields.csrf)
        .and(user.require(ActionKind::Oversee))
    {
        return r;
    }
    let result = async {
        match check(&fields.form()) {
            Ok(draft) => {
                let id = state
                    .store
                    .create_problem(&draft, &user.actor().name, crate::clock::now())
                    .await?;
                state
                    .store
                    .audit(
                        user.actor().by(),
                        "problem_open",
                        &format!("problem:{id}"),
                        Some(&draft.title),
                        crate::clock::now(),
                    )
                    .await?;
                Ok(Redirect::to(&format!("/staff/problems/{id}")).into_response())
            }
            Err(errors) => {
                let errors = field_errors(errors, user.tr());
                list(
                    &state,
                    &user,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    fields,
                    errors,
                )
                .await
            }
        }
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn detail(
    state: &AppState,
    user: &StaffUser,
    id: i64,
    status: StatusCode,
    form: Option<ProblemFields>,
    errors: Vec<(&'static str, String)>,
) -> Result<Response, ApiError> {
    let Some((problem, cases)) = state.store.problem(id).await? else {
        return Err(ApiError::not_found("该共性问题", "problem"));
    };
    let tz = state.calendar.current().timezone();
    let mut months: Vec<(String, i64)> = Vec::new();
    for c in &cases {
        let month = c.received_at.with_timezone(&tz).format("%Y-%m").to_string();
        match months.last_mut() {
            Some((m, n)) if *m == month => *n += 1,
            _ => months.push((month, 1)),
        }
    }
    let most = months.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let received: Vec<chrono::NaiveDate> = cases
        .iter()
        .map(|c| c.received_at.with_timezone(&tz).date_naive())
        .collect();
    let around = before_and_after(&received, problem.reform_date);
    let form = form.unwrap_or_else(|| ProblemFields {
        title: problem.title.clone(),
        fault: problem.fault.clone(),
        status: problem.status.code().to_owned(),
        reform_document: problem.reform_document.clone().unwrap_or_default(),
        reform_date: problem
            .reform_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
        reform_summary: problem.reform_summary.clone().unwrap_or_default(),
        ..ProblemFields::default()
    });
    let t = user.tr();
    Ok(page(
        status,
        &ProblemPage {
            t,
            user,
            nav: "problems",
            back: format!("/staff/problems/{id}"),
            cases: cases
                .into_iter()
                .map(|c| {
                    let received = when(c.received_at, tz);
                    (c, received)
                })
                .collect(),
            months: months
                .into_iter()
                .map(|(m, n)| (m, n, (n as f64 / most as f64 * 300.0).round() as u32))
                .collect(),
            around,
            problem,
            form,
            errors,
            statuses: &ProblemStatus::ALL,
        },
    ))
}

pub async fn show(State(state): State<AppState>, user: StaffUser, Path(id): Path<i64>) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    detail(&state, &user, id, StatusCode::OK, None, Vec::new())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// A leader moves the problem on: research, a reform proposed or adopted, or closed.
pub async fn update(
    State(state): State<AppState>,
    user: StaffUser,
    Path(id): Path<i64>,
    Form(fields): Form<ProblemFields>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&fields.csrf)
        .and(user.require(ActionKind::Oversee))
    {
        return r;
    }
    let result = async {
        match check(&fields.form()) {
            Ok(draft) => {
                if !state
                    .store
                    .update_problem(id, &draft, crate::clock::now())
                    .await?
                {
                    return Err(ApiError::not_found("该共性问题", "problem"));
                }
                state
                    .store
                    .audit(
                        user.actor().by(),
                        "problem_change",
                        &format!("problem:{id}"),
                        Some(draft.status.code()),
                        crate::clock::now(),
                    )
                    .await?;
                Ok(Redirect::to(&format!("/staff/problems/{id}")).into_response())
            }
            Err(errors) => {
                let errors = field_errors(errors, user.tr());
                detail(
                    &state,
                    &user,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(fields),
                    errors,
                )
                .await
            }
        }
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// Links a case to an open problem, on the case's timeline. Ok(false): linked already.
async fn link(
    state: &AppState,
    actor: &crate::domain::Actor,
    number: &str,
    problem_id: i64,
) -> Result<bool, ApiError> {
    if !actor.may(ActionKind::Classify) {
        return Err(crate::web::extract::forbidden(ActionKind::Classify));
    }
    let case = state.cases.load(number).await?;
    let problem = match state.store.problem(problem_id).await? {
        Some((p, _)) if p.status.open() => p,
        _ => {
            return Err(ApiError::invalid(
                "problem_id",
                "unknown_problem",
                Text::new(
                    format!("没有正在收集案例的共性问题 #{problem_id}"),
                    format!("No open problem #{problem_id}"),
                ),
            ))
        }
    };
    Ok(state
        .store
        .link_case_to_problem(
            problem.id,
            case.id,
            &problem.title,
            actor.by(),
            crate::clock::now(),
        )
        .await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkFields {
    csrf: String,
    problem_id: String,
}

/// The case page's "link to a common problem".
pub async fn link_from_page(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
    Form(fields): Form<LinkFields>,
) -> Response {
    if let Err(r) = user.check_csrf(&fields.csrf) {
        return r;
    }
    let id = fields.problem_id.trim().parse::<i64>().unwrap_or(0);
    match link(&state, &user.actor(), &number, id).await {
        Ok(_) => Redirect::to(&format!("/staff/cases/{number}#timeline")).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// An open problem's id (`/staff/problems`).
    pub problem_id: i64,
}

/// Link a case to a common problem (共性问题), on its timeline.
#[utoipa::path(
    post, path = "/api/v1/cases/{number}/problem", tag = "cases",
    params(("number" = String, Path, description = "Case number")),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "`{\"linked\": true}`, or false when it was linked already"),
        (status = 403, body = crate::web::views::ErrorBody), (status = 404, body = crate::web::views::ErrorBody),
        (status = 422, body = crate::web::views::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn link_api(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<LinkRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let linked = link(&state, &staff.0, &number, body.problem_id).await?;
    Ok(Json(serde_json::json!({ "linked": linked })))
}
