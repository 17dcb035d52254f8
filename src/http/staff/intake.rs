//! Registering at the counter and logging a call: fast forms, every mistake shown next to its
//! field with what was typed kept, and a banner when the phone or ID number has come before.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::cases::when;
use super::StaffUser;
use crate::domain::citizen::IdCardNumber;
use crate::domain::registration::{register, RegistrationForm};
use crate::domain::{ActionKind, PhoneNumber};
use crate::http::error::ApiError;
use crate::http::html::{page, Tr};
use crate::http::views::LogCallRequest;
use crate::http::AppState;

pub struct MatterOption {
    pub code: String,
    pub label: String,
}

fn matters(state: &AppState, t: Tr) -> Vec<MatterOption> {
    state
        .rules
        .matters
        .iter()
        .map(|m| MatterOption {
            code: m.code.clone(),
            label: t.t(&m.zh, &m.en).to_owned(),
        })
        .collect()
}

/// Earlier cases of the same person, for the banner.
pub struct Earlier {
    pub number: String,
    pub received: String,
    pub status: String,
}

async fn earlier_cases(state: &AppState, t: Tr, phone: &str, id_card: &str) -> Vec<Earlier> {
    let phone = PhoneNumber::parse(phone, &state.rules.dialing)
        .ok()
        .flatten();
    let digest = IdCardNumber::parse(id_card.trim())
        .ok()
        .map(|id| id.digest(&state.rules.id_card_pepper));
    let tz = state.calendar.current().timezone();
    state
        .store
        .cases_of_person(
            phone.as_ref().map(|p| p.e164()),
            digest.as_deref(),
            None,
            10,
        )
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| Earlier {
            number: c.number.to_string(),
            received: when(c.received_at, tz),
            status: if t.en {
                c.status.label_en()
            } else {
                c.status.label_zh()
            }
            .to_owned(),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WalkInForm {
    csrf: String,
    name: String,
    phone: String,
    id_card: String,
    matter: String,
    description: String,
}

#[derive(Template)]
#[template(path = "staff/register.html", config = "src/templates/askama.toml")]
struct RegisterPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    form: WalkInForm,
    errors: Vec<(String, String)>,
    matters: Vec<MatterOption>,
    earlier: Vec<Earlier>,
}

impl RegisterPage<'_> {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub async fn register_page(State(state): State<AppState>, user: StaffUser) -> Response {
    if let Err(r) = user.require(ActionKind::Register) {
        return r;
    }
    let t = user.tr();
    page(
        StatusCode::OK,
        &RegisterPage {
            t,
            user: &user,
            nav: "register",
            back: "/staff/register".into(),
            form: WalkInForm::default(),
            errors: Vec::new(),
            matters: matters(&state, t),
            earlier: Vec::new(),
        },
    )
}

pub async fn register_submit(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<WalkInForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Register))
    {
        return r;
    }
    let t = user.tr();
    let now = crate::clock::now();
    let actor = user.actor().name;
    let result = register(
        RegistrationForm {
            channel: "counter".into(),
            citizen_name: Some(form.name.clone()),
            phone: Some(form.phone.clone()),
            id_card: Some(form.id_card.clone()),
            matter: form.matter.clone(),
            description: form.description.clone(),
            received_at: None,
        },
        &state.rules,
        &actor,
        now,
    );
    match result {
        Ok(submission) => match state
            .intake
            .submit(submission, now)
            .await
            .map_err(ApiError::from)
            .and_then(crate::http::cases::registered_case)
        {
            Ok(case) => {
                tracing::info!(case = %case.number, "walk-in registered");
                Redirect::to(&format!("/staff/cases/{}", case.number)).into_response()
            }
            Err(e) => e.into_response(),
        },
        Err(errors) => {
            let earlier = earlier_cases(&state, t, &form.phone, &form.id_card).await;
            let errors = errors
                .into_iter()
                .map(|e| {
                    let field = if e.field == "citizen_name" {
                        "name"
                    } else {
                        e.field
                    };
                    (field.to_owned(), t.t(&e.zh, &e.en).to_owned())
                })
                .collect();
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RegisterPage {
                    t,
                    user: &user,
                    nav: "register",
                    back: "/staff/register".into(),
                    form,
                    errors,
                    matters: matters(&state, t),
                    earlier,
                },
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RepeatQuery {
    phone: String,
    id_card: String,
}

#[derive(Template)]
#[template(
    path = "staff/repeat_banner.html",
    config = "src/templates/askama.toml"
)]
struct RepeatBanner {
    t: Tr,
    earlier: Vec<Earlier>,
}

/// The repeat-visitor banner for what is typed so far (fetched as the clerk types).
pub async fn repeat_banner(
    State(state): State<AppState>,
    user: StaffUser,
    Query(q): Query<RepeatQuery>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    let t = user.tr();
    let earlier = earlier_cases(&state, t, &q.phone, &q.id_card).await;
    page(StatusCode::OK, &RepeatBanner { t, earlier })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallForm {
    csrf: String,
    hotline: String,
    caller_number: String,
    caller_name: String,
    matter: String,
    summary: String,
    outcome: String,
    answer: String,
}

#[derive(Template)]
#[template(path = "staff/call.html", config = "src/templates/askama.toml")]
struct CallPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    form: CallForm,
    errors: Vec<(String, String)>,
    matters: Vec<MatterOption>,
    logged: Option<String>,
}

impl CallPage<'_> {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoggedQuery {
    logged: String,
}

pub async fn call_page(
    State(state): State<AppState>,
    user: StaffUser,
    Query(q): Query<LoggedQuery>,
) -> Response {
    if let Err(r) = user.require(ActionKind::LogCall) {
        return r;
    }
    let t = user.tr();
    page(
        StatusCode::OK,
        &CallPage {
            t,
            user: &user,
            nav: "calls",
            back: "/staff/calls".into(),
            form: CallForm {
                hotline: "complaint".into(),
                outcome: "answered".into(),
                ..CallForm::default()
            },
            errors: Vec::new(),
            matters: matters(&state, t),
            logged: Some(q.logged).filter(|l| !l.is_empty()),
        },
    )
}

pub async fn call_submit(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<CallForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::LogCall))
    {
        return r;
    }
    let t = user.tr();
    let request = LogCallRequest {
        hotline: form.hotline.clone(),
        caller_number: Some(form.caller_number.clone()),
        caller_name: Some(form.caller_name.clone()),
        matter: form.matter.clone(),
        summary: form.summary.clone(),
        outcome: form.outcome.clone(),
        answer: Some(form.answer.clone()),
        received_at: None,
    };
    match crate::http::hotline::log_call_as(&state, &user.actor().name, request).await {
        // A fresh form for the next call, with the last one's number to click.
        Ok(case) => Redirect::to(&format!("/staff/calls?logged={}", case.number)).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &CallPage {
                t,
                user: &user,
                nav: "calls",
                back: "/staff/calls".into(),
                errors: e.field_messages(t.en),
                form,
                matters: matters(&state, t),
                logged: None,
            },
        ),
        Err(e) => e.into_response(),
    }
}
