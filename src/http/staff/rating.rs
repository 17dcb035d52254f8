//! Ratings from the case page: a rating a citizen gave by phone or at the counter, and the
//! duty leader's follow-up of a bad one (核实整改). The same rules as the API.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::cases::render;
use crate::domain::ActionKind;
use crate::http::AppState;
use crate::web::error::ApiError;
use crate::web::session::StaffUser;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RatingForm {
    csrf: String,
    level: String,
    comment: String,
    outcome: String,
}

/// Shows the case page again with what went wrong, or goes to its timeline.
async fn done(
    state: &AppState,
    user: &StaffUser,
    number: &str,
    result: Result<(), ApiError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/staff/cases/{number}#timeline")).into_response(),
        Err(e) => {
            let status = e.status();
            let message = e.message(user.tr().en);
            match state.cases.load(number).await {
                Ok(case) => render(state, user, &case, Some(message), status)
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
    }
}

pub async fn rate(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
    Form(form): Form<RatingForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::AddNote))
    {
        return r;
    }
    let result = async {
        let level = crate::http::ratings::parse_rating(&form.level)?;
        let case = state.cases.load(&number).await?;
        let comment = Some(form.comment.trim().to_owned()).filter(|c| !c.is_empty());
        state
            .ratings
            .rate(
                &case,
                level,
                comment,
                "staff",
                user.actor().by(),
                crate::clock::now(),
            )
            .await?;
        Ok(())
    };
    let result = result.await;
    done(&state, &user, &number, result).await
}

pub async fn follow_up(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
    Form(form): Form<RatingForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Oversee))
    {
        return r;
    }
    let result = async {
        let case = state.cases.load(&number).await?;
        crate::http::ratings::record_follow_up(&state, &case, &form.outcome, user.actor().by())
            .await
    };
    let result = result.await;
    done(&state, &user, &number, result).await
}
