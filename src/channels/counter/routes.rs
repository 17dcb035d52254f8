//! Registering a walk-in at the counter (`/staff/register`): a fast form, every mistake
//! shown next to its field with what was typed kept, and a banner when the phone or ID
//! number has come before.

use crate::domain::directory::EntryKind;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::Counter;
use crate::domain::citizen::IdCardNumber;
use crate::domain::registration::{register, RegistrationForm};
use crate::domain::{ActionKind, PhoneNumber};
use crate::web::error::ApiError;
use crate::web::html::when;
use crate::web::html::{matter_options, MatterOption};
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

/// Earlier cases of the same person, for the banner.
pub struct Earlier {
    pub number: String,
    pub received: String,
    pub status: String,
}

async fn earlier_cases(counter: &Counter, t: Tr, phone: &str, id_card: &str) -> Vec<Earlier> {
    let phone = PhoneNumber::parse(phone, &counter.rules.dialing)
        .ok()
        .flatten();
    let digest = IdCardNumber::parse(id_card.trim())
        .ok()
        .map(|id| id.digest(&counter.rules.id_card_pepper, &counter.rules.id_card_key));
    let tz = counter.calendar.current().timezone();
    counter
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
    /// `open` (a case for follow-up, the default) or `answered` (answered on the spot).
    outcome: String,
    /// What the citizen was told, when answered on the spot.
    answer: String,
    /// Where it failed: a counter's code, a department's code, the clerk.
    failed_counter: String,
    failed_department: String,
    failed_clerk: String,
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
    counters: Vec<crate::domain::directory::DirectoryEntry>,
    departments: Vec<crate::domain::directory::DirectoryEntry>,
}

impl RegisterPage<'_> {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub async fn register_page(State(counter): State<Counter>, user: StaffUser) -> Response {
    if let Err(r) = user.require(ActionKind::Register) {
        return r;
    }
    let t = user.tr();
    page(
        StatusCode::OK,
        &RegisterPage {
            counters: counter
                .directory
                .active(EntryKind::Counter)
                .await
                .unwrap_or_default(),
            departments: counter
                .directory
                .active(EntryKind::Department)
                .await
                .unwrap_or_default(),
            t,
            user: &user,
            nav: "register",
            back: "/staff/register".into(),
            form: WalkInForm {
                outcome: "open".into(),
                ..WalkInForm::default()
            },
            errors: Vec::new(),
            matters: matter_options(&counter.rules, t),
            earlier: Vec::new(),
        },
    )
}

pub async fn register_submit(
    State(counter): State<Counter>,
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
    let actor = user.actor();
    let answered = form.outcome == "answered";
    let answer = match answered {
        false => Ok(None),
        true => {
            crate::domain::citizen::plain_text(&form.answer, counter.rules.description_max_chars)
                .map(Some)
                .map_err(|e| crate::domain::FieldError {
                    field: "answer",
                    code: "invalid_input",
                    zh: "当场答复的，请写明答复内容（不超过字数限制）".into(),
                    en: format!("Write down what the citizen was told ({e})"),
                })
        }
    };
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
        &counter.rules,
        actor.by(),
        now,
    );
    let failed = counter
        .directory
        .check(
            &form.failed_counter,
            &form.failed_department,
            &form.failed_clerk,
        )
        .await;
    let result = crate::directory::combine(result, failed);
    let result = match (result, answer) {
        (Ok(mut submission), Ok(answer)) => {
            submission.answer = answer;
            Ok(submission)
        }
        (Ok(_), Err(e)) => Err(vec![e]),
        (Err(mut errors), Err(e)) => {
            errors.push(e);
            Err(errors)
        }
        (Err(errors), Ok(_)) => Err(errors),
    };
    match result {
        Ok(submission) => match counter
            .intake
            .submit(submission, now)
            .await
            .map_err(ApiError::from)
            .and_then(crate::web::views::registered_case)
        {
            Ok(case) => {
                tracing::info!(case = %case.number, answered, "walk-in registered");
                Redirect::to(&format!("/staff/cases/{}", case.number)).into_response()
            }
            Err(e) => e.into_response(),
        },
        Err(errors) => {
            let earlier = earlier_cases(&counter, t, &form.phone, &form.id_card).await;
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
                    counters: counter
                        .directory
                        .active(EntryKind::Counter)
                        .await
                        .unwrap_or_default(),
                    departments: counter
                        .directory
                        .active(EntryKind::Department)
                        .await
                        .unwrap_or_default(),
                    t,
                    user: &user,
                    nav: "register",
                    back: "/staff/register".into(),
                    form,
                    errors,
                    matters: matter_options(&counter.rules, t),
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
    csrf: String,
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

/// The repeat-visitor banner for what is typed so far (posted as the clerk types, so the
/// phone and ID numbers travel in a body, never in an address).
pub async fn repeat_banner(
    State(counter): State<Counter>,
    user: StaffUser,
    Form(q): Form<RepeatQuery>,
) -> Response {
    if let Err(r) = user.check_csrf(&q.csrf).and(user.require(ActionKind::Read)) {
        return r;
    }
    let t = user.tr();
    let earlier = earlier_cases(&counter, t, &q.phone, &q.id_card).await;
    page(StatusCode::OK, &RepeatBanner { t, earlier })
}
