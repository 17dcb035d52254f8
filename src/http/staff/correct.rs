//! Correcting what was registered, from the case page (更正登记信息): the form posts here; a
//! refused correction shows the page again with what was typed and each field's error.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::cases::{render_with, Correcting};
use crate::cases::CaseError;
use crate::domain::correction::CorrectionForm;
use crate::domain::ActionKind;
use crate::http::AppState;
use crate::web::error::ApiError;
use crate::web::session::StaffUser;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct CorrectForm {
    csrf: String,
    pub(super) citizen_name: String,
    pub(super) phone: String,
    pub(super) id_card: String,
    pub(super) matter: String,
    pub(super) description: String,
    pub(super) failed_counter: String,
    pub(super) failed_department: String,
    pub(super) failed_clerk: String,
    pub(super) reason: String,
    /// The case's version the form was filled from.
    version: Option<i64>,
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned()).filter(|s| !s.trim().is_empty())
}

pub async fn correct(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
    Form(form): Form<CorrectForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Correct))
    {
        return r;
    }
    let typed = CorrectionForm {
        citizen_name: some(&form.citizen_name),
        phone: some(&form.phone),
        id_card: some(&form.id_card),
        matter: some(&form.matter),
        description: some(&form.description),
        failed_counter: some(&form.failed_counter),
        failed_department: some(&form.failed_department),
        failed_clerk: some(&form.failed_clerk),
        reason: some(&form.reason),
    };
    let directory = match state.directory.entries().await {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let t = user.tr();
    match state
        .cases
        .correct(
            &user.actor(),
            &number,
            &typed,
            &state.rules,
            &directory,
            form.version,
        )
        .await
    {
        Ok((case, _)) => {
            Redirect::to(&format!("/staff/cases/{}#timeline", case.number)).into_response()
        }
        Err(e) => {
            let (errors, status, kept) = match e {
                CaseError::Invalid(errors) => (
                    errors
                        .into_iter()
                        .map(|e| (e.field.to_owned(), t.t(&e.zh, &e.en).to_owned()))
                        .collect(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(form),
                ),
                // Changed by someone else since the form was filled: say so by the form.
                // Changed by someone else since the form was filled: the form again, filled
                // from the case as it is now.
                CaseError::Store(crate::storage::StoreError::Conflict) => (
                    vec![(
                        "correction".to_owned(),
                        t.t(
                            "案件刚被他人修改过，请核对当前内容后再更正",
                            "The case was changed meanwhile: check what it says now and correct again",
                        )
                        .to_owned(),
                    )],
                    StatusCode::CONFLICT,
                    None,
                ),
                other => return ApiError::from(other).into_response(),
            };
            let correcting = Correcting { form: kept, errors };
            let page = async {
                let case = state.cases.load(&number).await?;
                render_with(&state, &user, &case, None, status, correcting, None).await
            };
            page.await.unwrap_or_else(IntoResponse::into_response)
        }
    }
}
