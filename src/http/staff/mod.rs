//! The staff web UI under `/staff`: sign-in (sessions are `web::session`), and the desk's
//! pages: the shared queue, the case page and its prints, the callback list, the leader's
//! page, the administrators' tokens. The channels' own pages (the counter's walk-in form, the operators' call form) are
//! in their folders. Every form carries the session's CSRF token; authorization is the
//! same matrix as the API's (`domain::action::permitted`).

mod account_form;
mod actions;
mod audit;
mod callbacks;
mod cases;
mod correct;
mod directory;
mod help;
mod leader;
mod login;
mod prints;
pub(crate) mod problems;
mod queue;
mod rating;
mod tokens;
mod users;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::AppState;
use crate::domain::Role;
use crate::web::session::StaffUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/login", get(login::show).post(login::submit))
        .route("/staff/logout", post(login::logout))
        .route("/staff/lang", post(login::set_lang))
        .route("/staff", get(home))
        .route("/staff/queue", get(queue::show).post(queue::search))
        .route("/staff/help", get(help::home))
        .route("/staff/help/screenshots/{file}", get(help::screenshot))
        .route("/staff/help/{page}", get(help::show))
        .route("/staff/leader", get(leader::show))
        .route("/staff/leader/roster", post(leader::roster))
        .route("/staff/callbacks", get(callbacks::show))
        .route("/staff/callbacks/{id}/claim", post(callbacks::claim))
        .route("/staff/callbacks/{id}/attempt", post(callbacks::attempt))
        .route("/staff/cases/{number}", get(cases::show))
        .route("/staff/cases/{number}/act", post(cases::act))
        .route("/staff/cases/{number}/correct", post(correct::correct))
        .route("/staff/audit", get(audit::show))
        .route("/staff/users", get(users::show).post(users::create))
        .route(
            "/staff/problems",
            get(problems::show_list).post(problems::create),
        )
        .route(
            "/staff/problems/{id}",
            get(problems::show).post(problems::update),
        )
        .route(
            "/staff/cases/{number}/problem",
            post(problems::link_from_page),
        )
        .route(
            "/staff/directory",
            get(directory::show).post(directory::save),
        )
        .route(
            "/staff/directory/{kind}/{code}/delete",
            post(directory::delete),
        )
        .route("/staff/users/{username}", post(users::update))
        .route("/staff/users/{username}/{what}", post(users::change))
        .route(
            "/staff/password",
            get(users::password_form).post(users::choose_password),
        )
        .route("/staff/audit/export", get(audit::export))
        .route("/staff/cases/{number}/rating", post(rating::rate))
        .route(
            "/staff/cases/{number}/rating/follow-up",
            post(rating::follow_up),
        )
        .route("/staff/cases/{number}/referral", get(prints::referral))
        .route("/staff/cases/{number}/notice", get(prints::notice))
        .route("/staff/cases/{number}/refusal", get(prints::refusal))
        .route("/staff/cases/{number}/receipt", post(prints::receipt))
        .route(
            "/staff/admin/tokens",
            get(tokens::show).post(tokens::create),
        )
        .route("/staff/admin/tokens/{id}/revoke", post(tokens::revoke))
        .route("/assets/staff.css", get(css))
        .route("/assets/print/{file}", get(print_css))
        // Browsers ask for it on every page; there is none (and no 404 in every console).
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/assets/staff.js", get(js))
}

/// Each role's first page: the morning shift's list, or the shared queue.
async fn home(user: StaffUser) -> Response {
    let only_callbacks = user.has(Role::Callback)
        && !user.has(Role::Counter)
        && !user.has(Role::Hotline)
        && !user.has(Role::DutyLeader);
    match only_callbacks {
        true => Redirect::to("/staff/callbacks").into_response(),
        false => Redirect::to("/staff/queue").into_response(),
    }
}

/// The prints' stylesheets: files, since the pages' policy allows no inline style.
async fn print_css(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let css = match file.as_str() {
        "receipt.css" => include_str!("../assets/print/receipt.css"),
        "referral.css" => include_str!("../assets/print/referral.css"),
        "notice.css" => include_str!("../assets/print/notice.css"),
        "refusal.css" => include_str!("../assets/print/refusal.css"),
        "callbacks-print.css" => include_str!("../assets/print/callbacks-print.css"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    asset("text/css; charset=utf-8", css)
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/staff.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/staff.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
